/**
 * The edge's behaviour as a client sees it over HTTP and WebSocket, written once and run against
 * each runtime that serves the edge (test/edge/node-edge.test.ts, test/edge/workerd-edge.test.ts).
 * A real `cleave cloud` process stands behind the edge; reference answers come from
 * onnxruntime-node in this process, or from the cloud's own KServe endpoint.
 *
 * The cases share one edge and one cloud and run in order: cache cases use inputs no earlier
 * case sent (`freshX`), and the degraded case, which stops the cloud, comes last.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startCloudProcess, type CloudProcess } from '../../bench/cloud-process.js';
import { nodeBackends } from '../../cli/backends.js';
import { connectCloud } from '../../cli/cloud-client.js';
import type { LoadedModel } from '../../shared/backend/backend.js';
import { parseInferResponse } from '../../shared/kserve/index.js';
import { FrameType } from '../../shared/protocol/constants.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame-codec.js';
import { parseServerTiming } from '../../shared/server-timing.js';
import { hostTensor } from '../../shared/tensor.js';
import { parseTraceparent } from '../../shared/trace.js';
import { decodeNativeResponse, encodeNativeRequest } from '../../edge/native-codec.js';
import { zooModelBytes } from '../helpers/zoo.js';

/** What a runtime's starter gets: the cloud to link to and the body limit to enforce. */
export interface EdgeStartOptions {
  /** The cloud's protocol URL, `ws://127.0.0.1:P/v1/ws`. */
  readonly cloudUrl?: string;
  /** Largest request body, bytes. */
  readonly maxBodyBytes?: number;
}

/** A started edge under test. */
export interface EdgeUnderTest {
  /** Base URL, `http://127.0.0.1:P`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** How the runtime behaves where runtimes may differ. */
export interface ConformanceOptions {
  /**
   * Concurrent identical requests overlap inside the edge, so at least one of eight is
   * `coalesced` rather than a later `hit`. True for Node; workerd may run them one after another.
   * Default false (only "exactly one miss" is asserted).
   */
  readonly expectCoalesced?: boolean;
}

/** The body limit the edge is started with: small, so the 413 case needs only a modest body. */
const MAX_BODY_BYTES = 1024 * 1024;

/** A KServe v2 JSON input tensor. */
interface WireInput {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

interface ErrorJson {
  error: string;
  code: string;
  message: string;
  detail: Record<string, unknown>;
}

let seed = 0;
/** 64 float32 values no earlier request sent (so the cache has never seen them). */
function freshX(): number[] {
  seed++;
  // Values exactly representable in float32, so the JSON we send is what the edge computes on.
  return Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(seed * 7.31 + i * 0.37) * 2));
}

/** 32 token ids no earlier text request sent. */
function freshIds(): number[] {
  seed++;
  return Array.from({ length: 32 }, (_, i) => 1 + ((seed * 131 + i * 17) % 4000));
}

function kserveBody(inputs: WireInput[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ inputs, ...extra });
}

function xInput(data: number[]): WireInput {
  return { name: 'x', datatype: 'FP32', shape: [1, 64], data };
}

function idsInput(data: number[]): WireInput {
  return { name: 'input_ids', datatype: 'INT64', shape: [1, 32], data };
}

/** Every element of `got` within `tol` of `want`, with the first mismatch in the failure message. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-4): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) {
      throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol}); got [${Array.from(got).join(', ')}], want [${Array.from(want).join(', ')}]`);
    }
  }
}

function timingNames(res: Response): string[] {
  const h = res.headers.get('server-timing');
  expect(h, 'Server-Timing header').not.toBeNull();
  return parseServerTiming(h!).map((s) => s.name);
}

async function until<T>(what: string, ms: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const end = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await attempt();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Declares the conformance suite for one runtime. `start` starts the edge under test pointing at
 * the given cloud, with the given body limit.
 */
export function edgeConformance(label: string, start: (opts: EdgeStartOptions) => Promise<EdgeUnderTest>, options: ConformanceOptions = {}): void {
  describe(`edge conformance: ${label}`, () => {
    let cloud: CloudProcess | undefined;
    let edge: EdgeUnderTest | undefined;
    let mlpSmall: LoadedModel | undefined;
    const url = (p: string): string => `${edge!.url}${p}`;

    /** mlp-small's logits for one row, from onnxruntime-node in this process. */
    const reference = async (x: number[]): Promise<Float32Array> => {
      const out = await mlpSmall!.run({ x: hostTensor('float32', [1, 64], Float32Array.from(x)) });
      return out.logits!.data as Float32Array;
    };

    const postJson = (path: string, body: string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(url(path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    const inferX = (x: number[], headers: Record<string, string> = {}): Promise<Response> =>
      postJson('/v2/models/mlp-small/infer', kserveBody([xInput(x)]), headers);

    /** The logits of a KServe JSON answer. */
    const logitsOf = async (res: Response): Promise<number[]> => {
      const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
      const out = body.outputs.find((o) => o.name === 'logits');
      expect(out, 'logits output').toBeDefined();
      return out!.data;
    };

    /** Status, code and message of an error answer. */
    const errorOf = async (res: Response): Promise<ErrorJson & { status: number }> => {
      const text = await res.text();
      let body: ErrorJson;
      try {
        body = JSON.parse(text) as ErrorJson;
      } catch {
        throw new Error(`HTTP ${res.status} answered with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      return { ...body, status: res.status };
    };

    const cacheStats = async (): Promise<{ entries: number; misses: number }> => {
      const s = (await (await fetch(url('/v1/status'))).json()) as { cache: { entries: number; misses: number } };
      return s.cache;
    };

    beforeAll(async () => {
      const registry = await nodeBackends();
      mlpSmall = await registry.get('onnxruntime-node').load(await zooModelBytes('mlp-small'));
      cloud = await startCloudProcess(['--no-log'], { timeoutMs: 100_000 });
      edge = await start({ cloudUrl: cloud.wsUrl, maxBodyBytes: MAX_BODY_BYTES });
      // The link connects in the background (in workerd: on the Durable Object's first run).
      // Wait until a cloud-only model answers, so the cases below see a steady link.
      const big = { name: 'x', datatype: 'FP32', shape: [1, 512], data: new Array<number>(512).fill(0.5) };
      await until('the edge reaching the cloud (mlp-large answering 200)', 60_000, async () => {
        const res = await postJson('/v2/models/mlp-large/infer', kserveBody([big]), { 'x-cleave-cache': 'bypass' });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
        return true;
      });
    }, 240_000);

    afterAll(async () => {
      await edge?.stop();
      await cloud?.stop();
      await mlpSmall?.dispose();
    }, 60_000);

    it('answers health, server metadata and model metadata', async () => {
      expect((await fetch(url('/v2/health/live'))).status).toBe(200);
      expect((await fetch(url('/v2/health/ready'))).status).toBe(200);
      const server = (await (await fetch(url('/v2'))).json()) as { name: string; extensions: string[] };
      expect(server.name).toBe('cleave-edge');
      expect(server.extensions).toContain('binary_tensor_data');
      const meta = await fetch(url('/v2/models/mlp-small'));
      expect(meta.status).toBe(200);
      const m = (await meta.json()) as { name: string; inputs: { name: string; datatype: string; shape: number[] }[] };
      expect(m.name).toBe('mlp-small');
      expect(m.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 64] }]);
    });

    it('infers over KServe v2 JSON with the reference logits and the tracing headers', async () => {
      const x = freshX();
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parentSpan = '00f067aa0ba902b7';
      const res = await inferX(x, { 'x-request-id': 'conformance-req-1', traceparent: `00-${traceId}-${parentSpan}-01` });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cleave-cache')).toBe('miss');
      expect(res.headers.get('x-cleave-served-by')).toBe('edge');
      expect(res.headers.get('x-request-id')).toBe('conformance-req-1');
      const tp = parseTraceparent(res.headers.get('traceparent'));
      expect(tp, `traceparent ${res.headers.get('traceparent')}`).toBeDefined();
      expect(tp!.traceId).toBe(traceId);
      expect(tp!.spanId).not.toBe(parentSpan);
      expect(timingNames(res)).toEqual(expect.arrayContaining(['cache', 'edge', 'total']));
      expectClose(await logitsOf(res), await reference(x));
    });

    it('answers an identical request from the cache, and obeys bypass, no-cache and the tenant', async () => {
      const x = freshX();
      const want = await reference(x);
      const first = await inferX(x);
      expect(first.headers.get('x-cleave-cache')).toBe('miss');
      expectClose(await logitsOf(first), want);

      const hit = await inferX(x);
      expect(hit.status).toBe(200);
      expect(hit.headers.get('x-cleave-cache')).toBe('hit');
      const names = timingNames(hit);
      expect(names).toContain('cache');
      expect(names).toContain('total');
      expect(names).not.toContain('edge');
      expectClose(await logitsOf(hit), want);

      const bypass = await inferX(x, { 'x-cleave-cache': 'bypass' });
      expect(bypass.headers.get('x-cleave-cache')).toBe('bypass');
      expect(timingNames(bypass)).toContain('edge');
      expectClose(await logitsOf(bypass), want);

      const refresh = await inferX(x, { 'cache-control': 'no-cache' });
      expect(refresh.headers.get('x-cleave-cache')).toBe('refresh');
      expectClose(await logitsOf(refresh), want);

      const otherTenant = await inferX(x, { 'x-cleave-tenant': 'tenant-b' });
      expect(otherTenant.headers.get('x-cleave-cache')).toBe('miss');
      expectClose(await logitsOf(otherTenant), want);
      const again = await inferX(x, { 'x-cleave-tenant': 'tenant-b' });
      expect(again.headers.get('x-cleave-cache')).toBe('hit');
      await again.arrayBuffer();
    });

    it('infers with the KServe binary tensor data extension', async () => {
      const x = freshX();
      const payload = new Uint8Array(Float32Array.from(x).buffer);
      const header = new TextEncoder().encode(JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], parameters: { binary_data_size: payload.byteLength } }],
        outputs: [{ name: 'logits', parameters: { binary_data: true } }],
      }));
      const body = new Uint8Array(header.length + payload.length);
      body.set(header, 0);
      body.set(payload, header.length);
      const res = await fetch(url('/v2/models/mlp-small/infer'), {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
        body,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/octet-stream/);
      const headerLength = Number(res.headers.get('inference-header-content-length'));
      expect(headerLength).toBeGreaterThan(0);
      const parsed = parseInferResponse(new Uint8Array(await res.arrayBuffer()), headerLength);
      expect(parsed.modelName).toBe('mlp-small');
      expect(parsed.outputs.logits!.dims).toEqual([1, 10]);
      expectClose(parsed.outputs.logits!.data as Float32Array, await reference(x));
    });

    it('infers on the native route in msgpack and JSON, and negotiates the answer by Accept', async () => {
      const x = freshX();
      const want = await reference(x);
      const inputs = { x: hostTensor('float32', [1, 64], Float32Array.from(x)) };

      const mp = encodeNativeRequest({ inputs, id: 'native-1' }, 'msgpack');
      const r1 = await fetch(url('/v1/models/mlp-small/infer'), { method: 'POST', headers: { 'content-type': mp.contentType }, body: mp.body });
      expect(r1.status).toBe(200);
      expect(r1.headers.get('content-type')).toMatch(/^application\/msgpack/);
      const a1 = decodeNativeResponse(new Uint8Array(await r1.arrayBuffer()), 'msgpack');
      expect(a1.model).toBe('mlp-small');
      expect(a1.id).toBe('native-1');
      expect(a1.servedBy).toBe('edge');
      expect(a1.cache).toBe('miss');
      expect(a1.requestId).toBe(r1.headers.get('x-request-id'));
      expect(a1.outputs.logits!.dims).toEqual([1, 10]);
      expectClose(a1.outputs.logits!.data as Float32Array, want);

      const js = encodeNativeRequest({ inputs }, 'json');
      const r2 = await fetch(url('/v1/models/mlp-small/infer'), { method: 'POST', headers: { 'content-type': js.contentType }, body: js.body });
      expect(r2.status).toBe(200);
      expect(r2.headers.get('content-type')).toMatch(/^application\/json/);
      const a2 = decodeNativeResponse(new Uint8Array(await r2.arrayBuffer()), 'json');
      // The same inputs in another encoding are the same cache key.
      expect(a2.cache).toBe('hit');
      expectClose(a2.outputs.logits!.data as Float32Array, want);

      const r3 = await fetch(url('/v1/models/mlp-small/infer'), {
        method: 'POST', headers: { 'content-type': mp.contentType, accept: 'application/json' }, body: mp.body,
      });
      expect(r3.status).toBe(200);
      expect(r3.headers.get('content-type')).toMatch(/^application\/json/);
      const a3 = decodeNativeResponse(new Uint8Array(await r3.arrayBuffer()), 'json');
      expectClose(a3.outputs.logits!.data as Float32Array, want);
    });

    it('computes 8 concurrent identical new requests once (single flight)', async () => {
      // A cloud model: its computation awaits the link, so the other seven arrive while the
      // first is in flight. (An edge model on Node would not show it: onnxruntime-node runs a
      // session synchronously on the event loop, so requests queue behind it and find a hit.)
      const body = kserveBody([idsInput(freshIds())]);
      // Eight idle keep-alive connections first, so the eight requests leave together instead of
      // one at once and seven after their TCP handshakes.
      await Promise.all(Array.from({ length: 8 }, async () => (await fetch(url('/v2/health/live'))).arrayBuffer()));
      const answers = await Promise.all(Array.from({ length: 8 }, async () => {
        const res = await postJson('/v2/models/text-base/infer', body);
        return { status: res.status, cache: res.headers.get('x-cleave-cache'), servedBy: res.headers.get('x-cleave-served-by'), logits: res.status === 200 ? await logitsOf(res) : await res.text() };
      }));
      expect(answers.map((a) => a.status), JSON.stringify(answers.filter((a) => a.status !== 200))).toEqual(new Array(8).fill(200));
      const statuses = answers.map((a) => a.cache);
      expect(statuses.filter((s) => s === 'miss'), `cache statuses ${statuses.join(',')}`).toHaveLength(1);
      for (const s of statuses) expect(['miss', 'coalesced', 'hit']).toContain(s);
      if (options.expectCoalesced) expect(statuses.filter((s) => s === 'coalesced').length, `cache statuses ${statuses.join(',')}`).toBeGreaterThanOrEqual(1);
      expect(answers.map((a) => a.servedBy)).toEqual(new Array(8).fill('cloud'));
      for (const a of answers) expectClose(a.logits as number[], answers[0]!.logits as number[], 0);
    });

    it('forwards a cloud-tier model to the cloud and answers what the cloud answers', async () => {
      const body = kserveBody([idsInput(freshIds())]);
      const res = await postJson('/v2/models/text-base/infer', body);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cleave-served-by')).toBe('cloud');
      expect(res.headers.get('x-cleave-degraded')).toBeNull();
      expect(timingNames(res)).toEqual(expect.arrayContaining(['cache', 'link', 'cloud-queue', 'cloud-compute', 'total']));
      const direct = await fetch(`${cloud!.httpUrl}/v2/models/text-base/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(direct.status).toBe(200);
      expectClose(await logitsOf(res), await logitsOf(direct));
      // The run fed the router's live estimates: cloud compute, and the link from the transfer.
      const status = (await (await fetch(`${edge!.url}/v1/status`)).json()) as { estimates: { cloud: Record<string, { samples: number }[]>; link: { rttSamples: number; bwSamples: number } } };
      expect(status.estimates.cloud['text-base']?.[0]?.samples).toBeGreaterThanOrEqual(1);
      expect(status.estimates.link.rttSamples + status.estimates.link.bwSamples).toBeGreaterThanOrEqual(1);
    });

    it('deploys a workflow and runs its nodes on both tiers: the edge model here, the cloud model as a subgraph', async () => {
      const doc = {
        name: 'conformance-topics',
        inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }],
        nodes: [
          { id: 'quick', type: 'model', params: { model: 'text-tiny', placement: 'edge' } },
          { id: 'full', type: 'model', params: { model: 'text-base', placement: 'cloud' } },
        ],
        edges: [{ source: 'input', target: 'quick' }, { source: 'input', target: 'full' }],
        outputs: [{ name: 'quick', from: 'quick.logits' }, { name: 'full', from: 'full.logits' }],
      };
      const dep = await postJson('/v1/workflows', JSON.stringify(doc));
      expect([200, 201]).toContain(dep.status);
      const ids = freshIds();
      const res = await postJson('/v1/workflows/conformance-topics/infer', JSON.stringify({ inputs: { input_ids: { dtype: 'int64', dims: [1, 32], data: ids } } }));
      expect(res.status).toBe(200);
      expect((res.headers.get('x-cleave-plan') ?? '').split(', ').sort()).toEqual(['full=cloud', 'quick=edge']);
      const j = (await res.json()) as { outputs: Record<string, { data: number[] }> };
      const direct = await fetch(`${cloud!.httpUrl}/v2/models/text-base/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: kserveBody([idsInput(ids)]) });
      expectClose(j.outputs.full!.data, await logitsOf(direct));
      const plan = (await (await fetch(url('/v1/workflows/conformance-topics/plan'))).json()) as { nodes: { node: string; placement: string }[] };
      expect(plan.nodes.map((n) => n.placement).sort()).toEqual(['cloud', 'edge']);
    });

    it('serves the Cleave protocol to clients on /v1/ws', async () => {
      const client = await connectCloud(`${edge!.url.replace(/^http/, 'ws')}/v1/ws`);
      try {
        const welcome = await client.ready;
        const offered = welcome.models.map((m) => m.name);
        expect(offered).toContain('mlp-small');
        expect(offered).toContain('text-base');
        const x = freshX();
        const r = await client.run({ model: 'mlp-small', inputs: { x: hostTensor('float32', [1, 64], Float32Array.from(x)) }, deadlineMs: 30_000 }).promise;
        expect(r.outputs.logits!.dims).toEqual([1, 10]);
        expectClose(r.outputs.logits!.data as Float32Array, await reference(x));
      } finally {
        client.close();
      }
    });

    it('exposes Prometheus metrics for requests and cache events', async () => {
      const res = await fetch(url('/metrics'));
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^cleave_edge_requests_total\{[^}]*model="mlp-small"[^}]*\} [1-9]/m);
      expect(text).toMatch(/^cleave_edge_cache_events_total\{event="hit"\} [1-9]/m);
    });

    describe('refuses bad input with a coded error naming what was wrong', () => {
      it('a content type it does not read: 415 CLEAVE_E_MEDIA_TYPE', async () => {
        const res = await fetch(url('/v2/models/mlp-small/infer'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
        const e = await errorOf(res);
        expect(e.status).toBe(415);
        expect(e.code).toBe('CLEAVE_E_MEDIA_TYPE');
        expect(e.message).toMatch(/text\/plain/);
        expect(e.message).toMatch(/application\/json/);
      });

      it('malformed JSON: 400 naming the position', async () => {
        const e = await errorOf(await postJson('/v2/models/mlp-small/infer', '{"inputs": [{"name": "x",'));
        expect(e.status).toBe(400);
        expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
        expect(e.message).toMatch(/position \d+/);
      });

      it('malformed msgpack on the native route: 400 CLEAVE_E_PROTOCOL', async () => {
        // 0xc1 is the one byte msgpack never uses.
        const res = await fetch(url('/v1/models/mlp-small/infer'), { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body: new Uint8Array([0xc1, 0x00]) });
        const e = await errorOf(res);
        expect(e.status).toBe(400);
        expect(e.code).toBe('CLEAVE_E_PROTOCOL');
        expect(e.message).toMatch(/msgpack/i);
      });

      it('an unknown model: 404 CLEAVE_E_NOT_FOUND listing the models', async () => {
        const e = await errorOf(await postJson('/v2/models/no-such-model/infer', kserveBody([xInput(freshX())])));
        expect(e.status).toBe(404);
        expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
        expect(e.message).toMatch(/no-such-model/);
        expect(e.message).toMatch(/mlp-small/);
      });

      it('a wrong dtype: 400 CLEAVE_E_DTYPE naming float32, and nothing is cached from it', async () => {
        const before = await cacheStats();
        const ints = freshX().map((v) => Math.round(v * 10));
        const e = await errorOf(await postJson('/v2/models/mlp-small/infer', kserveBody([{ name: 'x', datatype: 'INT32', shape: [1, 64], data: ints }])));
        expect(e.status).toBe(400);
        expect(e.code).toBe('CLEAVE_E_DTYPE');
        expect(e.message).toMatch(/int32/);
        expect(e.message).toMatch(/float32/);
        // Validation comes before the cache: no entry, no miss counted.
        expect(await cacheStats()).toMatchObject({ entries: before.entries, misses: before.misses });
        // The same values as floats are a new request: a miss, answered.
        const x = ints.map((v) => v);
        const ok = await inferX(x);
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-cleave-cache')).toBe('miss');
        expectClose(await logitsOf(ok), await reference(x));
      });

      it('a wrong shape: 400 CLEAVE_E_SHAPE naming [N,64]', async () => {
        const x = freshX().slice(0, 63);
        const e = await errorOf(await postJson('/v2/models/mlp-small/infer', kserveBody([{ name: 'x', datatype: 'FP32', shape: [1, 63], data: x }])));
        expect(e.status).toBe(400);
        expect(e.code).toBe('CLEAVE_E_SHAPE');
        expect(e.message).toMatch(/\[1,63\]/);
        expect(e.message).toMatch(/\[N,64\]/);
      });

      it('a body over the limit: 413 CLEAVE_E_TOO_LARGE, and the next request still answers', async () => {
        const big = 'x'.repeat(MAX_BODY_BYTES + 1024);
        const e = await errorOf(await postJson('/v2/models/mlp-small/infer', big));
        expect(e.status).toBe(413);
        expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
        expect(e.message).toMatch(new RegExp(String(MAX_BODY_BYTES)));
        // The unread rest of the body must not poison the connection: fetch reuses it next.
        for (let i = 0; i < 3; i++) expect((await fetch(url('/v2/health/live'))).status).toBe(200);
      });

      it('a protocol frame other than HELLO first on /v1/ws: ERROR on stream 0, then close 1002', async () => {
        const ws = new WebSocket(`${edge!.url.replace(/^http/, 'ws')}/v1/ws`);
        ws.binaryType = 'arraybuffer';
        const frames: unknown[] = [];
        ws.addEventListener('message', (ev) => frames.push(decodeFrame(new Uint8Array(ev.data as ArrayBuffer))));
        await new Promise<void>((resolve, reject) => {
          ws.addEventListener('open', () => resolve());
          ws.addEventListener('error', () => reject(new Error('no WebSocket')));
        });
        const closed = new Promise<number>((resolve) => ws.addEventListener('close', (ev) => resolve(ev.code)));
        ws.send(encodeFrame({ t: FrameType.PING, ts: 1 }));
        expect(await closed).toBe(1002);
        expect(frames[0]).toMatchObject({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_PROTOCOL', message: expect.stringContaining('HELLO') });
      });

      it('a bad x-cleave-cache value: 400 naming the header and the choices', async () => {
        const e = await errorOf(await inferX(freshX(), { 'x-cleave-cache': 'sometimes' }));
        expect(e.status).toBe(400);
        expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
        expect(e.message).toMatch(/x-cleave-cache/);
        expect(e.message).toMatch(/bypass/);
      });
    });

    // Last: it stops the cloud.
    it('answers a cloud model from its edge fallback when the cloud is gone, and fails fast without one', async () => {
      await cloud!.stop();
      // The link must notice the close first (on workerd, inside the Durable Object).
      const degraded = await until('text-base answered degraded by text-tiny', 15_000, async () => {
        const res = await postJson('/v2/models/text-base/infer', kserveBody([idsInput(freshIds())]));
        await res.arrayBuffer();
        return res.status === 200 && res.headers.get('x-cleave-degraded') !== null ? res : undefined;
      });
      expect(degraded.headers.get('x-cleave-degraded')).toMatch(/fallback=text-tiny/);
      expect(degraded.headers.get('x-cleave-served-by')).toBe('edge');
      expect(degraded.headers.get('x-cleave-cache')).toBe('miss');

      const t0 = performance.now();
      const e = await errorOf(await postJson('/v2/models/mlp-large/infer', kserveBody([{ name: 'x', datatype: 'FP32', shape: [1, 512], data: new Array<number>(512).fill(0.25) }])));
      const ms = performance.now() - t0;
      expect(e.status).toBe(503);
      expect(e.code).toBe('CLEAVE_E_UNAVAILABLE');
      expect(ms).toBeLessThan(2000);
    });
  });
}
