// EdgeService through createEdgeNode: real onnxruntime-node sessions on zoo models for the edge
// tier, a scripted CloudTransport for the cloud tier, and a ManualClock for every duration, so
// the Server-Timing segments are asserted to the millisecond and nothing sleeps.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Digest } from '../../edge/cache-key.js';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkStatus } from '../../edge/cloud-transport.js';
import { createEdgeNode, type EdgeNode, type EdgeSettings } from '../../edge/edge-node.js';
import { RESERVE_MIN_MS, type EdgeInferRequest } from '../../edge/edge-service.js';
import { zooCatalogEntries } from '../../edge/zoo-catalog.js';
import type { InferenceBackend } from '../../shared/backend/backend.js';
import { CleaveError, type ErrorCode } from '../../shared/errors.js';
import { FrameType } from '../../shared/protocol/constants.js';
import type { ModelLoad, ModelOffer, TensorMap } from '../../shared/protocol/frames.js';
import { hostTensor, type HostTensor } from '../../shared/tensor.js';
import { ManualClock } from '../../shared/time.js';
import type { RandomBytes } from '../../shared/trace.js';
import type { Manifest } from '../../shared/zoo/index.js';
import { steppedBackend } from '../helpers/stepped-backend.js';
import { zooModelBytes } from '../helpers/zoo.js';
import { zooBackend } from '../helpers/zoo-backend.js';

/** Ms every edge model run takes on the ManualClock (the wrapper below advances it). */
const EDGE_RUN_MS = 7;
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

let manifest: Manifest;
let dir: string;
let ort: InferenceBackend;

beforeAll(async () => {
  ({ manifest, dir, ort } = await zooBackend());
});


/** node:crypto SHA-256, as the Node entry uses: synchronous, so a flush() is enough for a request to reach the cloud. */
const sha256: Digest = (bytes) => createHash('sha256').update(bytes).digest();

/** Deterministic RandomBytes: a counter, so ids differ yet repeat run to run. */
function counterRandom(): RandomBytes {
  let k = 1;
  return (n) => Uint8Array.from({ length: n }, () => (k++ * 37) & 0xff || 1);
}

interface CloudCall {
  readonly req: CloudRunRequest;
  readonly signal: AbortSignal | undefined;
}

type Script = (call: CloudCall) => Promise<CloudRunResult> | CloudRunResult;

/**
 * A CloudTransport whose runs follow a script: it records each request and its signal, and
 * rejects with CLEAVE_E_CANCELLED as soon as the signal aborts, whatever the script is doing
 * (unless `honoursAbort` is false).
 */
class ScriptedCloud implements CloudTransport {
  readonly calls: CloudCall[] = [];
  offers: ModelOffer[] = [];
  closed = false;
  /** False: an abort is ignored and the script runs to its end (a link that notices late). */
  honoursAbort = true;
  script: Script;

  constructor(readonly clock: ManualClock) {
    this.script = answer(clock, { logits: logits(8, 0.5) });
  }

  run(req: CloudRunRequest, signal?: AbortSignal): Promise<CloudRunResult> {
    const call: CloudCall = { req, signal };
    this.calls.push(call);
    const cancelled = (): CleaveError => new CleaveError('CLEAVE_E_CANCELLED', `run of ${req.model} cancelled`);
    if (signal?.aborted && this.honoursAbort) return Promise.reject(cancelled());
    return new Promise<CloudRunResult>((resolve, reject) => {
      const onAbort = (): void => reject(cancelled());
      if (this.honoursAbort) signal?.addEventListener('abort', onAbort, { once: true });
      Promise.resolve()
        .then(() => this.script(call))
        .then(resolve, reject)
        .finally(() => signal?.removeEventListener('abort', onAbort));
    });
  }

  status(): LinkStatus {
    return { state: 'connected', url: 'ws://cloud.test/v1/ws', offers: this.offers, failures: 0, connects: 1 };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

interface CloudTimes {
  /** Time on the wire both ways, ms. */
  readonly linkMs?: number;
  readonly queueMs?: number;
  readonly computeMs?: number;
}

/** Answers with `outputs` after moving the clock by link + queue + compute, reporting that as totalMs. */
function answer(clock: ManualClock, outputs: TensorMap, t: CloudTimes = {}): Script {
  const { linkMs = 0, queueMs = 0, computeMs = 0 } = t;
  return () => {
    const totalMs = linkMs + queueMs + computeMs;
    clock.advance(totalMs);
    return { outputs, timing: { queueMs, computeMs, batchSize: 1 }, totalMs };
  };
}

function fail(code: ErrorCode): Script {
  return (call) => {
    throw new CleaveError(code, `scripted ${code} for ${call.req.model}`);
  };
}

/** A script that waits until `release()`, then answers like `then`. */
function gate(then: Script): { script: Script; release: () => void } {
  let release!: () => void;
  const open = new Promise<void>((r) => { release = r; });
  return { script: async (call) => { await open; return then(call); }, release };
}

/** Lets queued promise callbacks (and the ones they queue) run; no time passes on the clock. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function logits(n: number, v: number): HostTensor {
  return hostTensor('float32', [1, n], Float32Array.from({ length: n }, (_, i) => v + i));
}

function tokenIds(seed: number): HostTensor {
  return hostTensor('int64', [1, 32], BigInt64Array.from({ length: 32 }, (_, i) => BigInt(4 + ((seed * 131 + i * 17) % 4000))));
}

function mlpInput(seed: number, width = 64): HostTensor {
  return hostTensor('float32', [1, width], Float32Array.from({ length: width }, (_, i) => Math.sin(seed + i * 0.37)));
}

interface Rig {
  readonly node: EdgeNode;
  readonly clock: ManualClock;
  readonly cloud: ScriptedCloud;
}

const open: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

function rig(settings: EdgeSettings = {}): Rig {
  const clock = new ManualClock(1000);
  const cloud = new ScriptedCloud(clock);
  const node = createEdgeNode({
    backend: steppedBackend(ort, clock, EDGE_RUN_MS),
    models: zooCatalogEntries(manifest, { bytesOf: async (file) => new Uint8Array(await readFile(join(dir, file))), cloud: true }),
    cloud, clock, timers: clock, random: counterRandom(), digest: sha256,
  }, settings);
  open.push(node);
  return { node, clock, cloud };
}

const textReq = (seed = 1, extra: Partial<EdgeInferRequest> = {}): EdgeInferRequest =>
  ({ model: 'text-base', inputs: { input_ids: tokenIds(seed) }, tenant: 't1', ...extra });

describe('edge models', () => {
  it('are computed locally, with an edge segment and a total that covers it', async () => {
    const { node, clock, cloud } = rig();
    const receivedAt = clock.now();
    clock.advance(3); // time spent reading the request before infer is called
    const r = await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 't1', receivedAt });
    expect(r).toMatchObject({ model: 'mlp-small', version: 1, servedBy: 'edge', cache: 'miss' });
    expect(r.degraded).toBeUndefined();
    expect(r.outputs.logits?.dims).toEqual([1, 10]);
    // The digest is the only cache work and takes no ManualClock time; the run takes EDGE_RUN_MS.
    expect(r.timing).toEqual({ cacheMs: 0, edgeMs: EDGE_RUN_MS, totalMs: 3 + EDGE_RUN_MS });
    expect(r.timing.totalMs).toBeGreaterThanOrEqual(r.timing.edgeMs! + r.timing.cacheMs);
    expect(cloud.calls).toHaveLength(0);
    expect(node.catalog.isLoaded(node.catalog.get('mlp-small'))).toBe(true);
  });

  it('answer exactly what the model computes when run directly', async () => {
    const { node } = rig();
    const inputs = { x: mlpInput(2) };
    const direct = await ort.load(await zooModelBytes('mlp-small'), { intraOpThreads: 1 });
    try {
      const want = await direct.run(inputs);
      const r = await node.service.infer({ model: 'mlp-small', inputs, tenant: 't1' });
      expect(Array.from(r.outputs.logits!.data as Float32Array)).toEqual(Array.from(want.logits!.data as Float32Array));
    } finally {
      await direct.dispose();
    }
  });
});

describe('cloud models', () => {
  it('are forwarded with model, version, inputs, budget and traceparent; link time is total minus queue and compute', async () => {
    const { node, clock, cloud } = rig();
    const out = { logits: logits(8, 2) };
    cloud.script = answer(clock, out, { linkMs: 25, queueMs: 6, computeMs: 9 });
    const inputs = { input_ids: tokenIds(3) };
    const r = await node.service.infer({ model: 'text-base', inputs, tenant: 't1', deadlineMs: 800, traceparent: TRACEPARENT, priority: 2 });

    expect(cloud.calls).toHaveLength(1);
    const sent = cloud.calls[0]!.req;
    expect(sent).toMatchObject({ model: 'text-base', version: 2, traceparent: TRACEPARENT, priority: 2 });
    expect(sent.inputs).toBe(inputs);
    expect(sent.outputs).toBeUndefined();
    expect(sent.deadlineMs).toBeLessThanOrEqual(800);
    expect(sent.deadlineMs).toBe(800 - RESERVE_MIN_MS); // no ManualClock time passed before the run went out; the fallback's reserve is kept back
    expect(cloud.calls[0]!.signal).toBeInstanceOf(AbortSignal);

    expect(r).toMatchObject({ model: 'text-base', version: 2, servedBy: 'cloud', cache: 'miss' });
    expect(r.outputs).toBe(out);
    expect(r.timing).toEqual({ cacheMs: 0, linkMs: 25 + 6 + 9 - 6 - 9, cloudQueueMs: 6, cloudComputeMs: 9, totalMs: 40 });
  });

  it('send the remaining budget, counted from when the request arrived', async () => {
    const { node, clock, cloud } = rig();
    const receivedAt = clock.now();
    clock.advance(300);
    await node.service.infer(textReq(1, { deadlineMs: 800, receivedAt }));
    expect(cloud.calls[0]!.req.deadlineMs).toBe(500 - RESERVE_MIN_MS);
  });

  it('a request whose budget is spent before the run goes out fails with CLEAVE_E_DEADLINE and never reaches the cloud', async () => {
    const { node, clock, cloud } = rig();
    const receivedAt = clock.now();
    clock.advance(800);
    await expect(node.service.infer(textReq(1, { deadlineMs: 800, receivedAt }))).rejects.toMatchObject({ code: 'CLEAVE_E_DEADLINE' });
    expect(cloud.calls).toHaveLength(0);
  });

  it('pass requested output names through', async () => {
    const { node, cloud } = rig();
    await node.service.infer(textReq(1, { outputs: ['logits'] }));
    expect(cloud.calls[0]!.req.outputs).toEqual(['logits']);
  });
});

describe('fallback to the edge', () => {
  for (const code of ['CLEAVE_E_UNAVAILABLE', 'CLEAVE_E_OVERLOADED'] as const) {
    it(`${code} from the cloud is answered by text-tiny, degraded and not cached`, async () => {
      const { node, cloud } = rig();
      cloud.script = fail(code);
      const inputs = { input_ids: tokenIds(5) };
      const direct = await ort.load(await zooModelBytes('text-tiny'), { intraOpThreads: 1 });
      let want: TensorMap;
      try {
        want = await direct.run(inputs);
      } finally {
        await direct.dispose();
      }

      const r = await node.service.infer({ model: 'text-base', inputs, tenant: 't1' });
      expect(r).toMatchObject({ model: 'text-base', version: 2, servedBy: 'edge', cache: 'miss', degraded: { fallback: 'text-tiny', reason: code } });
      expect(r.outputs.logits!.dims).toEqual([1, 8]);
      expect(Array.from(r.outputs.logits!.data as Float32Array)).toEqual(Array.from(want.logits!.data as Float32Array));
      expect(r.timing.edgeMs).toBe(EDGE_RUN_MS);
      expect(r.timing.linkMs).toBeUndefined();
      expect(node.cache.stats().entries).toBe(0);

      // Not cached: the same request asks the cloud again, and is answered by it once it is back.
      const again = await node.service.infer({ model: 'text-base', inputs, tenant: 't1' });
      expect(cloud.calls).toHaveLength(2);
      expect(again.cache).toBe('miss');
      expect(again.degraded).toEqual({ fallback: 'text-tiny', reason: code });
      cloud.script = answer(cloud.clock, { logits: logits(8, 9) });
      const back = await node.service.infer({ model: 'text-base', inputs, tenant: 't1' });
      expect(cloud.calls).toHaveLength(3);
      expect(back).toMatchObject({ servedBy: 'cloud', cache: 'miss' });
      expect(back.degraded).toBeUndefined();
      expect(node.cache.stats().entries).toBe(1);
    });
  }

  it('CLEAVE_E_BAD_ARGUMENT from the cloud propagates with its code, no fallback', async () => {
    const { node, cloud } = rig();
    cloud.script = fail('CLEAVE_E_BAD_ARGUMENT');
    const sessions = vi.spyOn(node.catalog, 'session');
    await expect(node.service.infer(textReq())).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringContaining('scripted') });
    expect(sessions).not.toHaveBeenCalled();
    expect(node.cache.stats().entries).toBe(0);
  });

  it('CLEAVE_E_DEADLINE from the cloud with time left answers from the fallback in the time kept back, degraded', async () => {
    const { node, cloud } = rig();
    cloud.script = fail('CLEAVE_E_DEADLINE');
    const r = await node.service.infer(textReq());
    expect(r.degraded).toEqual({ fallback: 'text-tiny', reason: 'CLEAVE_E_DEADLINE' });
    // The cloud got the budget less the reserve for the fallback.
    expect(cloud.calls[0]!.req.deadlineMs).toBe(30_000 - RESERVE_MIN_MS);
    expect(node.cache.stats().entries).toBe(0);
  });

  it('a cloud model without a fallback (mlp-large) propagates CLEAVE_E_UNAVAILABLE', async () => {
    const { node, cloud } = rig();
    expect(node.catalog.get('mlp-large').fallback).toBeUndefined();
    cloud.script = fail('CLEAVE_E_UNAVAILABLE');
    await expect(node.service.infer({ model: 'mlp-large', inputs: { x: mlpInput(1, 512) }, tenant: 't1' }))
      .rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect(cloud.calls).toHaveLength(1);
  });

  for (const honoursAbort of [true, false]) {
    it(`a request aborted by its client is not answered by the fallback (transport ${honoursAbort ? 'cancels' : 'then fails UNAVAILABLE'})`, async () => {
      const { node, cloud } = rig();
      cloud.honoursAbort = honoursAbort;
      const sessions = vi.spyOn(node.catalog, 'session');
      const g = gate(fail('CLEAVE_E_UNAVAILABLE'));
      cloud.script = g.script;
      const ac = new AbortController();
      const p = node.service.infer(textReq(1, { signal: ac.signal }));
      await flush();
      expect(cloud.calls).toHaveLength(1);
      ac.abort();
      await expect(p).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
      expect(cloud.calls[0]!.signal?.aborted).toBe(true);
      g.release();
      await flush();
      expect(sessions).not.toHaveBeenCalled();
      expect(node.cache.stats()).toMatchObject({ entries: 0, inFlight: 0 });
    });
  }
});

describe('validation comes before the cache and the cloud', () => {
  const f32ids = hostTensor('float32', [1, 32], new Float32Array(32));
  const cases: { name: string; req: Partial<EdgeInferRequest>; code: ErrorCode; message: string }[] = [
    { name: 'wrong dtype', req: { inputs: { input_ids: f32ids } }, code: 'CLEAVE_E_DTYPE', message: 'float32' },
    { name: 'wrong shape', req: { inputs: { input_ids: hostTensor('int64', [1, 31], new BigInt64Array(31)) } }, code: 'CLEAVE_E_SHAPE', message: '[1,31]' },
    { name: 'missing input', req: { inputs: {} }, code: 'CLEAVE_E_BAD_ARGUMENT', message: 'input_ids' },
    { name: 'unknown input', req: { inputs: { input_ids: tokenIds(1), mask: tokenIds(2) } }, code: 'CLEAVE_E_BAD_ARGUMENT', message: 'mask' },
    { name: 'unknown output name', req: { outputs: ['probs'] }, code: 'CLEAVE_E_NOT_FOUND', message: 'probs' },
    { name: 'unknown model', req: { model: 'text-huge' }, code: 'CLEAVE_E_NOT_FOUND', message: 'text-huge' },
    { name: 'unknown version', req: { version: 7 }, code: 'CLEAVE_E_NOT_FOUND', message: 'version 7' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}, nothing sent, nothing stored`, async () => {
      const { node, cloud } = rig();
      await expect(node.service.infer(textReq(1, c.req))).rejects.toMatchObject({ code: c.code, message: expect.stringContaining(c.message) });
      expect(cloud.calls).toHaveLength(0);
      expect(node.cache.stats()).toMatchObject({ entries: 0, bytes: 0, misses: 0, hits: 0, bypasses: 0, inFlight: 0 });
    });
  }
});

describe('result cache', () => {
  it('a second identical request is a hit, with no compute segment and no cloud call', async () => {
    const { node, clock, cloud } = rig();
    cloud.script = answer(clock, { logits: logits(8, 1) }, { linkMs: 10, queueMs: 1, computeMs: 2 });
    const first = await node.service.infer(textReq(1));
    const second = await node.service.infer(textReq(1));
    expect(cloud.calls).toHaveLength(1);
    expect(first.cache).toBe('miss');
    expect(second).toMatchObject({ cache: 'hit', servedBy: 'cloud', version: 2 });
    expect(second.outputs).toBe(first.outputs);
    expect(second.timing).toEqual({ cacheMs: 0, totalMs: 0 });

    const e1 = await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(4) }, tenant: 't1' });
    const e2 = await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(4) }, tenant: 't1' });
    expect(e1.timing.edgeMs).toBe(EDGE_RUN_MS);
    expect(e2).toMatchObject({ cache: 'hit', servedBy: 'edge' });
    expect(e2.timing.edgeMs).toBeUndefined();
    expect(node.cache.stats()).toMatchObject({ hits: 2, misses: 2, entries: 2 });
  });

  it('different inputs are different entries', async () => {
    const { node, cloud } = rig();
    await node.service.infer(textReq(1));
    const r = await node.service.infer(textReq(2));
    expect(r.cache).toBe('miss');
    expect(cloud.calls).toHaveLength(2);
  });

  it('tenants never share answers', async () => {
    const { node, cloud } = rig();
    expect((await node.service.infer(textReq(1, { tenant: 'a' }))).cache).toBe('miss');
    expect((await node.service.infer(textReq(1, { tenant: 'b' }))).cache).toBe('miss');
    expect(cloud.calls).toHaveLength(2);
    expect((await node.service.infer(textReq(1, { tenant: 'a' }))).cache).toBe('hit');
    expect((await node.service.infer(textReq(1, { tenant: 'b' }))).cache).toBe('hit');
    expect(cloud.calls).toHaveLength(2);
  });

  it('bypass computes without reading or writing, and has no cache segment cost', async () => {
    const { node, clock, cloud } = rig();
    cloud.script = answer(clock, { logits: logits(8, 1) });
    await node.service.infer(textReq(1));
    cloud.script = answer(clock, { logits: logits(8, 2) }, { linkMs: 4 });
    const r = await node.service.infer(textReq(1, { cache: 'bypass' }));
    expect(r).toMatchObject({ cache: 'bypass', servedBy: 'cloud' });
    expect(r.timing).toMatchObject({ cacheMs: 0, linkMs: 4 });
    expect(r.outputs.logits!.data[0]).toBe(2);
    expect(cloud.calls).toHaveLength(2);
    // The stored answer is still the first one.
    const hit = await node.service.infer(textReq(1));
    expect(hit.cache).toBe('hit');
    expect(hit.outputs.logits!.data[0]).toBe(1);
    expect(node.cache.stats()).toMatchObject({ entries: 1, bypasses: 1 });
  });

  it('bypass of a new request stores nothing', async () => {
    const { node, cloud } = rig();
    await node.service.infer(textReq(1, { cache: 'bypass' }));
    expect(node.cache.stats().entries).toBe(0);
    expect((await node.service.infer(textReq(1))).cache).toBe('miss');
    expect(cloud.calls).toHaveLength(2);
  });

  it('refresh recomputes and replaces the stored answer', async () => {
    const { node, clock, cloud } = rig();
    cloud.script = answer(clock, { logits: logits(8, 1) });
    await node.service.infer(textReq(1));
    cloud.script = answer(clock, { logits: logits(8, 2) });
    const r = await node.service.infer(textReq(1, { cache: 'refresh' }));
    expect(r.cache).toBe('refresh');
    expect(r.outputs.logits!.data[0]).toBe(2);
    expect(cloud.calls).toHaveLength(2);
    const hit = await node.service.infer(textReq(1));
    expect(hit.cache).toBe('hit');
    expect(hit.outputs.logits!.data[0]).toBe(2);
  });

  it('concurrent identical requests share one computation', async () => {
    const { node, clock, cloud } = rig();
    const g = gate(answer(clock, { logits: logits(8, 3) }, { linkMs: 5 }));
    cloud.script = g.script;
    const a = node.service.infer(textReq(1));
    const b = node.service.infer(textReq(1));
    const c = node.service.infer(textReq(1));
    await flush();
    expect(cloud.calls).toHaveLength(1);
    g.release();
    const rs = await Promise.all([a, b, c]);
    expect(cloud.calls).toHaveLength(1);
    expect(rs.map((r) => r.cache).sort()).toEqual(['coalesced', 'coalesced', 'miss']);
    for (const r of rs) expect(r.outputs).toBe(rs[0]!.outputs);
    // Only the request that computed reports the compute segments.
    const leader = rs.find((r) => r.cache === 'miss')!;
    expect(leader.timing.linkMs).toBe(5);
    for (const r of rs.filter((x) => x.cache === 'coalesced')) expect(r.timing.linkMs).toBeUndefined();
    expect(node.cache.stats()).toMatchObject({ misses: 1, coalesced: 2, entries: 1 });
  });

  it('concurrent identical edge requests run the model once', async () => {
    const { node, clock } = rig();
    const inputs = { x: mlpInput(9) };
    const t0 = clock.now();
    const rs = await Promise.all([1, 2, 3].map(() => node.service.infer({ model: 'mlp-small', inputs, tenant: 't1' })));
    // One run moved the clock once.
    expect(clock.now() - t0).toBe(EDGE_RUN_MS);
    expect(rs.map((r) => r.cache).sort()).toEqual(['coalesced', 'coalesced', 'miss']);
  });

  it('a waiter that aborts leaves; the cloud run is cancelled only when every waiter has gone', async () => {
    const { node, clock, cloud } = rig();
    const g = gate(answer(clock, { logits: logits(8, 3) }));
    cloud.script = g.script;
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const p1 = node.service.infer(textReq(1, { signal: ac1.signal }));
    const p2 = node.service.infer(textReq(1, { signal: ac2.signal }));
    await flush();
    ac1.abort();
    await expect(p1).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(cloud.calls[0]!.signal?.aborted).toBe(false);
    ac2.abort();
    await expect(p2).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(cloud.calls[0]!.signal?.aborted).toBe(true);
    g.release();
    await flush();
    expect(node.cache.stats().entries).toBe(0);
  });

  it('a failed computation stores nothing, and the next request computes again', async () => {
    const { node, cloud } = rig();
    cloud.script = fail('CLEAVE_E_BAD_ARGUMENT');
    await expect(node.service.infer(textReq(1))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    cloud.script = answer(cloud.clock, { logits: logits(8, 1) });
    expect((await node.service.infer(textReq(1))).cache).toBe('miss');
    expect(cloud.calls).toHaveLength(2);
  });
});

describe('deadlines', () => {
  for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`deadlineMs ${bad} is refused with CLEAVE_E_BAD_ARGUMENT before the cloud`, async () => {
      const { node, cloud } = rig();
      await expect(node.service.infer(textReq(1, { deadlineMs: bad }))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringContaining(String(bad)) });
      expect(cloud.calls).toHaveLength(0);
      expect(node.cache.stats().misses).toBe(0);
    });
  }

  it('a budget over maxDeadlineMs is capped', async () => {
    const { node, cloud } = rig({ maxDeadlineMs: 5_000 });
    await node.service.infer(textReq(1, { deadlineMs: 60_000 }));
    expect(cloud.calls[0]!.req.deadlineMs).toBe(5_000 - RESERVE_MIN_MS);
    await node.service.infer(textReq(2, { deadlineMs: 4_000 }));
    expect(cloud.calls[1]!.req.deadlineMs).toBe(4_000 - RESERVE_MIN_MS);
  });

  it('a request that states no budget gets defaultDeadlineMs', async () => {
    const { node, cloud } = rig({ defaultDeadlineMs: 1_234 });
    await node.service.infer(textReq(1));
    expect(cloud.calls[0]!.req.deadlineMs).toBe(1_234 - RESERVE_MIN_MS);
  });

  it('a request that joins a longer computation fails at its own deadline; the computation goes on for the others', async () => {
    const { node, clock, cloud } = rig();
    const g = gate(answer(clock, { logits: logits(8, 0.5) }));
    cloud.script = g.script;
    const long = node.service.infer(textReq(7, { deadlineMs: 10_000 }));
    await flush();
    const short = node.service.infer(textReq(7, { deadlineMs: 100 }));
    const shortDone = short.catch((e: unknown) => e);
    await flush();
    clock.advance(100);
    await expect(shortDone).resolves.toMatchObject({ code: 'CLEAVE_E_DEADLINE' });
    expect(cloud.calls).toHaveLength(1);
    expect(cloud.calls[0]!.signal?.aborted).toBe(false);
    g.release();
    await expect(long).resolves.toMatchObject({ cache: 'miss', servedBy: 'cloud' });
  });

  it('when every waiter\'s deadline has passed, the cloud run is cancelled', async () => {
    const { node, clock, cloud } = rig();
    const g = gate(answer(clock, { logits: logits(8, 0.5) }));
    cloud.script = g.script;
    const only = node.service.infer(textReq(8, { deadlineMs: 50 })).catch((e: unknown) => e);
    await flush();
    clock.advance(50);
    await expect(only).resolves.toMatchObject({ code: 'CLEAVE_E_DEADLINE' });
    expect(cloud.calls[0]!.signal?.aborted).toBe(true);
    g.release();
  });

  it('the default budget is 30 s and the cap 300 s', async () => {
    const { node, cloud } = rig();
    await node.service.infer(textReq(1));
    await node.service.infer(textReq(2, { deadlineMs: 10_000_000 }));
    expect(cloud.calls.map((c) => c.req.deadlineMs)).toEqual([30_000 - RESERVE_MIN_MS, 300_000 - RESERVE_MIN_MS]);
  });
});

describe('models learned from the cloud', () => {
  const offer: ModelOffer = {
    name: 'cloud-only', version: 3, maxBatchSize: 8,
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
  };

  it('a model the catalog does not know but the cloud offers is forwarded', async () => {
    const { node, clock, cloud } = rig();
    cloud.offers = [offer];
    expect(node.catalog.find('cloud-only')).toBeUndefined();
    const y = hostTensor('float32', [1, 4], Float32Array.of(1, 2, 3, 4));
    cloud.script = answer(clock, { y });
    const r = await node.service.infer({ model: 'cloud-only', inputs: { x: hostTensor('float32', [1, 4], new Float32Array(4)) }, tenant: 't1' });
    expect(cloud.calls[0]!.req).toMatchObject({ model: 'cloud-only', version: 3 });
    expect(r).toMatchObject({ model: 'cloud-only', version: 3, servedBy: 'cloud' });
    expect(r.outputs.y).toBe(y);
    expect(node.catalog.find('cloud-only')).toMatchObject({ placement: 'cloud', version: 3 });
  });

  it('a learned model is validated against the offered contract', async () => {
    const { node, cloud } = rig();
    cloud.offers = [offer];
    await expect(node.service.infer({ model: 'cloud-only', inputs: { x: hostTensor('float32', [1, 5], new Float32Array(5)) }, tenant: 't1' }))
      .rejects.toMatchObject({ code: 'CLEAVE_E_SHAPE' });
    expect(cloud.calls).toHaveLength(0);
  });

  it('a name neither knows is CLEAVE_E_NOT_FOUND listing the models', async () => {
    const { node, cloud } = rig();
    cloud.offers = [offer];
    await expect(node.service.infer({ model: 'nope', inputs: {}, tenant: 't1' }))
      .rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringContaining('cloud-only') });
  });
});

describe('runService (the client WebSocket)', () => {
  it('answers a RUN with a handle that resolves to the outputs', async () => {
    const { node } = rig();
    const svc = node.service.runService('ws-tenant');
    const h = svc.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, protocol: 'ws' });
    const r = await h.promise;
    expect(r).toMatchObject({ model: 'mlp-small', version: 1, timing: { queueMs: 0, computeMs: EDGE_RUN_MS, batchSize: 1 } });
    expect(r.outputs.logits!.dims).toEqual([1, 10]);
    // Scoped to its tenant: the same request from that tenant is a hit, from another a miss.
    expect((await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 'ws-tenant' })).cache).toBe('hit');
    expect((await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 'other' })).cache).toBe('miss');
  });

  it('turns an absolute deadline into a budget and reports the cloud timing', async () => {
    const { node, clock, cloud } = rig();
    cloud.script = answer(clock, { logits: logits(8, 1) }, { linkMs: 3, queueMs: 4, computeMs: 5 });
    const now = clock.now();
    const h = node.service.runService('t').infer({
      model: 'text-base', version: 2, inputs: { input_ids: tokenIds(1) }, protocol: 'ws', receivedAt: now, deadline: now + 700, traceparent: TRACEPARENT, priority: 1,
    });
    const r = await h.promise;
    expect(cloud.calls[0]!.req).toMatchObject({ model: 'text-base', version: 2, deadlineMs: 700 - RESERVE_MIN_MS, priority: 1 });
    // The edge opens its own span for the run (test/edge/observability.test.ts): same trace, a new span.
    expect(cloud.calls[0]!.req.traceparent?.slice(0, 36)).toBe(TRACEPARENT.slice(0, 36));
    expect(cloud.calls[0]!.req.traceparent).not.toBe(TRACEPARENT);
    expect(r.timing).toEqual({ queueMs: 4, computeMs: 5, batchSize: 1 });
  });

  it('cancel() aborts the request', async () => {
    const { node, clock, cloud } = rig();
    const g = gate(answer(clock, { logits: logits(8, 1) }));
    cloud.script = g.script;
    const h = node.service.runService('t').infer({ model: 'text-base', inputs: { input_ids: tokenIds(1) }, protocol: 'ws' });
    await flush();
    expect(h.cancel()).toBe(false);
    await expect(h.promise).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(cloud.calls[0]!.signal?.aborted).toBe(true);
    g.release();
  });

  it('relays the cloud load report', () => {
    const { node, cloud } = rig();
    expect(node.service.runService('t').loadReport()).toEqual({});
    const models: Record<string, ModelLoad> = { 'text-base': { queued: 2, running: 1, queueMs: 3, computeMs: 4, batchSize: 2 } };
    cloud.status = () => ({ state: 'connected', offers: [], failures: 0, connects: 1, load: { t: FrameType.LOAD, ts: 9, models } });
    expect(node.service.runService('t').loadReport()).toBe(models);
  });
});

describe('live estimates for the router', () => {
  it('edge compute is measured per model and batch bucket', async () => {
    const { node } = rig();
    await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 't', cache: 'bypass' });
    await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(2) }, tenant: 't', cache: 'bypass' });
    expect(node.estimates.edgeCompute.estimate('mlp-small', 1)).toBe(EDGE_RUN_MS);
    expect(node.estimates.snapshot().edge['mlp-small']).toEqual([{ batch: 1, ms: EDGE_RUN_MS, samples: 2 }]);
  });

  it('a cloud run feeds cloud compute, the queue, and the link: a large upload measures bandwidth, a small one RTT', async () => {
    const { node, clock, cloud } = rig();
    // 1 MB up in 100 ms of link time over a 20 ms RTT: (1e6 * 8000) / (100 - 20) = 1e8 bit/s.
    const script = (bytesUp: number, linkMs: number): Script => () => {
      clock.advance(linkMs + 3 + 5);
      return { outputs: { logits: logits(8, 0.5) }, timing: { queueMs: 3, computeMs: 5, batchSize: 1 }, totalMs: linkMs + 8, wire: { ms: linkMs + 8, bytesUp, bytesDown: 100 } };
    };
    cloud.script = script(200, 20);
    await node.service.infer(textReq(1));
    cloud.script = script(1_000_000, 100);
    await node.service.infer(textReq(2));
    const snap = node.estimates.snapshot();
    expect(snap.link).toMatchObject({ rttMs: 20, rttSamples: 1, upSamples: 1, upBitsPerSec: 1e8 });
    expect(snap.cloud['text-base']).toEqual([{ batch: 1, ms: 5, samples: 2 }]);
    expect(snap.cloudQueue['text-base']).toEqual({ ms: 3, source: 'results' });
  });
});

describe('placement per request', () => {
  const mlpOffer: ModelOffer = {
    name: 'mlp-small', version: 1, maxBatchSize: 8,
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }], outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
  };
  const mlpReq = (seed: number, placement: EdgeInferRequest['placement']): EdgeInferRequest =>
    ({ model: 'mlp-small', inputs: { x: mlpInput(seed) }, tenant: 't', cache: 'bypass', ...(placement ? { placement } : {}) });

  it('auto follows the link: a fast link sends an edge model to the cloud, a slow one keeps it on the edge, and back', async () => {
    const { node, cloud, clock } = rig();
    cloud.offers = [mlpOffer];
    cloud.script = answer(clock, { logits: logits(10, 0.5) }, { queueMs: 0, computeMs: 2 });
    // No measurement yet: the edge's optimistic prior (0 ms) beats a link known only by its 50 ms prior.
    const first = await node.service.infer(mlpReq(1, 'auto'));
    expect(first.servedBy).toBe('edge');
    expect(first.placement).toMatch(/^tier=edge; total=0\.0;.*prior=1/);
    // The link turns out fast (1 ms RTT): the cloud (1 ms + transfer + 0 ms compute prior) beats 7 ms of edge compute.
    node.estimates.link.observeRtt(1);
    const second = await node.service.infer(mlpReq(2, 'auto'));
    expect(second.servedBy).toBe('cloud');
    expect(second.placement).toMatch(/^tier=cloud; total=1\.[0-9]; rtt=1\.0; .*vs edge=7\.0/);
    // The link slows to 100 ms RTT (the estimate follows within its half-life): back to the edge.
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      node.estimates.link.observeRtt(100);
    }
    const third = await node.service.infer(mlpReq(3, 'auto'));
    expect(third.servedBy).toBe('edge');
    expect(cloud.calls).toHaveLength(1);
  });

  it('a fixed placement is obeyed; an edge model sent to an unreachable cloud runs on the edge, not degraded', async () => {
    const { node, cloud } = rig();
    cloud.offers = [mlpOffer];
    cloud.script = fail('CLEAVE_E_UNAVAILABLE');
    const r = await node.service.infer(mlpReq(4, 'cloud'));
    expect(cloud.calls).toHaveLength(1);
    expect(r.servedBy).toBe('edge');
    expect(r.degraded).toBeUndefined();
    expect(r.placement).toBeUndefined();
  });

  it('placement edge for a cloud-only model is refused with CLEAVE_E_UNAVAILABLE', async () => {
    const { node, cloud } = rig();
    await expect(node.service.infer(textReq(5, { placement: 'edge' }))).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringContaining('no edge copy') });
    expect(cloud.calls).toHaveLength(0);
  });
});

describe('metrics', () => {
  /** Exposition lines of one metric that carry every one of the labels. */
  const lines = (text: string, metric: string, labels: string[]): string[] =>
    text.split('\n').filter((l) => l.startsWith(`${metric}{`) && labels.every((x) => l.includes(x)));

  it('count requests by where they were served and how they ended, and degraded answers', async () => {
    const { node, cloud } = rig();
    await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 't1' });
    await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 't1' });
    await node.service.infer(textReq(1));
    await expect(node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1, 63) }, tenant: 't1' })).rejects.toMatchObject({ code: 'CLEAVE_E_SHAPE' });
    let text = (await node.metrics.exposition()).body;
    expect(lines(text, 'cleave_edge_requests_total', ['model="mlp-small"', 'served_by="edge"', 'cache="miss"', 'code="ok"'])[0]).toMatch(/ 1$/);
    expect(lines(text, 'cleave_edge_requests_total', ['model="mlp-small"', 'served_by="edge"', 'cache="hit"', 'code="ok"'])[0]).toMatch(/ 1$/);
    expect(lines(text, 'cleave_edge_requests_total', ['model="text-base"', 'served_by="cloud"', 'code="ok"'])[0]).toMatch(/ 1$/);
    expect(lines(text, 'cleave_edge_requests_total', ['model="mlp-small"', 'served_by="none"', 'code="CLEAVE_E_SHAPE"'])[0]).toMatch(/ 1$/);
    expect(lines(text, 'cleave_edge_degraded_total', [])).toEqual([]);
    expect(lines(text, 'cleave_edge_segment_duration_seconds_count', ['segment="edge"'])[0]).toMatch(/ 1$/); // the hit had none
    expect(lines(text, 'cleave_edge_cache_events_total', ['event="hit"'])[0]).toMatch(/ 1$/);

    cloud.script = fail('CLEAVE_E_UNAVAILABLE');
    await node.service.infer(textReq(7));
    await expect(node.service.infer({ model: 'no-such-model', inputs: {}, tenant: 't1' })).rejects.toThrow();
    text = (await node.metrics.exposition()).body;
    expect(lines(text, 'cleave_edge_degraded_total', ['model="text-base"', 'fallback="text-tiny"'])[0]).toMatch(/ 1$/);
    expect(lines(text, 'cleave_edge_requests_total', ['model="text-base"', 'served_by="edge"', 'code="ok"'])[0]).toMatch(/ 1$/);
    expect(lines(text, 'cleave_edge_requests_total', ['model="(unknown)"', 'code="CLEAVE_E_NOT_FOUND"'])[0]).toMatch(/ 1$/);
  });
});

describe('close', () => {
  it('closes the link and releases the sessions', async () => {
    const { node, cloud } = rig();
    await node.service.infer({ model: 'mlp-small', inputs: { x: mlpInput(1) }, tenant: 't1' });
    await node.close();
    expect(cloud.closed).toBe(true);
    expect(node.catalog.isLoaded(node.catalog.get('mlp-small'))).toBe(false);
  });
});
