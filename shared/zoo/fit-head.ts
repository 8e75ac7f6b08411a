/**
 * Fitting a classifier head the way training would leave it, without training. Random networks
 * give near-tie or collapsed outputs (one class always wins), which would make every agreement
 * figure in Cleave measure noise. So the last layer is set from the body's features on a
 * calibration set:
 *
 * 1. each class reads a random direction inside the features' top principal subspace: the
 *    directions that vary most between samples, which a trained head reads too. Directions of
 *    tiny variance would flip on any float or quantization noise (with plain random directions,
 *    cnn-small's int8 variant agreed with fp32 on 94% of answers; with this, 99%);
 * 2. each class logit is standardised over the calibration set (z-score per class, which
 *    balances how often each class wins) and decorrelated from the others (ZCA whitening with
 *    a ridge), so no class shadows another and the biases stay small;
 * 3. one scale is searched so the mean top-1 softmax probability hits a trained model's level;
 * 4. the folded weights are rounded to 4 significant digits, so tiny float differences between
 *    machines (in the calibration run) rarely change the model's bytes.
 */
import { CleaveError } from '../errors.js';
import { principalSubspace } from './principal-subspace.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** Mean top-1 probability the scale is searched for; trained classifiers sit around 0.85 to 0.9. */
export const DEFAULT_TARGET_TOP1 = 0.875;

/** What the head is fitted from. */
export interface HeadFitInput {
  /** Body features, row-major [rows, featureDim]. */
  readonly features: ArrayLike<number>;
  readonly rows: number;
  readonly featureDim: number;
  readonly classes: number;
  /** Random projection, row-major [featureDim, classes]. */
  readonly projection: Float32Array;
  /** Target mean top-1 probability over the calibration rows. Default DEFAULT_TARGET_TOP1. */
  readonly targetTop1?: number;
  /**
   * Ridge added to the eigenvalues of the class-logit correlation matrix before whitening, as a
   * fraction of their mean (1). Keeps directions the features barely span from being blown up.
   * Default 0.3.
   */
  readonly ridge?: number;
  /**
   * Restrict the projection to the features' top principal subspace of this many dimensions
   * (see principal-subspace.ts); 0 keeps it as given. Default: the number of classes.
   */
  readonly principalDims?: number;
}

/** The fitted last layer: logits = features @ weight + bias. */
export interface FittedHead {
  /** Row-major [featureDim, classes], rounded to 4 significant digits. */
  readonly weight: Float32Array;
  /** [classes], rounded to 4 significant digits. */
  readonly bias: Float32Array;
  /** Logit scale found by the search (3 significant digits). */
  readonly scale: number;
  /** Mean top-1 probability on the calibration rows at that scale. */
  readonly calibrationTop1: number;
  /** Eigenvalues of the standardised logits' correlation matrix, largest first (diagnostics). */
  readonly logitSpectrum: readonly number[];
}

/** v rounded to `digits` significant decimal digits (exact: through the decimal string). */
export function roundSignificant(v: number, digits = 4): number {
  return v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(digits));
}

function meanTop1(z: Float64Array, rows: number, classes: number, scale: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, z[r * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(scale * (z[r * classes + c]! - max));
    total += 1 / sum;
  }
  return total / rows;
}

/** The projection with each column replaced by its component in the top principal subspace. */
function restrictToPrincipal(input: HeadFitInput): Float64Array {
  const { featureDim: f, classes: c } = input;
  const k = Math.min(input.principalDims ?? c, f, input.rows - 1);
  const p = Float64Array.from(input.projection);
  if (k <= 0) return p;
  // Start from the projection's own columns (rows rotated for each extra round when k > c), so
  // the result depends on nothing but the inputs.
  const start = new Float64Array(f * k);
  for (let d = 0; d < f; d++) for (let j = 0; j < k; j++) start[d * k + j] = p[((d + Math.floor(j / c)) % f) * c + (j % c)]!;
  const q = principalSubspace(input.features, input.rows, f, start, k);
  // p <- Q (Q^T p)
  const qtp = new Float64Array(k * c);
  for (let d = 0; d < f; d++) for (let i = 0; i < k; i++) for (let j = 0; j < c; j++) qtp[i * c + j] = qtp[i * c + j]! + q[d * k + i]! * p[d * c + j]!;
  for (let d = 0; d < f; d++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += q[d * k + i]! * qtp[i * c + j]!;
      p[d * c + j] = s;
    }
  }
  return p;
}

/** Fits the head (see the file comment). Throws CLEAVE_E_INTERNAL when a class logit is constant. */
export function fitHead(input: HeadFitInput): FittedHead {
  const { features, rows, featureDim: f, classes: c } = input;
  const target = input.targetTop1 ?? DEFAULT_TARGET_TOP1;
  const projection = restrictToPrincipal(input);
  const z = new Float64Array(rows * c);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < f; k++) {
      const x = features[r * f + k]!;
      if (x === 0) continue;
      for (let j = 0; j < c; j++) z[r * c + j] = z[r * c + j]! + x * projection[k * c + j]!;
    }
  }
  const mean = new Float64Array(c);
  const std = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += z[r * c + j]!;
    const m = s / rows;
    let v = 0;
    for (let r = 0; r < rows; r++) v += (z[r * c + j]! - m) ** 2;
    mean[j] = m;
    std[j] = Math.sqrt(v / rows);
    if (!(std[j]! > 0)) throw new CleaveError('CLEAVE_E_INTERNAL', `zoo head fit: class ${j} logit is constant over ${rows} calibration rows; the body's features do not vary`);
  }
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) z[r * c + j] = (z[r * c + j]! - mean[j]!) / std[j]!;

  // Symmetric (ZCA) whitening: M = V (L + ridge)^-1/2 V^T keeps each class's logit as close as
  // possible to its own standardised projection while removing the correlations between them.
  const corr = new Float64Array(c * c);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < c; i++) {
      const zi = z[r * c + i]!;
      for (let j = i; j < c; j++) corr[i * c + j] = corr[i * c + j]! + zi * z[r * c + j]!;
    }
  }
  for (let i = 0; i < c; i++) {
    for (let j = i; j < c; j++) {
      corr[i * c + j] = corr[i * c + j]! / rows;
      corr[j * c + i] = corr[i * c + j]!;
    }
  }
  const { values, vectors } = symmetricEigen(corr, c);
  const ridge = input.ridge ?? 0.3;
  const mix = new Float64Array(c * c);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += (vectors[i * c + k]! * vectors[j * c + k]!) / Math.sqrt(Math.max(values[k]!, 0) + ridge);
      mix[i * c + j] = s;
    }
  }
  const white = new Float64Array(rows * c);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let i = 0; i < c; i++) s += z[r * c + i]! * mix[i * c + j]!;
      white[r * c + j] = s;
    }
  }
  // The ridge leaves variances a little under 1: standardise once more (means are already 0).
  const post = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let v = 0;
    for (let r = 0; r < rows; r++) v += white[r * c + j]! ** 2;
    post[j] = Math.sqrt(v / rows);
    for (let r = 0; r < rows; r++) white[r * c + j] = white[r * c + j]! / post[j]!;
  }
  z.set(white);

  // Mean top-1 grows with the scale; bisect on log scale between "uniform" and "one-hot".
  let lo = Math.log(1e-3);
  let hi = Math.log(1e3);
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (meanTop1(z, rows, c, Math.exp(mid)) < target) lo = mid;
    else hi = mid;
  }
  const scale = roundSignificant(Math.exp((lo + hi) / 2), 3);
  // Fold everything into one linear layer: logit_j = scale / post_j * sum_i mix_ij (p_i . x - mean_i) / std_i.
  const weight = new Float32Array(f * c);
  const bias = new Float32Array(c);
  const coef = new Float64Array(c * c);
  for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) coef[i * c + j] = (scale * mix[i * c + j]!) / (std[i]! * post[j]!);
  for (let k = 0; k < f; k++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let i = 0; i < c; i++) s += projection[k * c + i]! * coef[i * c + j]!;
      weight[k * c + j] = roundSignificant(s);
    }
  }
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let i = 0; i < c; i++) s -= mean[i]! * coef[i * c + j]!;
    bias[j] = roundSignificant(s);
  }
  return {
    weight,
    bias,
    scale,
    calibrationTop1: meanTop1(z, rows, c, scale),
    logitSpectrum: [...values].sort((a, b) => b - a),
  };
}
