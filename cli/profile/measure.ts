/**
 * Timing model runs for `cleave profile`: a few warm-up calls (session warm-up, allocator growth)
 * that are not counted, then `runs` calls one after another, summarised as p50 / p90 / mean.
 * The clock is injected so the summary arithmetic is tested without timing anything.
 */
import { CleaveError } from '../../shared/errors.js';
import type { HostTensor } from '../../shared/tensor.js';

/** Compute time of one part (a model, a head, a tail) at one batch size. Units: ms. */
export interface ComputeStats {
  /** Rows per call. */
  readonly batch: number;
  /** Calls measured (warm-up excluded). */
  readonly runs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
}

/** How many calls to make and with which clock. */
export interface TimingOptions {
  /** Measured calls. Default 20. */
  readonly runs?: number;
  /** Calls before measuring, not counted. Default 2. */
  readonly warmup?: number;
  /** ms. Default performance.now. */
  readonly now?: () => number;
}

/** Default batch sizes: one request alone, and a small batch. */
export const DEFAULT_BATCHES: readonly number[] = [1, 8];
/** Default measured calls per part and batch size. */
export const DEFAULT_RUNS = 20;
/** Default uncounted calls before measuring. */
export const DEFAULT_WARMUP = 2;

/** Nearest-rank percentile of ascending `sorted` (p in [0, 1]); CLEAVE_E_BAD_ARGUMENT when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'percentile of no samples: expected at least one', {});
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

/** The summary of `samples` (ms) taken at `batch` rows. */
export function summarize(batch: number, samples: readonly number[]): ComputeStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length);
  return { batch, runs: sorted.length, p50Ms: percentile(sorted, 0.5), p90Ms: percentile(sorted, 0.9), meanMs: mean, minMs: sorted[0]! };
}

/** Times `call` as TimingOptions say; returns the measured durations, ms. */
export async function timeCalls(call: () => Promise<unknown>, opts: TimingOptions = {}): Promise<number[]> {
  const now = opts.now ?? (() => performance.now());
  const runs = opts.runs ?? DEFAULT_RUNS;
  for (let i = 0; i < (opts.warmup ?? DEFAULT_WARMUP); i++) await call();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = now();
    await call();
    out.push(now() - t);
  }
  return out;
}

/** The first `rows` rows of every tensor (dim 0), sharing no memory with the originals. */
export function takeRows(feeds: Readonly<Record<string, HostTensor>>, rows: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const have = t.dims[0] ?? 1;
    if (t.dims.length === 0 || have === rows) {
      out[k] = t;
      continue;
    }
    if (have < rows) throw new CleaveError('CLEAVE_E_SHAPE', `tensor "${k}" has ${have} rows; ${rows} were asked for`, { name: k });
    const per = t.data.length / have;
    out[k] = { dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data: t.data.slice(0, rows * per) };
  }
  return out;
}
