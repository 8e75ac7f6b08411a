/**
 * A circuit breaker per cloud endpoint: stop sending to an endpoint that keeps failing, and let a
 * few trial requests through after a pause to learn whether it has recovered.
 *
 *   closed     every request is allowed. Outcomes go into a rolling window of the last
 *              `windowSize` outcomes. It trips (-> open) after `failureThreshold` consecutive
 *              failures, or when the window holds at least `minSamples` outcomes and the share
 *              of failures in it is strictly greater than `failureRate`.
 *   open       nothing is allowed for the current open duration (first `openMs`).
 *   half-open  once the open duration has passed. `allow()` hands out at most `halfOpenProbes`
 *              trial slots. The first probe outcome decides: a success closes the breaker and
 *              resets the open duration to `openMs`; a failure re-opens it with the open
 *              duration doubled, capped at `maxOpenMs`.
 *
 * Time moves the breaker from open to half-open, but no timer is set: the state is brought up
 * to date lazily, by whichever of allow(), wouldAllow(), record(), state() is called first
 * after the open duration has passed, and `onChange` fires then. So the breaker is exact on a
 * ManualClock and costs nothing while idle.
 *
 * Outcomes that cannot be about the current state are dropped: a record() while open (a request
 * sent before the breaker tripped), and a record() in half-open when no probe slot is out. The
 * caller must record the outcome of every request that allow() let through, a timeout as a
 * failure: a probe that is never recorded holds its slot, and the breaker stays half-open with
 * nothing allowed.
 *
 * Which errors count as failures is the caller's business. The rule of thumb, which
 * `isBreakerFailure` implements: errors that say the endpoint is unhealthy count
 * (CLEAVE_E_UNAVAILABLE, CLEAVE_E_OVERLOADED, CLEAVE_E_DEADLINE); errors that say the request was
 * wrong or unwanted (CLEAVE_E_BAD_ARGUMENT, CLEAVE_E_SHAPE, CLEAVE_E_CANCELLED, ...) do not, and
 * are best not recorded at all, since they are not successes either.
 *
 * Runtime-neutral: time comes from the injected Clock.
 */
import { CleaveError, type ErrorCode } from '../errors.js';
import type { Clock } from '../time.js';

/** Default consecutive failures that trip a closed breaker. */
export const DEFAULT_FAILURE_THRESHOLD = 5;
/** Default share of failures in the window above which a closed breaker trips. */
export const DEFAULT_FAILURE_RATE = 0.5;
/** Default number of recent outcomes in the rolling window. */
export const DEFAULT_BREAKER_WINDOW = 20;
/** Default least number of outcomes in the window before the failure rate is judged. */
export const DEFAULT_BREAKER_MIN_SAMPLES = 10;
/** Default first open duration, ms. */
export const DEFAULT_OPEN_MS = 5_000;
/** Default cap on the doubled open duration, ms. */
export const DEFAULT_MAX_OPEN_MS = 60_000;
/** Default number of trial requests allowed while half-open. */
export const DEFAULT_HALF_OPEN_PROBES = 1;

/** State of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Options of a CircuitBreaker. */
export interface CircuitBreakerOptions {
  readonly clock: Clock;
  /** Consecutive failures that trip a closed breaker. Integer >= 1. Default 5. */
  readonly failureThreshold?: number;
  /** A closed breaker trips when failures / outcomes in the window exceed this. In (0, 1]. Default 0.5. */
  readonly failureRate?: number;
  /** Outcomes kept in the rolling window. Integer >= 1. Default 20. */
  readonly windowSize?: number;
  /** Outcomes the window must hold before the rate is judged. Integer in [1, windowSize]. Default 10. */
  readonly minSamples?: number;
  /** First open duration, ms. Default 5 000. */
  readonly openMs?: number;
  /** Cap on the open duration, which doubles on each re-open, ms. >= openMs. Default 60 000. */
  readonly maxOpenMs?: number;
  /** Trial requests allowed while half-open. Integer >= 1. Default 1. */
  readonly halfOpenProbes?: number;
  /** Called after each state change, with the new and the old state. Must not throw. */
  readonly onChange?: (to: BreakerState, from: BreakerState) => void;
}

/** Error codes that `isBreakerFailure` counts against an endpoint's health. */
export const BREAKER_FAILURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CLEAVE_E_UNAVAILABLE',
  'CLEAVE_E_OVERLOADED',
  'CLEAVE_E_DEADLINE',
]);

/**
 * The default rule for what counts as a failure: true for UNAVAILABLE, OVERLOADED and DEADLINE
 * (the endpoint is down, full or too slow), false for every other code (the request itself was
 * wrong, or was cancelled: retrying it elsewhere would fail the same way).
 */
export function isBreakerFailure(code: ErrorCode): boolean {
  return BREAKER_FAILURE_CODES.has(code);
}

/** A per-endpoint circuit breaker; see the file comment. */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly failureRate: number;
  readonly windowSize: number;
  readonly minSamples: number;
  readonly openMs: number;
  readonly maxOpenMs: number;
  readonly halfOpenProbes: number;
  private readonly clock: Clock;
  private readonly onChange: ((to: BreakerState, from: BreakerState) => void) | undefined;

  private st: BreakerState = 'closed';
  // Rolling window as a ring of outcomes (true = failure), with a running failure count so the
  // rate check is O(1).
  private readonly ring: boolean[];
  private head = 0;
  private filled = 0;
  private failures = 0;
  private consecutive = 0;
  private openedAt = 0;
  private curOpenMs: number;
  private probesOut = 0;

  constructor(opts: CircuitBreakerOptions) {
    this.clock = opts.clock;
    this.onChange = opts.onChange;
    this.failureThreshold = opts.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD;
    this.failureRate = opts.failureRate ?? DEFAULT_FAILURE_RATE;
    this.windowSize = opts.windowSize ?? DEFAULT_BREAKER_WINDOW;
    this.minSamples = opts.minSamples ?? Math.min(DEFAULT_BREAKER_MIN_SAMPLES, this.windowSize);
    this.openMs = opts.openMs ?? DEFAULT_OPEN_MS;
    this.maxOpenMs = opts.maxOpenMs ?? Math.max(DEFAULT_MAX_OPEN_MS, this.openMs);
    this.halfOpenProbes = opts.halfOpenProbes ?? DEFAULT_HALF_OPEN_PROBES;
    checkInteger('failureThreshold', this.failureThreshold, 1, Number.MAX_SAFE_INTEGER);
    if (!(this.failureRate > 0 && this.failureRate <= 1)) {
      throw badArgument('failureRate', this.failureRate, 'a number in (0, 1]');
    }
    checkInteger('windowSize', this.windowSize, 1, 1_000_000);
    checkInteger('minSamples', this.minSamples, 1, this.windowSize);
    if (!(Number.isFinite(this.openMs) && this.openMs > 0)) throw badArgument('openMs', this.openMs, 'a finite number > 0');
    if (!(Number.isFinite(this.maxOpenMs) && this.maxOpenMs >= this.openMs)) {
      throw badArgument('maxOpenMs', this.maxOpenMs, `a finite number >= openMs (${this.openMs})`);
    }
    checkInteger('halfOpenProbes', this.halfOpenProbes, 1, Number.MAX_SAFE_INTEGER);
    this.ring = new Array<boolean>(this.windowSize).fill(false);
    this.curOpenMs = this.openMs;
  }

  /** The state now (an open breaker whose open duration has passed turns half-open here). */
  state(): BreakerState {
    this.refresh();
    return this.st;
  }

  /**
   * Whether a request may be sent now. In half-open a true answer takes one of the
   * `halfOpenProbes` trial slots, so call it only when the request will really be sent.
   */
  allow(): boolean {
    if (!this.wouldAllow()) return false;
    if (this.st === 'half-open') this.probesOut++;
    return true;
  }

  /** What allow() would answer now, without taking a probe slot. */
  wouldAllow(): boolean {
    this.refresh();
    if (this.st === 'closed') return true;
    if (this.st === 'open') return false;
    return this.probesOut < this.halfOpenProbes;
  }

  /** Records the outcome of a request that allow() let through. */
  record(ok: boolean): void {
    this.refresh();
    if (this.st === 'open') return;
    if (this.st === 'half-open') {
      if (this.probesOut === 0) return;
      this.probesOut--;
      if (ok) this.close();
      else this.trip(Math.min(this.maxOpenMs, this.curOpenMs * 2));
      return;
    }
    const fail = !ok;
    if (this.filled === this.windowSize) {
      if (this.ring[this.head]) this.failures--;
    } else {
      this.filled++;
    }
    this.ring[this.head] = fail;
    this.head = (this.head + 1) % this.windowSize;
    if (fail) this.failures++;
    this.consecutive = fail ? this.consecutive + 1 : 0;
    if (this.consecutive >= this.failureThreshold
      || (this.filled >= this.minSamples && this.failures / this.filled > this.failureRate)) {
      this.trip(this.openMs);
    }
  }

  /** Open duration in force: of the current open period, or of the next one while closed, ms. */
  get currentOpenMs(): number {
    return this.curOpenMs;
  }

  /** Clock time at which an open breaker turns half-open; undefined unless open. */
  retryAt(): number | undefined {
    this.refresh();
    return this.st === 'open' ? this.openedAt + this.curOpenMs : undefined;
  }

  /** Failures in a row in the closed state. */
  get consecutiveFailures(): number {
    return this.consecutive;
  }

  /** Outcomes in the rolling window, and how many of them failed. */
  window(): { readonly samples: number; readonly failures: number } {
    return { samples: this.filled, failures: this.failures };
  }

  private refresh(): void {
    if (this.st === 'open' && this.clock.now() >= this.openedAt + this.curOpenMs) {
      this.probesOut = 0;
      this.set('half-open');
    }
  }

  private trip(openMs: number): void {
    this.curOpenMs = openMs;
    this.openedAt = this.clock.now();
    this.clearWindow();
    this.set('open');
  }

  private close(): void {
    this.curOpenMs = this.openMs;
    this.clearWindow();
    this.set('closed');
  }

  private clearWindow(): void {
    this.ring.fill(false);
    this.head = 0;
    this.filled = 0;
    this.failures = 0;
    this.consecutive = 0;
  }

  private set(to: BreakerState): void {
    const from = this.st;
    if (from === to) return;
    this.st = to;
    this.onChange?.(to, from);
  }
}

function badArgument(name: string, v: number, expected: string): CleaveError {
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${name} = ${v}: expected ${expected}`, { [name]: String(v) });
}

function checkInteger(name: string, v: number, lo: number, hi: number): void {
  if (!(Number.isInteger(v) && v >= lo && v <= hi)) throw badArgument(name, v, `an integer in [${lo}, ${hi}]`);
}
