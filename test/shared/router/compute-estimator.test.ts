import { describe, expect, it } from 'vitest';
import { batchBucket, ComputeEstimator, DEFAULT_COMPUTE_HALF_LIFE_MS } from '../../../shared/router/compute-estimator.js';
import { ManualClock } from '../../../shared/time.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

function estimator(halfLifeMs = 1000): { clock: ManualClock; ce: ComputeEstimator } {
  const clock = new ManualClock();
  return { clock, ce: new ComputeEstimator({ clock, halfLifeMs }) };
}

describe('batchBucket', () => {
  it.each([
    [1, 1], [2, 2], [3, 4], [4, 4], [5, 8], [8, 8], [9, 16], [100, 128], [2 ** 30, 2 ** 30],
  ])('puts batch %d in bucket %d', (batch, bucket) => {
    expect(batchBucket(batch)).toBe(bucket);
  });

  it.each([0, -1, 1.5, NaN, Infinity, 2 ** 30 + 1])('rejects batch size %d', (b) => {
    expect(() => batchBucket(b)).toThrow(/batch size = .*expected an integer in \[1, 1073741824\]/);
  });
});

describe('ComputeEstimator', () => {
  it('defaults to a 10 s half-life', () => {
    expect(DEFAULT_COMPUTE_HALF_LIFE_MS).toBe(10_000);
    const clock = new ManualClock();
    const ce = new ComputeEstimator({ clock });
    ce.observe('m', 1, 10);
    clock.advance(10_000);
    ce.observe('m', 1, 20);
    expect(ce.estimate('m', 1)).toBe(15);
  });

  it('knows nothing of a model with no samples', () => {
    const { ce } = estimator();
    expect(ce.estimate('m', 1)).toBeUndefined();
    ce.observe('other', 1, 5);
    expect(ce.estimate('m', 1)).toBeUndefined();
    expect(ce.buckets('m')).toEqual([]);
  });

  it('answers from the batch\'s own bucket, flat within it', () => {
    const { ce } = estimator();
    ce.observe('m', 3, 40);
    expect(ce.estimate('m', 3)).toBe(40);
    expect(ce.estimate('m', 4)).toBe(40);
  });

  it('folds samples of one bucket with the time-decayed Ewma', () => {
    const { clock, ce } = estimator();
    ce.observe('m', 4, 40);
    clock.advance(1000);
    ce.observe('m', 3, 20);
    expect(ce.estimate('m', 4)).toBe(30);
    clock.advance(2000);
    ce.observe('m', 4, 70);
    expect(ce.estimate('m', 4)).toBe(0.25 * 30 + 0.75 * 70);
    expect(ce.buckets('m')).toEqual([{ batch: 4, ms: 60, samples: 3 }]);
  });

  it('scales the nearest observed bucket linearly, bucket to bucket, up and down', () => {
    const { ce } = estimator();
    ce.observe('m', 2, 10);
    expect(ce.estimate('m', 8)).toBe(40);
    expect(ce.estimate('m', 5)).toBe(40);
    expect(ce.estimate('m', 3)).toBe(20);
    expect(ce.estimate('m', 1)).toBe(5);
    expect(ce.estimate('m', 64)).toBe(320);
  });

  it('picks the bucket fewest doublings away', () => {
    const { ce } = estimator();
    ce.observe('m', 1, 3);
    ce.observe('m', 16, 100);
    expect(ce.estimate('m', 8)).toBe(50); // 16 is one doubling away, 1 is three
    expect(ce.estimate('m', 2)).toBe(6); // 1 is one doubling away, 16 is three
    expect(ce.estimate('m', 32)).toBe(200);
  });

  it('breaks a tie toward the smaller bucket (scaling up errs high on a sublinear cost)', () => {
    const { ce } = estimator();
    ce.observe('m', 1, 3);
    ce.observe('m', 16, 100);
    expect(ce.estimate('m', 4)).toBe(12); // 1 and 16 are both two doublings from 4
  });

  it('keeps models apart and lists buckets smallest first', () => {
    const { ce } = estimator();
    ce.observe('a', 8, 80);
    ce.observe('a', 1, 12);
    ce.observe('b', 1, 99);
    expect(ce.estimate('a', 1)).toBe(12);
    expect(ce.estimate('b', 1)).toBe(99);
    expect(ce.buckets('a')).toEqual([
      { batch: 1, ms: 12, samples: 1 },
      { batch: 8, ms: 80, samples: 1 },
    ]);
  });

  it('takes "__proto__" as a model name like any other', () => {
    const { ce } = estimator();
    ce.observe('__proto__', 1, 7);
    expect(ce.estimate('__proto__', 2)).toBe(14);
    expect(ce.estimate('constructor', 1)).toBeUndefined();
  });

  it.each([-1, NaN, Infinity])('rejects compute ms = %d with CLEAVE_E_BAD_ARGUMENT', (ms) => {
    const { ce } = estimator();
    const err = cleaveErrorOf(() => ce.observe('m', 1, ms));
    expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(err.message).toMatch(/compute ms = .* for model "m": expected a finite number >= 0/);
    expect(ce.estimate('m', 1)).toBeUndefined();
  });

  it('rejects a bad batch size in observe and estimate', () => {
    const { ce } = estimator();
    expect(() => ce.observe('m', 0, 1)).toThrow(/batch size = 0/);
    expect(() => ce.estimate('m', 2.5)).toThrow(/batch size = 2.5/);
  });

  it('rejects a bad half-life', () => {
    expect(() => new ComputeEstimator({ clock: new ManualClock(), halfLifeMs: 0 })).toThrow(/halfLifeMs = 0/);
  });
});
