// CloudPool over scripted fake transports on a ManualClock: power-of-two choices on peak-EWMA
// latency, a circuit breaker per endpoint (trip, half-open probe, doubled open time), one retry
// on UNAVAILABLE/OVERLOADED and never on DEADLINE, budgeted hedging with the loser's signal
// aborted, caller cancellation, partial streaming, and the merged status. Every time asserted
// to the millisecond; nothing sleeps.
import { describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { CloudPool, poolStatusOf, type CloudPoolOptions } from '../../edge/cloud-pool.js';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkState, LinkStatus } from '../../edge/cloud-transport.js';
import { createEdgeNode } from '../../edge/edge-node.js';
import { CleaveError, type ErrorCode, isCleaveError } from '../../shared/errors.js';
import type { LoadFrame, ModelOffer, TensorMap } from '../../shared/protocol/frames.js';
import { createRng } from '../../shared/rng.js';
import { hostTensor } from '../../shared/tensor.js';
import { ManualClock } from '../../shared/time.js';
import { cleaveErrorOf } from '../helpers/errors.js';

/** Lets every pending promise callback run (a macrotask turn; no time passes on the clock). */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** What one call to a fake endpoint does. */
interface Plan {
  /** Time to its answer (or its error), ms. */
  readonly ms: number;
  /** Fail with this code instead of answering. */
  readonly error?: ErrorCode;
  /** Partials to emit (stage numbers), each at half of `ms`. */
  readonly partials?: readonly number[];
}

interface Call {
  readonly req: CloudRunRequest;
  readonly signal: AbortSignal | undefined;
  readonly at: number;
  outcome: 'pending' | 'ok' | 'cancelled' | ErrorCode;
}

const OUT: TensorMap = { y: hostTensor('float32', [1, 1], new Float32Array([1])) };

/**
 * A CloudTransport on the ManualClock that answers each call as `plan` says, rejects with
 * CLEAVE_E_DEADLINE when the plan is longer than the call's deadline (as a CloudLink does), and
 * with CLEAVE_E_CANCELLED at once when its signal aborts.
 */
class FakeCloud implements CloudTransport {
  state: LinkState = 'connected';
  lastError: string | undefined;
  rttMs: number | undefined;
  offers: ModelOffer[] = [];
  load: LoadFrame | undefined;
  failures = 0;
  connects = 1;
  closed = false;
  readonly calls: Call[] = [];
  plan: (call: number, req: CloudRunRequest) => Plan = () => ({ ms: 10 });

  constructor(readonly url: string, private readonly clock: ManualClock) {}

  run(req: CloudRunRequest, signal?: AbortSignal): Promise<CloudRunResult> {
    const call: Call = { req, signal, at: this.clock.now(), outcome: 'pending' };
    this.calls.push(call);
    const plan = this.plan(this.calls.length - 1, req);
    return new Promise((resolve, reject) => {
      const timers: unknown[] = [];
      const end = (): void => {
        for (const t of timers) this.clock.clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        end();
        call.outcome = 'cancelled';
        reject(new CleaveError('CLEAVE_E_CANCELLED', `run of "${req.model}" was cancelled by the caller`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      for (const stage of plan.partials ?? []) {
        timers.push(this.clock.setTimeout(() => req.onPartial?.(stage, `stage-${stage}`, OUT), plan.ms / 2));
      }
      if (plan.ms > req.deadlineMs) {
        timers.push(this.clock.setTimeout(() => {
          end();
          call.outcome = 'CLEAVE_E_DEADLINE';
          reject(new CleaveError('CLEAVE_E_DEADLINE', `run of "${req.model}" spent its whole ${req.deadlineMs} ms deadline at ${this.url}`));
        }, req.deadlineMs));
        return;
      }
      timers.push(this.clock.setTimeout(() => {
        end();
        if (plan.error) {
          call.outcome = plan.error;
          reject(new CleaveError(plan.error, `${this.url} says ${plan.error}`));
        } else {
          call.outcome = 'ok';
          resolve({ outputs: OUT, timing: { queueMs: 0, computeMs: plan.ms, batchSize: 1 }, totalMs: plan.ms });
        }
      }, plan.ms));
    });
  }

  status(): LinkStatus {
    return {
      state: this.state, url: this.url, offers: this.offers, failures: this.failures, connects: this.connects,
      ...(this.rttMs !== undefined ? { rttMs: this.rttMs } : {}),
      ...(this.load !== undefined ? { load: this.load } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const URLS = ['ws://a.test:9000/v1/ws', 'ws://b.test:9000/v1/ws', 'ws://c.test:9000/v1/ws'];

interface World {
  readonly clock: ManualClock;
  readonly clouds: FakeCloud[];
  readonly pool: CloudPool;
  readonly events: Record<string, unknown>[];
}

/**
 * A pool over `n` fakes. `random` is 0 by default: pick() then draws endpoint 0 first, so ties
 * (two unsampled endpoints) go to the first, which makes "which one goes first" exact.
 */
function world(n = 2, opts: Partial<Omit<CloudPoolOptions, 'endpoints' | 'clock' | 'timers'>> = {}): World {
  const clock = new ManualClock(1000);
  const clouds = URLS.slice(0, n).map((u) => new FakeCloud(u, clock));
  const events: Record<string, unknown>[] = [];
  const pool = new CloudPool({
    endpoints: clouds.map((c) => ({ url: c.url, transport: c })),
    clock, timers: clock, random: () => 0, hedge: false, log: (e) => events.push(e),
    ...opts,
  });
  return { clock, clouds, pool, events };
}

function req(extra: Partial<CloudRunRequest> = {}): CloudRunRequest {
  return { model: 'm', inputs: {}, deadlineMs: 5_000, ...extra };
}

/** Tracks how a promise settled, without awaiting it. */
function track<T>(p: Promise<T>): { state: () => 'pending' | 'ok' | 'failed'; value: () => T | undefined; error: () => unknown } {
  let state: 'pending' | 'ok' | 'failed' = 'pending';
  let value: T | undefined;
  let error: unknown;
  p.then((v) => { state = 'ok'; value = v; }, (e: unknown) => { state = 'failed'; error = e; });
  return { state: () => state, value: () => value, error: () => error };
}

/** Moves the clock 1 ms at a time, letting promise callbacks run in between, until all settle. */
async function settle(clock: ManualClock, ps: readonly Promise<unknown>[], maxMs = 20_000): Promise<void> {
  const ts = ps.map((p) => track(p));
  await flush();
  for (let i = 0; i < maxMs && ts.some((t) => t.state() === 'pending'); i++) {
    clock.advance(1);
    await flush();
  }
  if (ts.some((t) => t.state() === 'pending')) throw new Error(`still pending after ${maxMs} ms`);
}

/** Runs one request to its end; resolves with its result or its CleaveError, and the ms it took. */
async function runOne(w: World, r: CloudRunRequest = req(), signal?: AbortSignal): Promise<{ ms: number; result?: CloudRunResult; error?: CleaveError }> {
  const t0 = w.clock.now();
  const p = w.pool.run(r, signal);
  const t = track(p);
  await settle(w.clock, [p.catch(() => undefined)]);
  const ms = w.clock.now() - t0;
  if (t.state() === 'ok') return { ms, result: t.value()! };
  const e = t.error();
  if (!isCleaveError(e)) throw e;
  return { ms, error: e };
}

describe('CloudPool: choice', () => {
  it('power of two choices sends most runs to the faster endpoint, sequential and concurrent', async () => {
    const w = world(2, { random: createRng(7).next });
    w.clouds[0]!.plan = () => ({ ms: 10 });
    w.clouds[1]!.plan = () => ({ ms: 50 });
    for (let i = 0; i < 100; i++) expect((await runOne(w)).result).toBeDefined();
    for (let i = 0; i < 50; i++) {
      const ps = [0, 1, 2].map(() => w.pool.run(req()));
      await settle(w.clock, ps);
    }
    const [a, b] = [w.clouds[0]!.calls.length, w.clouds[1]!.calls.length];
    expect(a + b).toBe(250);
    expect(a / (a + b)).toBeGreaterThan(0.8);
    // The slow one was still tried: an unsampled endpoint is priced low so it gets a first sample.
    expect(b).toBeGreaterThanOrEqual(1);
    const eps = w.pool.endpoints();
    expect(eps[0]!.latencyMs).toBeCloseTo(10, 5);
    expect(eps[1]!.latencyMs).toBeCloseTo(50, 5);
    expect(eps.map((e) => e.outstanding)).toEqual([0, 0]);
    expect(eps.map((e) => e.requests)).toEqual([a, b]);
  });

  it('leaves out endpoints whose link is down, and takes one that is connecting', async () => {
    const w = world(3);
    w.clouds[0]!.state = 'down';
    w.clouds[1]!.state = 'connecting';
    w.clouds[2]!.state = 'down';
    for (let i = 0; i < 5; i++) expect((await runOne(w)).result).toBeDefined();
    expect(w.clouds.map((c) => c.calls.length)).toEqual([0, 5, 0]);
  });

  it('takes a link reconnecting after a loss only when no other endpoint is usable', async () => {
    const w = world(2);
    const [a, b] = w.clouds as [FakeCloud, FakeCloud];
    a.state = 'connecting';
    a.failures = 2;
    for (let i = 0; i < 5; i++) expect((await runOne(w)).result).toBeDefined();
    expect([a.calls.length, b.calls.length]).toEqual([0, 5]);
    b.state = 'down';
    expect((await runOne(w)).result).toBeDefined();
    expect([a.calls.length, b.calls.length]).toEqual([1, 5]);
  });
});

describe('CloudPool: circuit breaker', () => {
  it('opens after failures, sends nothing there while open, probes when half-open (doubling on a failed probe), and closes on a good probe', async () => {
    const w = world(2, { breaker: { failureThreshold: 3, openMs: 1000 } });
    const [a, b] = w.clouds as [FakeCloud, FakeCloud];
    a.plan = () => ({ ms: 10 });
    b.plan = () => ({ ms: 5, error: 'CLEAVE_E_OVERLOADED' });
    // Two unsampled endpoints tie, and the tie goes to a; after that b, with no successful
    // sample, stays priced at the 1 ms default and is picked first: each run fails there and is
    // retried on a.
    expect((await runOne(w)).ms).toBe(10);
    for (let i = 0; i < 3; i++) {
      const r = await runOne(w);
      expect(r.result).toBeDefined();
      expect(r.ms).toBe(15);
    }
    expect(b.calls.length).toBe(3);
    let eps = w.pool.endpoints();
    expect(eps[1]).toMatchObject({ breaker: 'open', failures: 3, requests: 3, outstanding: 0 });
    const openedAt = w.clock.now() - 10;
    expect(eps[1]!.breakerOpenUntil).toBe(openedAt + 1000);
    expect(eps[0]).toMatchObject({ breaker: 'closed', failures: 0, retries: 3 });
    expect(w.events.filter((e) => e.event === 'cloud-breaker')).toEqual([{ event: 'cloud-breaker', url: URLS[1], to: 'open', from: 'closed', openMs: 1000 }]);

    // Open: nothing goes to b, every run goes straight to a.
    for (let i = 0; i < 20; i++) expect((await runOne(w)).ms).toBe(10);
    expect(b.calls.length).toBe(3);

    // Half-open: one probe goes to b; it fails, so b opens again for twice as long.
    w.clock.advance(openedAt + 1000 - w.clock.now());
    expect(w.pool.endpoints()[1]!.breaker).toBe('half-open');
    expect((await runOne(w)).result).toBeDefined();
    expect(b.calls.length).toBe(4);
    eps = w.pool.endpoints();
    expect(eps[1]!.breaker).toBe('open');
    expect(eps[1]!.breakerOpenUntil).toBe(openedAt + 1000 + 5 + 2000);

    // The next probe succeeds: b is closed and takes traffic again.
    w.clock.advance(eps[1]!.breakerOpenUntil! - w.clock.now());
    b.plan = () => ({ ms: 5 });
    expect((await runOne(w)).ms).toBe(5);
    expect(b.calls.length).toBe(5);
    expect(w.pool.endpoints()[1]!.breaker).toBe('closed');
    expect((await runOne(w)).ms).toBe(5);
    expect(b.calls.length).toBe(6);
  });

  it('a caller that gives up on a half-open probe is answered at once, but the probe runs on and its outcome closes the breaker', async () => {
    const w = world(2, { breaker: { failureThreshold: 1, openMs: 100 } });
    const [a, b] = w.clouds as [FakeCloud, FakeCloud];
    // a gets a 10 ms sample; then b (priced at the 1 ms default) fails once and opens.
    b.state = 'down';
    await runOne(w);
    b.state = 'connected';
    a.state = 'down';
    b.plan = () => ({ ms: 5, error: 'CLEAVE_E_UNAVAILABLE' });
    expect((await runOne(w)).error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    a.state = 'connected';
    expect(w.pool.endpoints()[1]!.breaker).toBe('open');
    w.clock.advance(100);
    b.plan = () => ({ ms: 50 });
    const ac = new AbortController();
    const p = track(w.pool.run(req(), ac.signal));
    await flush();
    expect(b.calls.length).toBe(2);
    expect(b.calls[1]!.signal!.aborted).toBe(false);
    w.clock.advance(10);
    ac.abort();
    await flush();
    expect(p.state()).toBe('failed');
    expect((p.error() as CleaveError).code).toBe('CLEAVE_E_CANCELLED');
    expect(b.calls[1]!.signal!.aborted).toBe(false);
    expect(w.pool.endpoints()[1]!.breaker).toBe('half-open');
    w.clock.advance(40);
    await flush();
    expect(b.calls[1]!.outcome).toBe('ok');
    expect(w.pool.endpoints()[1]).toMatchObject({ breaker: 'closed', outstanding: 0 });
    expect(a.calls.length).toBe(1);
  });
});

describe('CloudPool: half-open probe answered with a request error', () => {
  it('closes the breaker: the endpoint answered, so it is up', async () => {
    const w = world(2, { breaker: { failureThreshold: 1, openMs: 100 } });
    const [a, b] = w.clouds as [FakeCloud, FakeCloud];
    b.state = 'down';
    await runOne(w);
    b.state = 'connected';
    a.state = 'down';
    b.plan = () => ({ ms: 5, error: 'CLEAVE_E_UNAVAILABLE' });
    await runOne(w);
    a.state = 'connected';
    w.clock.advance(100);
    b.plan = () => ({ ms: 5, error: 'CLEAVE_E_SHAPE' });
    expect((await runOne(w)).error?.code).toBe('CLEAVE_E_SHAPE');
    expect(w.pool.endpoints()[1]).toMatchObject({ breaker: 'closed', outstanding: 0, failures: 1 });
    // With no estimate yet, the time the answer took is its first sample.
    expect(w.pool.endpoints()[1]!.latencyMs).toBe(5);
  });
});

describe('CloudPool: retry', () => {
  it('retries UNAVAILABLE once on the other endpoint with what is left of the deadline', async () => {
    const w = world(2);
    const [a, b] = w.clouds as [FakeCloud, FakeCloud];
    a.plan = () => ({ ms: 30, error: 'CLEAVE_E_UNAVAILABLE' });
    b.plan = () => ({ ms: 20 });
    const r = await runOne(w, req({ deadlineMs: 100 }));
    expect(r.result).toBeDefined();
    expect(r.ms).toBe(50);
    expect(a.calls.map((c) => c.req.deadlineMs)).toEqual([100]);
    expect(b.calls.map((c) => c.req.deadlineMs)).toEqual([70]);
    expect(b.calls[0]!.at - a.calls[0]!.at).toBe(30);
    expect(w.pool.endpoints().map((e) => e.retries)).toEqual([0, 1]);
    expect(w.events).toContainEqual({ event: 'cloud-retry', model: 'm', failed: [URLS[0]], code: 'CLEAVE_E_UNAVAILABLE', to: URLS[1], leftMs: 70 });
  });

  it('retries OVERLOADED too, but only once: with three failing endpoints the run fails after two tries', async () => {
    const w = world(3);
    for (const c of w.clouds) c.plan = () => ({ ms: 5, error: 'CLEAVE_E_OVERLOADED' });
    const r = await runOne(w);
    expect(r.error?.code).toBe('CLEAVE_E_OVERLOADED');
    expect(r.ms).toBe(10);
    expect(w.clouds.map((c) => c.calls.length).reduce((x, y) => x + y)).toBe(2);
  });

  it('does not retry when less than minRetryBudgetMs of the deadline is left', async () => {
    const w = world(2, { minRetryBudgetMs: 10 });
    w.clouds[0]!.plan = () => ({ ms: 95, error: 'CLEAVE_E_UNAVAILABLE' });
    const r = await runOne(w, req({ deadlineMs: 100 }));
    expect(r.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(w.clouds[1]!.calls.length).toBe(0);
  });

  for (const code of ['CLEAVE_E_DEADLINE', 'CLEAVE_E_CANCELLED', 'CLEAVE_E_BAD_ARGUMENT', 'CLEAVE_E_SHAPE', 'CLEAVE_E_NOT_FOUND'] as const) {
    it(`does not retry ${code}`, async () => {
      const w = world(2);
      w.clouds[0]!.plan = () => ({ ms: 20, error: code });
      const r = await runOne(w);
      expect(r.error?.code).toBe(code);
      expect(w.clouds[1]!.calls.length).toBe(0);
      // Only DEADLINE says something about the endpoint's health.
      expect(w.pool.endpoints()[0]!.failures).toBe(code === 'CLEAVE_E_DEADLINE' ? 1 : 0);
    });
  }

  it('does not retry a run whose deadline ran out at the endpoint', async () => {
    const w = world(2);
    w.clouds[0]!.plan = () => ({ ms: 500 });
    const r = await runOne(w, req({ deadlineMs: 100 }));
    expect(r.error?.code).toBe('CLEAVE_E_DEADLINE');
    expect(r.ms).toBe(100);
    expect(w.clouds[1]!.calls.length).toBe(0);
  });
});

describe('CloudPool: no endpoint usable', () => {
  it('fails fast with UNAVAILABLE naming each endpoint and why', async () => {
    const w = world(3, { breaker: { failureThreshold: 1, openMs: 2000 } });
    const [a, b, c] = w.clouds as [FakeCloud, FakeCloud, FakeCloud];
    a.state = 'down';
    a.lastError = 'connect ECONNREFUSED 10.0.0.5:9000';
    c.state = 'down';
    b.plan = () => ({ ms: 5, error: 'CLEAVE_E_UNAVAILABLE' });
    expect((await runOne(w)).error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    const openUntil = w.pool.endpoints()[1]!.breakerOpenUntil!;
    expect(openUntil).toBe(1005 + 2000);
    w.clock.advance(500);
    const before = w.clouds.map((x) => x.calls.length);
    const r = await runOne(w);
    expect(r.ms).toBe(0);
    expect(w.clouds.map((x) => x.calls.length)).toEqual(before);
    const e = r.error!;
    expect(e.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(e.message).toBe(`no cloud endpoint can take the run of "m": ${URLS[0]} (link down: connect ECONNREFUSED 10.0.0.5:9000), `
      + `${URLS[1]} (circuit breaker open until t=3005 ms, 1500 ms from now), ${URLS[2]} (link down)`);
    expect(e.detail.endpoints).toEqual(URLS);
  });

  it('with no endpoints at all, status is disabled and runs fail with UNAVAILABLE', async () => {
    const w = world(0);
    expect(w.pool.status()).toEqual({ state: 'disabled', url: '', offers: [], failures: 0, connects: 0 });
    expect((await runOne(w)).error?.message).toMatch(/no cloud endpoints configured/);
  });
});

describe('CloudPool: hedging', () => {
  /** Five 10 ms runs, so the policy's p95 (with minSamples 5) is 10 ms. */
  async function warm(w: World): Promise<void> {
    for (let i = 0; i < 5; i++) expect((await runOne(w)).ms).toBe(10);
  }

  it('hedges to the other endpoint after the p95 delay; the first answer wins and the slow one is cancelled', async () => {
    const w = world(2, { hedge: { minSamples: 5, maxHedgeFraction: 0.5 } });
    let calls = 0;
    // Across both endpoints: call 5 (the first attempt of the sixth run) is slow.
    for (const c of w.clouds) c.plan = () => ({ ms: calls++ === 5 ? 1000 : 10 });
    await warm(w);
    const t0 = w.clock.now();
    const p = track(w.pool.run(req()));
    await flush();
    const slow = w.clouds.find((c) => c.calls.length > 0 && c.calls.at(-1)!.at === t0 && c.calls.at(-1)!.outcome === 'pending')!;
    const other = w.clouds.find((c) => c !== slow)!;
    const before = other.calls.length;
    w.clock.advance(9);
    await flush();
    expect(other.calls.length).toBe(before);
    w.clock.advance(1);
    await flush();
    expect(other.calls.length).toBe(before + 1);
    expect(other.calls.at(-1)!.req.deadlineMs).toBe(5000 - 10);
    w.clock.advance(10);
    await flush();
    expect(p.state()).toBe('ok');
    expect(w.clock.now() - t0).toBe(20);
    expect(slow.calls.at(-1)!.signal!.aborted).toBe(true);
    expect(slow.calls.at(-1)!.outcome).toBe('cancelled');
    expect(w.pool.hedgeStats()).toEqual({ requests: 6, hedges: 1 });
    const eps = w.pool.endpoints();
    expect(eps.find((e) => e.url === other.url)!.hedges).toBe(1);
    // The cancelled loser is no failure of its endpoint.
    expect(eps.map((e) => e.failures)).toEqual([0, 0]);
    expect(eps.map((e) => e.outstanding)).toEqual([0, 0]);
    expect(w.events.filter((e) => e.event === 'cloud-hedge')).toEqual([{ event: 'cloud-hedge', model: 'm', from: slow.url, to: other.url, afterMs: 10 }]);
  });

  it('stays within the hedge budget when every run is slow', async () => {
    const w = world(2, { hedge: { minSamples: 5, maxHedgeFraction: 0.1, maxTokens: 1 } });
    let calls = 0;
    for (const c of w.clouds) c.plan = () => ({ ms: calls++ < 5 ? 10 : 300 });
    await warm(w);
    for (let i = 0; i < 40; i++) expect((await runOne(w)).result).toBeDefined();
    const { requests, hedges } = w.pool.hedgeStats();
    expect(requests).toBe(45);
    expect(hedges).toBeGreaterThanOrEqual(2);
    expect(hedges).toBeLessThanOrEqual(Math.floor(0.1 * requests));
    const sent = w.pool.endpoints().reduce((n, e) => n + e.hedges, 0);
    expect(sent).toBe(hedges);
    expect(calls).toBe(45 + hedges);
  });

  it('never hedges a run whose hedge delay would pass its deadline, or with only one usable endpoint', async () => {
    const w = world(2, { hedge: { minSamples: 5, maxHedgeFraction: 1 } });
    let calls = 0;
    for (const c of w.clouds) c.plan = () => ({ ms: calls++ < 5 ? 10 : 40 });
    await warm(w);
    expect((await runOne(w, req({ deadlineMs: 10 }))).error?.code).toBe('CLEAVE_E_DEADLINE');
    w.clouds[1]!.state = 'down';
    expect((await runOne(w)).ms).toBe(40);
    expect(w.pool.hedgeStats().hedges).toBe(0);
  });

  it('a caller abort cancels both attempts of a hedged run at once', async () => {
    const w = world(2, { hedge: { minSamples: 5, maxHedgeFraction: 1 } });
    let calls = 0;
    for (const c of w.clouds) c.plan = () => ({ ms: calls++ < 5 ? 10 : 1000 });
    await warm(w);
    const ac = new AbortController();
    const p = track(w.pool.run(req(), ac.signal));
    await flush();
    w.clock.advance(10);
    await flush();
    expect(w.pool.hedgeStats().hedges).toBe(1);
    const live = w.clouds.map((c) => c.calls.at(-1)!);
    expect(live.map((c) => c.outcome)).toEqual(['pending', 'pending']);
    w.clock.advance(5);
    ac.abort();
    await flush();
    expect(p.state()).toBe('failed');
    expect((p.error() as CleaveError).code).toBe('CLEAVE_E_CANCELLED');
    expect(live.map((c) => c.signal!.aborted)).toEqual([true, true]);
    expect(live.map((c) => c.outcome)).toEqual(['cancelled', 'cancelled']);
    expect(w.pool.endpoints().map((e) => [e.outstanding, e.failures])).toEqual([[0, 0], [0, 0]]);
    expect(w.clock.pendingCount).toBe(0);
  });
});

describe('CloudPool: cancellation and partials', () => {
  it('an aborted signal sends nothing; an abort mid-run cancels the attempt and does not count against the endpoint', async () => {
    const w = world(2);
    const ac = new AbortController();
    ac.abort();
    expect((await runOne(w, req(), ac.signal)).error?.code).toBe('CLEAVE_E_CANCELLED');
    expect(w.clouds.map((c) => c.calls.length)).toEqual([0, 0]);

    const ac2 = new AbortController();
    w.clouds[0]!.plan = () => ({ ms: 100 });
    const p = track(w.pool.run(req(), ac2.signal));
    await flush();
    w.clock.advance(30);
    ac2.abort();
    await flush();
    expect((p.error() as CleaveError).code).toBe('CLEAVE_E_CANCELLED');
    expect(w.clouds[0]!.calls[0]!.signal!.aborted).toBe(true);
    expect(w.clouds[1]!.calls.length).toBe(0);
    expect(w.pool.endpoints()[0]).toMatchObject({ outstanding: 0, failures: 0, breaker: 'closed' });
  });

  it('streams partials from a run that is never hedged, however slow', async () => {
    const w = world(2, { hedge: { minSamples: 5, maxHedgeFraction: 1 } });
    let calls = 0;
    for (const c of w.clouds) c.plan = () => (calls++ < 5 ? { ms: 10 } : { ms: 200, partials: [0, 1] });
    for (let i = 0; i < 5; i++) await runOne(w);
    const seen: number[] = [];
    const r = await runOne(w, req({ onPartial: (stage) => seen.push(stage) }));
    expect(r.ms).toBe(200);
    expect(seen).toEqual([0, 1]);
    expect(w.pool.hedgeStats().hedges).toBe(0);
    expect(calls).toBe(6);
  });

  it('retries a run with partials only while none has been passed on', async () => {
    const w = world(2);
    const [a, b] = w.clouds as [FakeCloud, FakeCloud];
    const seen: string[] = [];
    const onPartial = (stage: number): void => { seen.push(`${stage}`); };
    // Fails before any partial: retried on b, whose partials reach the caller.
    a.plan = () => ({ ms: 10, error: 'CLEAVE_E_UNAVAILABLE' });
    b.plan = () => ({ ms: 20, partials: [0] });
    expect((await runOne(w, req({ onPartial }))).result).toBeDefined();
    expect(seen).toEqual(['0']);
    // Fails after a partial went out: not retried (the caller would get stage 0 twice, from two runs).
    seen.length = 0;
    a.plan = () => ({ ms: 20, partials: [0], error: 'CLEAVE_E_UNAVAILABLE' });
    b.plan = () => ({ ms: 20, partials: [0], error: 'CLEAVE_E_UNAVAILABLE' });
    const bCalls = b.calls.length;
    const aCalls = a.calls.length;
    expect((await runOne(w, req({ onPartial }))).error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(seen).toEqual(['0']);
    expect(a.calls.length + b.calls.length).toBe(aCalls + bCalls + 1);
  });
});

describe('CloudPool: status', () => {
  const offer = (name: string, version: number): ModelOffer => ({ name, version, inputs: [], outputs: [], maxBatchSize: 8 });
  const load = (ts: number): LoadFrame => ({ t: 0x0b as LoadFrame['t'], ts, models: {} });

  it('merges the links: any connected, union of offers (first wins), least RTT of the connected, sum of connects', async () => {
    const w = world(3);
    const [a, b, c] = w.clouds as [FakeCloud, FakeCloud, FakeCloud];
    a.offers = [offer('m1', 1), offer('m2', 1)];
    b.offers = [offer('m2', 2), offer('m3', 1)];
    c.offers = [offer('m4', 1)];
    a.rttMs = 20;
    b.rttMs = 10;
    c.rttMs = 1;
    c.state = 'down';
    c.lastError = 'connect ECONNREFUSED';
    c.failures = 4;
    a.failures = 0;
    b.connects = 3;
    a.load = load(1);
    b.load = load(2);
    let s = w.pool.status();
    expect(s).toEqual({
      state: 'connected', url: URLS.join(','), offers: [offer('m1', 1), offer('m2', 1), offer('m3', 1), offer('m4', 1)],
      rttMs: 10, failures: 0, connects: 5, lastError: `${URLS[2]}: connect ECONNREFUSED`,
    });
    // load: the endpoint picked most recently.
    a.state = 'down';
    await runOne(w);
    expect(w.pool.status().load).toEqual(load(2));
    a.state = 'connecting';
    b.state = 'down';
    s = w.pool.status();
    expect(s.state).toBe('connecting');
    expect(s.rttMs).toBeUndefined();
    a.state = 'down';
    expect(w.pool.status().state).toBe('down');
  });

  it('endpoints() shows each link, breaker and traffic, URLs without credentials', async () => {
    const clock = new ManualClock(0);
    const a = new FakeCloud('ws://edge:s3cret@a.test:9000/v1/ws?token=x', clock);
    const pool = new CloudPool({ endpoints: [{ url: a.url, transport: a }], clock, timers: clock, random: () => 0, hedge: false });
    a.rttMs = 3;
    const p = pool.run(req());
    await flush();
    expect(pool.endpoints()).toEqual([{ url: 'ws://a.test:9000/v1/ws', state: 'connected', rttMs: 3, breaker: 'closed', outstanding: 1, requests: 1, failures: 0, hedges: 0, retries: 0 }]);
    clock.advance(10);
    await p;
    expect(pool.endpoints()[0]).toMatchObject({ outstanding: 0, latencyMs: 10 });
    expect(pool.status().url).toBe('ws://a.test:9000/v1/ws');
    expect(JSON.stringify(poolStatusOf(pool))).not.toContain('s3cret');
    expect(poolStatusOf(a)).toBeUndefined();
  });

  it('close() closes every transport', async () => {
    const w = world(3);
    await w.pool.close();
    expect(w.clouds.map((c) => c.closed)).toEqual([true, true, true]);
  });

  it('refuses the same URL twice, naming it', () => {
    const clock = new ManualClock(0);
    const a = new FakeCloud(URLS[0]!, clock);
    const e = cleaveErrorOf(() => new CloudPool({ endpoints: [{ url: a.url, transport: a }, { url: a.url, transport: a }], clock, timers: clock, random: () => 0 }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toBe(`cloud endpoint 2 (${URLS[0]}) is listed twice`);
  });

  it('GET /v1/status shows cloud.endpoints for a pool', async () => {
    const w = world(2);
    const backend = (await nodeBackends()).get('onnxruntime-node');
    const node = createEdgeNode({
      backend, models: [], cloud: w.pool, clock: w.clock, timers: w.clock, random: (n) => new Uint8Array(n).fill(7), digest: () => new Uint8Array(32),
    });
    try {
      const body = await (await node.app.request('/v1/status')).json() as { link: LinkStatus; cloud: { endpoints: { url: string; breaker: string }[]; hedging: unknown } };
      expect(body.link.url).toBe(`${URLS[0]},${URLS[1]}`);
      expect(body.cloud.endpoints.map((e) => [e.url, e.breaker])).toEqual([[URLS[0], 'closed'], [URLS[1], 'closed']]);
      expect(body.cloud.hedging).toEqual({ requests: 0, hedges: 0 });
    } finally {
      await node.close();
    }
  });
});
