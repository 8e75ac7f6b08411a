/**
 * Time-decayed moving averages for the router's live measurements. Unlike the cloud's per-sample
 * EWMAs (cloud/scheduler/load-tracker.ts), the weight here depends on how much time passed, not
 * on how many samples came: a router sees bursts of results and then silence, and an estimate
 * from 40 samples in one second should not outvote a single sample taken a minute later.
 *
 * Update rule, with Δt = clock.now() - lastAt (clamped to >= 0) and H = halfLifeMs:
 *
 *   w = min(2^(-Δt / H), 1 - m)     weight of the old estimate (ewmaWeight; m = minSampleWeight, default 0)
 *   v = w * v + (1 - w) * x         (the first sample sets v = x)
 *
 * The result is clamped between the old v and x: the convex combination lies there exactly, but
 * float rounding can step a last bit outside (0.3 * 0.1 + 0.7 * 0.1 < 0.1), and callers rely on
 * the estimate never leaving the range of the samples.
 *
 * So the old estimate loses half its say every H ms, whatever the sample rate. Consequences the
 * caller should know: a sample in the same millisecond as the previous one carries no weight
 * (Δt = 0); and a constant stream of x moves the estimate by exactly as much as one sample of x
 * taken at the end of the same span (a single sparse sample moves it as far as many dense ones).
 * Runtime-neutral: time comes from the injected Clock.
 */
import { CleaveError } from '../errors.js';
import type { Clock } from '../time.js';

/**
 * Weight of the old estimate after `dtMs` of silence with a half-life of `halfLifeMs`:
 * 2^(-dtMs / halfLifeMs). 1 for dtMs <= 0 (no time passed: the old estimate stands), 0.5 at one
 * half-life, tending to 0 as dtMs grows.
 */
export function ewmaWeight(dtMs: number, halfLifeMs: number): number {
  if (!(dtMs > 0)) return 1;
  return Math.pow(2, -dtMs / halfLifeMs);
}

/** Options of an Ewma or PeakEwma. */
export interface EwmaOptions {
  /** Time for the old estimate's weight to halve, ms. Finite and > 0. */
  readonly halfLifeMs: number;
  /** Where observation times come from. */
  readonly clock: Clock;
  /**
   * Least weight a new sample gets, 0..1 (the old estimate's weight is at most 1 - this). Default
   * 0: purely time-decayed. A router wants some (LiveEstimates uses 0.25): with none, a burst of
   * fast samples right after one slow cold start hardly moves the estimate until a half-life
   * has passed, and placement keeps avoiding a tier that is in fact fast.
   */
  readonly minSampleWeight?: number;
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless `v` is a finite number > 0. Shared by shared/router's options. */
export function checkPositive(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${name} = ${v}: expected a finite number > 0`, { [name]: String(v) });
  }
}

/**
 * A time-decayed EWMA (see the file comment for the exact rule). Samples must be finite: one NaN
 * would poison the estimate for good, so observe() throws CLEAVE_E_BAD_ARGUMENT instead.
 */
export class Ewma {
  private v: number | undefined;
  private n = 0;
  private at: number | undefined;
  readonly halfLifeMs: number;
  protected readonly clock: Clock;
  private readonly maxOldWeight: number;

  constructor(opts: EwmaOptions) {
    checkPositive('halfLifeMs', opts.halfLifeMs);
    const m = opts.minSampleWeight ?? 0;
    if (!(m >= 0 && m <= 1)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `minSampleWeight = ${m}: expected a number in [0, 1]`, { minSampleWeight: String(m) });
    this.halfLifeMs = opts.halfLifeMs;
    this.clock = opts.clock;
    this.maxOldWeight = 1 - m;
  }

  /** Folds in one sample taken now. */
  observe(value: number): void {
    if (!Number.isFinite(value)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `EWMA sample = ${value}: expected a finite number`, { value: String(value) });
    }
    const now = this.clock.now();
    this.v = this.v === undefined || this.at === undefined
      ? value
      : this.blend(this.v, value, Math.min(this.maxOldWeight, ewmaWeight(now - this.at, this.halfLifeMs)));
    this.at = now;
    this.n++;
  }

  /** The next estimate from the old one, a new sample and the old estimate's weight `w`. */
  protected blend(old: number, x: number, w: number): number {
    const v = w * old + (1 - w) * x;
    return Math.min(Math.max(v, Math.min(old, x)), Math.max(old, x));
  }

  /** The estimate; undefined before the first sample. Reading does not decay it. */
  value(): number | undefined {
    return this.v;
  }

  /** Samples observed so far. */
  get samples(): number {
    return this.n;
  }

  /** Clock time of the last sample, ms; undefined before the first. */
  get lastAt(): number | undefined {
    return this.at;
  }

  /** Time since the last sample, ms; undefined before the first. */
  ageMs(): number | undefined {
    return this.at === undefined ? undefined : this.clock.now() - this.at;
  }
}

/**
 * Peak-EWMA, the latency estimate behind Finagle's and Linkerd's load balancers: a sample above
 * the estimate replaces it at once (a slowdown is believed immediately), a sample at or below it
 * is folded in with the time-decayed rule of Ewma (recovery is believed gradually):
 *
 *   v = x                           if x > v
 *   v = w * v + (1 - w) * x         otherwise, w = 2^(-Δt / H)
 *
 * What this does NOT do: the estimate only moves when a sample arrives. (Tower's variant also
 * decays the estimate toward zero when it is read after a silence; a router that wants to retry
 * a slow path after a while should probe it, which produces a real sample.) Finagle writes the
 * weight as e^(-Δt/τ); that is this rule with τ = H / ln 2.
 */
export class PeakEwma extends Ewma {
  protected override blend(old: number, x: number, w: number): number {
    return x > old ? x : super.blend(old, x, w);
  }
}
