import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../shared/errors.js';
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  isBreakerFailure,
} from '../../../shared/router/circuit-breaker.js';
import { ManualClock } from '../../../shared/time.js';

function breaker(opts: Omit<CircuitBreakerOptions, 'clock'> = {}): {
  clock: ManualClock;
  b: CircuitBreaker;
  changes: [BreakerState, BreakerState, number][];
} {
  const clock = new ManualClock(0);
  const changes: [BreakerState, BreakerState, number][] = [];
  const b = new CircuitBreaker({ ...opts, clock, onChange: (to, from) => changes.push([to, from, clock.now()]) });
  return { clock, b, changes };
}

function fail(b: CircuitBreaker, n: number): void {
  for (let i = 0; i < n; i++) b.record(false);
}

/** Opens a fresh breaker with the default threshold (5 failures). */
function trip(b: CircuitBreaker): void {
  fail(b, 5);
  expect(b.state()).toBe('open');
}

describe('CircuitBreaker: closed', () => {
  it('starts closed and allows everything', () => {
    const { b } = breaker();
    expect(b.state()).toBe('closed');
    for (let i = 0; i < 100; i++) expect(b.allow()).toBe(true);
  });

  it('opens on the 5th consecutive failure, not the 4th', () => {
    const { b, changes } = breaker();
    fail(b, 4);
    expect(b.state()).toBe('closed');
    expect(b.consecutiveFailures).toBe(4);
    b.record(false);
    expect(b.state()).toBe('open');
    expect(b.allow()).toBe(false);
    expect(changes).toEqual([['open', 'closed', 0]]);
  });

  it('a success resets the consecutive count', () => {
    const { b } = breaker({ minSamples: 20 });
    fail(b, 4);
    b.record(true);
    fail(b, 4);
    expect(b.state()).toBe('closed');
    expect(b.consecutiveFailures).toBe(4);
  });

  it('honours a custom failureThreshold', () => {
    const { b } = breaker({ failureThreshold: 2 });
    b.record(false);
    expect(b.state()).toBe('closed');
    b.record(false);
    expect(b.state()).toBe('open');
  });

  it('does not judge the rate below minSamples', () => {
    // With the consecutive rule out of the way, 9 failures of 9 is below minSamples 10...
    const { b } = breaker({ failureThreshold: 100 });
    fail(b, 9);
    expect(b.window()).toEqual({ samples: 9, failures: 9 });
    // ...and the 10th outcome is the first whose rate is judged.
    expect(b.state()).toBe('closed');
    b.record(false);
    expect(b.state()).toBe('open');
  });

  it('opens when the failure rate in the window goes strictly over failureRate', () => {
    const { b } = breaker({ failureThreshold: 100 });
    // 5 failures, 5 successes, interleaved: rate 0.5 is not over 0.5.
    for (let i = 0; i < 10; i++) b.record(i % 2 === 0);
    expect(b.window()).toEqual({ samples: 10, failures: 5 });
    expect(b.state()).toBe('closed');
    // 6 failures of 11 = 0.545 > 0.5.
    b.record(false);
    expect(b.state()).toBe('open');
  });

  it('forgets outcomes that slid out of the window', () => {
    const { b } = breaker({ failureThreshold: 100, windowSize: 20, minSamples: 10 });
    fail(b, 5);
    for (let i = 0; i < 15; i++) b.record(true); // 5 of 10 at the 10th outcome: not over 0.5
    expect(b.window()).toEqual({ samples: 20, failures: 5 });
    fail(b, 5); // the 5 old failures slide out as 5 new ones come in
    expect(b.window()).toEqual({ samples: 20, failures: 5 });
    fail(b, 5); // 5 successes slide out: 10 of 20 is exactly 0.5, not over
    expect(b.window()).toEqual({ samples: 20, failures: 10 });
    expect(b.state()).toBe('closed');
    b.record(false); // 11 of 20 (a success slid out)
    expect(b.state()).toBe('open');
  });
});

describe('CircuitBreaker: open and half-open', () => {
  it('stays open for exactly openMs, then turns half-open', () => {
    const { clock, b, changes } = breaker();
    clock.advance(1000);
    trip(b);
    expect(b.retryAt()).toBe(6000);
    clock.advance(4999);
    expect(b.state()).toBe('open');
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.state()).toBe('half-open');
    expect(b.retryAt()).toBeUndefined();
    expect(changes).toEqual([
      ['open', 'closed', 1000],
      ['half-open', 'open', 6000],
    ]);
  });

  it('ignores outcomes recorded while open', () => {
    const { clock, b } = breaker();
    trip(b);
    b.record(true);
    b.record(false);
    expect(b.state()).toBe('open');
    clock.advance(5000);
    expect(b.state()).toBe('half-open');
  });

  it('allows exactly halfOpenProbes trial requests; wouldAllow takes no slot', () => {
    const { clock, b } = breaker({ halfOpenProbes: 2 });
    trip(b);
    clock.advance(5000);
    expect(b.wouldAllow()).toBe(true);
    expect(b.wouldAllow()).toBe(true);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(true);
    expect(b.wouldAllow()).toBe(false);
    expect(b.allow()).toBe(false);
    expect(b.state()).toBe('half-open');
  });

  it('a half-open outcome with no probe out is ignored', () => {
    const { clock, b } = breaker();
    trip(b);
    clock.advance(5000);
    b.record(true); // a straggler from before the trip, not a probe
    expect(b.state()).toBe('half-open');
    b.record(false);
    expect(b.state()).toBe('half-open');
  });

  it('a probe success closes it, clears the window and resets the open duration', () => {
    const { clock, b, changes } = breaker();
    trip(b);
    clock.advance(5000);
    expect(b.allow()).toBe(true);
    b.record(false); // re-open for 10 000
    expect(b.currentOpenMs).toBe(10_000);
    clock.advance(10_000);
    expect(b.allow()).toBe(true);
    b.record(true);
    expect(b.state()).toBe('closed');
    expect(b.currentOpenMs).toBe(5000);
    expect(b.window()).toEqual({ samples: 0, failures: 0 });
    expect(b.consecutiveFailures).toBe(0);
    // The next trip opens for openMs again.
    clock.advance(123);
    trip(b);
    expect(b.retryAt()).toBe(15_123 + 5000);
    expect(changes.map((c) => c[0])).toEqual(['open', 'half-open', 'open', 'half-open', 'closed', 'open']);
    expect(changes.map((c) => c[2])).toEqual([0, 5000, 5000, 15_000, 15_000, 15_123]);
  });

  it('a probe failure re-opens with the open duration doubled, capped at maxOpenMs', () => {
    const { clock, b } = breaker();
    trip(b);
    const durations: number[] = [];
    let t = 0;
    for (let i = 0; i < 7; i++) {
      const d = b.currentOpenMs;
      durations.push(d);
      expect(b.retryAt()).toBe(t + d);
      clock.advance(d - 1);
      expect(b.state()).toBe('open');
      clock.advance(1);
      t += d;
      expect(b.state()).toBe('half-open');
      expect(b.allow()).toBe(true);
      b.record(false);
      expect(b.state()).toBe('open');
    }
    expect(durations).toEqual([5000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  });

  it('honours custom openMs and maxOpenMs', () => {
    const { clock, b } = breaker({ openMs: 100, maxOpenMs: 250 });
    trip(b);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      seen.push(b.currentOpenMs);
      clock.advance(b.currentOpenMs);
      expect(b.allow()).toBe(true);
      b.record(false);
    }
    expect(seen).toEqual([100, 200, 250, 250]);
  });

  it('with several probes the first outcome decides; later outcomes count as closed ones', () => {
    const { clock, b } = breaker({ halfOpenProbes: 3 });
    trip(b);
    clock.advance(5000);
    expect([b.allow(), b.allow(), b.allow()]).toEqual([true, true, true]);
    b.record(true);
    expect(b.state()).toBe('closed');
    b.record(false);
    b.record(false);
    expect(b.state()).toBe('closed');
    expect(b.window()).toEqual({ samples: 2, failures: 2 });
  });

  it('turns half-open on record() too, with onChange firing at that time', () => {
    const { clock, b, changes } = breaker();
    trip(b);
    clock.advance(7000);
    b.record(true); // no probe out: ignored, but the state is brought up to date
    expect(changes.at(-1)).toEqual(['half-open', 'open', 7000]);
  });
});

describe('CircuitBreaker: options and failure codes', () => {
  it.each([
    ['failureThreshold', { failureThreshold: 0 }],
    ['failureThreshold', { failureThreshold: 2.5 }],
    ['failureRate', { failureRate: 0 }],
    ['failureRate', { failureRate: 1.5 }],
    ['windowSize', { windowSize: 0 }],
    ['minSamples', { windowSize: 5, minSamples: 6 }],
    ['openMs', { openMs: 0 }],
    ['maxOpenMs', { openMs: 1000, maxOpenMs: 999 }],
    ['halfOpenProbes', { halfOpenProbes: 0 }],
  ] as const)('rejects a bad %s', (name, opts) => {
    try {
      new CircuitBreaker({ ...opts, clock: new ManualClock() });
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
      expect((e as Error).message).toContain(name);
    }
  });

  it('defaults minSamples and maxOpenMs to fit a small window and a long openMs', () => {
    const b = new CircuitBreaker({ clock: new ManualClock(), windowSize: 4, openMs: 100_000 });
    expect(b.minSamples).toBe(4);
    expect(b.maxOpenMs).toBe(100_000);
  });

  it('counts UNAVAILABLE, OVERLOADED and DEADLINE as failures, not BAD_ARGUMENT or CANCELLED', () => {
    expect(isBreakerFailure('CLEAVE_E_UNAVAILABLE')).toBe(true);
    expect(isBreakerFailure('CLEAVE_E_OVERLOADED')).toBe(true);
    expect(isBreakerFailure('CLEAVE_E_DEADLINE')).toBe(true);
    expect(isBreakerFailure('CLEAVE_E_BAD_ARGUMENT')).toBe(false);
    expect(isBreakerFailure('CLEAVE_E_CANCELLED')).toBe(false);
    expect(isBreakerFailure('CLEAVE_E_SHAPE')).toBe(false);
  });
});
