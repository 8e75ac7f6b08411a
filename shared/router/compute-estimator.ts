/**
 * Expected compute time of a model on one tier (edge or cloud), by batch size, from observed
 * runs. One estimator per tier; the router compares them.
 *
 * Batch sizes share power-of-two buckets: bucket(b) = the smallest power of two >= b, so bucket 1
 * holds batch 1, bucket 2 batch 2, bucket 4 batches 3..4, bucket 8 batches 5..8, and so on. Each
 * bucket is a time-decayed Ewma of the whole batch's compute ms, as observed (a batch of 3 is
 * not rescaled to 4: within a bucket the cost is taken as flat).
 *
 * estimate(model, b), with B = bucket(b):
 *   - B has samples:            ewma(B)
 *   - else, nearest bucket S with samples (fewest doublings away from B; on a tie the smaller
 *     S, since scaling up from below over-estimates a sublinear batch cost rather than
 *     under-estimating it):    ewma(S) * B / S      (linear in batch size, bucket to bucket)
 *   - the model has no samples: undefined.
 * Linear scaling is a deliberately plain assumption: real batch costs are usually sublinear, so
 * scaling up from a small bucket errs high and scaling down from a large one errs low. Each
 * observed bucket replaces the guess for its own sizes.
 */
import { CleaveError } from '../errors.js';
import type { Clock } from '../time.js';
import { checkPositive, Ewma } from './ewma.js';

/** Default half-life of each bucket's Ewma, ms: compute cost drifts slowly (thermals, contention). */
export const DEFAULT_COMPUTE_HALF_LIFE_MS = 10_000;

/** Largest batch size accepted, so a bucket index stays a small integer. */
export const MAX_BATCH_SIZE = 2 ** 30;

/** Options of a ComputeEstimator. */
export interface ComputeEstimatorOptions {
  readonly clock: Clock;
  /** Half-life of each bucket's Ewma, ms. Default 10 000. */
  readonly halfLifeMs?: number;
  /** Least weight of a new sample in each EWMA (EwmaOptions.minSampleWeight). Default 0. */
  readonly minSampleWeight?: number;
}

/** One bucket's state, for metrics and logs. */
export interface ComputeBucket {
  /** The bucket's batch size: a power of two; it holds batches in (batch/2, batch]. */
  readonly batch: number;
  /** Ewma of compute ms per batch. */
  readonly ms: number;
  readonly samples: number;
}

/** The bucket of a batch size: the smallest power of two >= `batch` (1, 2, 4, 8, ...). */
export function batchBucket(batch: number): number {
  if (!(Number.isInteger(batch) && batch >= 1 && batch <= MAX_BATCH_SIZE)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `batch size = ${batch}: expected an integer in [1, ${MAX_BATCH_SIZE}]`, { batch: String(batch) });
  }
  let b = 1;
  while (b < batch) b *= 2;
  return b;
}

/** Expected compute ms of a model by batch size on one tier; see the file comment for the rule. */
export class ComputeEstimator {
  private readonly clock: Clock;
  private readonly halfLifeMs: number;
  private readonly minSampleWeight: number;
  // Map, not an object: model names come from config and the wire ("__proto__" is a fine name).
  private readonly models = new Map<string, Map<number, Ewma>>();

  constructor(opts: ComputeEstimatorOptions) {
    this.clock = opts.clock;
    this.halfLifeMs = opts.halfLifeMs ?? DEFAULT_COMPUTE_HALF_LIFE_MS;
    this.minSampleWeight = opts.minSampleWeight ?? 0;
    checkPositive('halfLifeMs', this.halfLifeMs);
  }

  /** Records that `model` computed a batch of `batch` rows in `ms` (finite, >= 0). */
  observe(model: string, batch: number, ms: number): void {
    const b = batchBucket(batch);
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `compute ms = ${ms} for model ${JSON.stringify(model)}: expected a finite number >= 0`, { model, ms: String(ms) });
    }
    let buckets = this.models.get(model);
    if (!buckets) this.models.set(model, (buckets = new Map()));
    let e = buckets.get(b);
    if (!e) buckets.set(b, (e = new Ewma({ halfLifeMs: this.halfLifeMs, clock: this.clock, minSampleWeight: this.minSampleWeight })));
    e.observe(ms);
  }

  /** Expected compute ms of a batch of `batch` rows; undefined when the model has no samples. */
  estimate(model: string, batch: number): number | undefined {
    const want = batchBucket(batch);
    const buckets = this.models.get(model);
    if (!buckets) return undefined;
    const own = buckets.get(want)?.value();
    if (own !== undefined) return own;
    let best: { bucket: number; ms: number; dist: number } | undefined;
    for (const [bucket, e] of buckets) {
      const ms = e.value();
      if (ms === undefined) continue;
      const dist = Math.abs(Math.log2(bucket) - Math.log2(want));
      if (!best || dist < best.dist || (dist === best.dist && bucket < best.bucket)) best = { bucket, ms, dist };
    }
    return best && (best.ms * want) / best.bucket;
  }

  /** The observed buckets of a model, smallest first; empty when it has none. */
  buckets(model: string): readonly ComputeBucket[] {
    const out: ComputeBucket[] = [];
    for (const [batch, e] of this.models.get(model) ?? []) {
      const ms = e.value();
      if (ms !== undefined) out.push({ batch, ms, samples: e.samples });
    }
    return out.sort((a, b) => a.batch - b.batch);
  }
}
