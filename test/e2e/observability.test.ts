// End to end, two real processes: `cleave cloud` <- `cleave edge`, both writing their JSON log
// lines to stderr. A request with a known traceparent must keep its trace id on every path
// (single-model cloud run, workflow cloud node, KServe HTTP straight to the cloud), each tier must
// log one `request` line naming its span and its parent, and both tiers' /metrics must show the
// router's decisions, its estimate error and the cloud's queue gauge. Bounded by request counts
// and per-request timeouts; nothing waits for time to pass except log lines crossing a pipe.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudProcess, type CloudProcess } from '../../bench/cloud-process.js';
import { writeRepository } from '../helpers/cloud.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';
import { zooModelBytes } from '../helpers/zoo.js';

const TID = '5a1e0bbe5a1e0bbe5a1e0bbe5a1e0bbe';
const CLIENT_SPAN = '0c11e47000000001';
const TIMEOUT_MS = 15_000;

let cloud: CloudProcess | undefined;
let edge: EdgeProcess | undefined;
let repo: string | undefined;

type Line = Record<string, unknown>;

beforeAll(async () => {
  repo = await mkdtemp(path.join(tmpdir(), 'cleave-obs-'));
  await writeRepository(repo, [
    { name: 'mlp-small', versions: { 1: await zooModelBytes('mlp-small') } },
    { name: 'mlp-large', versions: { 1: await zooModelBytes('mlp-large') } },
  ]);
  cloud = await startCloudProcess(['--repository', repo, '--device', 'cpu', '--intra-op-threads', '1']);
  edge = await startEdgeProcess(['--cloud', cloud.wsUrl], { log: true });
  // The link connects in the background: wait (bounded) until the edge says it is up.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${edge.url}/v2/health/ready`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (((await r.json()) as { link?: string }).link === 'connected') break;
    await new Promise((res) => setTimeout(res, 50));
  }
});

afterAll(async () => {
  await edge?.stop();
  await cloud?.stop();
  if (repo) await rm(repo, { recursive: true, force: true });
});

function traceparent(spanId = CLIENT_SPAN, traceId = TID): string {
  return `00-${traceId}-${spanId}-01`;
}

function jsonLines(output: string): Line[] {
  const out: Line[] = [];
  for (const l of output.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Line);
    } catch {
      // A line still being written.
    }
  }
  return out;
}

/** The first log line of `proc` matching `pred`, waiting (bounded) for it to cross the pipe. */
async function logLine(proc: { output(): string }, pred: (l: Line) => boolean): Promise<Line> {
  for (let i = 0; i < 100; i++) {
    const hit = jsonLines(proc.output()).find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no matching log line in:\n${proc.output().slice(-4000)}`);
}

function floats(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.1));
}

function kserveBody(width: number, seed: number): string {
  return JSON.stringify({ inputs: [{ name: 'x', shape: [1, width], datatype: 'FP32', data: floats(width, seed) }] });
}

function spanOf(header: string | null): { traceId: string; spanId: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(header ?? '');
  expect(m, `traceparent ${header}`).not.toBeNull();
  return { traceId: m![1]!, spanId: m![2]! };
}

async function metrics(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  expect(r.status).toBe(200);
  return r.text();
}

describe('trace context through edge and cloud', () => {
  it('a cloud model: the answer keeps the trace with a new span, and both tiers log the request under it', async () => {
    const res = await fetch(`${edge!.url}/v2/models/mlp-large/infer`, {
      method: 'POST', body: kserveBody(512, 1), signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { 'content-type': 'application/json', traceparent: traceparent(), 'x-request-id': 'obs-e2e-1', 'x-cleave-tenant': 'obs' },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('x-cleave-served-by')).toBe('cloud');
    expect(res.headers.get('x-request-id')).toBe('obs-e2e-1');
    const edgeSpan = spanOf(res.headers.get('traceparent'));
    expect(edgeSpan.traceId).toBe(TID);
    expect(edgeSpan.spanId).not.toBe(CLIENT_SPAN);

    const e = await logLine(edge!, (l) => l.event === 'request' && l.request_id === 'obs-e2e-1');
    expect(e).toMatchObject({
      tier: 'edge', status: 'ok', model: 'mlp-large', trace_id: TID, span_id: edgeSpan.spanId, parent_span_id: CLIENT_SPAN,
      tenant: 'obs', served_by: 'cloud', cache: 'miss',
    });
    expect(typeof e.total_ms).toBe('number');
    expect(typeof e.link_ms).toBe('number');
    expect(e.cloud_span_id).toMatch(/^[0-9a-f]{16}$/);

    // The cloud's line: same trace, the edge's span as parent, its own span the one the edge reported.
    const c = await logLine(cloud!, (l) => l.event === 'request' && l.trace_id === TID && l.parent_span_id === edgeSpan.spanId);
    expect(c).toMatchObject({ tier: 'cloud', status: 'ok', model: 'mlp-large', protocol: 'ws', span_id: e.cloud_span_id, batch_size: 1 });
    expect(typeof c.queue_ms).toBe('number');
    expect(typeof c.compute_ms).toBe('number');
  });

  it('a workflow cloud node: the run keeps the trace, and the cloud logs it under the run\'s span', async () => {
    const tid = '5a1e0bbe00000000000000000000cafe';
    const doc = {
      name: 'obs-chain', inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 512] }],
      nodes: [{ id: 'big', type: 'model', params: { model: 'mlp-large', placement: 'cloud' } }],
      edges: [{ source: 'input', target: 'big' }], outputs: [{ name: 'logits', from: 'big.logits' }],
    };
    const dep = await fetch(`${edge!.url}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc), signal: AbortSignal.timeout(TIMEOUT_MS) });
    expect(dep.status, await dep.clone().text()).toBeLessThan(300);
    const res = await fetch(`${edge!.url}/v1/workflows/obs-chain/infer`, {
      method: 'POST', signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { 'content-type': 'application/json', traceparent: traceparent(CLIENT_SPAN, tid), 'x-request-id': 'obs-e2e-wf' },
      body: JSON.stringify({ inputs: { x: { dtype: 'float32', dims: [1, 512], data: floats(512, 2) } } }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('x-cleave-plan')).toBe('big=cloud');
    expect(res.headers.get('x-request-id')).toBe('obs-e2e-wf');
    const runSpan = spanOf(res.headers.get('traceparent'));
    expect(runSpan.traceId).toBe(tid);
    const c = await logLine(cloud!, (l) => l.event === 'request' && l.trace_id === tid);
    expect(c).toMatchObject({ tier: 'cloud', status: 'ok', parent_span_id: runSpan.spanId, stages: 1 });
    const e = await logLine(edge!, (l) => l.event === 'request' && l.request_id === 'obs-e2e-wf');
    expect(e).toMatchObject({ tier: 'edge', model: 'workflow:obs-chain', trace_id: tid, span_id: runSpan.spanId, parent_span_id: CLIENT_SPAN, plan: 'big=cloud' });
  });

  it('KServe HTTP straight to the cloud: the answer names the cloud span, child of the caller\'s', async () => {
    const tid = '5a1e0bbe0000000000000000000d1ec7';
    const res = await fetch(`${cloud!.httpUrl}/v2/models/mlp-small/infer`, {
      method: 'POST', body: kserveBody(64, 3), signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { 'content-type': 'application/json', traceparent: traceparent(CLIENT_SPAN, tid), 'x-request-id': 'obs-e2e-http' },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('obs-e2e-http');
    const span = spanOf(res.headers.get('traceparent'));
    expect(span.traceId).toBe(tid);
    expect(span.spanId).not.toBe(CLIENT_SPAN);
    const c = await logLine(cloud!, (l) => l.event === 'request' && l.request_id === 'obs-e2e-http');
    expect(c).toMatchObject({ tier: 'cloud', protocol: 'http', trace_id: tid, span_id: span.spanId, parent_span_id: CLIENT_SPAN, model: 'mlp-small', version: 1 });
  });
});

describe('metrics on both tiers', () => {
  it('the edge counts auto decisions with their estimate error; the cloud exports its queue depth per model', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${edge!.url}/v2/models/mlp-small/infer`, {
        method: 'POST', body: kserveBody(64, 10 + i), signal: AbortSignal.timeout(TIMEOUT_MS),
        headers: { 'content-type': 'application/json', 'x-cleave-placement': 'auto', 'x-cleave-cache': 'bypass', 'x-cleave-tenant': 'obs' },
      });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const text = await metrics(edge!.url);
    const decided = text.split('\n').filter((l) => l.startsWith('cleave_edge_router_decisions_total{') && l.includes('kind="model"') && l.includes('model="mlp-small"'));
    expect(decided.reduce((s, l) => s + Number(l.split(' ').pop()), 0)).toBe(6);
    // Every decision after the first has a measured estimate for the tier it chose.
    const ratioCounts = text.split('\n').filter((l) => l.startsWith('cleave_edge_router_estimate_error_ratio_count{') && l.includes('kind="model"'));
    expect(ratioCounts.reduce((s, l) => s + Number(l.split(' ').pop()), 0)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^cleave_edge_router_link_rtt_seconds \d/m);
    expect(text).toMatch(/^cleave_edge_requests_total\{[^}]*model="mlp-small"[^}]*tenant="obs"[^}]*\} [1-9]/m);

    const cloudText = await metrics(cloud!.httpUrl);
    expect(cloudText).toMatch(/^cleave_inference_pending_request_count\{model="mlp-large"\} 0$/m);
    expect(cloudText).toMatch(/^cleave_inference_batch_size_count\{[^}]*model="mlp-large"[^}]*\} [1-9]/m);
  });
});
