// The client SDK against real edge processes: two `cleave edge` processes, the second behind a
// link proxy that adds 15 ms each way, so "fastest" has a right answer. The client picks the near
// edge, infers in msgpack and JSON with outputs equal to the edge's KServe answer for the same
// inputs, ends calls at their deadline and on abort, streams a workflow over NDJSON and over the
// protocol WebSocket, and moves to the far edge when the near one is killed by PID.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLinkProxy, type LinkProxy } from '../../bench/link-proxy.js';
import { CleaveClient, expectDType, type TypedTensor, type WebSocketConstructor, type WorkflowStreamEvent } from '../../shared/client/index.js';
import { CleaveError } from '../../shared/errors.js';
import { FrameType } from '../../shared/protocol/constants.js';
import { decodeFrame } from '../../shared/protocol/frame-codec.js';
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import { zooSampleInputs } from '../../shared/zoo/samples/index.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';

const LINK_DELAY_MS = 15;

const PROBS: WorkflowDefinition = {
  name: 'client-probs',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  nodes: [
    { id: 'cnn', type: 'model', params: { model: 'cnn-small', placement: 'edge' } },
    { id: 'probs', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'probs' } },
  ],
  edges: [{ source: 'input', target: 'cnn' }, { source: 'cnn', target: 'probs' }],
  outputs: [{ name: 'probs', from: 'probs.probs' }, { name: 'logits', from: 'cnn.logits' }],
};

let near: EdgeProcess | undefined;
let far: EdgeProcess | undefined;
let proxy: LinkProxy | undefined;
let farUrl = '';
const clients: CleaveClient[] = [];

function client(edges: string[], extra: Partial<ConstructorParameters<typeof CleaveClient>[0]> = {}): CleaveClient {
  const c = new CleaveClient({ edges, WebSocket: WebSocket as unknown as WebSocketConstructor, defaultDeadlineMs: 10_000, ...extra });
  clients.push(c);
  return c;
}

/** The edge's KServe v2 answer for one model, as float32 arrays by output name. */
async function kserve(url: string, model: string, inputs: Record<string, TypedTensor>): Promise<Record<string, { shape: number[]; data: number[] }>> {
  const body = {
    inputs: Object.entries(inputs).map(([name, t]) => ({
      name, shape: t.dims, datatype: t.dtype === 'int64' ? 'INT64' : 'FP32', data: Array.from(t.data as ArrayLike<number | bigint>, Number),
    })),
  };
  const res = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cleave-cache': 'bypass' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  const j = (await res.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
  return Object.fromEntries(j.outputs.map((o) => [o.name, { shape: o.shape, data: o.data }]));
}

beforeAll(async () => {
  // --no-warm: models load on first use, which these tests make anyway; the edges start in a fraction of the time.
  [near, far] = await Promise.all([startEdgeProcess(['--no-warm']), startEdgeProcess(['--no-warm'])]);
  proxy = await startLinkProxy({ target: { host: '127.0.0.1', port: Number(new URL(far.url).port) }, shape: { delayMs: LINK_DELAY_MS } });
  farUrl = proxy.url('', { scheme: 'http' }).replace(/\/$/, '');
  for (const e of [near, far]) {
    const d = await fetch(`${e.url}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(PROBS) });
    expect(d.status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await proxy?.close();
  await Promise.all([near?.stop(), far?.stop()]);
});

describe('CleaveClient against real edge processes', () => {
  it('picks the edge with the lowest probe RTT, whatever the configured order', async () => {
    const c = client([farUrl, near!.url]);
    const states = await c.probe();
    expect(states.map((s) => s.health)).toEqual(['up', 'up']);
    expect(states[0]!.rttMs!).toBeGreaterThan(2 * LINK_DELAY_MS);
    expect(states[1]!.rttMs!).toBeLessThan(states[0]!.rttMs!);
    const x = zooSampleInputs('mlp-small', 1, 3)!.x!;
    const r = await c.infer('mlp-small', { x: { data: x.data, dims: x.dims } });
    expect(r.edge).toBe(near!.url);
    expect(r.attempts).toBe(1);
  });

  it.each(['msgpack', 'json'] as const)('infers text-tiny over %s with int64 in, float32 out, equal to the KServe answer', async (format) => {
    const c = client([farUrl, near!.url], { format });
    const ids = zooSampleInputs('text-tiny', 2, 7)!.input_ids!;
    expect(ids.data).toBeInstanceOf(BigInt64Array);
    const inputs = { input_ids: ids as TypedTensor };
    const r = await c.infer('text-tiny', inputs, { cache: 'bypass', id: `q-${format}` });
    const want = await kserve(near!.url, 'text-tiny', inputs);
    const logits = expectDType(r.outputs.logits!, 'float32');
    expect(logits.data).toBeInstanceOf(Float32Array);
    expect(logits.dims).toEqual(want.logits!.shape);
    expect(Array.from(logits.data)).toEqual(want.logits!.data.map(Math.fround));
    expect(r).toMatchObject({ model: 'text-tiny', servedBy: 'edge', cache: 'bypass', edge: near!.url, id: `q-${format}` });
    expect(r.requestId).toMatch(/\S/);
    expect(r.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(r.timing.totalMs).toBeGreaterThanOrEqual(0);
    // The same inputs again are a cache hit, with the same numbers.
    const again = await c.infer('text-tiny', inputs);
    const third = await c.infer('text-tiny', inputs);
    expect(third.cache).toBe('hit');
    expect(Array.from(expectDType(third.outputs.logits!, 'float32').data)).toEqual(Array.from(expectDType(again.outputs.logits!, 'float32').data));
  });

  it('brings the edge\'s coded refusals back as the same CleaveError, without retrying them', async () => {
    const c = client([near!.url]);
    const missing = await c.infer('no-such-model', { x: { data: new Float32Array(64), dims: [1, 64] } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(CleaveError);
    expect(missing).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
    expect((missing as Error).message).toMatch(/no-such-model/);
    const shape = await c.infer('mlp-small', { x: { data: new Float32Array(63), dims: [1, 63] } }).catch((e: unknown) => e);
    expect(shape).toMatchObject({ code: 'CLEAVE_E_SHAPE' });
    expect((shape as Error).message).toMatch(/input "x" of model "mlp-small" has shape \[1,63\]/);
  });

  it('ends a call at its deadline while the request is on the wire, and the edge keeps serving', async () => {
    const c = client([farUrl]);
    const x = { data: new Float32Array(64).fill(0.5), dims: [1, 64] };
    await c.infer('mlp-small', { x }); // probes done, connection warm
    const t0 = performance.now();
    const err = await c.infer('mlp-small', { x }, { deadlineMs: LINK_DELAY_MS, cache: 'bypass' }).catch((e: unknown) => e);
    const took = performance.now() - t0;
    expect(err).toMatchObject({ code: 'CLEAVE_E_DEADLINE' });
    expect((err as Error).message).toMatch(/within its 15 ms deadline/);
    expect(took).toBeLessThan(LINK_DELAY_MS + 200);
    expect((await c.infer('mlp-small', { x })).edge).toBe(farUrl);
  });

  it('cancels a call mid-request when its signal aborts', async () => {
    const c = client([farUrl]);
    const x = { data: new Float32Array(64).fill(0.25), dims: [1, 64] };
    await c.probe();
    const ac = new AbortController();
    const p = c.infer('mlp-small', { x }, { signal: ac.signal, cache: 'bypass' });
    setTimeout(() => ac.abort(), 5);
    const err = await p.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
  });

  it('runs a deployed workflow and streams its node events over NDJSON', async () => {
    const c = client([farUrl, near!.url]);
    const image = zooSampleInputs('cnn-small', 1, 5)!.image! as TypedTensor;
    const whole = await c.runWorkflow('client-probs', { image });
    expect(whole.plan).toBe('cnn=edge');
    expect(whole.nodes.map((n) => n.node)).toEqual(['cnn', 'probs']);
    const probs = expectDType(whole.outputs.probs as TypedTensor, 'float32');
    expect(Array.from(probs.data).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

    const events: WorkflowStreamEvent[] = [];
    for await (const ev of c.streamWorkflow('client-probs', { image })) events.push(ev);
    expect(events.map((e) => (e.type === 'node' ? `node:${e.node}` : e.type))).toEqual(['node:cnn', 'node:probs', 'result']);
    const last = events.at(-1)!;
    expect(last.type === 'result' && last.result.plan).toBe('cnn=edge');
    const streamed = last.type === 'result' ? expectDType(last.result.outputs.logits as TypedTensor, 'float32') : undefined;
    expect(Array.from(streamed!.data)).toEqual(Array.from(expectDType(whole.outputs.logits as TypedTensor, 'float32').data));
    const unknown = await c.runWorkflow('no-such-flow', { image }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
  });

  it('streams a workflow over the protocol WebSocket: a PARTIAL per node, then the RESULT; cancels with CANCEL', async () => {
    // A WebSocket class whose outgoing frames are recorded, to see the CANCEL on the wire.
    const sent: { t: number; id?: number }[] = [];
    const Tapped = function (url: string, protocols?: string[], options?: WebSocket.ClientOptions) {
      const ws = new WebSocket(url, protocols, options);
      const send = ws.send.bind(ws);
      ws.send = ((data: Uint8Array) => {
        const f = decodeFrame(data);
        sent.push({ t: f.t, ...('id' in f ? { id: f.id } : {}) });
        send(data);
      }) as typeof ws.send;
      return ws;
    } as unknown as WebSocketConstructor;
    const c = client([farUrl, near!.url], { WebSocket: Tapped });
    const session = await c.connect();
    expect(session.edge).toBe(near!.url);
    expect(session.welcome.models.map((m) => m.name)).toContain('mlp-small');
    const image = zooSampleInputs('cnn-small', 1, 5)!.image! as TypedTensor;
    const seen: string[] = [];
    let result: Record<string, TypedTensor> | undefined;
    for await (const ev of session.streamWorkflow('client-probs', { image })) {
      if (ev.type === 'partial') seen.push(ev.node);
      else result = ev.outputs;
    }
    expect(seen).toEqual(['cnn', 'probs']);
    const http = await c.runWorkflow('client-probs', { image });
    expect(Array.from(expectDType(result!.logits!, 'float32').data)).toEqual(Array.from(expectDType(http.outputs.logits as TypedTensor, 'float32').data));

    // A plain model run, then one cancelled at once: the session stays usable.
    const x = zooSampleInputs('mlp-small', 1, 3)!.x! as TypedTensor;
    const viaWs = await session.run('mlp-small', { x });
    const viaHttp = await c.infer('mlp-small', { x });
    expect(Array.from(expectDType(viaWs.outputs.logits!, 'float32').data)).toEqual(Array.from(expectDType(viaHttp.outputs.logits!, 'float32').data));
    const ac = new AbortController();
    const cancelled = session.run('mlp-small', { x }, { signal: ac.signal });
    ac.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    const [run, cancel] = sent.slice(-2);
    expect(run).toMatchObject({ t: FrameType.RUN });
    expect(cancel).toEqual({ t: FrameType.CANCEL, id: run!.id });
    expect((await session.run('mlp-small', { x })).outputs.logits!.dims).toEqual([1, 10]);
    session.close();
    await expect(session.run('mlp-small', { x })).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
  });

  it('moves to the other edge when the chosen one is killed', async () => {
    const c = client([farUrl, near!.url]);
    const x = { data: new Float32Array(64).fill(0.75), dims: [1, 64] };
    expect((await c.infer('mlp-small', { x })).edge).toBe(near!.url);
    process.kill(near!.pid, 'SIGKILL');
    await near!.stop();
    const r = await c.infer('mlp-small', { x }, { deadlineMs: 5000 });
    expect(r.edge).toBe(farUrl);
    expect(r.attempts).toBe(2);
    expect(c.edges().find((e) => e.url === near!.url)!.health).toBe('down');
    const next = await c.infer('mlp-small', { x });
    expect(next).toMatchObject({ edge: farUrl, attempts: 1 });
    // A new session goes to the live edge too.
    const session = await c.connect();
    expect(session.edge).toBe(farUrl);
    session.close();
  });
});
