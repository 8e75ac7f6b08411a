import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../shared/errors.js';
import { Ewma, ewmaWeight, PeakEwma } from '../../../shared/router/ewma.js';
import { ManualClock } from '../../../shared/time.js';

const H = 1000;

function ewmaAt(start = 0): { clock: ManualClock; e: Ewma } {
  const clock = new ManualClock(start);
  return { clock, e: new Ewma({ halfLifeMs: H, clock }) };
}

describe('ewmaWeight', () => {
  it.each([
    [0, 1],
    [-5, 1],
    [1000, 0.5],
    [2000, 0.25],
    [3000, 0.125],
    [10_000, 1 / 1024],
    [Infinity, 0],
  ])('after %d ms with a 1000 ms half-life the old estimate weighs %d', (dt, w) => {
    expect(ewmaWeight(dt, H)).toBe(w);
  });

  it('is 2^(-dt/H) between half-lives', () => {
    expect(ewmaWeight(500, H)).toBe(Math.pow(2, -0.5));
    expect(ewmaWeight(1, H)).toBe(Math.pow(2, -0.001));
  });
});

/** (ms to advance, sample) pairs: gaps of the order of the half-life, so weights land inside (0, 1). */
function steps(values: fc.Arbitrary<number>): fc.Arbitrary<[number, number][]> {
  return fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), values), { minLength: 1, maxLength: 60 });
}

describe('Ewma', () => {
  it('has no value, samples or time before the first sample', () => {
    const { e } = ewmaAt();
    expect(e.value()).toBeUndefined();
    expect(e.samples).toBe(0);
    expect(e.lastAt).toBeUndefined();
    expect(e.ageMs()).toBeUndefined();
  });

  it('takes the first sample as is', () => {
    const { e } = ewmaAt(7);
    e.observe(123);
    expect(e.value()).toBe(123);
    expect(e.samples).toBe(1);
    expect(e.lastAt).toBe(7);
  });

  it('gives a sample one half-life after the last half the say', () => {
    const { clock, e } = ewmaAt();
    e.observe(100);
    clock.advance(1000);
    e.observe(200);
    expect(e.value()).toBe(150);
    expect(e.samples).toBe(2);
    expect(e.lastAt).toBe(1000);
  });

  it('lets a sparse sample move the estimate further: 50% after one half-life, 75% after two, 87.5% after three', () => {
    for (const [dt, want] of [[1000, 150], [2000, 175], [3000, 187.5]] as const) {
      const { clock, e } = ewmaAt();
      e.observe(100);
      clock.advance(dt);
      e.observe(200);
      expect(e.value()).toBe(want);
    }
  });

  it('lets a dense sample (1 ms later) barely move it, by exactly 1 - 2^(-1/1000)', () => {
    const { clock, e } = ewmaAt();
    e.observe(100);
    clock.advance(1);
    e.observe(200);
    const w = Math.pow(2, -0.001);
    expect(e.value()).toBe(w * 100 + (1 - w) * 200);
    expect(e.value()).toBeLessThan(100.07);
  });

  it('ignores a sample in the same millisecond as the last (no time passed)', () => {
    const { e } = ewmaAt();
    e.observe(100);
    e.observe(1_000_000);
    expect(e.value()).toBe(100);
    expect(e.samples).toBe(2);
  });

  it('weighs by time, not count: two samples over two half-lives land where one sample at the end does', () => {
    const dense = ewmaAt();
    dense.e.observe(100);
    dense.clock.advance(1000);
    dense.e.observe(200);
    dense.clock.advance(1000);
    dense.e.observe(200);
    const sparse = ewmaAt();
    sparse.e.observe(100);
    sparse.clock.advance(2000);
    sparse.e.observe(200);
    expect(dense.e.value()).toBe(175);
    expect(sparse.e.value()).toBe(175);
  });

  it('does not decay while no samples come', () => {
    const { clock, e } = ewmaAt();
    e.observe(42);
    clock.advance(1_000_000);
    expect(e.value()).toBe(42);
    expect(e.ageMs()).toBe(1_000_000);
  });

  it('treats a clock that stepped back as no time passed', () => {
    let t = 5000;
    const e = new Ewma({ halfLifeMs: H, clock: { now: () => t } });
    e.observe(100);
    t = 4000;
    e.observe(300);
    expect(e.value()).toBe(100);
    expect(e.lastAt).toBe(4000);
  });

  it('stays inside the old value and the sample despite float rounding', () => {
    // 0.3 * 0.1 + 0.7 * 0.1 is 0.09999999999999999 in doubles; the clamp keeps it at 0.1.
    let t = 0;
    const e = new Ewma({ halfLifeMs: 1, clock: { now: () => t } });
    e.observe(0.1);
    t = -Math.log2(0.3); // w = 0.3, up to rounding
    e.observe(0.1);
    expect(e.value()).toBe(0.1);
  });

  it.each([NaN, Infinity, -Infinity])('rejects the sample %d with CLEAVE_E_BAD_ARGUMENT and keeps its state', (x) => {
    const { e } = ewmaAt();
    e.observe(1);
    expect(() => e.observe(x)).toThrow(/EWMA sample/);
    try {
      e.observe(x);
    } catch (err) {
      expect(isCleaveError(err, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
    }
    expect(e.value()).toBe(1);
    expect(e.samples).toBe(1);
  });

  it.each([0, -1, NaN, Infinity])('rejects halfLifeMs = %d', (h) => {
    expect(() => new Ewma({ halfLifeMs: h, clock: new ManualClock() })).toThrow(/halfLifeMs = .*expected a finite number > 0/);
  });

  it('never leaves [min, max] of the samples seen (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.oneof(
          steps(fc.double({ min: -1e12, max: 1e12, noNaN: true })),
          // Few distinct values, so runs repeat one: w * v + (1 - w) * v can round outside [v, v].
          steps(fc.constantFrom(0.1, 0.3, 1 / 3, -0.7)),
        ),
        fc.boolean(),
        (halfLifeMs, seq, peak) => {
          const clock = new ManualClock();
          const e = peak ? new PeakEwma({ halfLifeMs, clock }) : new Ewma({ halfLifeMs, clock });
          let lo = Infinity;
          let hi = -Infinity;
          for (const [dt, x] of seq) {
            clock.advance(dt);
            e.observe(x);
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
            const v = e.value();
            expect(v).toBeDefined();
            expect(v!).toBeGreaterThanOrEqual(lo);
            expect(v!).toBeLessThanOrEqual(hi);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('PeakEwma', () => {
  function peakAt(): { clock: ManualClock; e: PeakEwma } {
    const clock = new ManualClock();
    return { clock, e: new PeakEwma({ halfLifeMs: H, clock }) };
  }

  it('believes a peak at once, even in the same millisecond', () => {
    const { e } = peakAt();
    e.observe(100);
    e.observe(300);
    expect(e.value()).toBe(300);
  });

  it('where a plain Ewma barely moves on the same peak 1 ms later', () => {
    const plain = ewmaAt();
    const peak = peakAt();
    for (const { clock, e } of [plain, peak]) {
      e.observe(100);
      clock.advance(1);
      e.observe(300);
    }
    expect(peak.e.value()).toBe(300);
    expect(plain.e.value()).toBeLessThan(100.2);
  });

  it('decays toward lower samples by the Ewma rule', () => {
    const { clock, e } = peakAt();
    e.observe(100);
    clock.advance(1);
    e.observe(300);
    clock.advance(1000);
    e.observe(100);
    expect(e.value()).toBe(200);
    clock.advance(2000);
    e.observe(100);
    expect(e.value()).toBe(125);
    expect(e.samples).toBe(4);
  });

  it('keeps an estimate equal to the sample unchanged', () => {
    const { clock, e } = peakAt();
    e.observe(50);
    clock.advance(5000);
    e.observe(50);
    expect(e.value()).toBe(50);
  });

  it('does not decay toward zero while idle', () => {
    const { clock, e } = peakAt();
    e.observe(300);
    clock.advance(60_000);
    expect(e.value()).toBe(300);
  });
});
