/**
 * `wrangler deploy --dry-run`: the Worker bundles (esbuild, the module rules for .onnx and .wasm,
 * the Durable Object binding) and its upload fits Cloudflare's size limit. The gzip figure wrangler
 * prints is what Cloudflare counts against the limit (Workers Paid: 10 MB; Cleave's goal with the
 * demo models: 6 MB). It is printed and written to bench/results/worker-bundle.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { zooDir } from '../helpers/zoo.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const GOAL_GZIP_BYTES = 6_000_000;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('Worker bundle (wrangler deploy --dry-run)', () => {
  let outdir = '';
  afterAll(async () => {
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  it('bundles the edge with onnxruntime-web and the edge-tier models, within the size goal', async () => {
    await zooDir();
    outdir = await mkdtemp(join(tmpdir(), 'cleave-worker-'));
    const { code, out } = await run(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir]);
    expect(code, out).toBe(0);
    const m = /Total Upload: ([0-9.]+) KiB \/ gzip: ([0-9.]+) KiB/.exec(out);
    expect(m, out).not.toBeNull();
    const uploadBytes = Math.round(Number(m![1]) * 1024);
    const gzipBytes = Math.round(Number(m![2]) * 1024);
    const files = await readdir(outdir);
    // The runtime and every edge model went in as modules of their own kinds.
    expect(files.some((f) => f.endsWith('ort-wasm-simd-threaded.wasm'))).toBe(true);
    for (const model of ['mlp-small', 'cnn-small', 'text-tiny', 'audio-small']) expect(files.some((f) => f.endsWith(`-${model}.onnx`)), model).toBe(true);
    expect(out).toContain('CloudLinkObject');
    const record = { measuredAt: new Date().toISOString(), wrangler: /wrangler ([0-9.]+)/.exec(out)?.[1], uploadBytes, gzipBytes, goalGzipBytes: GOAL_GZIP_BYTES, files };
    await mkdir(join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(join(ROOT, 'bench/results/worker-bundle.json'), `${JSON.stringify(record, null, 2)}\n`);
    console.log(`Worker upload ${(uploadBytes / 1e6).toFixed(2)} MB, gzip ${(gzipBytes / 1e6).toFixed(2)} MB (goal <= ${GOAL_GZIP_BYTES / 1e6} MB)`);
    expect(gzipBytes).toBeLessThanOrEqual(GOAL_GZIP_BYTES);
  }, 120_000);
});
