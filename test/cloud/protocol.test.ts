// The protocol end to end: a real cloud server (in this process, on a loopback port) and real
// WebSocket clients. Results are compared with the same model run directly in onnxruntime-node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { nodeBackends } from '../../cli/backends.js';
import { connectCloud } from '../../cli/cloud-client.js';
import { isCleaveError } from '../../shared/errors.js';
import { FrameType } from '../../shared/protocol/constants.js';
import { FrameDecoder, FrameEncoder } from '../../shared/protocol/frame-codec.js';
import type { Frame, TensorMap } from '../../shared/protocol/frames.js';
import { createRng } from '../../shared/rng.js';
import { argmaxRows, hostTensor, maxAbsDiff, type HostTensor } from '../../shared/tensor.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';
import { cnnSmallParts, startTestCloud, type TestCloud } from '../helpers/cloud.js';
import { zooModelBytes } from '../helpers/zoo.js';

let cloud: TestCloud;

beforeAll(async () => {
  cloud = await startTestCloud({ loadIntervalMs: '50' });
});
afterAll(async () => {
  await cloud?.stop();
});

function features(seed: number, rows = 1): HostTensor {
  const rng = createRng(seed);
  const d = new Float32Array(rows * 64);
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return hostTensor('float32', [rows, 64], d);
}

async function direct(model: string, feeds: TensorMap): Promise<TensorMap> {
  const backend = (await nodeBackends()).get('onnxruntime-node');
  const loaded = await backend.load(await zooModelBytes(model));
  try {
    return await loaded.run(feeds);
  } finally {
    await loaded.dispose();
  }
}

/** A raw socket speaking frames, for what the client library would never send. */
async function rawSession(url: string, hello = true): Promise<{ ws: WebSocket; next: () => Promise<Frame>; send: (f: Frame | Uint8Array) => void; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const enc = new FrameEncoder();
  const dec = new FrameDecoder({});
  const queue: Frame[] = [];
  const waiters: ((f: Frame) => void)[] = [];
  ws.on('message', (d) => {
    const f = dec.decode(new Uint8Array(d as ArrayBuffer));
    const w = waiters.shift();
    if (w) w(f);
    else queue.push(f);
  });
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  await new Promise<void>((r, j) => { ws.once('open', () => r()); ws.once('error', j); });
  const send = (f: Frame | Uint8Array): void => ws.send(f instanceof Uint8Array ? f : enc.encode(f));
  const next = (): Promise<Frame> => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
  if (hello) {
    send({ t: FrameType.HELLO, minVersion: 1, maxVersion: 1, client: 'raw-test', caps: [] });
    const w = await next();
    expect(w.t).toBe(FrameType.WELCOME);
  }
  return { ws, next, send, closed };
}

describe('cloud protocol over a real WebSocket', () => {
  it('handshake offers the repository models with their contracts, credits and the device', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const w = await client.ready;
    expect(w.version).toBe(1);
    expect(w.device).toBe('cpu');
    expect(w.credits).toBe(256);
    const mlp = w.models.find((m) => m.name === 'mlp-small')!;
    expect(mlp.version).toBe(2);
    expect(mlp.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [-1, 64] }]);
    expect(mlp.maxBatchSize).toBeGreaterThan(1);
    client.close();
  });

  it('runs a model and returns what onnxruntime-node computes directly, float32 and int64 inputs', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const x = features(1, 3);
    const r = await client.run({ model: 'mlp-small', inputs: { x } }).promise;
    expect(maxAbsDiff(r.outputs.logits!, (await direct('mlp-small', { x })).logits!)).toBeLessThan(1e-5);
    expect(r.timing.computeMs).toBeGreaterThan(0);
    const ids = zooSampleInputs('text-tiny', 2, 3)!;
    const t = await client.run({ model: 'text-tiny', inputs: ids }).promise;
    expect(maxAbsDiff(t.outputs.logits!, (await direct('text-tiny', ids)).logits!)).toBeLessThan(1e-4);
    client.close();
  });

  it('multiplexes 64 concurrent runs on one connection; each gets its own rows back from shared batches', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const xs = Array.from({ length: 64 }, (_, i) => features(100 + i));
    const all = await direct('mlp-small', { x: hostTensor('float32', [64, 64], Float32Array.from(xs.flatMap((x) => Array.from(x.data as Float32Array)))) });
    const results = await Promise.all(xs.map((x) => client.run({ model: 'mlp-small', inputs: { x } }).promise));
    for (let i = 0; i < 64; i++) {
      const want = (all.logits!.data as Float32Array).subarray(i * 10, i * 10 + 10);
      const got = results[i]!.outputs.logits!.data as Float32Array;
      for (let j = 0; j < 10; j++) expect(Math.abs(got[j]! - want[j]!)).toBeLessThan(1e-4);
    }
    // The batcher really batched: some request ran in a batch of more than one.
    expect(Math.max(...results.map((r) => r.timing.batchSize))).toBeGreaterThan(1);
    client.close();
  });

  it('a slow stream does not hold up fast ones: runs answer in completion order, not send order', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const order: string[] = [];
    // `slow` waits up to 300 ms in its batcher for company; mlp-small answers at once.
    const slow = client.run({ model: 'slow', inputs: { x: features(7) } }).promise.then(() => order.push('slow'));
    const fast = Array.from({ length: 5 }, (_, i) => client.run({ model: 'mlp-small', inputs: { x: features(i) } }).promise.then(() => order.push('fast')));
    await Promise.all([slow, ...fast]);
    expect(order.indexOf('slow')).toBe(5);
    client.close();
  });

  it('runs consecutive stages as one subgraph: head then tail equals the whole model, with a PARTIAL per stage', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const feeds = zooSampleInputs('cnn-small', 2, 5)!;
    const partials: { stage: number; model: string; names: string[] }[] = [];
    const r = await client.run({
      model: 'cnn-split', stages: [{ model: 'cnn-head' }, { model: 'cnn-tail' }], inputs: feeds,
      onPartial: (stage, model, outputs) => partials.push({ stage, model, names: Object.keys(outputs) }),
    }).promise;
    const whole = await direct('cnn-small', feeds);
    expect(maxAbsDiff(r.outputs.logits!, whole.logits!)).toBeLessThan(1e-4);
    const { cut } = await cnnSmallParts();
    expect(partials).toEqual([{ stage: 0, model: 'cnn-head', names: cut }, { stage: 1, model: 'cnn-tail', names: ['logits'] }]);
    client.close();
  });

  it('int8-encoded inputs and outputs keep the top-1 answer and shrink the frames', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const feeds = zooSampleInputs('cnn-small', 8, 9)!;
    const fp = await client.run({ model: 'cnn-small', inputs: feeds }).promise;
    const q = await client.run({ model: 'cnn-small', inputs: feeds, int8Inputs: true, int8Outputs: true }).promise;
    expect(q.outputs.logits!.dtype).toBe('float32');
    const agree = argmaxRows(q.outputs.logits!).filter((c, i) => c === argmaxRows(fp.outputs.logits!)[i]).length;
    expect(agree).toBeGreaterThanOrEqual(7);
    const enc = new FrameEncoder();
    const full = enc.encode({ t: FrameType.RUN, id: 1, model: 'cnn-small', inputs: feeds }).length;
    const small = enc.encode({ t: FrameType.RUN, id: 1, model: 'cnn-small', inputs: feeds }, { int8Floats: true }).length;
    expect(small).toBeLessThan(full * 0.3);
    // Each result says what crossed the link, for the router's bandwidth estimate.
    // The client's RUN differs from the one encoded here only in its id and alignment padding.
    expect(Math.abs(fp.bytesUp - full)).toBeLessThan(32);
    expect(Math.abs(q.bytesUp - small)).toBeLessThan(32);
    expect(q.bytesDown).toBeLessThan(fp.bytesDown);
    expect(fp.bytesDown).toBeGreaterThan(8 * 10 * 4);
    expect(fp.wireMs).toBeGreaterThanOrEqual(fp.timing.queueMs + fp.timing.computeMs);
    expect(fp.wireMs).toBeLessThanOrEqual(fp.totalMs);
    client.close();
  });

  it('a run whose deadline passes while queued is rejected CLEAVE_E_DEADLINE and never executed', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const before = await execCount('slow');
    const err = await client.run({ model: 'slow', inputs: { x: features(3) }, deadlineMs: 40 }).promise.catch((e: unknown) => e);
    expect(isCleaveError(err, 'CLEAVE_E_DEADLINE')).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    expect(await execCount('slow')).toBe(before);
    client.close();
  });

  it('cancel drops work that has not started: CLEAVE_E_CANCELLED, nothing executed, credit returned', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const before = await execCount('slow');
    const h = client.run({ model: 'slow', inputs: { x: features(4) } });
    await new Promise((r) => setTimeout(r, 30));
    h.cancel();
    expect(isCleaveError(await h.promise.catch((e: unknown) => e), 'CLEAVE_E_CANCELLED')).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    expect(await execCount('slow')).toBe(before);
    expect(client.inFlightCount).toBe(0);
    expect(client.availableCredits).toBe(256);
    client.close();
  });

  it('measures RTT with PING/PONG and receives LOAD reports naming the models that ran', async () => {
    const client = await connectCloud(cloud.wsUrl);
    await client.run({ model: 'mlp-small', inputs: { x: features(1) } }).promise;
    const rtt = await client.ping();
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(1000);
    expect(client.rttMs).toBe(rtt);
    await new Promise((r) => setTimeout(r, 120));
    const load = client.load!;
    expect(load.models['mlp-small']).toMatchObject({ queued: 0 });
    expect(load.models['mlp-small']!.computeMs).toBeGreaterThan(0);
    client.close();
  });
});

describe('bad input over the protocol gets coded errors and the connection keeps working', () => {
  it('wrong dtype, wrong shape, unknown model, unknown output: stream errors that name what was expected', async () => {
    const client = await connectCloud(cloud.wsUrl);
    const cases: [Promise<unknown>, string, RegExp][] = [
      [client.run({ model: 'mlp-small', inputs: { x: hostTensor('float64', [1, 64], new Float64Array(64)) } }).promise, 'CLEAVE_E_DTYPE', /float64.*float32/],
      [client.run({ model: 'mlp-small', inputs: { x: hostTensor('float32', [1, 32], new Float32Array(32)) } }).promise, 'CLEAVE_E_SHAPE', /\[1,32\].*\[N,64\]/],
      [client.run({ model: 'nope', inputs: { x: features(1) } }).promise, 'CLEAVE_E_NOT_FOUND', /nope.*mlp-small/],
      [client.run({ model: 'mlp-small', inputs: { x: features(1) }, outputs: ['probs'] }).promise, 'CLEAVE_E_NOT_FOUND', /probs.*logits/],
    ];
    for (const [p, code, msg] of cases) {
      const e = await p.catch((x: unknown) => x);
      expect(isCleaveError(e, code as never), `${code}: ${String(e)}`).toBe(true);
      expect((e as Error).message).toMatch(msg);
    }
    const ok = await client.run({ model: 'mlp-small', inputs: { x: features(2) } }).promise;
    expect(ok.outputs.logits!.dims).toEqual([1, 10]);
    client.close();
  });

  it('malformed msgpack and an unknown frame type get ERROR on stream 0; a RUN after them still works', async () => {
    const s = await rawSession(cloud.wsUrl);
    s.send(new Uint8Array([0xc1, 0xff, 0x00]));
    const e1 = await s.next();
    expect(e1).toMatchObject({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_PROTOCOL' });
    s.send(encode({ t: 99, ts: 1 }));
    const e2 = await s.next();
    expect(e2).toMatchObject({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_UNKNOWN_FRAME' });
    s.send({ t: FrameType.RUN, id: 5, model: 'mlp-small', inputs: { x: features(1) } });
    expect(await s.next()).toMatchObject({ t: FrameType.RESULT, id: 5 });
    s.ws.close();
  });

  it('credits bound what is in flight: a RUN beyond the window gets CLEAVE_E_TOO_MANY_STREAMS on its id, others complete', async () => {
    const small = await startTestCloud({ maxStreams: '2' });
    try {
      const s = await rawSession(small.wsUrl);
      for (const id of [1, 2, 3]) s.send({ t: FrameType.RUN, id, model: 'slow', inputs: { x: features(id) } });
      const got = [await s.next(), await s.next(), await s.next()];
      expect(got[0]).toMatchObject({ t: FrameType.ERROR, id: 3, code: 'CLEAVE_E_TOO_MANY_STREAMS' });
      expect(got.slice(1).map((f) => [f.t, 'id' in f ? f.id : 0]).sort()).toEqual([[FrameType.RESULT, 1], [FrameType.RESULT, 2]]);
      // A reused id in flight is refused on stream 0 (naming the id), so the first run's answer stays unambiguous.
      s.send({ t: FrameType.RUN, id: 9, model: 'slow', inputs: { x: features(1) } });
      s.send({ t: FrameType.RUN, id: 9, model: 'slow', inputs: { x: features(1) } });
      expect(await s.next()).toMatchObject({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_PROTOCOL', detail: { id: 9 } });
      expect(await s.next()).toMatchObject({ t: FrameType.RESULT, id: 9 });
      s.ws.close();
    } finally {
      await small.stop();
    }
  });

  it('an oversize frame gets CLEAVE_E_TOO_LARGE naming the limit; the connection lives', async () => {
    const small = await startTestCloud({ maxFrameBytes: '4096' });
    try {
      const s = await rawSession(small.wsUrl);
      s.send({ t: FrameType.RUN, id: 1, model: 'mlp-small', inputs: { x: features(1, 32) } });
      const e = await s.next();
      expect(e).toMatchObject({ t: FrameType.ERROR, code: 'CLEAVE_E_TOO_LARGE' });
      expect((e as { message: string }).message).toMatch(/4096/);
      s.send({ t: FrameType.RUN, id: 2, model: 'mlp-small', inputs: { x: features(1) } });
      expect(await s.next()).toMatchObject({ t: FrameType.RESULT, id: 2 });
      s.ws.close();
    } finally {
      await small.stop();
    }
  });

  it('a first frame that is not HELLO, or no common version, closes with a coded close', async () => {
    const a = await rawSession(cloud.wsUrl, false);
    a.send({ t: FrameType.PING, ts: 1 });
    expect(await a.next()).toMatchObject({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_PROTOCOL' });
    expect((await a.closed).code).toBe(1002);
    const b = await rawSession(cloud.wsUrl, false);
    b.send({ t: FrameType.HELLO, minVersion: 2, maxVersion: 3, client: 'future', caps: [] });
    expect(await b.next()).toMatchObject({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_VERSION' });
    expect((await b.closed).code).toBe(4426);
  });
});

async function execCount(model: string): Promise<number> {
  const text = await (await fetch(`${cloud.httpUrl}/metrics`)).text();
  const m = new RegExp(`cleave_inference_exec_count_total\\{model="${model}",version="1"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}
