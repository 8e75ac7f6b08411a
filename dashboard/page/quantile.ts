/** Nearest-rank quantiles for the page's charts (the edge's own percentiles are nearest-rank too). Pure. */

/** The q-quantile (0..1) of `xs` by nearest rank, a value that occurred; NaN when empty. Non-finite values are ignored. */
export function quantile(xs: readonly number[], q: number): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}
