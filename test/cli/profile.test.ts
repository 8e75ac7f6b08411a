// `cleave profile`: a zoo model on this machine's backends (no cloud), the same against a real
// cloud server over the protocol, a workflow's critical path, and the command as a real process.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarize, percentile, takeRows } from '../../cli/profile/measure.js';
import { formatReport } from '../../cli/profile/print.js';
import type { ModelProfile, ProfileReport } from '../../cli/profile/report.js';
import { runProfile } from '../../cli/profile/run-profile.js';
import { createProgress } from '../../cli/progress.js';
import { EDGE_CUT, CLOUD_CUT } from '../../shared/router/cost-model.js';
import { IMAGE_CASCADE } from '../../shared/workflow/examples.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';
import { zooDir } from '../helpers/zoo.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const quiet = { progress: createProgress({ mode: 'silent' }), runs: 3, warmup: 1 } as const;

/** The checks every model profile must pass, whatever the machine's speed. */
function expectSane(p: ModelProfile, batches: readonly number[]): void {
  expect(p.inputBytesPerRow).toBeGreaterThan(0);
  expect(p.outputBytesPerRow).toBeGreaterThan(0);
  for (const c of p.compute) {
    expect(c.batches.map((s) => s.batch)).toEqual(batches);
    for (const s of c.batches) {
      expect(s.p50Ms).toBeGreaterThan(0);
      expect(s.p90Ms).toBeGreaterThanOrEqual(s.p50Ms);
      expect(s.runs).toBe(3);
    }
  }
  // The frontier: every cut sends less than the input, and less than every cut before it.
  let last = p.inputBytesPerRow;
  for (const c of p.cuts) {
    expect(c.activationBytesPerRow).toBeLessThan(last);
    last = c.activationBytesPerRow;
    expect(c.transferBytesPerRow).toBeGreaterThanOrEqual(c.activationBytesPerRow);
    expect(c.int8BytesPerRow).toBe(Math.ceil(c.transferBytesPerRow / 4));
    expect(c.head.map((s) => s.batch)).toEqual(batches);
    expect(c.tail.map((s) => s.batch)).toEqual(batches);
  }
  for (const r of p.recommendations) {
    const names = r.options.map((o) => o.placement);
    expect(names).toContain(r.placement);
    expect(names).toEqual(expect.arrayContaining([EDGE_CUT, CLOUD_CUT, ...p.cuts.map((c) => c.tensor)]));
    // The choice is the cheapest option (ties go to the edge, so <=).
    expect(r.expectedMs).toBeLessThanOrEqual(Math.min(...r.options.map((o) => o.totalMs)) + 1e-9);
    // The edge option is the edge compute alone.
    const edge = p.compute.find((c) => c.backend === p.edgeBackend)!.batches.find((s) => s.batch === r.batch)!;
    expect(r.options.find((o) => o.placement === EDGE_CUT)!.totalMs).toBeCloseTo(edge.p50Ms, 9);
  }
}

let dir: string;
beforeAll(async () => {
  await zooDir();
  dir = await mkdtemp(path.join(tmpdir(), 'cleave-profile-'));
}, 300_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('profile arithmetic', () => {
  it('summarises samples as nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(summarize(4, [5, 1, 3])).toEqual({ batch: 4, runs: 3, p50Ms: 3, p90Ms: 5, meanMs: 3, minMs: 1 });
    expect(() => percentile([], 0.5)).toThrow(/no samples/);
  });

  it('takes the first rows of a batch without sharing memory', () => {
    const t = { dtype: 'float32' as const, dims: [4, 2], data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) };
    const two = takeRows({ x: t }, 2).x!;
    expect(two.dims).toEqual([2, 2]);
    expect([...two.data]).toEqual([0, 1, 2, 3]);
    (two.data as Float32Array)[0] = 9;
    expect(t.data[0]).toBe(0);
    expect(() => takeRows({ x: t }, 5)).toThrow(/has 4 rows; 5 were asked for/);
  });
});

describe('cleave profile on this machine (no cloud)', () => {
  it('profiles a small zoo model on both local backends', async () => {
    const r = await runProfile('mlp-small', { ...quiet, batches: [1, 4] });
    expect(r.format).toBe('cleave.profile.v1');
    expect(r.cloud).toBeUndefined();
    const p = r.model!;
    expect(p.compute.map((c) => c.backend)).toEqual(['onnxruntime-node', 'onnxruntime-web']);
    expectSane(p, [1, 4]);
    expect(r.links.map((l) => l.name)).toEqual(['lan', 'broadband', '4g', '3g']);
    expect(p.recommendations).toHaveLength(4 * 2);
    // Without a cloud its compute is this machine's, marked as a prior.
    expect(p.recommendations.every((x) => x.options.find((o) => o.placement === CLOUD_CUT)!.prior)).toBe(true);
    expect(formatReport(r)).toContain('recommended placement');
  }, 120_000);

  it('profiles the cut frontier of a CNN; on a 1 Mbit/s uplink it stays on the edge', async () => {
    const r = await runProfile('cnn-small', { ...quiet, batches: [1, 2], backends: ['onnxruntime-node'] });
    const p = r.model!;
    expect(p.cuts.length).toBeGreaterThan(0);
    expectSane(p, [1, 2]);
    // 48 KiB per image, 150 ms RTT, 1 Mbit/s: over 500 ms to send; the edge computes it in far less.
    expect(p.recommendations.find((x) => x.link === '3g' && x.batch === 1)!.placement).toBe(EDGE_CUT);
  }, 120_000);

  it('refuses an unknown target and bad batch sizes with the value and what is allowed', async () => {
    await expect(runProfile('no-such-model', quiet)).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringMatching(/"no-such-model" is neither an \.onnx file nor a zoo model; zoo models: .*mlp-small/) });
    await expect(runProfile('mlp-small', { ...quiet, batches: [0] })).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringContaining('batch sizes [0] are not valid') });
    await expect(runProfile('mlp-small', { ...quiet, backends: ['tensorflow'] })).rejects.toMatchObject({ code: 'CLEAVE_E_BACKEND' });
  }, 60_000);
});

describe('cleave profile against a real cloud', () => {
  let cloud: TestCloud;
  beforeAll(async () => {
    cloud = await startTestCloud();
  }, 120_000);
  afterAll(async () => {
    await cloud?.stop();
  });

  it('measures the link, the cloud\'s compute and its split tails, and prices the measured link', async () => {
    const r: ProfileReport = await runProfile('cnn-small', { ...quiet, batches: [1, 2], backends: ['onnxruntime-node'], cloudUrl: cloud.wsUrl });
    expect(r.cloud).toMatchObject({ url: cloud.wsUrl, device: 'cpu' });
    expect(r.cloud!.rtt.samples).toBe(10);
    expect(r.cloud!.rttMs).toBeGreaterThan(0);
    expect(r.cloud!.rttMs).toBeLessThan(100);
    const measured = r.links.find((l) => l.name === 'measured')!;
    expect(measured).toMatchObject({ measured: true, rttMs: r.cloud!.rttMs });
    const p = r.model!;
    expectSane(p, [1, 2]);
    expect(p.cloudError).toBeUndefined();
    expect(p.cloud!.batches.map((s) => s.batch)).toEqual([1, 2]);
    expect(p.cloud!.batches.every((s) => s.p50Ms > 0)).toBe(true);
    // The round trip holds the cloud's compute.
    p.cloud!.wire.forEach((w, i) => expect(w.p50Ms).toBeGreaterThanOrEqual(p.cloud!.batches[i]!.minMs));
    // The cloud serves every frontier cut's tail by name, so no cut is priced from a prior.
    expect(p.cuts.every((c) => c.cloudTail?.length === 2)).toBe(true);
    const onMeasured = p.recommendations.filter((x) => x.link === 'measured');
    expect(onMeasured).toHaveLength(2);
    for (const x of onMeasured) expect(x.options.find((o) => o.placement === CLOUD_CUT)!.prior).toBe(false);
  }, 120_000);

  it('says why when the cloud does not serve the model, and still profiles it here', async () => {
    const r = await runProfile('mlp-large', { ...quiet, batches: [1], backends: ['onnxruntime-node'], cloudUrl: cloud.httpUrl });
    expect(r.model!.cloudError).toMatch(/mlp-large/);
    expect(r.model!.recommendations.length).toBeGreaterThan(0);
  }, 120_000);
});

describe('cleave profile of a workflow', () => {
  it('profiles each model once and prices the critical path per link', async () => {
    const file = path.join(dir, 'image-cascade.json');
    await writeFile(file, JSON.stringify(IMAGE_CASCADE));
    const r = await runProfile(file, { ...quiet, runs: 2, batches: [1], backends: ['onnxruntime-node'] });
    const w = r.workflow!;
    expect(w.name).toBe('image-cascade');
    expect(Object.keys(w.models).sort()).toEqual(['cnn-large', 'cnn-small']);
    // Only the split-model node's model gets the cut table.
    expect(w.models['cnn-small']!.cuts).toEqual([]);
    expect(w.models['cnn-large']!.cuts.length).toBeGreaterThan(0);
    expect(w.criticalPaths.map((c) => c.link)).toEqual(['lan', 'broadband', '4g', '3g']);
    for (const c of w.criticalPaths) {
      expect(c.ms).toBeGreaterThan(0);
      // small -> big is the longest chain.
      expect(c.path).toEqual(['small', 'big']);
    }
  }, 180_000);
});

describe('cleave profile (a real process)', () => {
  it('prints the tables and writes the JSON report', async () => {
    const out = path.join(dir, 'mlp.json');
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/cleave.mjs'), 'profile', 'mlp-small', '--runs', '2', '--warmup', '0', '--batches', '1', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('recommended placement (router cost model)');
    expect(stdout).toContain(`report: ${out}`);
    // Not a terminal and CI set: plain progress lines on stderr.
    expect(stderr).toContain('profiling mlp-small 1/');
    const report = JSON.parse(await readFile(out, 'utf8')) as ProfileReport;
    expect(report.model!.model).toBe('mlp-small');
    const bad = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [path.join(ROOT, 'bin/cleave.mjs'), 'profile', 'mlp-small', '--batches', '1,x'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      c.once('exit', (x) => resolve({ code: x, err }));
    });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--batches "1,x" is not valid; expected comma-separated integers');
  }, 90_000);
});
