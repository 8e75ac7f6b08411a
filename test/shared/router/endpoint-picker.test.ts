import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../shared/errors.js';
import type { BreakerState } from '../../../shared/router/circuit-breaker.js';
import { EndpointPicker, type EndpointPickerOptions, type EndpointToken } from '../../../shared/router/endpoint-picker.js';
import { createRng } from '../../../shared/rng.js';
import { ManualClock } from '../../../shared/time.js';

/** A random source that returns `values` in order and fails the test if asked for more. */
function scripted(): { random: () => number; push: (...v: number[]) => void; left: () => number } {
  const queue: number[] = [];
  return {
    random: () => {
      const v = queue.shift();
      if (v === undefined) throw new Error('random() called more often than scripted');
      return v;
    },
    push: (...v) => queue.push(...v),
    left: () => queue.length,
  };
}

function setup(opts: Partial<Omit<EndpointPickerOptions, 'clock' | 'random'>> = {}): {
  clock: ManualClock;
  rnd: ReturnType<typeof scripted>;
  p: EndpointPicker<string>;
} {
  const clock = new ManualClock(0);
  const rnd = scripted();
  const p = new EndpointPicker<string>({ clock, random: rnd.random, ...opts });
  return { clock, rnd, p };
}

/** Gives `name` a latency estimate of exactly `ms` with one successful request. */
function prime(p: EndpointPicker<string>, name: string, ms: number): void {
  expect(p.finish(p.start(name), { ok: true, latencyMs: ms })).toBe(true);
}

function cost(p: EndpointPicker<string>, name: string): number | undefined {
  return p.snapshot().find((s) => s.name === name)?.cost;
}

describe('EndpointPicker: power of two choices', () => {
  it('compares the two sampled endpoints and takes the cheaper, not the global best', () => {
    const { rnd, p } = setup();
    p.add('a', 'A');
    p.add('b', 'B');
    p.add('c', 'C');
    prime(p, 'a', 10);
    prime(p, 'b', 20);
    prime(p, 'c', 30);
    // 0.5 * 3 -> index 1 (b); 0.9 * 2 -> 1, which is >= 1 so it skips b -> index 2 (c).
    rnd.push(0.5, 0.9);
    expect(p.pick()).toEqual({ name: 'b', payload: 'B', cost: 20 });
    // 0.99 -> c; 0 -> a.
    rnd.push(0.99, 0);
    expect(p.pick()).toEqual({ name: 'a', payload: 'A', cost: 10 });
    // c then b: b.
    rnd.push(0.99, 0.5);
    expect(p.pick()?.name).toBe('b');
    expect(rnd.left()).toBe(0);
  });

  it('never samples the same endpoint twice', () => {
    const { rnd, p } = setup();
    p.add('a', 'A');
    p.add('b', 'B');
    prime(p, 'a', 5);
    prime(p, 'b', 7);
    // Both draws point at index 0; the second is shifted past the first, so a and b are compared.
    rnd.push(0, 0);
    expect(p.pick()?.name).toBe('a');
    rnd.push(0.6, 0);
    expect(p.pick()?.name).toBe('a');
  });

  it('with two endpoints compares both, whichever order they are drawn in', () => {
    const { rnd, p } = setup();
    p.add('slow', 'S');
    p.add('fast', 'F');
    prime(p, 'slow', 80);
    prime(p, 'fast', 40);
    for (const [r1, r2] of [[0, 0], [0.7, 0.3], [0.2, 0.99], [0.999, 0.999]] as const) {
      rnd.push(r1, r2);
      expect(p.pick()?.name).toBe('fast');
    }
  });

  it('breaks a tie in favour of the first drawn', () => {
    const { rnd, p } = setup();
    p.add('a', 'A');
    p.add('b', 'B');
    rnd.push(0.9, 0);
    expect(p.pick()?.name).toBe('b');
    rnd.push(0.1, 0);
    expect(p.pick()?.name).toBe('a');
  });

  it('takes the only eligible endpoint without drawing a random number', () => {
    const { rnd, p } = setup();
    expect(p.pick()).toBeUndefined();
    p.add('only', 'O');
    expect(p.pick()).toEqual({ name: 'only', payload: 'O', cost: 1 });
    expect(rnd.left()).toBe(0);
  });

  it('keeps an out-of-range random source in range', () => {
    const { rnd, p } = setup();
    p.add('a', 'A');
    p.add('b', 'B');
    p.add('c', 'C');
    rnd.push(1, 1);
    expect(['a', 'b', 'c']).toContain(p.pick()?.name);
    rnd.push(-0.5, Number.NaN);
    expect(['a', 'b', 'c']).toContain(p.pick()?.name);
  });
});

describe('EndpointPicker: cost', () => {
  it('is the peak-EWMA latency times outstanding + 1', () => {
    const { clock, p } = setup({ halfLifeMs: 1000 });
    p.add('a', 'A');
    prime(p, 'a', 100);
    expect(cost(p, 'a')).toBe(100);
    const t1 = p.start('a');
    const t2 = p.start('a');
    expect(cost(p, 'a')).toBe(300);
    // A slower sample is believed at once...
    clock.advance(1000);
    p.finish(t1, { ok: true, latencyMs: 200 });
    expect(cost(p, 'a')).toBe(400);
    // ...a faster one with the time-decayed weight: one half-life later, half the say.
    clock.advance(1000);
    p.finish(t2, { ok: true, latencyMs: 100 });
    expect(cost(p, 'a')).toBe(150);
  });

  it('takes the latency from the clock when the outcome gives none', () => {
    const { clock, p } = setup();
    p.add('a', 'A');
    clock.advance(5);
    const t = p.start('a');
    expect(t).toEqual({ name: 'a', startedAt: 5 });
    clock.advance(42);
    p.finish(t, { ok: true });
    expect(p.snapshot()[0]?.latencyMs).toBe(42);
  });

  it('shifts load away from an endpoint as its requests pile up', () => {
    const { rnd, p } = setup();
    p.add('a', 'A');
    p.add('b', 'B');
    prime(p, 'a', 10);
    prime(p, 'b', 20);
    const picks: string[] = [];
    const tokens: EndpointToken[] = [];
    for (let i = 0; i < 6; i++) {
      rnd.push(0, 0);
      const got = p.pick();
      if (!got) throw new Error('no endpoint');
      picks.push(got.name);
      tokens.push(p.start(got.name));
    }
    // a costs 10, 20, 30, ... as its in-flight count grows, b 20, 40, 60; the cheaper one takes
    // each request (a tie goes to a, drawn first). Load ends up 2:1, the inverse of the latencies.
    expect(picks).toEqual(['a', 'a', 'b', 'a', 'a', 'b']);
    expect(p.snapshot().map((s) => [s.name, s.outstanding, s.cost])).toEqual([['a', 4, 50], ['b', 2, 60]]);
    for (const t of tokens) p.finish(t);
    expect(p.snapshot().map((s) => s.outstanding)).toEqual([0, 0]);
  });

  it('tries a new endpoint: its stand-in latency is small', () => {
    const { rnd, p } = setup();
    p.add('old1', 'O1');
    p.add('old2', 'O2');
    prime(p, 'old1', 40);
    prime(p, 'old2', 40);
    p.add('new', 'N');
    expect(cost(p, 'new')).toBe(1);
    rnd.push(0, 0.9); // old1 vs new
    expect(p.pick()?.name).toBe('new');
  });

  it('scales the stand-in latency by outstanding + 1, so a new endpoint is not flooded', () => {
    const { rnd, p } = setup({ defaultLatencyMs: 15 });
    p.add('old', 'O');
    prime(p, 'old', 40);
    p.add('new', 'N');
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      rnd.push(0, 0);
      const got = p.pick();
      if (!got) throw new Error('no endpoint');
      picks.push(got.name);
      p.start(got.name);
    }
    // new: 15, 30, 45; old: 40, 80.
    expect(picks).toEqual(['new', 'new', 'old', 'new']);
  });

  it('a configurable default can make new endpoints wait their turn', () => {
    const { rnd, p } = setup({ defaultLatencyMs: 100 });
    p.add('old', 'O');
    prime(p, 'old', 40);
    p.add('new', 'N');
    rnd.push(0, 0);
    expect(p.pick()?.name).toBe('old');
  });

  it('feeds failures to the breaker only, not the latency', () => {
    const { p } = setup();
    p.add('a', 'A');
    prime(p, 'a', 50);
    p.finish(p.start('a'), { ok: false, latencyMs: 1 });
    const s = p.snapshot()[0];
    expect(s?.latencyMs).toBe(50);
    expect(s?.latencySamples).toBe(1);
    expect(s?.outstanding).toBe(0);
  });
});

describe('EndpointPicker: circuit breakers', () => {
  it('never picks an endpoint whose breaker is open, until it turns half-open', () => {
    const changes: [string, BreakerState, BreakerState, number][] = [];
    const clock = new ManualClock(0);
    const rnd = scripted();
    const p = new EndpointPicker<string>({
      clock,
      random: rnd.random,
      breaker: { failureThreshold: 2, openMs: 1000 },
      onBreakerChange: (name, to, from) => changes.push([name, to, from, clock.now()]),
    });
    p.add('a', 'A');
    p.add('b', 'B');
    prime(p, 'a', 1); // a is the cheaper one
    prime(p, 'b', 100);
    p.finish(p.start('a'), { ok: false });
    p.finish(p.start('a'), { ok: false });
    expect(changes).toEqual([['a', 'open', 'closed', 0]]);
    // Only b is eligible: it is taken without a random draw.
    expect(p.pick()?.name).toBe('b');
    expect(rnd.left()).toBe(0);
    expect(p.snapshot().map((s) => [s.name, s.breaker, s.eligible])).toEqual([['a', 'open', false], ['b', 'closed', true]]);
    expect(() => p.start('a')).toThrow(/circuit breaker is open/);

    clock.advance(999);
    expect(p.pick()?.name).toBe('b');
    clock.advance(1);
    rnd.push(0, 0);
    expect(p.pick()?.name).toBe('a');
    expect(changes.at(-1)).toEqual(['a', 'half-open', 'open', 1000]);
    // The probe slot is taken by start(); until its outcome, a is not eligible again.
    const probe = p.start('a');
    expect(p.pick()?.name).toBe('b');
    try {
      p.start('a');
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_UNAVAILABLE')).toBe(true);
    }
    p.finish(probe, { ok: true, latencyMs: 1 });
    expect(changes.at(-1)).toEqual(['a', 'closed', 'half-open', 1000]);
    rnd.push(0, 0);
    expect(p.pick()?.name).toBe('a');
  });

  it('answers undefined when every breaker is open', () => {
    const { p } = setup({ breaker: { failureThreshold: 1 } });
    p.add('a', 'A');
    p.add('b', 'B');
    p.finish(p.start('a'), { ok: false });
    p.finish(p.start('b'), { ok: false });
    expect(p.pick()).toBeUndefined();
  });

  it('does not let a token without an outcome count for or against the breaker', () => {
    const { p } = setup({ breaker: { failureThreshold: 1 } });
    p.add('a', 'A');
    for (let i = 0; i < 10; i++) p.finish(p.start('a'));
    expect(p.snapshot()[0]?.breaker).toBe('closed');
  });
});

describe('EndpointPicker: exclude, add, remove, tokens', () => {
  it('skips excluded endpoints', () => {
    const { rnd, p } = setup();
    p.add('a', 'A');
    p.add('b', 'B');
    p.add('c', 'C');
    prime(p, 'a', 1);
    // Only b and c are in the running: indices are over [b, c].
    rnd.push(0, 0);
    expect(p.pick({ exclude: ['a'] })?.name).toBe('b');
    expect(p.pick({ exclude: ['a', 'b'] })?.name).toBe('c');
    expect(p.pick({ exclude: ['a', 'b', 'c'] })).toBeUndefined();
    expect(p.pick({ exclude: ['zzz', 'a', 'b'] })?.name).toBe('c');
    expect(rnd.left()).toBe(0);
  });

  it('refuses a duplicate name and an unknown start', () => {
    const { p } = setup();
    p.add('a', 'A');
    expect(() => p.add('a', 'A2')).toThrow(/already known/);
    try {
      p.start('nope');
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_NOT_FOUND')).toBe(true);
    }
  });

  it('finishes a token once; a token of a removed endpoint never touches a new one of that name', () => {
    const { p } = setup({ breaker: { failureThreshold: 1 } });
    p.add('a', 'A');
    const t = p.start('a');
    const old = p.start('a');
    expect(p.finish(t, { ok: true, latencyMs: 10 })).toBe(true);
    expect(p.finish(t, { ok: true, latencyMs: 10 })).toBe(false);
    expect(p.snapshot()[0]?.outstanding).toBe(1);
    expect(p.remove('a')).toBe(true);
    expect(p.remove('a')).toBe(false);
    expect(p.pick()).toBeUndefined();
    p.add('a', 'A2');
    expect(p.finish(old, { ok: false })).toBe(false);
    expect(p.snapshot()).toEqual([
      { name: 'a', outstanding: 0, latencyMs: undefined, latencySamples: 0, cost: 1, breaker: 'closed', eligible: true },
    ]);
    // A forged token is no token.
    expect(p.finish({ name: 'a', startedAt: 0 }, { ok: false })).toBe(false);
    expect(p.size).toBe(1);
    expect(p.has('a')).toBe(true);
  });

  it('rejects a bad latency without spending the token', () => {
    const { p } = setup();
    p.add('a', 'A');
    const t = p.start('a');
    expect(() => p.finish(t, { ok: true, latencyMs: -1 })).toThrow(/latencyMs = -1/);
    expect(() => p.finish(t, { ok: true, latencyMs: Number.NaN })).toThrow(/latencyMs/);
    expect(p.finish(t, { ok: true, latencyMs: 3 })).toBe(true);
  });

  it('rejects bad options at construction', () => {
    const clock = new ManualClock();
    const random = (): number => 0;
    expect(() => new EndpointPicker({ clock, random, halfLifeMs: 0 })).toThrow(/halfLifeMs/);
    expect(() => new EndpointPicker({ clock, random, defaultLatencyMs: -1 })).toThrow(/defaultLatencyMs/);
    expect(() => new EndpointPicker({ clock, random, breaker: { openMs: -5 } })).toThrow(/openMs/);
  });
});

type Op =
  | { kind: 'add'; ep: number }
  | { kind: 'remove'; ep: number }
  | { kind: 'start'; ep: number }
  | { kind: 'finish'; slot: number; outcome: 'ok' | 'fail' | 'none'; latencyMs: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'pick'; exclude: number[] };

const NAMES = ['e0', 'e1', 'e2', 'e3'];
const ep = fc.integer({ min: 0, max: NAMES.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), ep }),
  fc.record({ kind: fc.constant('remove' as const), ep }),
  fc.record({ kind: fc.constant('start' as const), ep }),
  fc.record({
    kind: fc.constant('finish' as const),
    slot: fc.nat(50),
    outcome: fc.constantFrom('ok' as const, 'fail' as const, 'fail' as const, 'none' as const),
    latencyMs: fc.integer({ min: 0, max: 500 }),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }),
  fc.record({ kind: fc.constant('pick' as const), exclude: fc.array(ep, { maxLength: 3 }) }),
);

describe('EndpointPicker: property', () => {
  it('never picks an ineligible endpoint, and picks one whenever one is eligible', () => {
    // Picks made while some known endpoint was held back by its breaker: the property is not
    // vacuous only if these happen.
    let guarded = 0;
    fc.assert(
      fc.property(fc.integer(), fc.array(op, { minLength: 20, maxLength: 150, size: 'max' }), (seed, ops) => {
        const clock = new ManualClock(0);
        const p = new EndpointPicker<number>({
          clock,
          random: createRng(seed).next,
          breaker: { failureThreshold: 2, openMs: 100, maxOpenMs: 400, windowSize: 6, minSamples: 4 },
        });
        NAMES.forEach((n, i) => p.add(n, i));
        const tokens: EndpointToken[] = [];
        for (const o of ops) {
          const name = o.kind === 'add' || o.kind === 'remove' || o.kind === 'start' ? NAMES[o.ep]! : '';
          switch (o.kind) {
            case 'add':
              if (!p.has(name)) p.add(name, o.ep);
              break;
            case 'remove':
              p.remove(name);
              break;
            case 'start': {
              const s = p.snapshot().find((x) => x.name === name);
              if (!s) break;
              if (s.eligible) tokens.push(p.start(name));
              else expect(() => p.start(name)).toThrow(/circuit breaker/);
              break;
            }
            case 'finish': {
              const t = tokens.splice(o.slot % Math.max(1, tokens.length), 1)[0];
              if (!t) break;
              p.finish(t, o.outcome === 'none' ? undefined : { ok: o.outcome === 'ok', latencyMs: o.latencyMs });
              break;
            }
            case 'advance':
              clock.advance(o.ms);
              break;
            case 'pick': {
              const exclude = o.exclude.map((i) => NAMES[i]!);
              const snap = p.snapshot();
              if (snap.some((s) => !s.eligible)) guarded++;
              const allowed = snap.filter((s) => s.eligible && !exclude.includes(s.name));
              const got = p.pick({ exclude });
              if (allowed.length === 0) {
                expect(got).toBeUndefined();
              } else {
                const chosen = allowed.find((s) => s.name === got?.name);
                expect(chosen).toBeDefined();
                expect(chosen?.breaker).not.toBe('open');
                expect(got?.cost).toBe(chosen?.cost);
                expect(got?.payload).toBe(NAMES.indexOf(got?.name ?? ''));
              }
              break;
            }
          }
          if (p.snapshot().some((s) => s.outstanding < 0)) throw new Error('negative outstanding');
        }
      }),
      { numRuns: 200 },
    );
    expect(guarded).toBeGreaterThan(50);
  });
});
