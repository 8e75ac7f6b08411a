// The edge's Hono app through `app.request()` (no sockets): routes and statuses, the headers it
// reads and writes, body limits and media types, and the error shape. Edge models run on
// onnxruntime-node; the cloud is NO_CLOUD or a recording fake; time is a ManualClock.
import { RESERVE_MIN_MS } from '../../edge/edge-service.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../edge/cache-key.js';
import { NO_CLOUD, type CloudRunRequest, type CloudRunResult, type CloudTransport, type LinkStatus } from '../../edge/cloud-transport.js';
import { createEdgeNode, EDGE_NAME, EDGE_VERSION, type EdgeNode, type EdgeSettings } from '../../edge/edge-node.js';
import { zooCatalogEntries } from '../../edge/zoo-catalog.js';
import type { InferenceBackend } from '../../shared/backend/backend.js';
import { hostTensor } from '../../shared/tensor.js';
import { parseServerTiming } from '../../shared/server-timing.js';
import { ManualClock } from '../../shared/time.js';
import type { RandomBytes } from '../../shared/trace.js';
import type { Manifest } from '../../shared/zoo/index.js';
import { zooBackend } from '../helpers/zoo-backend.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;
const HEX32 = /^[0-9a-f]{32}$/;

let manifest: Manifest;
let dir: string;
let ort: InferenceBackend;

beforeAll(async () => {
  ({ manifest, dir, ort } = await zooBackend());
});

const sha256: Digest = (bytes) => createHash('sha256').update(bytes).digest();

function counterRandom(): RandomBytes {
  let k = 1;
  return (n) => Uint8Array.from({ length: n }, () => (k++ * 37) & 0xff || 1);
}

/** A connected cloud that records each run and answers text-base-shaped logits at once. */
class RecordingCloud implements CloudTransport {
  readonly calls: CloudRunRequest[] = [];
  run(req: CloudRunRequest): Promise<CloudRunResult> {
    this.calls.push(req);
    const n = req.model === 'mlp-large' ? 10 : 8;
    return Promise.resolve({ outputs: { logits: hostTensor('float32', [1, n], new Float32Array(n).fill(0.25)) }, timing: { queueMs: 0, computeMs: 0, batchSize: 1 }, totalMs: 0 });
  }
  status(): LinkStatus {
    return { state: 'connected', offers: [], failures: 0, connects: 1 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const open: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

function makeNode(opts: { cloud?: CloudTransport; settings?: EdgeSettings; isReady?: () => boolean } = {}): EdgeNode {
  const clock = new ManualClock(0);
  const node = createEdgeNode({
    backend: ort,
    models: zooCatalogEntries(manifest, { bytesOf: async (file) => new Uint8Array(await readFile(join(dir, file))), cloud: true }),
    cloud: opts.cloud ?? NO_CLOUD, clock, timers: clock, random: counterRandom(), digest: sha256,
    ...(opts.isReady ? { isReady: opts.isReady } : {}),
  }, opts.settings);
  open.push(node);
  return node;
}

const mlpData = (seed = 0): number[] => Array.from({ length: 64 }, (_, i) => Math.round(Math.sin(seed + i) * 1000) / 1000);
const kserveMlp = (seed = 0, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: mlpData(seed) }], ...extra });
const kserveText = (seed = 0): string =>
  JSON.stringify({ inputs: [{ name: 'input_ids', shape: [1, 32], datatype: 'INT64', data: Array.from({ length: 32 }, (_, i) => 4 + ((seed * 131 + i * 17) % 4000)) }] });
const nativeMlp = (seed = 0, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ inputs: { x: { dtype: 'float32', dims: [1, 64], data: mlpData(seed) } }, ...extra });

const JSON_HEADERS = { 'content-type': 'application/json' };

function post(node: EdgeNode, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(node.app.request(path, { method: 'POST', body, headers: { ...JSON_HEADERS, ...headers } }));
}

function get(node: EdgeNode, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(node.app.request(path, { headers }));
}

interface ErrorJson {
  error: string;
  code: string;
  message: string;
  detail: Record<string, unknown>;
}

/** Checks the error contract (status, JSON body with the code, request id, Server-Timing) and returns the body. */
async function expectError(res: Response, status: number, code: string): Promise<ErrorJson> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorJson;
  expect(body).toMatchObject({ code, error: body.message });
  expect(typeof body.message).toBe('string');
  expect(res.headers.get('x-request-id')).toBeTruthy();
  expect(res.headers.get('server-timing')).toMatch(/total;dur=/);
  return body;
}

describe('health and metadata', () => {
  it('GET /v2/health/live is 200', async () => {
    const res = await get(makeNode(), '/v2/health/live');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ live: true });
  });

  it('every GET answer carries x-request-id, traceparent and Server-Timing', async () => {
    const node = makeNode();
    for (const path of ['/v2/health/live', '/v2/health/ready', '/v2', '/v2/models/mlp-small', '/v1/status', '/metrics']) {
      const res = await get(node, path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('x-request-id'), path).toMatch(/^[0-9a-f]{32}$/);
      expect(res.headers.get('traceparent'), path).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(res.headers.get('server-timing'), path).toMatch(/^total;dur=[0-9.]+$/);
    }
  });

  it('GET /v2/health/ready follows isReady and reports the link', async () => {
    let ready = false;
    const node = makeNode({ isReady: () => ready });
    let res = await get(node, '/v2/health/ready');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false, link: 'disabled' });
    ready = true;
    res = await get(node, '/v2/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ready: true, link: 'disabled' });
  });

  it('GET /v2 is the server metadata with the extensions and backend', async () => {
    const res = await get(makeNode(), '/v2');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { name: string; version: string; extensions: string[]; backend: string };
    expect(body).toMatchObject({ name: EDGE_NAME, version: EDGE_VERSION, backend: 'onnxruntime-node' });
    expect(body.extensions).toEqual(expect.arrayContaining(['binary_tensor_data', 'cleave_result_cache']));
  });

  it('GET /v2/models/:name[/versions/:v] is the model metadata, 404 for an unknown model or version', async () => {
    const node = makeNode();
    const want = {
      name: 'mlp-small', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 64] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    };
    let res = await get(node, '/v2/models/mlp-small');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(want);
    res = await get(node, '/v2/models/mlp-small/versions/1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(want);
    // Cloud models have metadata too.
    res = await get(node, '/v2/models/text-base');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'text-base', versions: ['2'], inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [-1, 32] }] });

    const unknown = await expectError(await get(node, '/v2/models/nope'), 404, 'CLEAVE_E_NOT_FOUND');
    expect(unknown.message).toContain('mlp-small');
    const version = await expectError(await get(node, '/v2/models/mlp-small/versions/9'), 404, 'CLEAVE_E_NOT_FOUND');
    expect(version.message).toContain('version 9');
    const badVersion = await expectError(await get(node, '/v2/models/mlp-small/versions/x1'), 400, 'CLEAVE_E_BAD_ARGUMENT');
    expect(badVersion.message).toContain('x1');
  });

  it('GET /v2/models/:name/ready: an edge model once loaded; a cloud model when the link is up or its fallback is loaded', async () => {
    const node = makeNode();
    const ready = async (path: string): Promise<[number, unknown]> => {
      const res = await get(node, path);
      return [res.status, await res.json()];
    };
    expect(await ready('/v2/models/mlp-small/ready')).toEqual([503, { name: 'mlp-small', ready: false, placement: 'edge' }]);
    expect((await post(node, '/v2/models/mlp-small/infer', kserveMlp())).status).toBe(200);
    expect(await ready('/v2/models/mlp-small/ready')).toEqual([200, { name: 'mlp-small', ready: true, placement: 'edge' }]);
    expect(await ready('/v2/models/mlp-small/versions/1/ready')).toEqual([200, { name: 'mlp-small', ready: true, placement: 'edge' }]);

    // No cloud: text-base is ready once text-tiny can answer for it; mlp-large never is.
    expect((await ready('/v2/models/text-base/ready'))[0]).toBe(503);
    await node.catalog.session(node.catalog.get('text-tiny'));
    expect(await ready('/v2/models/text-base/ready')).toEqual([200, { name: 'text-base', ready: true, placement: 'cloud' }]);
    expect((await ready('/v2/models/mlp-large/ready'))[0]).toBe(503);

    const connected = makeNode({ cloud: new RecordingCloud() });
    const res = await get(connected, '/v2/models/mlp-large/ready');
    expect(res.status).toBe(200);
  });

  it('GET /v1/status is the link, cache and models as JSON', async () => {
    const node = makeNode();
    await post(node, '/v2/models/mlp-small/infer', kserveMlp());
    const res = await get(node, '/v1/status');
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      name: string; version: string; backend: string; ready: boolean;
      link: LinkStatus; cache: Record<string, number>;
      models: { name: string; version: number; placement: string; loaded?: boolean; fallback?: string }[];
    };
    expect(body).toMatchObject({ name: EDGE_NAME, version: EDGE_VERSION, backend: 'onnxruntime-node', ready: true });
    expect(body.link).toEqual({ state: 'disabled', offers: [], failures: 0, connects: 0 });
    expect(body.cache).toMatchObject({ entries: 1, misses: 1, hits: 0, inFlight: 0 });
    expect(body.cache.bytes).toBeGreaterThan(0);
    const byName = new Map(body.models.map((m) => [m.name, m]));
    expect(byName.get('mlp-small')).toEqual({ name: 'mlp-small', version: 1, placement: 'edge', loaded: true });
    expect(byName.get('text-tiny')).toEqual({ name: 'text-tiny', version: 2, placement: 'edge', loaded: false });
    expect(byName.get('text-base')).toEqual({ name: 'text-base', version: 2, placement: 'cloud', fallback: 'text-tiny' });
    expect(byName.get('mlp-large')).toEqual({ name: 'mlp-large', version: 1, placement: 'cloud' });
    expect(body.models).toHaveLength(manifest.models.length);
  });

  it('GET /metrics is the Prometheus text format with the link and cache gauges', async () => {
    const node = makeNode();
    await post(node, '/v2/models/mlp-small/infer', kserveMlp());
    const res = await get(node, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('cleave_edge_link_state{state="disabled"} 1');
    expect(text).toContain('cleave_edge_link_state{state="connected"} 0');
    expect(text).toContain('cleave_edge_cache_entries 1');
    expect(text).toMatch(/cleave_edge_requests_total\{[^}]*served_by="edge"[^}]*code="ok"[^}]*\} 1/);
  });
});

describe('inference routes', () => {
  it('KServe v2 infer answers with the outputs and the Cleave headers', async () => {
    const node = makeNode();
    const res = await post(node, '/v2/models/mlp-small/infer', kserveMlp(0, { id: 'r1' }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model_name: string; model_version: string; id: string; outputs: { name: string; shape: number[]; data: number[] }[]; parameters: Record<string, unknown> };
    expect(body).toMatchObject({ model_name: 'mlp-small', model_version: '1', id: 'r1', parameters: { cleave_served_by: 'edge', cleave_cache: 'miss' } });
    expect(body.outputs[0]).toMatchObject({ name: 'logits', shape: [1, 10] });
    expect(res.headers.get('x-cleave-cache')).toBe('miss');
    expect(res.headers.get('x-cleave-served-by')).toBe('edge');
    expect(res.headers.get('x-request-id')).toMatch(HEX32);
    const segs = parseServerTiming(res.headers.get('server-timing')!).map((s) => s.name);
    expect(segs).toEqual(['cache', 'edge', 'total']);

    const again = await post(node, '/v2/models/mlp-small/versions/1/infer', kserveMlp(0));
    expect(again.headers.get('x-cleave-cache')).toBe('hit');
    expect(parseServerTiming(again.headers.get('server-timing')!).map((s) => s.name)).toEqual(['cache', 'total']);
  });

  it('the native route answers JSON with servedBy, cache, timing and the request id', async () => {
    const node = makeNode();
    const res = await post(node, '/v1/models/mlp-small/infer', nativeMlp(1), { 'x-request-id': 'native-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('vary')).toBe('accept');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'mlp-small', version: 1, servedBy: 'edge', cache: 'miss', requestId: 'native-1', outputs: { logits: { dtype: 'float32', dims: [1, 10] } } });
    expect(body.timing).toMatchObject({ cacheMs: 0, edgeMs: 0, totalMs: 0 });
  });

  it('a cloud model with no cloud is answered by its fallback, marked degraded', async () => {
    const node = makeNode();
    const res = await post(node, '/v2/models/text-base/infer', kserveText(1));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cleave-served-by')).toBe('edge');
    expect(res.headers.get('x-cleave-degraded')).toBe('fallback=text-tiny; reason=CLEAVE_E_UNAVAILABLE');
    expect(res.headers.get('server-timing')).toContain('edge;dur=0;desc="degraded:text-tiny"');
    const body = (await res.json()) as { model_name: string; model_version: string; parameters: Record<string, unknown> };
    expect(body).toMatchObject({ model_name: 'text-base', model_version: '2', parameters: { cleave_degraded: true, cleave_fallback: 'text-tiny' } });
  });

  it('a cloud model without a fallback and no cloud is 503', async () => {
    const node = makeNode();
    const x = Array.from({ length: 512 }, () => 0);
    const res = await post(node, '/v2/models/mlp-large/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 512], datatype: 'FP32', data: x }] }));
    const body = await expectError(res, 503, 'CLEAVE_E_UNAVAILABLE');
    expect(body.message).toContain('no cloud configured');
  });

  it('an input that breaks the contract is 400 with the model\'s expectation', async () => {
    const node = makeNode();
    const res = await post(node, '/v2/models/mlp-small/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }));
    const body = await expectError(res, 400, 'CLEAVE_E_SHAPE');
    expect(body.message).toContain('[1,3]');
  });
});

describe('request headers', () => {
  it('x-cleave-placement: auto answers with the decision; an invalid value is 400 naming the header', async () => {
    const node = makeNode();
    const res = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-cleave-placement': 'auto', 'x-cleave-cache': 'bypass' });
    expect(res.status).toBe(200);
    // No cloud: the edge is the only tier, and the header says why.
    expect(res.headers.get('x-cleave-placement')).toMatch(/^tier=edge; total=/);
    const bad = await expectError(await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-cleave-placement': 'moon' }), 400, 'CLEAVE_E_BAD_ARGUMENT');
    expect(bad.message).toContain('x-cleave-placement');
    expect(bad.detail).toEqual({ field: 'x-cleave-placement' });
  });

  it('an invalid x-cleave-cache is 400 naming the header', async () => {
    const node = makeNode();
    for (const path of ['/v2/models/mlp-small/infer', '/v1/models/mlp-small/infer']) {
      const body = await expectError(await post(node, path, path.startsWith('/v2') ? kserveMlp() : nativeMlp(), { 'x-cleave-cache': 'sometimes' }), 400, 'CLEAVE_E_BAD_ARGUMENT');
      expect(body.message).toContain('x-cleave-cache');
      expect(body.message).toContain('sometimes');
      expect(body.detail).toEqual({ field: 'x-cleave-cache' });
    }
  });

  it('x-cleave-cache and Cache-Control choose the cache mode', async () => {
    const node = makeNode();
    const mode = async (headers: Record<string, string>): Promise<string | null> =>
      (await post(node, '/v2/models/mlp-small/infer', kserveMlp(3), headers)).headers.get('x-cleave-cache');
    expect(await mode({ 'cache-control': 'no-store' })).toBe('bypass');
    expect(node.cache.stats().entries).toBe(0);
    expect(await mode({})).toBe('miss');
    expect(await mode({})).toBe('hit');
    expect(await mode({ 'cache-control': 'max-age=0, no-cache' })).toBe('refresh');
    expect(await mode({ 'cache-control': 'NO-STORE' })).toBe('bypass');
    expect(await mode({ 'x-cleave-cache': ' Bypass ' })).toBe('bypass');
    // The explicit header wins over Cache-Control.
    expect(await mode({ 'x-cleave-cache': 'default', 'cache-control': 'no-store' })).toBe('hit');
    expect(await mode({ 'cache-control': 'max-age=60' })).toBe('hit');
  });

  it('x-cleave-tenant scopes the cache; an invalid one is 400 naming the header', async () => {
    const node = makeNode();
    const cacheOf = async (tenant: string): Promise<string | null> =>
      (await post(node, '/v2/models/mlp-small/infer', kserveMlp(4), { 'x-cleave-tenant': tenant })).headers.get('x-cleave-cache');
    expect(await cacheOf('acme')).toBe('miss');
    expect(await cacheOf('globex')).toBe('miss');
    expect(await cacheOf('acme')).toBe('hit');
    for (const bad of ['has space', 'x'.repeat(65), 'a/b']) {
      const body = await expectError(await post(node, '/v2/models/mlp-small/infer', kserveMlp(4), { 'x-cleave-tenant': bad }), 400, 'CLEAVE_E_BAD_ARGUMENT');
      expect(body.message).toContain('x-cleave-tenant');
    }
  });

  it('x-cleave-deadline-ms sets the budget; an invalid one is 400 naming the header', async () => {
    const cloud = new RecordingCloud();
    const node = makeNode({ cloud });
    expect((await post(node, '/v2/models/text-base/infer', kserveText(1), { 'x-cleave-deadline-ms': '750' })).status).toBe(200);
    expect(cloud.calls[0]!.deadlineMs).toBe(750 - RESERVE_MIN_MS);
    for (const bad of ['soon', '0', '-3', '', 'Infinity']) {
      const body = await expectError(await post(node, '/v2/models/text-base/infer', kserveText(2), { 'x-cleave-deadline-ms': bad }), 400, 'CLEAVE_E_BAD_ARGUMENT');
      expect(body.message).toContain('x-cleave-deadline-ms');
    }
    expect(cloud.calls).toHaveLength(1);
  });

  it('a valid x-request-id is echoed; an invalid one is replaced', async () => {
    const node = makeNode();
    let res = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-request-id': 'order-42:retry.1' });
    expect(res.headers.get('x-request-id')).toBe('order-42:retry.1');
    res = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-request-id': 'has spaces & more' });
    expect(res.headers.get('x-request-id')).toMatch(HEX32);
    res = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-request-id': 'x'.repeat(129) });
    expect(res.headers.get('x-request-id')).toMatch(HEX32);
  });

  it('an incoming traceparent is continued: same trace, a new span, passed on to the cloud', async () => {
    const cloud = new RecordingCloud();
    const node = makeNode({ cloud });
    const res = await post(node, '/v2/models/text-base/infer', kserveText(1), { traceparent: TRACEPARENT });
    expect(res.status).toBe(200);
    const tp = res.headers.get('traceparent')!;
    expect(tp).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    expect(tp).not.toBe(TRACEPARENT);
    expect(cloud.calls[0]!.traceparent).toBe(tp);

    // Without one (or with a malformed one) the edge starts a new sampled trace.
    const fresh = await post(node, '/v2/models/text-base/infer', kserveText(2), { traceparent: 'garbage' });
    const tp2 = fresh.headers.get('traceparent')!;
    expect(tp2).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(tp2.slice(3, 35)).not.toBe(TRACE_ID);
    expect(cloud.calls[1]!.traceparent).toBe(tp2);
  });
});

describe('bodies and limits', () => {
  it('text/plain is 415 on both infer routes', async () => {
    const node = makeNode();
    for (const path of ['/v2/models/mlp-small/infer', '/v1/models/mlp-small/infer']) {
      const body = await expectError(await post(node, path, kserveMlp(), { 'content-type': 'text/plain' }), 415, 'CLEAVE_E_MEDIA_TYPE');
      expect(body.message).toContain('text/plain');
    }
  });

  it('a body over maxBodyBytes is 413 on both infer routes', async () => {
    const node = makeNode({ settings: { maxBodyBytes: 300 } });
    for (const [path, body] of [['/v2/models/mlp-small/infer', kserveMlp()], ['/v1/models/mlp-small/infer', nativeMlp()]] as const) {
      expect(body.length).toBeGreaterThan(300);
      const err = await expectError(await post(node, path, body), 413, 'CLEAVE_E_TOO_LARGE');
      expect(err.message).toContain('300');
    }
    // A body under the limit still goes through.
    const small = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array<number>(64).fill(0) }] });
    expect(small.length).toBeLessThan(300);
    expect((await post(node, '/v2/models/mlp-small/infer', small)).status).toBe(200);
  });

  it('KServe parameters.timeout must be a positive number of microseconds', async () => {
    const cloud = new RecordingCloud();
    const node = makeNode({ cloud });
    for (const bad of [-1, 0, 'soon', true]) {
      const body = await expectError(await post(node, '/v2/models/mlp-small/infer', kserveMlp(0, { parameters: { timeout: bad } })), 400, 'CLEAVE_E_BAD_ARGUMENT');
      expect(body.message).toContain('timeout');
      expect(body.detail).toEqual({ field: 'parameters.timeout' });
    }
    const text = JSON.parse(kserveText(1)) as Record<string, unknown>;
    const res = await post(node, '/v2/models/text-base/infer', JSON.stringify({ ...text, parameters: { timeout: 2_000_000 } }));
    expect(res.status).toBe(200);
    expect(cloud.calls[0]!.deadlineMs).toBe(2_000 - RESERVE_MIN_MS);
    // x-cleave-deadline-ms wins over the parameter.
    await post(node, '/v2/models/text-base/infer', JSON.stringify({ ...text, parameters: { timeout: 2_000_000 } }), { 'x-cleave-deadline-ms': '300', 'x-cleave-cache': 'bypass' });
    expect(cloud.calls[1]!.deadlineMs).toBe(300 - RESERVE_MIN_MS);
  });

  it('malformed JSON is 400 with the request id', async () => {
    const node = makeNode();
    await expectError(await post(node, '/v2/models/mlp-small/infer', '{"inputs": ['), 400, 'CLEAVE_E_BAD_ARGUMENT');
    await expectError(await post(node, '/v1/models/mlp-small/infer', '{"input": {}}'), 400, 'CLEAVE_E_BAD_ARGUMENT');
  });
});

describe('CORS', () => {
  it('sends no CORS headers unless origins are configured', async () => {
    const res = await get(makeNode(), '/v2/health/live', { origin: 'https://app.example.com' });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight for a configured origin and exposes the answer headers a client reads', async () => {
    const node = makeNode({ settings: { corsOrigins: ['https://app.example.com'] } });
    const pre = await node.app.request('/v1/models/mlp-small/infer', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-cleave-deadline-ms' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(pre.headers.get('access-control-allow-headers')).toContain('x-cleave-deadline-ms');
    const res = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { origin: 'https://app.example.com' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-expose-headers')).toContain('server-timing');
    const other = await get(node, '/v2/health/live', { origin: 'https://evil.example.net' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('other routes', () => {
  it('an unknown route is 404 JSON with a code', async () => {
    const node = makeNode();
    const body = await expectError(await get(node, '/v3/anything'), 404, 'CLEAVE_E_NOT_FOUND');
    expect(body.message).toContain('/v3/anything');
    await expectError(await post(node, '/v2/models/mlp-small/predict', kserveMlp()), 404, 'CLEAVE_E_NOT_FOUND');
  });

  it('/v1/ws without a WebSocket upgrade is 501', async () => {
    const res = await get(makeNode(), '/v1/ws', { upgrade: 'websocket' });
    const body = await expectError(res, 501, 'CLEAVE_E_UNAVAILABLE');
    expect(body.message).toContain('WebSocket');
  });

  it('error responses keep a valid incoming request id', async () => {
    const node = makeNode();
    const res = await get(node, '/v2/models/nope', { 'x-request-id': 'lookup-7' });
    await expectError(res, 404, 'CLEAVE_E_NOT_FOUND');
    expect(res.headers.get('x-request-id')).toBe('lookup-7');
    const infer = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-request-id': 'infer-7', 'content-type': 'text/plain' });
    await expectError(infer, 415, 'CLEAVE_E_MEDIA_TYPE');
    expect(infer.headers.get('x-request-id')).toBe('infer-7');
    // A malformed x-cleave-* header fails the request context, not the id and trace.
    const badTenant = await post(node, '/v2/models/mlp-small/infer', kserveMlp(), { 'x-request-id': 'tenant-7', 'x-cleave-tenant': 'no spaces allowed', traceparent: TRACEPARENT });
    await expectError(badTenant, 400, 'CLEAVE_E_BAD_ARGUMENT');
    expect(badTenant.headers.get('x-request-id')).toBe('tenant-7');
    expect(badTenant.headers.get('traceparent')).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
  });
});
