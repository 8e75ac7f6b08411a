// Edge selection on a manual clock: the first call goes to the edge whose health probe answers
// first, without waiting for slower or dead ones; rankings follow the smoothed RTT; a failed call
// demotes its edge and re-probes; stale rounds are repeated lazily; nothing keeps timers after close.
import { describe, expect, it } from 'vitest';
import { CallScope } from '../../shared/client/call-scope.js';
import { EdgeSelector } from '../../shared/client/edge-selector.js';
import { ManualClock } from '../../shared/time.js';
import { drive, edge, FakeEdges, settle } from './fake-edges.js';

const A = 'http://a.test';
const B = 'http://b.test';
const C = 'http://c.test';

function selector(clock: ManualClock, edges: FakeEdges, intervalMs = 30_000): EdgeSelector {
  return new EdgeSelector({ edges: [A, B, C], fetch: edges.fetch, clock, timers: clock, intervalMs, timeoutMs: 500 });
}

describe('EdgeSelector', () => {
  it('answers the first call as soon as the fastest healthy edge answers its probe', async () => {
    const clock = new ManualClock();
    // A answers 503 (warming up), B in 40 ms, C in 10 ms.
    const fake = new FakeEdges(clock, { [A]: () => ({ delayMs: 1, status: 503 }), [B]: edge(40), [C]: edge(10) });
    const sel = selector(clock, fake);
    const scope = new CallScope(clock, clock, 1000, 'test');
    const r = await settle(clock, sel.order(scope));
    expect(r.value).toEqual([C, B, A]);
    expect(r.at).toBe(10); // did not wait for B's 40 ms
    await drive(clock, 50);
    expect(sel.snapshot().map((s) => [s.url, s.health, s.rttMs])).toEqual([[A, 'down', undefined], [B, 'up', 40], [C, 'up', 10]]);
    scope.dispose();
  });

  it('treats a probe with no answer within the timeout as down, and leaves no timer behind', async () => {
    const clock = new ManualClock();
    const fake = new FakeEdges(clock, { [A]: () => ({ hang: true }), [B]: () => ({ refused: true }), [C]: edge(5) });
    const sel = selector(clock, fake);
    const states = await settle(clock, sel.probe());
    expect(states.value!.map((s) => s.health)).toEqual(['down', 'down', 'up']);
    expect(states.at).toBe(500);
    expect(clock.pendingCount).toBe(0);
  });

  it('falls back to configured order when no edge is healthy, instead of refusing', async () => {
    const clock = new ManualClock();
    const fake = new FakeEdges(clock, { [A]: () => ({ refused: true }), [B]: () => ({ refused: true }), [C]: () => ({ status: 503 }) });
    const sel = selector(clock, fake);
    const scope = new CallScope(clock, clock, 1000, 'test');
    const r = await settle(clock, sel.order(scope));
    expect(r.value).toEqual([A, B, C]);
    scope.dispose();
  });

  it('demotes an edge a call could not reach, and a probe sent before the failure does not revive it', async () => {
    const clock = new ManualClock();
    let cUp = true;
    const fake = new FakeEdges(clock, { [A]: edge(30), [B]: edge(20), [C]: (req) => (cUp ? edge(10)(req) : { refused: true }) });
    const sel = selector(clock, fake);
    await settle(clock, sel.probe());
    const scope = new CallScope(clock, clock, 5000, 'test');
    expect((await settle(clock, sel.order(scope))).value).toEqual([C, B, A]);
    // A round is under way (C's probe answers 200 at +10 ms) when a call fails to reach C at +5 ms.
    const round = sel.probe();
    await drive(clock, 5);
    cUp = false;
    sel.reportFailure(C);
    expect((await settle(clock, sel.order(scope))).value).toEqual([B, A, C]);
    await settle(clock, round);
    expect(sel.snapshot()[2]!.health).toBe('down');
    // The failure's own round (once the last one is older than the probe timeout) confirms it.
    await drive(clock, 600);
    const probesOfC = (): number => fake.requests.filter((r) => r.origin === C).length;
    const before = probesOfC();
    sel.reportFailure(C);
    sel.reportFailure(C); // one round, however many calls fail
    expect(probesOfC()).toBe(before + 1);
    await drive(clock, 50);
    expect(sel.snapshot().map((s) => s.health)).toEqual(['up', 'up', 'down']);
    // A call answered by C brings it back at its old RTT.
    cUp = true;
    sel.reportSuccess(C);
    expect((await settle(clock, sel.order(scope))).value).toEqual([C, B, A]);
    scope.dispose();
  });

  it('re-probes lazily: a call after intervalMs starts a round in the background and does not wait for it', async () => {
    const clock = new ManualClock();
    let bRtt = 20;
    const fake = new FakeEdges(clock, { [A]: edge(10), [B]: (req) => edge(bRtt)(req), [C]: () => ({ refused: true }) });
    const sel = selector(clock, fake, 1000);
    await settle(clock, sel.probe());
    const probes = (): number => fake.requests.filter((r) => r.path === '/v2/health/ready').length;
    expect(probes()).toBe(3);
    const scope = new CallScope(clock, clock, 60_000, 'test');
    await drive(clock, 500);
    expect((await settle(clock, sel.order(scope))).value).toEqual([A, B, C]);
    expect(probes()).toBe(3); // fresh: no new round
    // B gets fast; after the interval the next call starts a round but answers at once.
    fake.requests.length = 0;
    bRtt = 1;
    await drive(clock, 600);
    const before = clock.now();
    const order = sel.order(scope);
    expect(await order).toEqual([A, B, C]);
    expect(clock.now()).toBe(before);
    expect(probes()).toBe(3);
    await drive(clock, 20);
    // EWMA 0.5: B went 20 -> 10.5, A stays 10: A still first by a hair; one more round flips it.
    await drive(clock, 1000);
    await settle(clock, sel.order(scope));
    await drive(clock, 20);
    expect((await settle(clock, sel.order(scope))).value!.slice(0, 2)).toEqual([B, A]);
    scope.dispose();
  });

  it('stops probes on close and refuses later calls', async () => {
    const clock = new ManualClock();
    const fake = new FakeEdges(clock, { [A]: () => ({ hang: true }), [B]: () => ({ hang: true }), [C]: () => ({ hang: true }) });
    const sel = selector(clock, fake);
    const p = sel.probe();
    await drive(clock, 5);
    sel.close();
    await settle(clock, p);
    expect(clock.pendingCount).toBe(0);
    const scope = new CallScope(clock, clock, 1000, 'test');
    await expect(sel.order(scope)).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    scope.dispose();
  });

  it('gives up waiting for a first healthy answer when the call ends', async () => {
    const clock = new ManualClock();
    const fake = new FakeEdges(clock, { [A]: () => ({ hang: true }), [B]: () => ({ hang: true }), [C]: () => ({ hang: true }) });
    const sel = new EdgeSelector({ edges: [A, B, C], fetch: fake.fetch, clock, timers: clock, intervalMs: 30_000, timeoutMs: 5000 });
    const scope = new CallScope(clock, clock, 100, 'infer "m"');
    const r = await settle(clock, sel.order(scope));
    expect(r.error).toMatchObject({ code: 'CLEAVE_E_DEADLINE' });
    expect(r.at).toBe(100);
    scope.dispose();
    sel.close();
  });
});
