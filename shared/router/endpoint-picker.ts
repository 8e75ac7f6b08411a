/**
 * Choice among the cloud endpoints an edge node knows: peak-EWMA load balancing with the power
 * of two choices, behind a circuit breaker per endpoint.
 *
 * Cost of an endpoint, with L its PeakEwma latency estimate in ms (of successful requests only)
 * and n its requests in flight from this picker:
 *
 *   cost = L * (n + 1)                      L = defaultLatencyMs while it has no sample
 *
 * Peak-EWMA believes a slowdown at once and a recovery gradually (see ewma.ts); the (n + 1)
 * factor shifts load away from an endpoint as work piles up on it, before its latency shows it.
 * The stand-in latency of an unsampled endpoint is small by default, so a new endpoint gets
 * tried; it is multiplied by n + 1 like a real estimate, so a new endpoint is not flooded while
 * its first answers are on the way. (A default latency, not a default cost, for that reason.)
 *
 * pick(): the eligible endpoints are those not in `exclude` whose breaker would allow a request
 * now (breaker.wouldAllow(), which takes no half-open probe slot). None: undefined. One: that
 * one, consuming no random number. Two or more: two distinct ones drawn uniformly with two calls
 * to `random` (the first indexes the eligible list in insertion order, the second the list
 * without the first), and the cheaper wins; on a tie, the first drawn. Comparing two random
 * endpoints instead of taking the global minimum is what keeps many edges from herding onto the
 * same "best" endpoint with the same stale numbers (Mitzenmacher's power of two choices).
 *
 * start(name) counts a request in flight and takes the breaker's permission (a half-open probe
 * slot if it is half-open); finish(token, outcome) ends it. Only successes feed the latency
 * estimate; failures feed the breaker alone. A failing endpoint often fails fast (connection
 * refused in 1 ms), and feeding that to the latency would make the broken endpoint look like
 * the fastest one and draw more traffic. finish(token) without an outcome only ends the request
 * in flight: use it for a cancelled request (a hedge's loser) or an error that says nothing
 * about the endpoint (see isBreakerFailure in circuit-breaker.ts).
 *
 * Runtime-neutral: time and randomness are injected.
 */
import { CleaveError } from '../errors.js';
import type { Clock } from '../time.js';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { checkPositive, PeakEwma } from './ewma.js';

/** Default half-life of each endpoint's latency PeakEwma, ms. */
export const DEFAULT_PICKER_HALF_LIFE_MS = 10_000;
/** Default latency that stands in for an endpoint without a sample, ms. Small, so new endpoints get tried. */
export const DEFAULT_UNSAMPLED_LATENCY_MS = 1;

/** Options of an EndpointPicker. */
export interface EndpointPickerOptions {
  readonly clock: Clock;
  /** Uniform in [0, 1): the two random choices of pick(). */
  readonly random: () => number;
  /** Half-life of each endpoint's latency PeakEwma, ms. Default 10 000. */
  readonly halfLifeMs?: number;
  /** Latency assumed for an endpoint without a sample, ms, >= 0. Default 1. */
  readonly defaultLatencyMs?: number;
  /** Options of each endpoint's circuit breaker (defaults as in circuit-breaker.ts). */
  readonly breaker?: Omit<CircuitBreakerOptions, 'clock' | 'onChange'>;
  /** Called after an endpoint's breaker changes state. Must not throw. */
  readonly onBreakerChange?: (name: string, to: BreakerState, from: BreakerState) => void;
}

/** Options of one pick(). */
export interface PickOptions {
  /** Names not to choose (e.g. the endpoint a hedged or retried request already went to). */
  readonly exclude?: readonly string[];
}

/** The endpoint pick() chose. */
export interface Picked<E> {
  readonly name: string;
  readonly payload: E;
  /** Its cost at the time of the pick (see the file comment). */
  readonly cost: number;
}

/** A request in flight, from start() to finish(). */
export interface EndpointToken {
  /** The endpoint the request went to. */
  readonly name: string;
  /** Clock time of start(), ms. */
  readonly startedAt: number;
}

/** The outcome of a request in flight. */
export interface EndpointOutcome {
  /** Whether it succeeded (false: a failure that counts against the endpoint's breaker). */
  readonly ok: boolean;
  /** Its latency, ms, used when ok. Default: clock.now() - token.startedAt. */
  readonly latencyMs?: number;
}

/** One endpoint's live numbers, for metrics and logs. */
export interface EndpointSnapshot {
  readonly name: string;
  /** Requests in flight. */
  readonly outstanding: number;
  /** PeakEwma latency estimate, ms; undefined before the first successful request. */
  readonly latencyMs: number | undefined;
  /** Successful requests folded into latencyMs. */
  readonly latencySamples: number;
  /** What pick() would price it at now. */
  readonly cost: number;
  readonly breaker: BreakerState;
  /** Whether pick() could choose it now (with no exclusions). */
  readonly eligible: boolean;
}

interface Entry<E> {
  readonly name: string;
  readonly payload: E;
  readonly latency: PeakEwma;
  readonly breaker: CircuitBreaker;
  outstanding: number;
}

/** Peak-EWMA x (outstanding + 1), power-of-two-choices endpoint picker; see the file comment. */
export class EndpointPicker<E> {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly halfLifeMs: number;
  private readonly defaultLatencyMs: number;
  private readonly breakerOpts: Omit<CircuitBreakerOptions, 'clock' | 'onChange'>;
  private readonly onBreakerChange: ((name: string, to: BreakerState, from: BreakerState) => void) | undefined;
  private readonly entries = new Map<string, Entry<E>>();
  // Tokens are plain objects for the caller; what they refer to stays here, so a stale or forged
  // token cannot reach an endpoint, and a token of a removed endpoint cannot touch a new one of
  // the same name.
  private readonly live = new WeakMap<EndpointToken, Entry<E>>();

  constructor(opts: EndpointPickerOptions) {
    this.clock = opts.clock;
    this.random = opts.random;
    this.halfLifeMs = opts.halfLifeMs ?? DEFAULT_PICKER_HALF_LIFE_MS;
    this.defaultLatencyMs = opts.defaultLatencyMs ?? DEFAULT_UNSAMPLED_LATENCY_MS;
    this.breakerOpts = opts.breaker ?? {};
    this.onBreakerChange = opts.onBreakerChange;
    checkPositive('halfLifeMs', this.halfLifeMs);
    if (!(Number.isFinite(this.defaultLatencyMs) && this.defaultLatencyMs >= 0)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `defaultLatencyMs = ${this.defaultLatencyMs}: expected a finite number >= 0`, { defaultLatencyMs: String(this.defaultLatencyMs) });
    }
    // Fail at construction, not at the first add(), on bad breaker options.
    new CircuitBreaker({ ...this.breakerOpts, clock: this.clock });
  }

  /** Adds an endpoint. Throws CLEAVE_E_BAD_ARGUMENT if the name is taken. */
  add(name: string, payload: E): void {
    if (this.entries.has(name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `endpoint "${name}" is already known: remove it first`, { name });
    }
    const hook = this.onBreakerChange;
    const breaker = new CircuitBreaker({
      ...this.breakerOpts,
      clock: this.clock,
      ...(hook ? { onChange: (to: BreakerState, from: BreakerState) => hook(name, to, from) } : {}),
    });
    this.entries.set(name, {
      name,
      payload,
      latency: new PeakEwma({ halfLifeMs: this.halfLifeMs, clock: this.clock }),
      breaker,
      outstanding: 0,
    });
  }

  /** Removes an endpoint; its requests in flight finish as no-ops. False if it was not known. */
  remove(name: string): boolean {
    return this.entries.delete(name);
  }

  /** Whether an endpoint of this name is known. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Number of known endpoints. */
  get size(): number {
    return this.entries.size;
  }

  /** Chooses an endpoint (see the file comment); undefined when none is eligible. */
  pick(opts: PickOptions = {}): Picked<E> | undefined {
    const exclude = opts.exclude ?? [];
    const eligible: Entry<E>[] = [];
    for (const e of this.entries.values()) {
      if (!exclude.includes(e.name) && e.breaker.wouldAllow()) eligible.push(e);
    }
    const n = eligible.length;
    if (n === 0) return undefined;
    let chosen = eligible[0]!;
    if (n > 1) {
      const i = index(this.random(), n);
      let j = index(this.random(), n - 1);
      if (j >= i) j++;
      const a = eligible[i]!;
      const b = eligible[j]!;
      chosen = this.cost(b) < this.cost(a) ? b : a;
    }
    return { name: chosen.name, payload: chosen.payload, cost: this.cost(chosen) };
  }

  /**
   * Starts a request to `name`: counts it in flight and takes its breaker's permission (a probe
   * slot when half-open). Throws CLEAVE_E_NOT_FOUND for an unknown name, CLEAVE_E_UNAVAILABLE
   * when the breaker does not allow a request (pick() and start() in the same tick never see
   * that, unless another start() took the last probe slot in between).
   */
  start(name: string): EndpointToken {
    const e = this.entries.get(name);
    if (!e) throw new CleaveError('CLEAVE_E_NOT_FOUND', `endpoint "${name}" is not known`, { name });
    if (!e.breaker.allow()) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `endpoint "${name}" is not accepting requests: its circuit breaker is ${e.breaker.state()}`, { name, breaker: e.breaker.state() });
    }
    e.outstanding++;
    const token: EndpointToken = Object.freeze({ name, startedAt: this.clock.now() });
    this.live.set(token, e);
    return token;
  }

  /**
   * Ends a request in flight. With an outcome: a success feeds the latency estimate and the
   * breaker, a failure the breaker alone. Without one: only the in-flight count changes. False
   * when the token was already finished or its endpoint was removed (nothing recorded then).
   */
  finish(token: EndpointToken, outcome?: EndpointOutcome): boolean {
    // Check the latency before changing anything, so a bad call leaves the token usable.
    const ms = outcome?.ok ? outcome.latencyMs ?? this.clock.now() - token.startedAt : 0;
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `latencyMs = ${ms}: expected a finite number >= 0`, { latencyMs: String(ms) });
    }
    const e = this.live.get(token);
    if (!e) return false;
    this.live.delete(token);
    if (this.entries.get(e.name) !== e) return false;
    e.outstanding--;
    if (outcome) {
      if (outcome.ok) e.latency.observe(ms);
      e.breaker.record(outcome.ok);
    }
    return true;
  }

  /** Live numbers of every endpoint, in insertion order. */
  snapshot(): EndpointSnapshot[] {
    return [...this.entries.values()].map((e) => ({
      name: e.name,
      outstanding: e.outstanding,
      latencyMs: e.latency.value(),
      latencySamples: e.latency.samples,
      cost: this.cost(e),
      breaker: e.breaker.state(),
      eligible: e.breaker.wouldAllow(),
    }));
  }

  private cost(e: Entry<E>): number {
    return (e.latency.value() ?? this.defaultLatencyMs) * (e.outstanding + 1);
  }
}

/** floor(r * n) clamped into [0, n - 1], so a random source that returns 1 (or junk) stays in range. */
function index(r: number, n: number): number {
  const i = Math.floor(r * n);
  return i >= 0 && i < n ? i : i >= n ? n - 1 : 0;
}
