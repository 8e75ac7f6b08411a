import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../shared/errors.js';
import { hedged, type HedgeAttempt, HedgePolicy } from '../../../shared/router/hedging.js';
import { createRng } from '../../../shared/rng.js';
import { ManualClock } from '../../../shared/time.js';

/** Lets every pending promise callback run (a macrotask turn; no time passes on any clock). */
function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An attempt that records when it was started and settles when told. */
function attempt<T>(clock: ManualClock): { fn: () => Promise<T>; startedAt: number[]; d: Deferred<T> } {
  const d = deferred<T>();
  const startedAt: number[] = [];
  return {
    fn: () => {
      startedAt.push(clock.now());
      return d.promise;
    },
    startedAt,
    d,
  };
}

/** Tracks how a promise settled, without awaiting it. */
function track<T>(p: Promise<T>): { state: () => 'pending' | 'ok' | 'failed'; value: () => T | undefined; error: () => unknown } {
  let state: 'pending' | 'ok' | 'failed' = 'pending';
  let value: T | undefined;
  let error: unknown;
  p.then(
    (v) => {
      state = 'ok';
      value = v;
    },
    (e: unknown) => {
      state = 'failed';
      error = e;
    },
  );
  return { state: () => state, value: () => value, error: () => error };
}

/** A policy that may hedge every request (one token per request). */
function generous(): HedgePolicy {
  return new HedgePolicy({ maxHedgeFraction: 1 });
}

function shuffled(n: number, seed: number): number[] {
  const rng = createRng(seed);
  const a = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('HedgePolicy: hedge delay', () => {
  it('gives no delay below minSamples (20)', () => {
    const p = new HedgePolicy();
    for (let i = 1; i <= 19; i++) p.observe(i);
    expect(p.hedgeDelayMs()).toBeUndefined();
    p.observe(20);
    // Nearest rank: sorted[ceil(0.95 * 20) - 1] = sorted[18].
    expect(p.hedgeDelayMs()).toBe(19);
  });

  it('is the nearest-rank p95 of the samples, whatever their order', () => {
    const p = new HedgePolicy();
    for (const v of shuffled(100, 7)) p.observe(v);
    expect(p.hedgeDelayMs()).toBe(95);
    const q = new HedgePolicy();
    for (const v of shuffled(200, 8)) q.observe(v * 2);
    expect(q.hedgeDelayMs()).toBe(380); // sorted[189] of 2, 4, ..., 400
  });

  it('takes the quantile over the last windowSize (200) samples only', () => {
    const p = new HedgePolicy();
    for (let v = 1; v <= 300; v++) p.observe(v);
    expect(p.samples).toBe(200);
    // The window holds 101..300: sorted[189] = 290.
    expect(p.hedgeDelayMs()).toBe(290);
    // One giant sample replaces 101; the p95 moves one rank up.
    p.observe(1e6);
    expect(p.hedgeDelayMs()).toBe(291);
  });

  it('honours a custom quantile, window and minimum', () => {
    const p = new HedgePolicy({ quantile: 0.5, windowSize: 10, minSamples: 3 });
    p.observe(30);
    p.observe(10);
    expect(p.hedgeDelayMs()).toBeUndefined();
    p.observe(20);
    expect(p.hedgeDelayMs()).toBe(20);
    for (let v = 1; v <= 10; v++) p.observe(v * 100);
    expect(p.hedgeDelayMs()).toBe(500);
  });

  it('rejects bad samples and options', () => {
    const p = new HedgePolicy();
    expect(() => p.observe(-1)).toThrow(/latencyMs = -1/);
    expect(() => p.observe(Number.NaN)).toThrow(/latencyMs/);
    expect(() => new HedgePolicy({ maxHedgeFraction: 1.5 })).toThrow(/maxHedgeFraction/);
    expect(() => new HedgePolicy({ quantile: 0 })).toThrow(/quantile/);
    expect(() => new HedgePolicy({ windowSize: 10, minSamples: 11 })).toThrow(/minSamples/);
    expect(() => new HedgePolicy({ maxTokens: 0.5 })).toThrow(/maxTokens/);
  });
});

describe('HedgePolicy: budget', () => {
  it('grants exactly 5% of 1000 requests when asked every time', () => {
    const p = new HedgePolicy();
    let hedges = 0;
    for (let i = 0; i < 1000; i++) {
      p.request();
      if (p.tryHedge()) hedges++;
    }
    expect(hedges).toBe(50);
    expect(p.stats()).toEqual({ requests: 1000, hedges: 50 });
  });

  it('grants the first hedge at the 20th request, despite float rounding', () => {
    const p = new HedgePolicy();
    for (let i = 0; i < 19; i++) {
      p.request();
      expect(p.tryHedge()).toBe(false);
    }
    p.request();
    expect(p.tryHedge()).toBe(true);
    expect(p.tryHedge()).toBe(false);
  });

  it('saves at most maxTokens (10) for a burst after a quiet spell', () => {
    const p = new HedgePolicy();
    for (let i = 0; i < 1000; i++) p.request();
    expect(p.tokens).toBe(10);
    let burst = 0;
    while (p.tryHedge()) burst++;
    expect(burst).toBe(10);
  });

  it('never exceeds 5% of requests in any interleaving (starting empty)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 2000, size: 'max' }), (steps) => {
        const p = new HedgePolicy();
        let requests = 0;
        let hedges = 0;
        for (const isRequest of steps) {
          if (isRequest) {
            p.request();
            requests++;
          } else if (p.tryHedge()) {
            hedges++;
          }
          // Plain checks, not expect(): this loop runs 200 000 times.
          if (hedges > Math.floor(requests * 0.05 + 1e-6) || p.tokens > 10) return false;
        }
        return true;
      }),
      { numRuns: 100 },
    );
  });

  it('never hedges with maxHedgeFraction 0', () => {
    const p = new HedgePolicy({ maxHedgeFraction: 0 });
    for (let i = 0; i < 1000; i++) p.request();
    expect(p.tryHedge()).toBe(false);
  });
});

describe('hedged()', () => {
  it('never hedges a first attempt that answers before the delay', async () => {
    const clock = new ManualClock(0);
    const policy = generous();
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const cancelled: HedgeAttempt[] = [];
    const r = track(hedged(a.fn, b.fn, 100, clock, policy, (x) => cancelled.push(x)));
    expect(a.startedAt).toEqual([0]);
    clock.advance(99);
    a.d.resolve('first');
    await flush();
    expect(r.state()).toBe('ok');
    expect(r.value()).toBe('first');
    expect(clock.pendingCount).toBe(0); // the hedge timer was cleared
    clock.advance(1000);
    expect(b.startedAt).toEqual([]);
    expect(cancelled).toEqual([]);
    expect(policy.tokens).toBe(1); // earned, not spent
  });

  it('starts the hedge at exactly delayMs and cancels the slow first when the hedge wins', async () => {
    const clock = new ManualClock(1000);
    const policy = generous();
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const cancelled: HedgeAttempt[] = [];
    const r = track(hedged(a.fn, b.fn, 250, clock, policy, (x) => cancelled.push(x)));
    clock.advance(249);
    expect(b.startedAt).toEqual([]);
    clock.advance(1);
    expect(b.startedAt).toEqual([1250]);
    expect(policy.stats()).toEqual({ requests: 1, hedges: 1 });
    clock.advance(10);
    b.d.resolve('second');
    await flush();
    expect(r.value()).toBe('second');
    expect(cancelled).toEqual(['first']);
    // The first answering later changes nothing.
    a.d.resolve('late');
    await flush();
    expect(r.value()).toBe('second');
    expect(cancelled).toEqual(['first']);
  });

  it('cancels the hedge when the first wins after all', async () => {
    const clock = new ManualClock(0);
    const a = attempt<number>(clock);
    const b = attempt<number>(clock);
    const cancelled: HedgeAttempt[] = [];
    const r = track(hedged(a.fn, b.fn, 10, clock, generous(), (x) => cancelled.push(x)));
    clock.advance(10);
    expect(b.startedAt).toEqual([10]);
    a.d.resolve(1);
    await flush();
    expect(r.value()).toBe(1);
    expect(cancelled).toEqual(['second']);
  });

  it('rejects with the first attempt\'s error when both fail, in either order', async () => {
    for (const firstFailsFirst of [true, false]) {
      const clock = new ManualClock(0);
      const a = attempt<number>(clock);
      const b = attempt<number>(clock);
      const cancelled: HedgeAttempt[] = [];
      const r = track(hedged(a.fn, b.fn, 10, clock, generous(), (x) => cancelled.push(x)));
      clock.advance(10);
      const e1 = new Error('first failed');
      const e2 = new Error('second failed');
      if (firstFailsFirst) a.d.reject(e1);
      else b.d.reject(e2);
      await flush();
      expect(r.state()).toBe('pending');
      if (firstFailsFirst) b.d.reject(e2);
      else a.d.reject(e1);
      await flush();
      expect(r.state()).toBe('failed');
      expect(r.error()).toBe(e1);
      expect(cancelled).toEqual([]);
    }
  });

  it('takes the survivor when one attempt fails and the other succeeds', async () => {
    const clock = new ManualClock(0);
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const cancelled: HedgeAttempt[] = [];
    const r = track(hedged(a.fn, b.fn, 10, clock, generous(), (x) => cancelled.push(x)));
    clock.advance(10);
    a.d.reject(new Error('first failed'));
    await flush();
    expect(r.state()).toBe('pending');
    b.d.resolve('second');
    await flush();
    expect(r.value()).toBe('second');
    expect(cancelled).toEqual([]); // the loser had already failed
  });

  it('rejects at once, without hedging, when the first fails before the delay', async () => {
    const clock = new ManualClock(0);
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const err = new Error('refused');
    const r = track(hedged(a.fn, b.fn, 10, clock, generous()));
    clock.advance(3);
    a.d.reject(err);
    await flush();
    expect(r.error()).toBe(err);
    expect(clock.pendingCount).toBe(0);
    clock.advance(100);
    expect(b.startedAt).toEqual([]);
  });

  it('does not hedge when the budget is empty', async () => {
    const clock = new ManualClock(0);
    const policy = new HedgePolicy(); // 0.05 tokens after this request: not enough
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const r = track(hedged(a.fn, b.fn, 10, clock, policy));
    clock.advance(1000);
    expect(b.startedAt).toEqual([]);
    expect(policy.stats()).toEqual({ requests: 1, hedges: 0 });
    a.d.resolve('slow but fine');
    await flush();
    expect(r.value()).toBe('slow but fine');
  });

  it('never hedges when delayMs is undefined (a policy still warming up)', async () => {
    const clock = new ManualClock(0);
    const policy = generous();
    expect(policy.hedgeDelayMs()).toBeUndefined();
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const r = track(hedged(a.fn, b.fn, policy.hedgeDelayMs(), clock, policy));
    expect(clock.pendingCount).toBe(0);
    clock.advance(1e6);
    expect(b.startedAt).toEqual([]);
    a.d.resolve('done');
    await flush();
    expect(r.value()).toBe('done');
    expect(policy.stats().requests).toBe(1);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const clock = new ManualClock(0);
    const err = new Error('sync');
    const r = track(hedged<string>(() => {
      throw err;
    }, () => Promise.resolve('x'), 10, clock, generous()));
    await flush();
    expect(r.error()).toBe(err);
  });

  it('rejects a bad delay before starting anything', async () => {
    const clock = new ManualClock(0);
    const policy = generous();
    const a = attempt<string>(clock);
    const r = track(hedged(a.fn, a.fn, -1, clock, policy));
    await flush();
    expect(isCleaveError(r.error(), 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
    expect(a.startedAt).toEqual([]);
    expect(policy.stats().requests).toBe(0);
  });

  it('keeps the result when cancel throws', async () => {
    const clock = new ManualClock(0);
    const a = attempt<string>(clock);
    const b = attempt<string>(clock);
    const r = track(hedged(a.fn, b.fn, 5, clock, generous(), () => {
      throw new Error('cancel broke');
    }));
    clock.advance(5);
    b.d.resolve('second');
    await flush();
    expect(r.value()).toBe('second');
  });
});
