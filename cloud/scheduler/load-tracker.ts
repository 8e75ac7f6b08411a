/**
 * A model's load as the server reports it in LOAD frames (ModelLoad): what is queued and running
 * now, plus smoothed queue time, compute time and batch size. Clients route on these numbers,
 * so they are EWMAs over samples rather than last values: one slow batch should nudge the
 * estimate, not flip a routing decision.
 *
 * Smoothing is per sample, not per unit of time: an idle model keeps its last estimate, which
 * is what a router wants (the cost of the next batch), and no clock is needed.
 */
import { CleaveError } from '../../shared/errors.js';
import type { ModelLoad } from '../../shared/protocol/frames.js';
import type { BatchInfo, BatcherStats } from './dynamic-batcher.js';

/** Default EWMA weight of a new sample. */
export const DEFAULT_LOAD_ALPHA = 0.2;

/** Options of a LoadTracker. */
export interface LoadTrackerOptions {
  /**
   * Current queue and running counts, usually `() => batcher.stats()`, read by snapshot() when
   * it is called without counts. Default: none (snapshot() then reports 0 unless given counts).
   */
  readonly stats?: () => Pick<BatcherStats, 'queued' | 'running'>;
  /** Weight of a new sample in each EWMA, in (0, 1]. Default 0.2. */
  readonly alpha?: number;
}

/** An exponentially weighted moving average; the first sample is taken as is. */
class Ewma {
  private v = 0;
  private seen = false;

  constructor(private readonly alpha: number) {}

  add(x: number): void {
    this.v = this.seen ? this.v + this.alpha * (x - this.v) : x;
    this.seen = true;
  }

  get value(): number {
    return this.v;
  }
}

/**
 * EWMAs of queue ms per request, compute ms per batch and rows per batch, fed by the batcher's
 * onBatch. Wire it as `onBatch: tracker.onBatch`; failed batches count too, since they held
 * the device just the same.
 */
export class LoadTracker {
  private readonly queue: Ewma;
  private readonly compute: Ewma;
  private readonly size: Ewma;
  private readonly stats: (() => Pick<BatcherStats, 'queued' | 'running'>) | undefined;

  constructor(opts: LoadTrackerOptions = {}) {
    const alpha = opts.alpha ?? DEFAULT_LOAD_ALPHA;
    if (!(alpha > 0 && alpha <= 1)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `load EWMA alpha = ${alpha}: expected a number in (0, 1]`, { alpha });
    }
    this.queue = new Ewma(alpha);
    this.compute = new Ewma(alpha);
    this.size = new Ewma(alpha);
    this.stats = opts.stats;
  }

  /** Records one batch; bound, so it can be passed as the batcher's onBatch directly. */
  readonly onBatch = (info: BatchInfo): void => {
    for (const q of info.queueMsEach) this.queue.add(q);
    this.compute.add(info.computeMs);
    this.size.add(info.rows);
  };

  /**
   * Counts and smoothed times (0 before the first batch). The counts are `current` when given
   * (e.g. `tracker.snapshot(batcher.stats())`), else read from the `stats` option, else 0.
   */
  snapshot(current?: Pick<BatcherStats, 'queued' | 'running'>): ModelLoad {
    const s = current ?? this.stats?.() ?? { queued: 0, running: 0 };
    return {
      queued: s.queued,
      running: s.running,
      queueMs: this.queue.value,
      computeMs: this.compute.value,
      batchSize: this.size.value,
    };
  }
}
