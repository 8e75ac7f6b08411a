/**
 * Fitting an early-exit head (SPINN-style) without training: a linear map from the pooled
 * activation at a cut to the base model's FINAL logits, by closed-form ridge least squares.
 *
 * 1. Features are standardised per column on the calibration rows, so one ridge strength means
 *    the same thing for every channel; the bias column is not penalised (shrinking it would pull
 *    every logit towards 0 instead of towards the mean answer).
 * 2. The ridge strength is picked from a fixed grid by k-fold cross-validation on the
 *    calibration rows (out-of-fold squared error of the logits): never by looking at the
 *    held-out evaluation set the manifest's figures come from.
 * 3. Least squares regresses towards the mean, so raw predicted logits are flatter than the
 *    base's and the softmax under-states confidence; and in-sample logits over-state it. One
 *    temperature is therefore fitted on the OUT-OF-FOLD logits (minimum cross-entropy against
 *    the base's top-1 answer, classic temperature scaling), so that "max softmax >= 0.9" means
 *    roughly "agrees with the base 9 times out of 10" on unseen inputs.
 * 4. Weights are folded into one [features, classes] matrix plus a bias and rounded to 4
 *    significant digits like fit-head.ts, so float noise in the calibration run rarely moves
 *    the model's bytes.
 */
import { CleaveError } from '../errors.js';
import { roundSignificant } from './fit-head.js';

/** Ridge strengths tried, per calibration row of standardised features (lambda = grid * rows). */
export const EXIT_RIDGE_GRID: readonly number[] = [1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1];
/** Folds of the cross-validation that picks the ridge and the temperature. Default 4. */
export const EXIT_CV_FOLDS = 4;

/**
 * Solves min_B |[X 1] B - Y|^2 + lambda |B without its bias row|^2 in closed form,
 * B = (X^T X + lambda I')^-1 X^T Y with X augmented by a bias column of ones and I' the identity
 * with a 0 for that column. Returns B row-major [dim + 1, outDim], the bias as the last row.
 * Throws CLEAVE_E_INTERNAL when the system is singular (lambda 0 and dependent columns).
 */
export function ridgeSolve(x: ArrayLike<number>, rows: number, dim: number, y: ArrayLike<number>, outDim: number, lambda: number): Float64Array {
  if (x.length !== rows * dim || y.length !== rows * outDim) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `ridgeSolve: X has ${x.length} values and Y ${y.length}, expected ${rows}x${dim} and ${rows}x${outDim}`);
  }
  const all = Array.from({ length: rows }, (_, r) => r);
  return solveNormal(normalEquations(x, dim, y, outDim, all), lambda);
}

/** X^T X and X^T Y of the bias-augmented rows `which`, summed in float64. */
interface NormalEquations {
  /** [dim + 1, dim + 1], symmetric, bias last. */
  readonly xtx: Float64Array;
  /** [dim + 1, outDim]. */
  readonly xty: Float64Array;
  readonly dim: number;
  readonly outDim: number;
}

function normalEquations(x: ArrayLike<number>, dim: number, y: ArrayLike<number>, outDim: number, which: readonly number[]): NormalEquations {
  const d = dim + 1;
  const xtx = new Float64Array(d * d);
  const xty = new Float64Array(d * outDim);
  const row = new Float64Array(d);
  for (const r of which) {
    for (let k = 0; k < dim; k++) row[k] = x[r * dim + k]!;
    row[dim] = 1;
    for (let i = 0; i < d; i++) {
      const xi = row[i]!;
      if (xi === 0) continue;
      for (let j = i; j < d; j++) xtx[i * d + j] = xtx[i * d + j]! + xi * row[j]!;
      for (let j = 0; j < outDim; j++) xty[i * outDim + j] = xty[i * outDim + j]! + xi * y[r * outDim + j]!;
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) xtx[i * d + j] = xtx[j * d + i]!;
  return { xtx, xty, dim, outDim };
}

/** a - b, term by term (the normal equations of a set of rows minus a subset's). */
function minus(a: NormalEquations, b: NormalEquations): NormalEquations {
  return { ...a, xtx: a.xtx.map((v, i) => v - b.xtx[i]!), xty: a.xty.map((v, i) => v - b.xty[i]!) };
}

function solveNormal(eq: NormalEquations, lambda: number): Float64Array {
  if (!(lambda >= 0)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `ridgeSolve: lambda is ${lambda}, expected >= 0`);
  const d = eq.dim + 1;
  const a = Float64Array.from(eq.xtx);
  for (let i = 0; i < eq.dim; i++) a[i * d + i] = a[i * d + i]! + lambda;
  return choleskySolve(a, d, eq.xty, eq.outDim);
}

/** Solves A B = R for symmetric positive definite A [n, n] and R [n, m] (Cholesky, in float64). */
function choleskySolve(a: Float64Array, n: number, r: Float64Array, m: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j]!;
    for (let k = 0; k < j; k++) s -= l[j * n + k]! ** 2;
    // Relative pivot floor: a pivot lost to rounding means a column the others already span.
    if (!(s > 1e-12 * Math.max(1, a[j * n + j]!))) {
      throw new CleaveError('CLEAVE_E_INTERNAL', `ridgeSolve: the normal equations are singular at column ${j}; give a ridge > 0 or independent features`);
    }
    const ljj = Math.sqrt(s);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j]!;
      for (let k = 0; k < j; k++) t -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = t / ljj;
    }
  }
  const out = Float64Array.from(r);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = out[i * m + c]!;
      for (let k = 0; k < i; k++) s -= l[i * n + k]! * out[k * m + c]!;
      out[i * m + c] = s / l[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = out[i * m + c]!;
      for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * out[k * m + c]!;
      out[i * m + c] = s / l[i * n + i]!;
    }
  }
  return out;
}

/** Mean over channels' H x W of an NCHW activation: [rows, channels] in float64. */
export function globalAveragePool(activation: ArrayLike<number>, rows: number, channels: number, spatial: number): Float64Array {
  const out = new Float64Array(rows * channels);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) {
      let s = 0;
      const base = (r * channels + c) * spatial;
      for (let i = 0; i < spatial; i++) s += activation[base + i]!;
      out[r * channels + c] = s / spatial;
    }
  }
  return out;
}

/** What an exit head is fitted from. */
export interface ExitFitInput {
  /** Pooled features at the cut, row-major [rows, featureDim]. */
  readonly features: ArrayLike<number>;
  readonly rows: number;
  readonly featureDim: number;
  /** The base model's final logits on the same rows, [rows, classes]. */
  readonly targets: ArrayLike<number>;
  readonly classes: number;
  /** Ridge strengths to try (per row). Default EXIT_RIDGE_GRID. */
  readonly ridgeGrid?: readonly number[];
  /** Cross-validation folds. Default EXIT_CV_FOLDS (4). */
  readonly folds?: number;
}

/** The fitted exit head: logits = features @ weight + bias. */
export interface FittedExitHead {
  /** Row-major [featureDim, classes], rounded to 4 significant digits. */
  readonly weight: Float32Array;
  /** [classes], rounded to 4 significant digits. */
  readonly bias: Float32Array;
  /** Ridge strength chosen, per calibration row of standardised features. */
  readonly ridge: number;
  /** Logit scale (1 / temperature) fitted on the out-of-fold logits (3 significant digits). */
  readonly scale: number;
  /** Out-of-fold top-1 agreement with the base on the calibration rows (diagnostics). */
  readonly cvAgreement: number;
}

function argmax(v: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (v[offset + j]! > v[offset + best]!) best = j;
  return best;
}

/** d/ds of the mean cross-entropy of softmax(s z) against `labels`: increasing in s. */
function nllSlope(z: Float64Array, labels: readonly number[], c: number, s: number): number {
  let g = 0;
  for (let r = 0; r < labels.length; r++) {
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, s * z[r * c + j]!);
    let sum = 0;
    let ez = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp(s * z[r * c + j]! - max);
      sum += e;
      ez += e * z[r * c + j]!;
    }
    g += ez / sum - z[r * c + labels[r]!]!;
  }
  return g / labels.length;
}

/** Fits the exit head (see the file comment). */
export function fitExitHead(input: ExitFitInput): FittedExitHead {
  const { rows, featureDim: f, classes: c } = input;
  const grid = input.ridgeGrid ?? EXIT_RIDGE_GRID;
  const folds = input.folds ?? EXIT_CV_FOLDS;
  if (rows < folds * 2) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `fitExitHead: ${rows} calibration rows, need at least ${folds * 2} for ${folds} folds`);
  // Standardise: constant columns (a channel the ReLU always zeroes) get std 1 and stay 0.
  const mean = new Float64Array(f);
  const std = new Float64Array(f);
  for (let k = 0; k < f; k++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += input.features[r * f + k]!;
    mean[k] = s / rows;
    let v = 0;
    for (let r = 0; r < rows; r++) v += (input.features[r * f + k]! - mean[k]!) ** 2;
    std[k] = Math.sqrt(v / rows) || 1;
  }
  const x = new Float64Array(rows * f);
  for (let r = 0; r < rows; r++) for (let k = 0; k < f; k++) x[r * f + k] = (input.features[r * f + k]! - mean[k]!) / std[k]!;
  const labels = Array.from({ length: rows }, (_, r) => argmax(input.targets, r * c, c));

  // Row r belongs to fold r % folds: the calibration stream has no order to leak. The normal
  // equations are summed once per fold; each training set's are the total minus its fold's.
  const foldEq = Array.from({ length: folds }, (_, fold) =>
    normalEquations(x, f, input.targets, c, Array.from({ length: Math.ceil((rows - fold) / folds) }, (_, i) => fold + i * folds)));
  const total = foldEq.reduce((a, b) => ({ ...a, xtx: a.xtx.map((v, i) => v + b.xtx[i]!), xty: a.xty.map((v, i) => v + b.xty[i]!) }));
  const outOfFold = (lambdaPerRow: number): Float64Array => {
    const pred = new Float64Array(rows * c);
    for (let fold = 0; fold < folds; fold++) {
      const trainRows = rows - Math.ceil((rows - fold) / folds);
      const b = solveNormal(minus(total, foldEq[fold]!), lambdaPerRow * trainRows);
      for (let r = fold; r < rows; r += folds) {
        for (let j = 0; j < c; j++) {
          let s = b[f * c + j]!;
          for (let k = 0; k < f; k++) s += x[r * f + k]! * b[k * c + j]!;
          pred[r * c + j] = s;
        }
      }
    }
    return pred;
  };
  let best: { ridge: number; err: number; pred: Float64Array } | undefined;
  for (const ridge of grid) {
    const pred = outOfFold(ridge);
    let err = 0;
    for (let i = 0; i < rows * c; i++) err += (pred[i]! - input.targets[i]!) ** 2;
    // Ties go to the stronger ridge (the grid is ascending): the simpler model.
    if (!best || err <= best.err) best = { ridge, err, pred };
  }
  const { ridge, pred } = best!;

  // Temperature: the slope of the cross-entropy in s is increasing, so bisect its root.
  let lo = Math.log(1e-2);
  let hi = Math.log(1e2);
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (nllSlope(pred, labels, c, Math.exp(mid)) < 0) lo = mid;
    else hi = mid;
  }
  const scale = roundSignificant(Math.exp((lo + hi) / 2), 3);
  let agree = 0;
  for (let r = 0; r < rows; r++) if (argmax(pred, r * c, c) === labels[r]) agree++;

  // Final fit on every row; fold the standardisation and the scale into one layer.
  const b = solveNormal(total, ridge * rows);
  const weight = new Float32Array(f * c);
  const bias = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    let b0 = b[f * c + j]!;
    for (let k = 0; k < f; k++) {
      const w = b[k * c + j]! / std[k]!;
      weight[k * c + j] = roundSignificant(scale * w);
      b0 -= w * mean[k]!;
    }
    bias[j] = roundSignificant(scale * b0);
  }
  return { weight, bias, ridge, scale, cvAgreement: agree / rows };
}
