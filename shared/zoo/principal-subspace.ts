/**
 * The top principal subspace of a feature matrix by subspace iteration: the directions along
 * which the features vary most from sample to sample. A trained classifier reads those (they
 * carry the signal); reading directions of tiny variance would make a head that flips on any
 * float noise, quantization noise first of all. Plain arithmetic and sqrt: same bits everywhere.
 */

/** Orthonormalises the k columns of row-major a [n, k] in place (modified Gram-Schmidt). */
export function orthonormalizeColumns(a: Float64Array, n: number, k: number): void {
  for (let j = 0; j < k; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += a[i * k + j]! * a[i * k + p]!;
      for (let i = 0; i < n; i++) a[i * k + j] = a[i * k + j]! - dot * a[i * k + p]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += a[i * k + j]! ** 2;
    norm = Math.sqrt(norm);
    // A column that collapsed (rank-deficient start) is left at zero rather than divided by 0.
    for (let i = 0; i < n; i++) a[i * k + j] = norm > 0 ? a[i * k + j]! / norm : 0;
  }
}

/** Subspace iteration settings. */
export interface SubspaceOptions {
  /** Iterations; each multiplies by the covariance once. Default 8. */
  iterations?: number;
  /** Rows used (evenly strided) when there are more: the directions need far fewer. Default 2048. */
  maxRows?: number;
}

/**
 * Orthonormal basis [dim, k] of the k-dimensional subspace of largest variance of the centred
 * rows of `x` [rows, dim], refined from the k columns of `start` [dim, k].
 */
export function principalSubspace(x: ArrayLike<number>, rows: number, dim: number, start: Float64Array, k: number, opts: SubspaceOptions = {}): Float64Array {
  const stride = Math.max(1, Math.ceil(rows / (opts.maxRows ?? 2048)));
  const used = Math.ceil(rows / stride);
  const xc = new Float64Array(used * dim);
  const mean = new Float64Array(dim);
  for (let r = 0; r < used; r++) for (let d = 0; d < dim; d++) mean[d] = mean[d]! + x[r * stride * dim + d]! / used;
  for (let r = 0; r < used; r++) for (let d = 0; d < dim; d++) xc[r * dim + d] = x[r * stride * dim + d]! - mean[d]!;
  const q = Float64Array.from(start);
  orthonormalizeColumns(q, dim, k);
  const y = new Float64Array(used * k);
  for (let it = 0; it < (opts.iterations ?? 8); it++) {
    // q <- orth(X^T (X q))
    y.fill(0);
    for (let r = 0; r < used; r++) {
      for (let d = 0; d < dim; d++) {
        const v = xc[r * dim + d]!;
        if (v === 0) continue;
        for (let j = 0; j < k; j++) y[r * k + j] = y[r * k + j]! + v * q[d * k + j]!;
      }
    }
    q.fill(0);
    for (let r = 0; r < used; r++) {
      for (let d = 0; d < dim; d++) {
        const v = xc[r * dim + d]!;
        if (v === 0) continue;
        for (let j = 0; j < k; j++) q[d * k + j] = q[d * k + j]! + v * y[r * k + j]!;
      }
    }
    orthonormalizeColumns(q, dim, k);
  }
  return q;
}
