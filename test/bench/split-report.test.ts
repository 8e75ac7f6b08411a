// The split report's statistics: the bootstrap interval that says whether auto's miss is noise.
import { describe, expect, it } from 'vitest';
import { compare, medianRatioCi, summarise } from '../../bench/split-report.js';

describe('medianRatioCi', () => {
  it('contains 1 for two samples of the same distribution and excludes it for a clear gap', () => {
    const same = Array.from({ length: 30 }, (_, i) => 40 + (i % 7));
    const [lo, hi] = medianRatioCi(same, [...same].reverse());
    expect(lo).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThanOrEqual(1);
    const slower = same.map((x) => x * 1.5);
    const [lo2, hi2] = medianRatioCi(slower, same);
    expect(lo2).toBeGreaterThan(1.3);
    expect(hi2).toBeLessThan(1.7);
  });

  it('is reproducible from its seed and NaN for an empty side', () => {
    const a = [5, 9, 2, 7, 7, 3, 8];
    const b = [4, 6, 6, 9, 1, 5, 5];
    expect(medianRatioCi(a, b)).toEqual(medianRatioCi(a, b));
    expect(medianRatioCi([], b).every(Number.isNaN)).toBe(true);
  });

  it('is what compare() reports for auto against the oracle', () => {
    const edge = summarise('edge', 'edge', [40, 41, 42, 43, 44], [], 0, {});
    const cloud = summarise('cloud', 'cloud', [90, 91, 92, 93, 94], [], 0, {});
    const auto = summarise('auto', 'auto', [42, 43, 44, 45, 46], [], 0, {});
    const r = compare('cnn', [edge, cloud, auto]);
    expect(r.oracle).toBe('edge');
    expect(r.autoOverOracleCi).toEqual(medianRatioCi(auto.ms, edge.ms));
  });
});
