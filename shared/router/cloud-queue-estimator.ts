/**
 * Expected time a new request for a model waits in the cloud's queue before its compute starts,
 * from two sources the edge already receives:
 *
 *   - LOAD frames (ModelLoad): what the server sees now, across all its clients, refreshed
 *     every few seconds.
 *   - RESULT timings (RunTiming.queueMs): what this edge's own requests actually waited, folded
 *     into a time-decayed Ewma per model.
 *
 * queueMs(model), with age = clock.now() - the edge-clock time the model's last LOAD entry
 * arrived:
 *
 *   1. a LOAD entry with age < loadStaleMs ('load'):
 *        max(queued / max(1, batchSize) * computeMs, queueMs)
 *      The first term drains the requests waiting now at the server's per-request cost
 *      (computeMs is per batch of the reported mean batchSize, so the ratio is cost per row); it
 *      leads during a surge, before the server's queueMs EWMA catches up. The second is that
 *      EWMA: the steady wait, including the batcher's deliberate delay, when nothing is queued.
 *      max, not sum: in a steady backlog the EWMA already contains the drain time.
 *   2. otherwise, whichever is newer of
 *        the results Ewma ('results')  and  the stale LOAD entry's queueMs ('stale-load');
 *      on a tie, the results (they are this edge's own experience).
 *   3. neither: undefined.
 * `running` is not used: the time left in running batches is inside the server's EWMA.
 */
import { CleaveError } from '../errors.js';
import type { ModelLoad, RunTiming } from '../protocol/frames.js';
import type { Clock } from '../time.js';
import { checkPositive, Ewma } from './ewma.js';

/** Default age past which a LOAD entry is not trusted for its live queue count, ms. */
export const DEFAULT_LOAD_STALE_MS = 3_000;
/** Default half-life of the per-model Ewma of RESULT queue times, ms. */
export const DEFAULT_QUEUE_HALF_LIFE_MS = 10_000;

/** Options of a CloudQueueEstimator. */
export interface CloudQueueEstimatorOptions {
  readonly clock: Clock;
  /** A LOAD entry this old or older is stale, ms. Default 3 000. */
  readonly loadStaleMs?: number;
  /** Half-life of the RESULT queue-time Ewma, ms. Default 10 000. */
  readonly halfLifeMs?: number;
  /** Least weight of a new sample in each EWMA (EwmaOptions.minSampleWeight). Default 0. */
  readonly minSampleWeight?: number;
}

/** Which rule of the file comment produced an estimate. */
export type QueueSource = 'load' | 'results' | 'stale-load';

/** An expected queue time and where it came from. */
export interface QueueEstimate {
  readonly ms: number;
  readonly source: QueueSource;
  /** Age of the source, ms: of the LOAD entry, or of the newest RESULT sample. */
  readonly ageMs: number;
}

/** Expected cloud queue time per model from LOAD reports and RESULT timings; see the file comment. */
export class CloudQueueEstimator {
  private readonly clock: Clock;
  private readonly loadStaleMs: number;
  private readonly halfLifeMs: number;
  private readonly minSampleWeight: number;
  // Maps: model names come off the wire ("__proto__" must stay a key, not a prototype).
  private readonly loads = new Map<string, { load: ModelLoad; at: number }>();
  private readonly results = new Map<string, Ewma>();

  constructor(opts: CloudQueueEstimatorOptions) {
    this.clock = opts.clock;
    this.loadStaleMs = opts.loadStaleMs ?? DEFAULT_LOAD_STALE_MS;
    this.halfLifeMs = opts.halfLifeMs ?? DEFAULT_QUEUE_HALF_LIFE_MS;
    this.minSampleWeight = opts.minSampleWeight ?? 0;
    checkPositive('loadStaleMs', this.loadStaleMs);
    checkPositive('halfLifeMs', this.halfLifeMs);
  }

  /**
   * Records a LOAD report's models (LoadFrame.models), received at `at` on this edge's clock
   * (default now; not the frame's `ts`, which is the server's clock). Models missing from the
   * report keep their previous entry, which goes stale.
   */
  observeLoad(models: Readonly<Record<string, ModelLoad>>, at: number = this.clock.now()): void {
    if (!Number.isFinite(at)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `LOAD time = ${at}: expected a finite clock reading`, { at: String(at) });
    }
    for (const [model, load] of Object.entries(models)) this.loads.set(model, { load, at });
  }

  /** Records a RESULT's timing for `model` (the RUN's model name). */
  observeResult(model: string, timing: RunTiming): void {
    const q = timing.queueMs;
    if (!(Number.isFinite(q) && q >= 0)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `queueMs = ${q} for model ${JSON.stringify(model)}: expected a finite number >= 0`, { model, queueMs: String(q) });
    }
    let e = this.results.get(model);
    if (!e) this.results.set(model, (e = new Ewma({ halfLifeMs: this.halfLifeMs, clock: this.clock, minSampleWeight: this.minSampleWeight })));
    e.observe(q);
  }

  /** Expected queue ms for a new request of `model`; undefined when nothing is known. */
  queueMs(model: string): number | undefined {
    return this.estimate(model)?.ms;
  }

  /** Like queueMs, with the rule that produced it and the age of its source. */
  estimate(model: string): QueueEstimate | undefined {
    const now = this.clock.now();
    const entry = this.loads.get(model);
    if (entry && now - entry.at < this.loadStaleMs) {
      const { queued, batchSize, computeMs, queueMs } = entry.load;
      const drainMs = (queued / Math.max(1, batchSize)) * computeMs;
      return { ms: Math.max(drainMs, queueMs), source: 'load', ageMs: now - entry.at };
    }
    const res = this.results.get(model);
    const resMs = res?.value();
    const resAt = res?.lastAt;
    if (resMs !== undefined && resAt !== undefined && (!entry || resAt >= entry.at)) {
      return { ms: resMs, source: 'results', ageMs: now - resAt };
    }
    if (entry) return { ms: entry.load.queueMs, source: 'stale-load', ageMs: now - entry.at };
    return undefined;
  }

  /** The model's last LOAD entry and when it arrived (edge clock), for logs and metrics. */
  lastLoad(model: string): { readonly load: ModelLoad; readonly at: number } | undefined {
    return this.loads.get(model);
  }
}
