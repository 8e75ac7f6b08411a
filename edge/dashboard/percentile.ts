/**
 * Latency percentiles by the nearest-rank method: the p-th percentile of n samples is the
 * ceil(p * n)-th smallest. Every answer is a sample that happened (no interpolation), so a
 * dashboard showing p99 of 300 runs shows the 297th fastest run, and the tests are exact.
 * Runtime-neutral.
 */

/**
 * The nearest-rank percentiles `ps` (each in (0, 1], e.g. 0.5, 0.99) of `samples`, in the order
 * asked; null for each when there are no samples. Sorts a copy: O(n log n), fine for the
 * dashboard's windows of a few hundred samples.
 */
export function percentiles(samples: readonly number[], ps: readonly number[]): (number | null)[] {
  for (const p of ps) {
    if (!(p > 0 && p <= 1)) throw new RangeError(`percentile ${p} is not valid; expected a number in (0, 1]`);
  }
  if (samples.length === 0) return ps.map(() => null);
  const sorted = [...samples].sort((a, b) => a - b);
  // The epsilon keeps a product like 0.07 * 100 = 7.000000000000001 at rank 7, not 8.
  return ps.map((p) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length - 1e-9))) - 1]!);
}
