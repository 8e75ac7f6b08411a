/**
 * Hedged requests: when a request is slower than almost all recent ones, send a second copy
 * (to another endpoint) and take whichever answers first ("The Tail at Scale", Dean and Barroso).
 *
 * When: after the p95 (`quantile`) of recent latencies. The quantile is exact over a sliding
 * window: the last `windowSize` (default 200) samples sit in a ring buffer, and the quantile is
 * the nearest-rank value of a sorted copy, sorted[ceil(q * n) - 1], so it is always a latency
 * that was really observed. The sorted copy is cached until the next sample, so asking per
 * request costs O(1) between samples and O(n log n) once after each; at n = 200 that is a few
 * microseconds. (A histogram would be cheaper to update but is only as exact as its buckets; at
 * this window size exactness is affordable.) Below `minSamples` (default 20) samples there is no
 * delay: a p95 of a handful of samples is noise, so nothing is hedged.
 *
 * How often: at most `maxHedgeFraction` (default 0.05) of requests, enforced by a token bucket
 * that earns maxHedgeFraction tokens per request() and spends 1 per tryHedge(), holding at most
 * `maxTokens` (default 10) and starting empty. Over N requests at most N * maxHedgeFraction
 * hedges happen; the cap bounds a burst after a quiet spell. Without the budget, hedging at a
 * fixed delay under overload would double the load exactly when the endpoints can least take it.
 * (Tokens are compared with a 1e-9 tolerance: 0.05 added twenty times is not exactly 1 in
 * floating point.)
 *
 * `hedged()` runs the protocol for one request; see its doc comment.
 * Runtime-neutral: time comes from the injected Timers.
 */
import { CleaveError } from '../errors.js';
import type { TimerHandle, Timers } from '../time.js';

/** Default share of requests that may be hedged. */
export const DEFAULT_MAX_HEDGE_FRACTION = 0.05;
/** Default latency quantile after which a request is hedged. */
export const DEFAULT_HEDGE_QUANTILE = 0.95;
/** Default number of recent latencies the quantile is taken over. */
export const DEFAULT_HEDGE_WINDOW = 200;
/** Default least number of latencies before any hedge delay is given. */
export const DEFAULT_HEDGE_MIN_SAMPLES = 20;
/** Default most hedge tokens the bucket holds. */
export const DEFAULT_MAX_HEDGE_TOKENS = 10;

// Floating-point slack when comparing the token count with 1 (see the file comment).
const TOKEN_EPSILON = 1e-9;

/** Options of a HedgePolicy. */
export interface HedgePolicyOptions {
  /** Share of requests that may be hedged; tokens earned per request(). In [0, 1]. Default 0.05. */
  readonly maxHedgeFraction?: number;
  /** Latency quantile after which to hedge. In (0, 1]. Default 0.95. */
  readonly quantile?: number;
  /** Recent latencies kept for the quantile. Integer >= 1. Default 200. */
  readonly windowSize?: number;
  /** Latencies needed before hedgeDelayMs() gives a delay. Integer in [1, windowSize]. Default 20. */
  readonly minSamples?: number;
  /** Most tokens the budget holds. >= 1. Default 10. */
  readonly maxTokens?: number;
}

/** When to hedge, and whether the budget allows it; see the file comment. */
export class HedgePolicy {
  readonly maxHedgeFraction: number;
  readonly quantile: number;
  readonly windowSize: number;
  readonly minSamples: number;
  readonly maxTokens: number;
  private readonly ring: number[] = [];
  private head = 0;
  private sorted: number[] | undefined;
  private tokenCount = 0;
  private requests = 0;
  private hedges = 0;

  constructor(opts: HedgePolicyOptions = {}) {
    this.maxHedgeFraction = opts.maxHedgeFraction ?? DEFAULT_MAX_HEDGE_FRACTION;
    this.quantile = opts.quantile ?? DEFAULT_HEDGE_QUANTILE;
    this.windowSize = opts.windowSize ?? DEFAULT_HEDGE_WINDOW;
    this.minSamples = opts.minSamples ?? Math.min(DEFAULT_HEDGE_MIN_SAMPLES, this.windowSize);
    this.maxTokens = opts.maxTokens ?? DEFAULT_MAX_HEDGE_TOKENS;
    if (!(this.maxHedgeFraction >= 0 && this.maxHedgeFraction <= 1)) {
      throw badArgument('maxHedgeFraction', this.maxHedgeFraction, 'a number in [0, 1]');
    }
    if (!(this.quantile > 0 && this.quantile <= 1)) throw badArgument('quantile', this.quantile, 'a number in (0, 1]');
    if (!(Number.isInteger(this.windowSize) && this.windowSize >= 1 && this.windowSize <= 1_000_000)) {
      throw badArgument('windowSize', this.windowSize, 'an integer in [1, 1000000]');
    }
    if (!(Number.isInteger(this.minSamples) && this.minSamples >= 1 && this.minSamples <= this.windowSize)) {
      throw badArgument('minSamples', this.minSamples, `an integer in [1, windowSize (${this.windowSize})]`);
    }
    if (!(Number.isFinite(this.maxTokens) && this.maxTokens >= 1)) throw badArgument('maxTokens', this.maxTokens, 'a finite number >= 1');
  }

  /** Records the latency of a completed request, ms (finite, >= 0). */
  observe(latencyMs: number): void {
    if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) throw badArgument('latencyMs', latencyMs, 'a finite number >= 0');
    if (this.ring.length < this.windowSize) this.ring.push(latencyMs);
    else this.ring[this.head] = latencyMs;
    this.head = (this.head + 1) % this.windowSize;
    this.sorted = undefined;
  }

  /** Latencies in the window now. */
  get samples(): number {
    return this.ring.length;
  }

  /** The `quantile` of the window (nearest rank), ms; undefined below `minSamples` samples. */
  hedgeDelayMs(): number | undefined {
    const n = this.ring.length;
    if (n < this.minSamples) return undefined;
    this.sorted ??= [...this.ring].sort((a, b) => a - b);
    return this.sorted[Math.max(0, Math.ceil(this.quantile * n) - 1)];
  }

  /** Counts one request: earns maxHedgeFraction tokens, up to maxTokens. */
  request(): void {
    this.requests++;
    this.tokenCount = Math.min(this.maxTokens, this.tokenCount + this.maxHedgeFraction);
  }

  /** Spends one token if the budget has one; true when the hedge may go. */
  tryHedge(): boolean {
    if (this.tokenCount < 1 - TOKEN_EPSILON) return false;
    this.tokenCount = Math.max(0, this.tokenCount - 1);
    this.hedges++;
    return true;
  }

  /** Tokens in the bucket now. */
  get tokens(): number {
    return this.tokenCount;
  }

  /** Requests counted and hedges granted so far, for metrics. */
  stats(): { readonly requests: number; readonly hedges: number } {
    return { requests: this.requests, hedges: this.hedges };
  }
}

/** Which of the two attempts of hedged() a cancel is for. */
export type HedgeAttempt = 'first' | 'second';

/**
 * Runs one request with a possible hedge:
 *
 *   1. counts the request in the budget (policy.request()) and starts `first` at once;
 *   2. if `delayMs` is a number and `first` has not settled after `delayMs` on `timers`, asks
 *      policy.tryHedge() and, if granted, starts `second`; with `delayMs` undefined it never
 *      hedges (pass policy.hedgeDelayMs(), which is undefined while the policy is warming up);
 *   3. resolves with whichever attempt succeeds first and calls `cancel` with the loser's name
 *      if the loser was started and has not settled (a loser that already failed needs none);
 *   4. if both fail, rejects with the first's error: it is the primary attempt, the one the
 *      caller's retry policy and logs are about. If `first` fails before a hedge was started,
 *      it rejects at once without hedging: a hedge answers slowness, not failure (failures are
 *      for the caller's retry, with the failed endpoint excluded).
 *
 * The caller feeds latencies to policy.observe(): hedged() has timers but no clock. `cancel`
 * should not throw; if it does, the error is dropped, as the result is settled already. `delayMs`
 * that is not a finite number >= 0 rejects with CLEAVE_E_BAD_ARGUMENT before anything starts.
 */
export function hedged<T>(
  first: () => Promise<T>,
  second: () => Promise<T>,
  delayMs: number | undefined,
  timers: Timers,
  policy: HedgePolicy,
  cancel?: (loser: HedgeAttempt) => void,
): Promise<T> {
  if (delayMs !== undefined && !(Number.isFinite(delayMs) && delayMs >= 0)) {
    return Promise.reject(badArgument('delayMs', delayMs, 'a finite number >= 0, or undefined'));
  }
  policy.request();
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let firstState: 'pending' | 'ok' | 'failed' = 'pending';
    let secondState: 'idle' | 'pending' | 'ok' | 'failed' = 'idle';
    let firstError: unknown;
    let timer: TimerHandle | undefined;

    const win = (value: T, loser: HedgeAttempt, loserPending: boolean): void => {
      done = true;
      resolve(value);
      if (loserPending && cancel) {
        try {
          cancel(loser);
        } catch {
          // The result stands; a failing cancel can only leave the loser running.
        }
      }
    };

    start(first).then(
      (v) => {
        firstState = 'ok';
        if (timer !== undefined) timers.clearTimeout(timer);
        if (!done) win(v, 'second', secondState === 'pending');
      },
      (err: unknown) => {
        firstState = 'failed';
        firstError = err;
        if (timer !== undefined) timers.clearTimeout(timer);
        if (done || secondState === 'pending') return;
        done = true;
        reject(err);
      },
    );

    if (delayMs === undefined) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      if (done || firstState !== 'pending' || !policy.tryHedge()) return;
      secondState = 'pending';
      start(second).then(
        (v) => {
          secondState = 'ok';
          if (!done) win(v, 'first', firstState === 'pending');
        },
        () => {
          secondState = 'failed';
          if (done || firstState === 'pending') return;
          done = true;
          reject(firstError);
        },
      );
    }, delayMs);
  });
}

/** Calls `fn` now, turning a synchronous throw into a rejection. */
function start<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

function badArgument(name: string, v: number, expected: string): CleaveError {
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${name} = ${v}: expected ${expected}`, { [name]: String(v) });
}
