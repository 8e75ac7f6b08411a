// End to end, three real processes: `cleave cloud` <- link proxy (bench/link-proxy.ts) <- `cleave
// edge`. An `auto` workflow node must follow the link: cloud while it is fast, edge once it turns
// slow, cloud again once it is fast again. Assertions read the placement (x-cleave-plan and the
// node report), never latencies, and every phase is bounded by a request count and a time.
//
// Why text-base at 16 rows on an onnxruntime-web edge: on one box the cloud is not naturally
// faster than the edge, so the edge is slowed on purpose. Measured on the 2-core dev machine
// (ms per call, node report): edge (wasm, one thread) 100 to 300, cloud (onnxruntime-node) 55 to
// 65 once warm, a ~2x margin; its input is 4 KiB of int64 ids, so the link's bandwidth hardly
// matters and the RTT decides. A 200 ms one-way delay makes the cloud cost 400 ms + compute.
// (mlp-large at 32 rows was 20 vs 15 to 18 ms all in: too close. cnn-large's cloud compute
// swung from 16 to 400 ms under the machine's other load.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudProcess, type CloudProcess } from '../../bench/cloud-process.js';
import { startLinkProxy, type LinkProxy } from '../../bench/link-proxy.js';
import { writeRepository } from '../helpers/cloud.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';
import { zooModelBytes } from '../helpers/zoo.js';

const MODEL = 'text-base';
const ROWS = 16;
const SEQ = 32;
/** One-way delay of the slow link, ms (RTT about twice that). */
const SLOW_DELAY_MS = 200;
/** Consecutive non-probe placements that count as "settled" on a tier. */
const SETTLED = 4;
const PER_REQUEST_TIMEOUT_MS = 10_000;

let cloud: CloudProcess | undefined;
let proxy: LinkProxy | undefined;
let edge: EdgeProcess | undefined;
let repo: string | undefined;

interface Placed {
  readonly placement: string;
  readonly probe: boolean;
  readonly explanation: string;
  readonly ms: number;
}

function workflow(name: string, placement: 'auto' | 'edge' | 'cloud'): Record<string, unknown> {
  return {
    name,
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, SEQ] }],
    nodes: [{ id: 'n', type: 'model', params: { model: MODEL, placement } }],
    edges: [{ source: 'input', target: 'n' }],
    outputs: [{ name: 'logits', from: 'n.logits' }],
  };
}

const BODY = JSON.stringify({ inputs: { input_ids: { dtype: 'int64', dims: [ROWS, SEQ], data: Array.from({ length: ROWS * SEQ }, (_, i) => (i * 7) % 100) } } });

async function deploy(doc: Record<string, unknown>): Promise<Response> {
  return fetch(`${edge!.url}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc), signal: AbortSignal.timeout(PER_REQUEST_TIMEOUT_MS) });
}

async function infer(name: string, body = BODY): Promise<Response> {
  return fetch(`${edge!.url}/v1/workflows/${name}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(PER_REQUEST_TIMEOUT_MS) });
}

/** One run of `name`; its placement from the header, checked against the node report. */
async function place(name: string): Promise<Placed> {
  const res = await infer(name);
  const json = await res.json() as { nodes?: { node: string; placement: string; explanation?: string; ms?: number }[] };
  expect(res.status, JSON.stringify(json)).toBe(200);
  const header = res.headers.get('x-cleave-plan') ?? '';
  const node = json.nodes?.find((n) => n.node === 'n');
  expect(header).toBe(`n=${node?.placement}`);
  const explanation = node?.explanation ?? '';
  return { placement: node!.placement, probe: explanation.includes('probe=1'), explanation, ms: node?.ms ?? NaN };
}

/**
 * Sends requests until the last `SETTLED` non-probe placements were all `tier`, at most
 * `maxRequests` and `maxMs`. Returns every placement seen, the index (1-based) of the first
 * request run on `tier` (a probe counts: it ran there) and that of the request that settled it
 * (undefined: never).
 */
async function until(name: string, tier: string, maxRequests: number, maxMs: number): Promise<{ seen: Placed[]; settledAt?: number; firstAt?: number }> {
  const seen: Placed[] = [];
  const t0 = performance.now();
  let run = 0;
  let firstAt: number | undefined;
  while (seen.length < maxRequests && performance.now() - t0 < maxMs) {
    const p = await place(name);
    seen.push(p);
    if (p.placement === tier && firstAt === undefined) firstAt = seen.length;
    if (p.probe) continue;
    run = p.placement === tier ? run + 1 : 0;
    if (run >= SETTLED) return { seen, settledAt: seen.length, ...(firstAt !== undefined ? { firstAt } : {}) };
  }
  return { seen, ...(firstAt !== undefined ? { firstAt } : {}) };
}

function trace(seen: readonly Placed[]): string {
  return seen.map((p) => `${p.placement}${p.probe ? '(probe)' : ''}:${p.ms.toFixed(0)}`).join(' ');
}

/** Logs the phase (the report reads the counts from here) and returns a failure message with the trace. */
function report(phase: string, r: { seen: Placed[]; settledAt?: number }): string {
  const line = `[${phase}] settled after ${r.settledAt ?? 'never'} of ${r.seen.length} requests (${r.seen.filter((p) => p.probe).length} probes): ${trace(r.seen)}`;
  console.log(line);
  return `${line}\nlast explanation: ${r.seen.at(-1)?.explanation}`;
}

beforeAll(async () => {
  // A repository with the one model: the cloud is ready in a second or two instead of five.
  repo = await mkdtemp(path.join(tmpdir(), 'cleave-e2e-repo-'));
  await writeRepository(repo, [{ name: MODEL, versions: { 1: await zooModelBytes(MODEL) } }]);
  cloud = await startCloudProcess(['--repository', repo, '--no-log']);
  proxy = await startLinkProxy({ target: { host: '127.0.0.1', port: cloud.port } });
  edge = await startEdgeProcess(['--backend', 'onnxruntime-web', '--cloud', proxy.url('/v1/ws')]);
  // Connected, with the cloud's offers known (the edge tier is there from its own zoo files).
  for (let i = 0; i < 100; i++) {
    const st = await (await fetch(`${edge.url}/v1/status`)).json() as { link?: { state?: string; offers?: { name: string }[] } };
    if (st.link?.state === 'connected' && st.link.offers?.some((o) => o.name === MODEL)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const [name, placement] of [['link-auto', 'auto'], ['link-edge', 'edge'], ['link-cloud', 'cloud']] as const) {
    const res = await deploy(workflow(name, placement));
    expect(res.status, await res.clone().text()).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  // Each process by its own PID (the helpers signal their own child only).
  await edge?.stop();
  await proxy?.close();
  await cloud?.stop();
  if (repo) await rm(repo, { recursive: true, force: true });
});

describe('auto placement follows the link (cloud <- shaping proxy <- edge, real processes)', () => {
  it('moves the stage to the edge when the link turns slow and back to the cloud when it recovers', async () => {
    const t0 = performance.now();
    // Warm-up: sessions load and both tiers get measured before `auto` decides anything, so no
    // cold first run (the wasm session load is over a second) prices a tier.
    for (let i = 0; i < 3; i++) {
      expect((await place('link-edge')).placement).toBe('edge');
      expect((await place('link-cloud')).placement).toBe('cloud');
    }

    // 1. Fast link: the cloud wins.
    const fast = await until('link-auto', 'cloud', 20, 12_000);
    expect(fast.settledAt, report('fast', fast)).toBeDefined();

    // 2. Slow link: within a few requests the edge wins, and keeps winning.
    proxy!.shape({ delayMs: SLOW_DELAY_MS });
    const slow = await until('link-auto', 'edge', 20, 15_000);
    const slowReport = report('slow', slow);
    expect(slow.settledAt, slowReport).toBeDefined();
    // The move itself: requests run on the edge from the 5th at the latest (a probe of the edge
    // that beats the cloud's estimate is followed by another, so they run there from then on).
    expect(slow.firstAt ?? Infinity, slowReport).toBeLessThanOrEqual(5);
    // Stays: a few more requests, no non-probe cloud placement.
    const stay = await until('link-auto', 'edge', SETTLED, 5_000);
    expect(stay.seen.filter((p) => !p.probe && p.placement !== 'edge'), report('slow, staying', stay)).toEqual([]);

    // 3. Fast again: the probe re-measures the cloud, and the cloud wins again.
    proxy!.shape({ delayMs: 0 });
    const again = await until('link-auto', 'cloud', 60, 20_000);
    expect(again.settledAt, report('fast again', again)).toBeDefined();
    console.log(`[total] ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 60_000);

  it('answers 504 CLEAVE_E_DEADLINE at once when no tier can meet the deadline', async () => {
    // Both tiers of text-base measured (above) at tens of ms: a 1 ms budget cannot be met.
    const body = JSON.stringify({ ...JSON.parse(BODY) as object, deadlineMs: 1 });
    const t = performance.now();
    const res = await infer('link-edge', body);
    const ms = performance.now() - t;
    const json = await res.json() as { code?: string; message?: string };
    expect(res.status, JSON.stringify(json)).toBe(504);
    expect(json.code).toBe('CLEAVE_E_DEADLINE');
    expect(ms).toBeLessThan(200);
  });

  it('refuses a workflow with three problems with 400 CLEAVE_E_WORKFLOW_INVALID naming all three', async () => {
    const res = await deploy({
      name: 'broken',
      inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, SEQ] }],
      nodes: [{ id: 'n', type: 'model', params: { model: 'no-such-model' } }],
      // Problem 2: an edge to a node that does not exist.
      edges: [{ source: 'input', target: 'n' }, { source: 'input', target: 'ghost' }],
      // Problem 3: an output from a node that does not exist.
      outputs: [{ name: 'logits', from: 'nobody.logits' }],
    });
    const json = await res.json() as { code?: string; message?: string; detail?: { problems?: { at: string; message: string }[] } };
    expect(res.status, JSON.stringify(json)).toBe(400);
    expect(json.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    const problems = json.detail?.problems ?? [];
    expect(problems, JSON.stringify(problems)).toHaveLength(3);
    const text = JSON.stringify(problems);
    expect(text).toContain('no-such-model');
    expect(text).toContain('ghost');
    expect(text).toContain('nobody');
  });
});
