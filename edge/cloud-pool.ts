/**
 * Several cloud endpoints behind one CloudTransport: the router's endpoint policies
 * (shared/router/) put to work on the edge's links.
 *
 *   choice     EndpointPicker: power of two choices on peak-EWMA latency x (outstanding + 1),
 *              among the endpoints whose link is connected (or connecting) and whose circuit
 *              breaker allows a request. A link reconnecting after a loss is a last resort.
 *   health     a CircuitBreaker per endpoint (inside the picker): outcomes that isBreakerFailure
 *              counts (UNAVAILABLE, OVERLOADED, DEADLINE) trip it; an open endpoint gets nothing
 *              until its half-open probe.
 *   retry      CLEAVE_E_UNAVAILABLE or CLEAVE_E_OVERLOADED from one endpoint is retried once on
 *              another, with what is left of the deadline (at least `minRetryBudgetMs`). A run is
 *              idempotent inference, so a second copy is safe. DEADLINE is not retried (the budget
 *              is spent), nor CANCELLED (nobody wants the answer), nor errors about the request
 *              itself (BAD_ARGUMENT, SHAPE, NOT_FOUND...: another endpoint would say the same).
 *   hedging    HedgePolicy + hedged(): after the p95 of recent latencies, within a token budget
 *              (5% of runs by default), a second copy goes to a different endpoint; the first
 *              answer wins and the loser's AbortSignal fires.
 *
 * Partials (subgraph streaming, CloudRunRequest.onPartial) must come from the attempt that
 * answers, or the caller could mix stage outputs of two runs. The pool keeps that simple: a run
 * with onPartial is never hedged (its partials stream live, unbuffered, from its only attempt),
 * and it is retried only while no partial has been passed on yet. Buffering each attempt's
 * partials and replaying the winner's would allow hedging, at the price of holding every stage's
 * outputs until the end, which is what streaming exists to avoid.
 *
 * Half-open probes are never aborted. A breaker learns from its probe's outcome; a probe that
 * is cancelled (a hedge's loser, a caller that gave up) would tell it nothing and hold the probe
 * slot forever. So the pool stops waiting for such a probe but lets it finish (bounded by its
 * deadline) and records what it says. A probe that ends in an error that says nothing about the
 * endpoint (BAD_ARGUMENT...) is recorded as a success at the endpoint's current latency
 * estimate, or at the time it took when there is none yet (a fast error should not make the
 * endpoint look fast): the endpoint answered, so it is up.
 *
 * Timing: a result's `totalMs` and `wire` are the winning attempt's own, as its link measured
 * them: they describe the endpoint that served, which is what the link estimator wants. The time
 * a retry or a hedge's delay added is in the caller's own clock.
 *
 * One endpoint: the pool works, but it is not the bare transport (its breaker can fail a run
 * fast that the link would have tried). The Node entry skips the pool when one URL is
 * configured, so a single cloud behaves exactly as before. Runtime-neutral: time, timers and
 * randomness are injected.
 */
import { CleaveError, type ErrorCode, toCleaveError } from '../shared/errors.js';
import type { LoadFrame, ModelOffer, TensorMap } from '../shared/protocol/frames.js';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions, isBreakerFailure } from '../shared/router/circuit-breaker.js';
import { EndpointPicker, type EndpointPickerOptions, type EndpointToken } from '../shared/router/endpoint-picker.js';
import { hedged, HedgePolicy, type HedgeAttempt, type HedgePolicyOptions } from '../shared/router/hedging.js';
import type { Clock, Timers } from '../shared/time.js';
import { redactUrl } from './cloud-link.js';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkState, LinkStatus } from './cloud-transport.js';

/** Default least budget left for a retry, ms: below it the retry could only miss the deadline. */
export const DEFAULT_MIN_RETRY_BUDGET_MS = 10;

/** Error codes retried once on another endpoint. */
export const RETRY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['CLEAVE_E_UNAVAILABLE', 'CLEAVE_E_OVERLOADED']);

/** One cloud endpoint of a pool. */
export interface CloudPoolEndpoint {
  /** Its protocol URL; the endpoint's name in the pool, so unique. Shown without credentials. */
  readonly url: string;
  /** Its own transport, already started (a CloudLink on Node). */
  readonly transport: CloudTransport;
}

/** Options of a CloudPool. */
export interface CloudPoolOptions {
  readonly endpoints: readonly CloudPoolEndpoint[];
  readonly clock: Clock;
  /** For the hedge delay. */
  readonly timers: Timers;
  /** Uniform in [0, 1): the picker's two random choices. */
  readonly random: () => number;
  /** Hedging policy (defaults as in hedging.ts: p95, 5% budget, after 20 samples); false: never hedge. */
  readonly hedge?: HedgePolicyOptions | false;
  /** Each endpoint's circuit breaker (defaults as in circuit-breaker.ts: 5 failures in a row, 5 s open). */
  readonly breaker?: Omit<CircuitBreakerOptions, 'clock' | 'onChange'>;
  /** Picker tuning (defaults as in endpoint-picker.ts: 10 s half-life, 1 ms unsampled latency). */
  readonly picker?: Pick<EndpointPickerOptions, 'halfLifeMs' | 'defaultLatencyMs'>;
  /** A retry goes out only if at least this much of the deadline is left, ms. Default 10. */
  readonly minRetryBudgetMs?: number;
  /** Receives cloud-retry, cloud-hedge and cloud-breaker events. */
  readonly log?: (event: Record<string, unknown>) => void;
}

/** One endpoint as /v1/status shows it. */
export interface CloudEndpointStatus {
  /** URL without credentials. */
  readonly url: string;
  /** Its link's state. */
  readonly state: LinkState;
  /** Its link's PING RTT EWMA, ms. */
  readonly rttMs?: number;
  /** Why its link's last attempt or connection ended. */
  readonly lastError?: string;
  readonly breaker: BreakerState;
  /** Clock time at which an open breaker turns half-open, ms (the pool's clock). */
  readonly breakerOpenUntil?: number;
  /** Runs in flight to it from this pool. */
  readonly outstanding: number;
  /** Peak-EWMA latency of its successful runs, ms; absent before the first. */
  readonly latencyMs?: number;
  /** Attempts sent to it (first tries, retries and hedges). */
  readonly requests: number;
  /** Attempts that failed with an error its breaker counts. */
  readonly failures: number;
  /** Hedge attempts sent to it. */
  readonly hedges: number;
  /** Retries sent to it after another endpoint failed. */
  readonly retries: number;
}

interface Endpoint {
  readonly name: string;
  readonly safeUrl: string;
  readonly transport: CloudTransport;
  requests: number;
  failures: number;
  hedges: number;
  retries: number;
  // A mirror of the breaker's open period, for "open until" in errors and status: the picker
  // keeps its breakers to itself and tells only their state changes.
  openedAt: number;
  openMs: number;
}

interface Attempt {
  readonly ep: Endpoint;
  readonly ac: AbortController;
  /** It took the endpoint's half-open probe slot: never aborted (see the file comment). */
  readonly probe: boolean;
  /** The pool aborted it: its CANCELLED says nothing about the endpoint. */
  aborted: boolean;
}

interface RunContext {
  readonly req: CloudRunRequest;
  readonly deadlineAt: number;
  /** Endpoints tried so far, by name: a retry or a hedge goes elsewhere. */
  readonly tried: string[];
  readonly live: Set<Attempt>;
  /** The caller's promise is settled (answered, failed or cancelled). */
  done: boolean;
  /** Partials passed on to the caller. */
  forwarded: number;
}

/** A CloudTransport over several endpoints; see the file comment. */
export class CloudPool implements CloudTransport {
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly eps: readonly Endpoint[];
  private readonly picker: EndpointPicker<Endpoint>;
  private readonly policy: HedgePolicy | undefined;
  private readonly minRetryBudgetMs: number;
  private readonly log: ((event: Record<string, unknown>) => void) | undefined;
  private readonly baseOpenMs: number;
  private readonly maxOpenMs: number;
  /** Endpoint picked most recently, or that answered most recently: whose LOAD status() shows. */
  private last: Endpoint | undefined;

  constructor(opts: CloudPoolOptions) {
    this.clock = opts.clock;
    this.timers = opts.timers;
    this.log = opts.log;
    this.minRetryBudgetMs = opts.minRetryBudgetMs ?? DEFAULT_MIN_RETRY_BUDGET_MS;
    if (!(Number.isFinite(this.minRetryBudgetMs) && this.minRetryBudgetMs >= 0)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `minRetryBudgetMs = ${this.minRetryBudgetMs}: expected a finite number >= 0`, { minRetryBudgetMs: String(this.minRetryBudgetMs) });
    }
    // The breaker's resolved open durations, for the mirror in Endpoint (and bad options fail here).
    const resolved = new CircuitBreaker({ ...opts.breaker, clock: this.clock });
    this.baseOpenMs = resolved.openMs;
    this.maxOpenMs = resolved.maxOpenMs;
    this.policy = opts.hedge === false ? undefined : new HedgePolicy(opts.hedge ?? {});
    this.picker = new EndpointPicker<Endpoint>({
      clock: this.clock, random: opts.random, ...opts.picker,
      ...(opts.breaker ? { breaker: opts.breaker } : {}),
      onBreakerChange: (name, to, from) => this.breakerChanged(name, to, from),
    });
    const eps: Endpoint[] = [];
    opts.endpoints.forEach((e, i) => {
      if (eps.some((x) => x.name === e.url)) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cloud endpoint ${i + 1} (${redactUrl(e.url)}) is listed twice`, { url: redactUrl(e.url) });
      }
      const ep: Endpoint = {
        name: e.url, safeUrl: redactUrl(e.url), transport: e.transport,
        requests: 0, failures: 0, hedges: 0, retries: 0, openedAt: 0, openMs: this.baseOpenMs,
      };
      eps.push(ep);
      this.picker.add(ep.name, ep);
    });
    this.eps = eps;
  }

  run(req: CloudRunRequest, signal?: AbortSignal): Promise<CloudRunResult> {
    if (signal?.aborted) return Promise.reject(cancelled(req));
    if (!(req.deadlineMs > 0) || !Number.isFinite(req.deadlineMs)) {
      return Promise.reject(new CleaveError('CLEAVE_E_BAD_ARGUMENT', `run of "${req.model}" has deadlineMs ${req.deadlineMs}; expected a finite number of ms > 0`, { model: req.model }));
    }
    const ctx: RunContext = {
      req, deadlineAt: this.clock.now() + req.deadlineMs, tried: [], live: new Set(), done: false, forwarded: 0,
    };
    return new Promise<CloudRunResult>((resolve, reject) => {
      // The caller hears CANCELLED at once, whatever the attempts are doing (a probe is let run).
      const onAbort = (): void => {
        if (ctx.done) return;
        ctx.done = true;
        reject(cancelled(req));
        for (const a of [...ctx.live]) this.cancel(a);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.runWithRetry(ctx).then(
        (r) => {
          if (!ctx.done) resolve(r);
          ctx.done = true;
        },
        (e: unknown) => {
          if (!ctx.done) reject(e);
          ctx.done = true;
        },
      ).finally(() => signal?.removeEventListener('abort', onAbort));
    });
  }

  /**
   * The endpoints' links merged: connected if any is, else connecting if any is, else down
   * (disabled with no endpoints, or when all are disabled). Offers are the union by model name
   * (the first endpoint's wins), rttMs the least of the connected, load that of the endpoint
   * picked (or answering) most recently, failures the least, connects the sum, url the URLs
   * joined by ','. lastError lists each endpoint's as `url: error; ...`.
   */
  status(): LinkStatus {
    const all = this.eps.map((ep) => ({ ep, s: ep.transport.status() }));
    const has = (st: LinkState): boolean => all.some((x) => x.s.state === st);
    const state: LinkState = has('connected') ? 'connected'
      : has('connecting') ? 'connecting'
        : all.length === 0 || all.every((x) => x.s.state === 'disabled') ? 'disabled' : 'down';
    const offers: ModelOffer[] = [];
    const seen = new Set<string>();
    for (const { s } of all) {
      for (const o of s.offers) {
        if (seen.has(o.name)) continue;
        seen.add(o.name);
        offers.push(o);
      }
    }
    let rttMs: number | undefined;
    for (const { s } of all) {
      if (s.state === 'connected' && s.rttMs !== undefined) rttMs = rttMs === undefined ? s.rttMs : Math.min(rttMs, s.rttMs);
    }
    const load: LoadFrame | undefined = this.last ? all.find((x) => x.ep === this.last)?.s.load : undefined;
    const errors = all.filter((x) => x.s.lastError !== undefined).map((x) => `${x.ep.safeUrl}: ${x.s.lastError}`);
    return {
      state,
      url: this.eps.map((ep) => ep.safeUrl).join(','),
      offers,
      failures: all.length === 0 ? 0 : Math.min(...all.map((x) => x.s.failures)),
      connects: all.reduce((n, x) => n + x.s.connects, 0),
      ...(rttMs !== undefined ? { rttMs } : {}),
      ...(load !== undefined ? { load } : {}),
      ...(errors.length > 0 ? { lastError: errors.join('; ') } : {}),
    };
  }

  /** Each endpoint's link, breaker and traffic, in configuration order, for /v1/status. */
  endpoints(): CloudEndpointStatus[] {
    const snap = new Map(this.picker.snapshot().map((s) => [s.name, s]));
    return this.eps.map((ep) => {
      const s = ep.transport.status();
      const p = snap.get(ep.name);
      const breaker = p?.breaker ?? 'closed';
      return {
        url: ep.safeUrl,
        state: s.state,
        ...(s.rttMs !== undefined ? { rttMs: s.rttMs } : {}),
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
        breaker,
        ...(breaker === 'open' ? { breakerOpenUntil: ep.openedAt + ep.openMs } : {}),
        outstanding: p?.outstanding ?? 0,
        ...(p?.latencyMs !== undefined ? { latencyMs: p.latencyMs } : {}),
        requests: ep.requests,
        failures: ep.failures,
        hedges: ep.hedges,
        retries: ep.retries,
      };
    });
  }

  /** Runs and hedges counted by the hedge policy (zeros when hedging is off). */
  hedgeStats(): { readonly requests: number; readonly hedges: number } {
    return this.policy?.stats() ?? { requests: 0, hedges: 0 };
  }

  /** Closes every endpoint's transport; rejects with the first failure after trying them all. */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.eps.map((ep) => ep.transport.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async runWithRetry(ctx: RunContext): Promise<CloudRunResult> {
    try {
      return await this.runHedged(ctx);
    } catch (e) {
      const err = toCleaveError(e);
      if (!RETRY_CODES.has(err.code) || ctx.done || ctx.forwarded > 0 || ctx.tried.length === 0) throw err;
      const left = ctx.deadlineAt - this.clock.now();
      if (left < this.minRetryBudgetMs) throw err;
      const ep = this.choose(ctx.tried);
      if (!ep) throw err;
      this.log?.({ event: 'cloud-retry', model: ctx.req.model, failed: ctx.tried.map((n) => this.safe(n)), code: err.code, to: ep.safeUrl, leftMs: left });
      ep.retries++;
      return await this.attempt(ctx, ep);
    }
  }

  private runHedged(ctx: RunContext): Promise<CloudRunResult> {
    const first = this.choose(ctx.tried);
    if (!first) return Promise.reject(this.noEndpoint(ctx.req));
    const policy = this.policy;
    if (!policy) return this.attempt(ctx, first);
    // hedged() counts every run into the budget, hedgeable or not, so the budget is a share of all runs.
    let delay = policy.hedgeDelayMs();
    if (delay !== undefined && (ctx.req.onPartial !== undefined
      || delay >= ctx.deadlineAt - this.clock.now()
      || !this.hasOther(first))) delay = undefined;
    let a1: Attempt | undefined;
    let a2: Attempt | undefined;
    return hedged(
      () => this.attempt(ctx, first, (a) => { a1 = a; }),
      () => {
        const ep = ctx.done ? undefined : this.choose(ctx.tried);
        if (!ep) return Promise.reject(this.noEndpoint(ctx.req));
        ep.hedges++;
        this.log?.({ event: 'cloud-hedge', model: ctx.req.model, from: first.safeUrl, to: ep.safeUrl, afterMs: delay });
        return this.attempt(ctx, ep, (a) => { a2 = a; });
      },
      delay, this.timers, policy,
      (loser: HedgeAttempt) => {
        const a = loser === 'first' ? a1 : a2;
        if (a) this.cancel(a);
      },
    );
  }

  /** One attempt on one endpoint, its outcome recorded in the picker, breaker and hedge policy. */
  private attempt(ctx: RunContext, ep: Endpoint, started?: (a: Attempt) => void): Promise<CloudRunResult> {
    const { req } = ctx;
    const left = ctx.deadlineAt - this.clock.now();
    if (left <= 0) {
      return Promise.reject(new CleaveError('CLEAVE_E_DEADLINE', `run of "${req.model}" spent its whole ${req.deadlineMs} ms deadline before it could go to ${ep.safeUrl}`, { model: req.model, deadlineMs: req.deadlineMs }));
    }
    const probe = this.picker.snapshot().find((s) => s.name === ep.name)?.breaker === 'half-open';
    let token: EndpointToken;
    try {
      token = this.picker.start(ep.name);
    } catch (e) {
      // Another run took the last probe slot between pick() and start().
      return Promise.reject(e);
    }
    ep.requests++;
    this.last = ep;
    ctx.tried.push(ep.name);
    const att: Attempt = { ep, ac: new AbortController(), probe, aborted: false };
    ctx.live.add(att);
    started?.(att);
    const onPartial = req.onPartial;
    const sub: CloudRunRequest = {
      ...req,
      deadlineMs: left,
      ...(onPartial ? {
        onPartial: (stage: number, model: string, outputs: TensorMap) => {
          if (ctx.done || att.aborted) return;
          ctx.forwarded++;
          onPartial(stage, model, outputs);
        },
      } : {}),
    };
    const t0 = this.clock.now();
    let p: Promise<CloudRunResult>;
    try {
      p = ep.transport.run(sub, att.ac.signal);
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.then(
      (r) => {
        ctx.live.delete(att);
        const ms = this.clock.now() - t0;
        this.picker.finish(token, { ok: true, latencyMs: ms });
        this.policy?.observe(ms);
        if (!ctx.done) this.last = ep;
        return r;
      },
      (e: unknown) => {
        ctx.live.delete(att);
        const err = toCleaveError(e);
        if (att.aborted && err.code === 'CLEAVE_E_CANCELLED') {
          this.picker.finish(token);
        } else if (isBreakerFailure(err.code)) {
          ep.failures++;
          this.picker.finish(token, { ok: false });
        } else if (probe) {
          // The endpoint answered: it is up. Its latency estimate is left alone (see the file comment).
          const est = this.picker.snapshot().find((s) => s.name === ep.name)?.latencyMs;
          this.picker.finish(token, { ok: true, latencyMs: est ?? this.clock.now() - t0 });
        } else {
          this.picker.finish(token);
        }
        throw err;
      },
    );
  }

  /** Stops an attempt nobody waits for any more; a half-open probe is let finish (see the file comment). */
  private cancel(a: Attempt): void {
    if (a.probe || a.aborted) return;
    a.aborted = true;
    a.ac.abort();
  }

  /**
   * The picker's choice among usable endpoints not in `exclude`. A link reconnecting after a
   * loss (connecting, with failures) is taken only when nothing better is left: a run sent there
   * waits for the attempt (up to the link's firstConnectWaitMs) and most likely fails over.
   */
  private choose(exclude: readonly string[]): Endpoint | undefined {
    const strict = [...exclude];
    const lenient = [...exclude];
    let reconnecting = false;
    for (const ep of this.eps) {
      const s = ep.transport.status();
      if (!usable(s.state)) {
        strict.push(ep.name);
        lenient.push(ep.name);
      } else if (s.state === 'connecting' && s.failures > 0) {
        strict.push(ep.name);
        reconnecting = true;
      }
    }
    return (this.picker.pick({ exclude: strict }) ?? (reconnecting ? this.picker.pick({ exclude: lenient }) : undefined))?.payload;
  }

  /** Whether a hedge could go to an endpoint other than `ep` now (no random numbers drawn, unlike pick()). */
  private hasOther(ep: Endpoint): boolean {
    const eligible = new Set(this.picker.snapshot().filter((s) => s.eligible).map((s) => s.name));
    return this.eps.some((e) => {
      if (e === ep || !eligible.has(e.name)) return false;
      const s = e.transport.status();
      return s.state === 'connected' || (s.state === 'connecting' && s.failures === 0);
    });
  }

  /** CLEAVE_E_UNAVAILABLE naming each endpoint and why it cannot take the run. */
  private noEndpoint(req: CloudRunRequest): CleaveError {
    if (this.eps.length === 0) {
      return new CleaveError('CLEAVE_E_UNAVAILABLE', `model ${JSON.stringify(req.model)} runs in the cloud, and this edge has no cloud endpoints configured`, { model: req.model });
    }
    const now = this.clock.now();
    const snap = new Map(this.picker.snapshot().map((s) => [s.name, s]));
    const reasons = this.eps.map((ep) => {
      const s = ep.transport.status();
      if (!usable(s.state)) return `${ep.safeUrl} (link ${s.state}${s.lastError !== undefined ? `: ${s.lastError}` : ''})`;
      const b = snap.get(ep.name)?.breaker;
      if (b === 'open') {
        const until = ep.openedAt + ep.openMs;
        return `${ep.safeUrl} (circuit breaker open until t=${Math.round(until)} ms, ${Math.max(0, Math.round(until - now))} ms from now)`;
      }
      if (b === 'half-open') return `${ep.safeUrl} (circuit breaker half-open, its probe still in flight)`;
      return `${ep.safeUrl} (already tried for this run)`;
    });
    return new CleaveError('CLEAVE_E_UNAVAILABLE', `no cloud endpoint can take the run of "${req.model}": ${reasons.join(', ')}`, {
      model: req.model, endpoints: this.eps.map((ep) => ep.safeUrl), reasons,
    });
  }

  private breakerChanged(name: string, to: BreakerState, from: BreakerState): void {
    const ep = this.eps.find((e) => e.name === name);
    if (ep) {
      // As CircuitBreaker does: the first trip opens for openMs, each failed probe doubles it up to maxOpenMs.
      if (to === 'open') {
        ep.openMs = from === 'half-open' ? Math.min(this.maxOpenMs, ep.openMs * 2) : this.baseOpenMs;
        ep.openedAt = this.clock.now();
      } else if (to === 'closed') {
        ep.openMs = this.baseOpenMs;
      }
    }
    this.log?.({
      event: 'cloud-breaker', url: this.safe(name), to, from,
      ...(to === 'open' && ep ? { openMs: ep.openMs } : {}),
    });
  }

  private safe(name: string): string {
    return this.eps.find((e) => e.name === name)?.safeUrl ?? redactUrl(name);
  }
}

/** What /v1/status shows of a pool under `cloud`. */
export interface CloudPoolStatus {
  readonly endpoints: CloudEndpointStatus[];
  /** Runs counted by the hedge policy and hedges sent. */
  readonly hedging: { readonly requests: number; readonly hedges: number };
}

/**
 * The pool's endpoints and hedging for /v1/status when `t` has endpoints() (a CloudPool, or
 * anything shaped like one); undefined for a single link. Duck-typed, so the app needs no
 * runtime import of the pool.
 */
export function poolStatusOf(t: CloudTransport): CloudPoolStatus | undefined {
  const p = t as Partial<Pick<CloudPool, 'endpoints' | 'hedgeStats'>>;
  if (typeof p.endpoints !== 'function') return undefined;
  return {
    endpoints: p.endpoints.call(t),
    hedging: typeof p.hedgeStats === 'function' ? p.hedgeStats.call(t) : { requests: 0, hedges: 0 },
  };
}

function usable(state: LinkState): boolean {
  return state === 'connected' || state === 'connecting';
}

function cancelled(req: CloudRunRequest): CleaveError {
  return new CleaveError('CLEAVE_E_CANCELLED', `run of "${req.model}" was cancelled by the caller`, { model: req.model });
}
