import { describe, expect, it } from 'vitest';
import { fitHead, roundSignificant } from '../../shared/zoo/index.js';
import { principalSubspace } from '../../shared/zoo/principal-subspace.js';
import { createZooRng } from '../../shared/zoo/prng.js';
import { symmetricEigen } from '../../shared/zoo/symmetric-eigen.js';

/** Features like a random body's: a large shared offset, a few strong directions, some noise. */
function features(rows: number, dim: number, seed: number): Float32Array {
  const shape = createZooRng(100);
  const dirs = Array.from({ length: 6 }, () => Array.from({ length: dim }, () => shape.normal()));
  const rng = createZooRng(seed);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const a = dirs.map((_, i) => rng.normal() * (6 - i));
    for (let d = 0; d < dim; d++) {
      let v = 3 + 0.05 * rng.normal();
      dirs.forEach((dir, i) => { v += a[i]! * dir[d]! * 0.1; });
      out[r * dim + d] = v;
    }
  }
  return out;
}

function logits(x: Float32Array, rows: number, dim: number, w: Float32Array, b: Float32Array, c: number): Float64Array {
  const out = new Float64Array(rows * c);
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) {
    let s = b[j]!;
    for (let d = 0; d < dim; d++) s += x[r * dim + d]! * w[d * c + j]!;
    out[r * c + j] = s;
  }
  return out;
}

describe('fitHead', () => {
  const rows = 512, dim = 48, c = 8;
  const x = features(rows, dim, 1);
  const rng = createZooRng(2);
  const projection = Float32Array.from({ length: dim * c }, () => rng.normal());
  const head = fitHead({ features: x, rows, featureDim: dim, classes: c, projection });

  it('reaches the target mean top-1 probability on the calibration rows', () => {
    expect(head.calibrationTop1).toBeCloseTo(0.875, 2);
  });

  it('balances the classes on unseen rows of the same distribution', () => {
    const held = features(rows, dim, 3);
    const z = logits(held, rows, dim, head.weight, head.bias, c);
    const counts = new Array<number>(c).fill(0);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (z[r * c + j]! > z[r * c + best]!) best = j;
      counts[best]!++;
    }
    expect(Math.max(...counts) / rows).toBeLessThan(0.3);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });

  it('stores weights rounded to 4 significant digits', () => {
    for (const v of [...head.weight, ...head.bias]) expect(Math.fround(roundSignificant(v))).toBe(v);
  });

  it('refuses features that do not vary', () => {
    expect(() => fitHead({ features: new Float32Array(10 * 4).fill(1), rows: 10, featureDim: 4, classes: 2, projection: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }))
      .toThrow(/constant/);
  });
});

describe('linear algebra helpers', () => {
  it('symmetricEigen reconstructs A v = lambda v', () => {
    const n = 6;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = Math.sin(i * 3 + j * 7) + (i === j ? 3 : 0);
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * vectors[j * n + k]!;
      expect(s).toBeCloseTo(values[k]! * vectors[i * n + k]!, 10);
    }
  });

  it('principalSubspace finds the axis of largest variance', () => {
    const rows = 200;
    const rng = createZooRng(5);
    const x = new Float64Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      x[r * 3] = rng.normal() * 0.1;
      x[r * 3 + 1] = rng.normal() * 5;
      x[r * 3 + 2] = rng.normal() * 0.1;
    }
    const q = principalSubspace(x, rows, 3, Float64Array.from([1, 1, 1]), 1);
    expect(Math.abs(q[1]!)).toBeGreaterThan(0.999);
  });
});
