import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../shared/tensor.js';
import { exitCurve, EXIT_THRESHOLDS } from '../../shared/zoo/exit-curve.js';
import { fitExitHead, globalAveragePool, ridgeSolve } from '../../shared/zoo/fit-exit-head.js';
import { roundSignificant } from '../../shared/zoo/index.js';
import { createZooRng } from '../../shared/zoo/prng.js';

/** rows x dim normal features (from `seed`) and Y = X W + b for a random W [dim, out] and b [out] (from `mapSeed`). */
function linearData(rows: number, dim: number, out: number, seed: number, mapSeed = 50) {
  const rng = createZooRng(seed);
  const x = Float64Array.from({ length: rows * dim }, () => rng.normal() * 2 + 1);
  const map = createZooRng(mapSeed);
  const w = Float64Array.from({ length: dim * out }, () => map.normal());
  const b = Float64Array.from({ length: out }, () => map.normal() * 3);
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) for (let j = 0; j < out; j++) {
    let s = b[j]!;
    for (let k = 0; k < dim; k++) s += x[r * dim + k]! * w[k * out + j]!;
    y[r * out + j] = s;
  }
  return { x, w, b, y };
}

describe('ridgeSolve', () => {
  it('recovers a known linear map and bias exactly from noiseless data (lambda 0)', () => {
    const { x, w, b, y } = linearData(60, 12, 5, 1);
    const got = ridgeSolve(x, 60, 12, y, 5, 0);
    expect(got.length).toBe(13 * 5);
    for (let i = 0; i < w.length; i++) expect(got[i]).toBeCloseTo(w[i]!, 9);
    for (let j = 0; j < 5; j++) expect(got[12 * 5 + j]).toBeCloseTo(b[j]!, 9);
  });

  it('shrinks the weights as lambda grows but never the bias (a huge ridge leaves the mean)', () => {
    const { x, y } = linearData(80, 6, 3, 2);
    const norm = (lambda: number): number => {
      const s = ridgeSolve(x, 80, 6, y, 3, lambda);
      let n = 0;
      for (let i = 0; i < 6 * 3; i++) n += s[i]! ** 2;
      return n;
    };
    expect(norm(10)).toBeLessThan(norm(0));
    expect(norm(1000)).toBeLessThan(norm(10));
    const flat = ridgeSolve(x, 80, 6, y, 3, 1e12);
    for (let j = 0; j < 3; j++) {
      let mean = 0;
      for (let r = 0; r < 80; r++) mean += y[r * 3 + j]! / 80;
      expect(flat[6 * 3 + j]).toBeCloseTo(mean, 6);
    }
  });

  it('refuses a singular system without a ridge, and solves it with one', () => {
    // Column 1 = 2 * column 0.
    const x = Float64Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? i : 2 * (i - 1)));
    const y = Float64Array.from({ length: 10 }, (_, i) => i);
    expect(() => ridgeSolve(x, 10, 2, y, 1, 0)).toThrow(/singular/);
    expect(ridgeSolve(x, 10, 2, y, 1, 1e-3).every(Number.isFinite)).toBe(true);
  });

  it('rejects mismatched sizes and a negative lambda with coded errors', () => {
    expect(() => ridgeSolve(new Float64Array(5), 2, 3, new Float64Array(2), 1, 0)).toThrow(expect.objectContaining({ code: 'CLEAVE_E_BAD_ARGUMENT' }));
    expect(() => ridgeSolve(new Float64Array(6), 2, 3, new Float64Array(2), 1, -1)).toThrow(expect.objectContaining({ code: 'CLEAVE_E_BAD_ARGUMENT' }));
  });
});

describe('globalAveragePool', () => {
  it('averages each channel over H x W', () => {
    // 2 rows, 2 channels, 2x2.
    const a = Float32Array.from([1, 2, 3, 4, 0, 0, 0, 8, 5, 5, 5, 5, -1, 1, -1, 1]);
    expect([...globalAveragePool(a, 2, 2, 4)]).toEqual([2.5, 2, 5, 0]);
  });
});

describe('fitExitHead', () => {
  const rows = 256, dim = 24, c = 10;
  const { x, y } = linearData(rows, dim, c, 3);
  const head = fitExitHead({ features: x, rows, featureDim: dim, targets: y, classes: c });

  it('reproduces the top-1 of a linear target it can represent, in and out of fold', () => {
    expect(head.cvAgreement).toBe(1);
    const held = linearData(64, dim, c, 4);
    let agree = 0;
    for (let r = 0; r < 64; r++) {
      const z = Array.from({ length: c }, (_, j) => {
        let s = head.bias[j]!;
        for (let k = 0; k < dim; k++) s += held.x[r * dim + k]! * head.weight[k * c + j]!;
        return s;
      });
      const t = Array.from({ length: c }, (_, j) => held.y[r * c + j]!);
      if (z.indexOf(Math.max(...z)) === t.indexOf(Math.max(...t))) agree++;
    }
    expect(agree).toBe(64);
  });

  it('picks the weakest ridge of the grid for noiseless data and stores rounded weights', () => {
    expect(head.ridge).toBe(1e-4);
    for (const v of [...head.weight, ...head.bias]) expect(Math.fround(roundSignificant(v))).toBe(v);
  });

  it('is deterministic', () => {
    const again = fitExitHead({ features: x, rows, featureDim: dim, targets: y, classes: c });
    expect([...again.weight]).toEqual([...head.weight]);
    expect([...again.bias]).toEqual([...head.bias]);
    expect(again.scale).toBe(head.scale);
  });

  it('lowers the temperature-scaled confidence when the targets are noisy', () => {
    const rng = createZooRng(9);
    const noisy = y.map((v) => v + rng.normal() * 8);
    const h = fitExitHead({ features: x, rows, featureDim: dim, targets: noisy, classes: c });
    expect(h.cvAgreement).toBeLessThan(1);
    expect(h.scale).toBeLessThan(head.scale);
  });

  it('needs at least two rows per fold', () => {
    expect(() => fitExitHead({ features: new Float64Array(7 * 2), rows: 7, featureDim: 2, targets: new Float64Array(7), classes: 1 })).toThrow(/at least 8/);
  });
});

describe('exitCurve', () => {
  // Row confidences: row 0 sure (0.97), row 1 middling (0.71), row 2 flat (0.25).
  const exit = hostTensor('float32', [3, 4], Float32Array.from([6, 2, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0]));
  const full = hostTensor('float32', [3, 4], Float32Array.from([9, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 9]));

  it('counts exits and agreement among them and overall, per threshold', () => {
    const curve = exitCurve(exit, full, [0.2, 0.5, 0.9, 0.999]);
    expect(curve.map((p) => p.exitRate)).toEqual([1, 2 / 3, 1 / 3, 0]);
    // Row 0 agrees (class 0), row 1 does not (1 vs 2), row 2 does not (0 vs 3).
    expect(curve.map((p) => p.agreement)).toEqual([1 / 3, 1 / 2, 1, null]);
    expect(curve.map((p) => p.overallAgreement)).toEqual([1 / 3, 2 / 3, 1, 1]);
  });

  it('uses the manifest thresholds by default and rejects mismatched shapes', () => {
    expect(exitCurve(exit, full).map((p) => p.threshold)).toEqual(EXIT_THRESHOLDS);
    expect(() => exitCurve(exit, hostTensor('float32', [2, 4], new Float32Array(8)))).toThrow(expect.objectContaining({ code: 'CLEAVE_E_SHAPE' }));
  });
});
