// The edge's observability through createEdgeNode: real onnxruntime-node sessions on zoo models,
// a scripted cloud and a ManualClock, so estimate errors and timings are exact. Covers the
// `request` log line, router-decision metrics with their estimate error, the tenant label, the
// link-estimate gauges and the span the edge opens for a WebSocket client's run.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkStatus } from '../../edge/cloud-transport.js';
import { createEdgeNode, type EdgeNode } from '../../edge/edge-node.js';
import { EdgeMetrics } from '../../edge/metrics.js';
import { traceArgs } from '../../edge/observability/trace-args.js';
import { zooCatalogEntries } from '../../edge/zoo-catalog.js';
import type { InferenceBackend } from '../../shared/backend/backend.js';
import type { ModelOffer, TensorMap } from '../../shared/protocol/frames.js';
import { hostTensor, type HostTensor } from '../../shared/tensor.js';
import { ManualClock } from '../../shared/time.js';
import { parseTraceparent, type RandomBytes } from '../../shared/trace.js';
import type { Manifest } from '../../shared/zoo/index.js';
import { steppedBackend } from '../helpers/stepped-backend.js';
import { zooBackend } from '../helpers/zoo-backend.js';

const EDGE_RUN_MS = 7;
const TID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TID}-${CLIENT_SPAN}-01`;
const CLOUD_SPAN = 'c1c1c1c1c1c1c1c1';

let manifest: Manifest;
let dir: string;
let ort: InferenceBackend;

beforeAll(async () => {
  ({ manifest, dir, ort } = await zooBackend());
});


function counterRandom(): RandomBytes {
  let k = 1;
  return (n) => Uint8Array.from({ length: n }, () => (k++ * 37) & 0xff || 1);
}

/** A connected cloud that answers every run after `linkMs + computeMs` on the clock, naming its span. */
class ScriptedCloud implements CloudTransport {
  readonly calls: CloudRunRequest[] = [];
  offers: ModelOffer[] = [];

  constructor(private readonly clock: ManualClock, private readonly linkMs = 2, private readonly computeMs = 1) {}

  run(req: CloudRunRequest): Promise<CloudRunResult> {
    this.calls.push(req);
    const total = this.linkMs + this.computeMs;
    this.clock.advance(total);
    const outputs: TensorMap = { logits: hostTensor('float32', [1, 10], new Float32Array(10)) };
    const trace = parseTraceparent(req.traceparent);
    return Promise.resolve({
      outputs, timing: { queueMs: 0, computeMs: this.computeMs, batchSize: 1 }, totalMs: total,
      ...(trace ? { traceparent: `00-${trace.traceId}-${CLOUD_SPAN}-01` } : {}),
    });
  }

  status(): LinkStatus {
    return { state: 'connected', url: 'ws://cloud.test/v1/ws', offers: this.offers, failures: 0, connects: 1 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function mlpInput(seed: number, width = 64): HostTensor {
  return hostTensor('float32', [1, width], Float32Array.from({ length: width }, (_, i) => Math.sin(seed + i * 0.37)));
}

const open: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

function rig(): { node: EdgeNode; clock: ManualClock; cloud: ScriptedCloud; lines: Record<string, unknown>[] } {
  const clock = new ManualClock(1000);
  const cloud = new ScriptedCloud(clock);
  const lines: Record<string, unknown>[] = [];
  const node = createEdgeNode({
    backend: steppedBackend(ort, clock, EDGE_RUN_MS),
    models: zooCatalogEntries(manifest, { bytesOf: async (file) => new Uint8Array(await readFile(join(dir, file))), cloud: true }),
    cloud, clock, timers: clock, random: counterRandom(), digest: (b) => createHash('sha256').update(b).digest(),
    log: (e) => lines.push(e),
  });
  open.push(node);
  return { node, clock, cloud, lines };
}

/** Lines of the exposition for `name` whose labels include every one of `labels`. */
async function series(node: EdgeNode, name: string, labels: readonly string[] = []): Promise<string[]> {
  const { body } = await node.metrics.exposition();
  return body.split('\n').filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && labels.every((x) => l.includes(x)));
}

describe('request log line', () => {
  it('a cloud answer logs the trace ids, request id, tenant, cloud span and every timing segment', async () => {
    const { node, lines } = rig();
    const traceparent = `00-${TID}-aaaaaaaaaaaaaaaa-01`;
    await node.service.infer({
      model: 'text-base', inputs: { input_ids: hostTensor('int64', [1, 32], new BigInt64Array(32).fill(5n)) }, tenant: 'acme',
      traceparent, parentSpanId: CLIENT_SPAN, requestId: 'req-7',
    });
    const reqs = lines.filter((l) => l.event === 'request');
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({
      tier: 'edge', status: 'ok', code: 'ok', model: 'text-base', request_id: 'req-7', tenant: 'acme',
      trace_id: TID, span_id: 'aaaaaaaaaaaaaaaa', parent_span_id: CLIENT_SPAN, served_by: 'cloud', cache: 'miss', cloud_span_id: CLOUD_SPAN,
      link_ms: 2, cloud_queue_ms: 0, cloud_compute_ms: 1, total_ms: 3,
    });
  });

  it('a refused request logs its error code, with the trace ids it came with', async () => {
    const { node, lines } = rig();
    await expect(node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1, 3) }, tenant: 't', traceparent: TRACEPARENT, requestId: 'bad-1' }))
      .rejects.toMatchObject({ code: 'CLEAVE_E_SHAPE' });
    expect(lines.filter((l) => l.event === 'request')).toEqual([expect.objectContaining({
      status: 'error', code: 'CLEAVE_E_SHAPE', model: 'mlp-small', request_id: 'bad-1', trace_id: TID, span_id: CLIENT_SPAN, tenant: 't',
    })]);
    expect((await series(node, 'cleave_edge_requests_total', ['code="CLEAVE_E_SHAPE"', 'tenant="t"']))[0]).toMatch(/ 1$/);
  });

  it('traceArgs takes the caller span from the incoming header only when it is the same trace', () => {
    const span = { traceId: TID, spanId: 'dddddddddddddddd', flags: 1 };
    expect(traceArgs({ requestId: 'r', span }, TRACEPARENT)).toEqual({ traceparent: `00-${TID}-dddddddddddddddd-01`, requestId: 'r', parentSpanId: CLIENT_SPAN });
    expect(traceArgs({ requestId: 'r', span }, undefined)).toEqual({ traceparent: `00-${TID}-dddddddddddddddd-01`, requestId: 'r' });
    expect(traceArgs({ requestId: 'r', span: { ...span, traceId: 'e'.repeat(32) } }, TRACEPARENT)).not.toHaveProperty('parentSpanId');
  });
});

describe('router decision metrics', () => {
  it('count each auto placement and observe actual / expected once the estimate is measured', async () => {
    const { node, cloud } = rig();
    // mlp-small is an edge model the cloud offers too: `auto` weighs both.
    cloud.offers = [{ name: 'mlp-small', version: 1, inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }], outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }], maxBatchSize: 32 }];
    for (let i = 0; i < 3; i++) {
      const r = await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(i) }, tenant: 't', placement: 'auto', cache: 'bypass' });
      // The edge is priced 0 ms (a prior) at first, then at its measured 7 ms: far below the cloud's 50 ms prior RTT.
      expect(r.servedBy).toBe('edge');
    }
    expect((await series(node, 'cleave_edge_router_decisions_total', ['kind="model"', 'model="mlp-small"', 'choice="edge"', 'probe="false"']))[0]).toMatch(/ 3$/);
    // The first decision used a 0 ms prior: no ratio. The next two expected 7 ms and took 7 ms: ratio exactly 1.
    expect((await series(node, 'cleave_edge_router_estimate_error_ratio_count', ['kind="model"', 'tier="edge"', 'prior="false"']))[0]).toMatch(/ 2$/);
    expect((await series(node, 'cleave_edge_router_estimate_error_ratio_sum', ['tier="edge"']))[0]).toMatch(/ 2$/);
    expect((await series(node, 'cleave_edge_router_estimate_error_ratio_bucket', ['tier="edge"', 'le="0.9"']))[0]).toMatch(/ 0$/);
    expect((await series(node, 'cleave_edge_router_estimate_error_ratio_bucket', ['tier="edge"', 'le="1"']))[0]).toMatch(/ 2$/);
    expect((await series(node, 'cleave_edge_router_estimate_error_seconds_sum', ['tier="edge"']))[0]).toMatch(/ 0$/);
  });

  it('fixed placements are not router decisions', async () => {
    const { node } = rig();
    await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 't' });
    expect(await series(node, 'cleave_edge_router_decisions_total')).toEqual([]);
  });

  it('the link estimates the router uses are exported at each scrape', async () => {
    const { node } = rig();
    expect(await series(node, 'cleave_edge_router_link_rtt_seconds')).toEqual(['cleave_edge_router_link_rtt_seconds 0.05']);
    expect(await series(node, 'cleave_edge_router_link_bandwidth_bits_per_second', ['direction="up"'])).toEqual(['cleave_edge_router_link_bandwidth_bits_per_second{direction="up"} 10000000']);
    expect(await series(node, 'cleave_edge_router_link_prior')).toEqual(['cleave_edge_router_link_prior 1']);
    node.estimates.link.observeRtt(20);
    expect(await series(node, 'cleave_edge_router_link_rtt_seconds')).toEqual(['cleave_edge_router_link_rtt_seconds 0.02']);
  });
});

describe('tenant label', () => {
  it('is on the request counter and duration, bounded to maxTenants values', async () => {
    const m = new EdgeMetrics({ maxTenants: 2 });
    for (const t of ['a', 'b', 'c', 'd', 'a']) m.answered('mlp-small', 'edge', 'miss', 1, [], t);
    const { body } = await m.exposition();
    const count = (t: string): string | undefined => body.split('\n').find((l) => l.startsWith('cleave_edge_requests_total{') && l.includes(`tenant="${t}"`));
    expect(count('a')).toMatch(/ 2$/);
    expect(count('b')).toMatch(/ 1$/);
    expect(count('_other')).toMatch(/ 2$/);
    expect(count('c')).toBeUndefined();
    expect(body).toMatch(/cleave_edge_request_duration_seconds_count\{[^}]*tenant="_other"[^}]*\} 2/);
  });
});

describe('WebSocket client runs', () => {
  it('get an edge span, child of the client one, sent to the cloud and returned to the client', async () => {
    const { node, cloud, lines } = rig();
    const h = node.service.runService('ws-tenant').infer({
      model: 'text-base', inputs: { input_ids: hostTensor('int64', [1, 32], new BigInt64Array(32).fill(7n)) }, protocol: 'ws', traceparent: TRACEPARENT,
    });
    const r = await h.promise;
    const sent = parseTraceparent(cloud.calls[0]!.traceparent);
    expect(sent?.traceId).toBe(TID);
    expect(sent?.spanId).not.toBe(CLIENT_SPAN);
    expect(r.traceparent).toBe(cloud.calls[0]!.traceparent);
    expect(lines.find((l) => l.event === 'request')).toMatchObject({ trace_id: TID, span_id: sent?.spanId, parent_span_id: CLIENT_SPAN, tenant: 'ws-tenant', cloud_span_id: CLOUD_SPAN });
  });
});
