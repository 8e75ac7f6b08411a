// CleaveClient's rules on a fake fetch and a manual clock: which edge a call goes to, when a failed
// attempt is retried and where, how deadlines and cancellation end a call, how an edge's error body
// comes back as the same CleaveError, and that bad input never reaches the network.
import { describe, expect, it } from 'vitest';
import { encodeNativeResponse } from '../../edge/native-codec.js';
import { CleaveClient, expectDType, tensor, type CleaveClientOptions } from '../../shared/client/index.js';
import { CleaveError, isCleaveError } from '../../shared/errors.js';
import { ManualClock } from '../../shared/time.js';
import { edge, errorReply, FakeEdges, nativeAnswer, settle, type FakeEdge } from './fake-edges.js';

const A = 'http://a.test';
const B = 'http://b.test';
const LOGITS = { dtype: 'float32' as const, dims: [1, 3], data: Float32Array.from([0.5, -1, 2]) };
const x = tensor(new Float32Array(4).fill(0.25), [1, 4]);

function setup(edges: Record<string, FakeEdge>, opts: Partial<CleaveClientOptions> = {}): { clock: ManualClock; fake: FakeEdges; client: CleaveClient } {
  const clock = new ManualClock();
  const fake = new FakeEdges(clock, edges);
  const client = new CleaveClient({ edges: Object.keys(edges), fetch: fake.fetch, clock, timers: clock, wallClock: () => 0, defaultDeadlineMs: 1000, ...opts });
  return { clock, fake, client };
}

const ok: FakeEdge = () => nativeAnswer({ logits: LOGITS });

describe('CleaveClient over a fake fetch', () => {
  it('infers on the fastest edge in msgpack, sending what is left of the deadline, auth and tenant', async () => {
    const { clock, fake, client } = setup({ [A]: edge(30, ok), [B]: edge(5, ok) }, { apiKey: 'k-123', tenant: 'shop-1' });
    const r = await settle(clock, client.infer('mlp-small', { x }, { deadlineMs: 400, cache: 'bypass', placement: 'edge' }));
    const v = r.value!;
    expect(v.edge).toBe(B);
    expect(v.attempts).toBe(1);
    const logits = expectDType(v.outputs.logits!, 'float32');
    expect(logits.data).toBeInstanceOf(Float32Array);
    expect(Array.from(logits.data)).toEqual([0.5, -1, 2]);
    expect(v).toMatchObject({ servedBy: 'edge', cache: 'miss', requestId: 'req-1', timing: { cacheMs: 0.1, edgeMs: 1, totalMs: 1.2 } });
    expect(v.traceparent).toMatch(/^00-/);
    const call = fake.requests.find((q) => q.path === '/v1/models/mlp-small/infer')!;
    expect(call.origin).toBe(B);
    expect(call.headers).toMatchObject({
      'content-type': 'application/msgpack', accept: 'application/msgpack', authorization: 'Bearer k-123', 'x-cleave-tenant': 'shop-1', 'x-cleave-placement': 'edge',
    });
    // The call waited 5 ms for the probe: 395 ms were left when the request went out.
    expect(call.headers['x-cleave-deadline-ms']).toBe('395');
    expect(fake.requests.filter((q) => q.path.startsWith('/v2/health')).every((q) => q.headers.authorization === 'Bearer k-123')).toBe(true);
  });

  it('reads JSON answers the same way', async () => {
    const json = encodeNativeResponse({ model: 'm', version: 2, outputs: { ids: { dtype: 'int64', dims: [2], data: BigInt64Array.from([7n, 2n ** 60n]) } }, servedBy: 'cloud', cache: 'hit', timing: { cacheMs: 0, totalMs: 0.3 }, requestId: 'r' }, 'json');
    const { clock, fake, client } = setup({ [A]: edge(1, () => ({ status: 200, body: json.body, headers: { 'content-type': 'application/json' } })) }, { format: 'json' });
    const v = (await settle(clock, client.infer('m', { x }))).value!;
    expect(fake.requests.at(-1)!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(new TextDecoder().decode(fake.requests.at(-1)!.body))).toEqual({ inputs: { x: { dtype: 'float32', dims: [1, 4], data: [0.25, 0.25, 0.25, 0.25] } } });
    const ids = expectDType(v.outputs.ids!, 'int64');
    expect(Array.from(ids.data)).toEqual([7n, 2n ** 60n]);
    expect(v).toMatchObject({ version: 2, servedBy: 'cloud', cache: 'hit' });
  });

  it('fails over to the next edge when the best one refuses the connection, then prefers the other', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => ({ refused: true })), [B]: edge(5, ok) });
    const v = (await settle(clock, client.infer('m', { x }))).value!;
    expect(v.edge).toBe(B);
    expect(v.attempts).toBe(2);
    expect(fake.calls()).toEqual([`${A}/v1/models/m/infer`, `${B}/v1/models/m/infer`]);
    const again = (await settle(clock, client.infer('m', { x }))).value!;
    expect(again.attempts).toBe(1);
    expect(fake.calls().at(-1)).toBe(`${B}/v1/models/m/infer`);
  });

  it('on 503 UNAVAILABLE tries the next edge at once', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => errorReply(503, 'CLEAVE_E_UNAVAILABLE', 'draining', { 'retry-after': '3' })), [B]: edge(5, ok) });
    const r = await settle(clock, client.infer('m', { x }));
    expect(r.value!.edge).toBe(B);
    const [first, second] = fake.requests.filter((q) => q.path.startsWith('/v1/'));
    expect(second!.at - first!.at).toBeLessThanOrEqual(1);
  });

  it('with one edge, waits out a 503 OVERLOADED Retry-After inside the deadline and tries again', async () => {
    let n = 0;
    const { clock, fake, client } = setup({ [A]: edge(1, () => (++n === 1 ? errorReply(503, 'CLEAVE_E_OVERLOADED', 'queue full', { 'retry-after': '0.2' }) : nativeAnswer({ logits: LOGITS }))) });
    const r = await settle(clock, client.infer('m', { x }));
    expect(r.value!.attempts).toBe(2);
    const [first, second] = fake.requests.filter((q) => q.path.startsWith('/v1/'));
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(200);
    expect(Number(second!.headers['x-cleave-deadline-ms'])).toBeLessThanOrEqual(1000 - 200);
  });

  it('on 429 waits the Retry-After and retries the SAME edge, even with another free', async () => {
    let n = 0;
    const { clock, fake, client } = setup({ [A]: edge(1, () => (++n === 1 ? errorReply(429, 'CLEAVE_E_TOO_MANY_STREAMS', 'over quota', { 'retry-after': '0.1' }) : nativeAnswer({ logits: LOGITS }))), [B]: edge(2, ok) });
    const r = await settle(clock, client.infer('m', { x }));
    expect(r.value!.edge).toBe(A);
    expect(fake.calls()).toEqual([`${A}/v1/models/m/infer`, `${A}/v1/models/m/infer`]);
  });

  it('does not retry when the Retry-After would reach the deadline: the edge error comes back at once', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => errorReply(429, 'CLEAVE_E_TOO_MANY_STREAMS', 'over quota', { 'retry-after': '5' })) });
    const r = await settle(clock, client.infer('m', { x }));
    expect(isCleaveError(r.error, 'CLEAVE_E_TOO_MANY_STREAMS')).toBe(true);
    expect((r.error as CleaveError).message).toBe('over quota');
    expect(r.at).toBeLessThan(10);
    expect(fake.calls()).toHaveLength(1);
  });

  it.each([
    [400, 'CLEAVE_E_SHAPE'], [404, 'CLEAVE_E_NOT_FOUND'], [401, 'CLEAVE_E_UNAUTHORIZED'], [500, 'CLEAVE_E_BACKEND'], [504, 'CLEAVE_E_DEADLINE'], [503, 'CLEAVE_E_INTERNAL'],
  ] as const)('never retries a %i %s: one attempt, the same code, message and detail', async (status, code) => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => errorReply(status, code, `edge says ${code}`)), [B]: edge(2, ok) });
    const r = await settle(clock, client.infer('m', { x }));
    expect(r.error).toBeInstanceOf(CleaveError);
    expect(r.error).toMatchObject({ code, message: `edge says ${code}`, detail: { field: 'x' } });
    expect(fake.calls()).toHaveLength(1);
  });

  it('gives an error body that is not Cleave JSON a code from its status; a proxy\'s 502 fails over', async () => {
    const gateway: FakeEdge = () => ({ status: 502, body: new TextEncoder().encode('<html>Bad Gateway</html>') });
    const { clock, client } = setup({ [A]: edge(1, gateway) }, { retries: 0 });
    const r = await settle(clock, client.infer('m', { x }));
    expect(r.error).toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect((r.error as Error).message).toBe('edge http://a.test answered 502 without a Cleave error body: "<html>Bad Gateway</html>"');
    const two = setup({ [A]: edge(1, gateway), [B]: edge(2, ok) });
    expect((await settle(two.clock, two.client.infer('m', { x }))).value).toMatchObject({ edge: B, attempts: 2 });
  });

  it('stops after `retries` retries and names every edge it could not reach', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => ({ refused: true })), [B]: edge(2, () => ({ refused: true })) }, { retries: 3 });
    const r = await settle(clock, client.infer('m', { x }));
    expect(r.error).toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect((r.error as Error).message).toMatch(/no edge could be reached in 4 attempts/);
    expect((r.error as CleaveError).detail.edges).toEqual([A, B]);
    expect(fake.calls()).toHaveLength(4);
    const none = setup({ [A]: edge(1, () => ({ refused: true })), [B]: edge(2, ok) }, { retries: 0 });
    expect((await settle(none.clock, none.client.infer('m', { x }))).error).toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect(none.fake.calls()).toHaveLength(1);
  });

  it('ends a call to a blackholed edge at its deadline with CLEAVE_E_DEADLINE, aborting the request', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => ({ hang: true })), [B]: edge(2, ok) });
    const r = await settle(clock, client.infer('m', { x }, { deadlineMs: 250 }));
    expect(r.error).toMatchObject({ code: 'CLEAVE_E_DEADLINE' });
    expect((r.error as Error).message).toMatch(/infer "m" got no answer within its 250 ms deadline/);
    expect(r.at).toBe(250);
    expect(fake.calls()).toEqual([`${A}/v1/models/m/infer`]);
    expect(clock.pendingCount).toBe(0);
  });

  it('cancels with the caller\'s AbortSignal, before or during the request', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, () => ({ hang: true })) });
    const ac = new AbortController();
    const p = client.infer('m', { x }, { signal: ac.signal });
    clock.setTimeout(() => ac.abort(), 20);
    const r = await settle(clock, p);
    expect(r.error).toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(r.at).toBe(20);
    const before = fake.requests.length;
    const r2 = await settle(clock, client.infer('m', { x }, { signal: AbortSignal.abort() }));
    expect(r2.error).toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(fake.requests.length).toBe(before);
    expect(clock.pendingCount).toBe(0);
  });

  it('refuses bad input before any request, naming the tensor or option', async () => {
    const { clock, fake, client } = setup({ [A]: edge(1, ok) });
    const shape = await settle(clock, client.infer('m', { x: { data: new Float32Array(3), dims: [1, 4] } }));
    expect(shape.error).toMatchObject({ code: 'CLEAVE_E_SHAPE' });
    expect((shape.error as Error).message).toBe('input "x": dims [1,4] need 4 elements, its data has 3');
    const dtype = await settle(clock, client.infer('m', { x: { data: new Int8Array(4), dims: [1, 4], dtype: 'float32' } }));
    expect(dtype.error).toMatchObject({ code: 'CLEAVE_E_DTYPE' });
    expect((dtype.error as Error).message).toMatch(/input "x": a float32 tensor needs a Float32Array, its data is a Int8Array/);
    const plain = await settle(clock, client.infer('m', { x: { data: [1, 2] as unknown as Float32Array, dims: [2] } }));
    expect(plain.error).toMatchObject({ code: 'CLEAVE_E_DTYPE' });
    const deadline = await settle(clock, client.infer('m', { x }, { deadlineMs: -5 }));
    expect(deadline.error).toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    expect(fake.calls()).toEqual([]);
    expect(() => new CleaveClient({ edges: [] })).toThrow(/client option edges = .* expected a non-empty array/);
    expect(() => new CleaveClient({ edges: ['ftp://x'] })).toThrow(/edges\[0\] = "ftp:\/\/x" is not valid; expected an http/);
    expect(() => new CleaveClient({ edges: [A], retries: 1.5 })).toThrow(/retries = 1.5/);
    expect(() => new CleaveClient({ edges: [A], tenant: 'a b' })).toThrow(/tenant = "a b"/);
    expect(() => new CleaveClient({ edges: [A], probe: { timeoutMs: 0 } })).toThrow(/probe.timeoutMs = 0/);
    expect(() => new CleaveClient({ edges: [A, `${A}/`] })).toThrow(/each edge listed once/);
  });

  it('leaves no timer behind once calls are done and the client is closed', async () => {
    const { clock, client } = setup({ [A]: edge(1, ok), [B]: edge(3, () => ({ hang: true })) });
    await settle(clock, client.infer('m', { x }));
    await settle(clock, client.probe());
    client.close();
    expect(clock.pendingCount).toBe(0);
    await expect(client.infer('m', { x })).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
  });
});
