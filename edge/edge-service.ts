/**
 * The edge's one way to answer an inference request, whichever endpoint brought it (KServe v2,
 * the native msgpack/JSON route, the client WebSocket):
 *
 *   look the model up -> check the inputs against its contract -> result cache (single flight)
 *   -> compute: on the edge backend for an edge model, over the link for a cloud model, and on
 *      the cloud model's edge fallback when the cloud is unavailable (a degraded answer, never
 *      cached) -> account for where the time went (the Server-Timing segments).
 *
 * Validation happens before the cache, so a bad request never reaches the cache or the cloud,
 * and a failed computation stores nothing. Runtime-neutral: the clock and digest are injected.
 *
 * Observability (docs/observability.md): each request is one `request` log line with its trace
 * ids and timing segments, `auto` placements are counted with their estimate error, and spans go
 * to the SpanRecorder (OpenTelemetry when an SDK is registered).
 */
import type { EdgeTiming } from '../shared/server-timing.js';
import { CleaveError, toCleaveError, type ErrorCode } from '../shared/errors.js';
import { requestLogEvent, spanIdOf, type LogSink } from '../shared/observability/request-log.js';
import { NOOP_SPAN_RECORDER, SPAN_NAMES, type RecordedSpan, type SpanRecorder } from '../shared/observability/span-recorder.js';
import { childSpan, formatTraceparent, parseTraceparent, type RandomBytes, type TraceContext } from '../shared/trace.js';
import type { PlacementDecision } from '../shared/router/placement.js';
import type { ModelLoad, TensorMap } from '../shared/protocol/frames.js';
import type { RunService, ServiceRunHandle, ServiceRunRequest } from '../shared/protocol/server-session.js';
import { tensorBytes } from '../shared/tensor.js';
import { requestRows } from '../shared/tensor-batch.js';
import { FALLBACK_CODES } from '../shared/workflow/runtime.js';
import { checkInputs, checkOutputNames } from '../shared/tensor-check.js';
import type { Clock, Timers } from '../shared/time.js';
import { cacheKey, type Digest } from './cache-key.js';
import type { CloudTransport } from './cloud-transport.js';
import type { LiveEstimates } from './live-estimates.js';
import { StageRouter } from './stage-router.js';
import type { PlacementPolicy } from '../shared/router/placement.js';
import type { EdgeMetrics } from './metrics.js';
import type { CatalogEntry, ModelCatalog } from './model-catalog.js';
import type { CacheMode, CacheStatus, ResultCache } from './result-cache.js';

/** Which tier computed an answer. */
export type ServedBy = 'edge' | 'cloud';

export type { EdgeTiming };

/** Why and by what a cloud model was answered at the edge. */
export interface Degraded {
  /** The edge model that answered. */
  readonly fallback: string;
  /** The cloud failure that made it answer. */
  readonly reason: ErrorCode;
}

export interface EdgeInferRequest {
  readonly model: string;
  readonly version?: number;
  readonly inputs: TensorMap;
  readonly outputs?: readonly string[];
  /** Cache scope; requests of different tenants never share cached answers. */
  readonly tenant: string;
  readonly cache?: CacheMode;
  /** Budget from `receivedAt`, ms. Default EdgeServiceOptions.defaultDeadlineMs. */
  readonly deadlineMs?: number;
  readonly priority?: number;
  /** traceparent of the edge's span for this request, passed to the cloud. */
  readonly traceparent?: string;
  /** The caller's span id (the parent of `traceparent`'s span), for the log line and the exported span's parent. */
  readonly parentSpanId?: string;
  /** The request id (x-request-id), for the log line. */
  readonly requestId?: string;
  /** Aborts the request (the client went away). */
  readonly signal?: AbortSignal;
  /** When the request arrived, service clock ms. Default now. */
  readonly receivedAt?: number;
  /**
   * Where the model runs: `edge` or `cloud` fixed, `auto` chosen by the cost model from the live
   * estimates (a model on both tiers). Default: the catalog's placement.
   */
  readonly placement?: PlacementPolicy;
}

export interface EdgeInferResult {
  readonly model: string;
  readonly version: number;
  readonly outputs: TensorMap;
  readonly servedBy: ServedBy;
  readonly degraded?: Degraded;
  readonly cache: CacheStatus;
  readonly timing: EdgeTiming;
  /** For an `auto` placement: the decision and its cost terms, one line (the `x-cleave-placement` header). */
  readonly placement?: string;
}

/** What the cache stores: an answer and the compute segments it cost when it was made. */
export interface ComputedAnswer {
  readonly version: number;
  readonly outputs: TensorMap;
  readonly servedBy: ServedBy;
  readonly degraded?: Degraded;
  readonly edgeMs?: number;
  readonly linkMs?: number;
  readonly cloudQueueMs?: number;
  readonly cloudComputeMs?: number;
  readonly placement?: string;
  /** The cloud's span id for the run that computed this answer (from its RESULT), when it sent one. */
  readonly cloudSpanId?: string;
}

/** Bytes a cached answer holds: its tensors plus a fixed allowance for the object around them. */
export function answerBytes(a: ComputedAnswer): number {
  let n = 256;
  for (const [name, t] of Object.entries(a.outputs)) n += tensorBytes(t) + name.length * 2 + 64;
  return n;
}

export interface EdgeServiceOptions {
  readonly catalog: ModelCatalog;
  readonly cloud: CloudTransport;
  readonly cache: ResultCache<ComputedAnswer>;
  readonly metrics: EdgeMetrics;
  readonly clock: Clock;
  /** Digest for cache keys (SHA-256). */
  readonly digest: Digest;
  /** Budget of a request that states none, ms. Default 30000. */
  readonly defaultDeadlineMs?: number;
  /** Largest budget a request may state, ms. Default 300000. */
  readonly maxDeadlineMs?: number;
  /**
   * Timers on the service clock. With them, a request whose deadline passes while it waits (on a
   * computation it joined, whose owner has a longer budget, or on the cloud) fails at its own
   * deadline with CLEAVE_E_DEADLINE; without them only the computation's own checks apply.
   */
  readonly timers?: Timers;
  /** Live measurements for the router, fed by every computed answer. */
  readonly estimates?: LiveEstimates;
  /** Receives one `request` log event per inference (shared/observability/request-log.ts). Default: none. */
  readonly log?: LogSink;
  /** Spans around each request and cloud call. Default: none (NOOP_SPAN_RECORDER). */
  readonly spans?: SpanRecorder;
  /**
   * Randomness for the span the edge opens for a WebSocket client's run (child of the RUN's
   * traceparent). Default: none, and the client's traceparent is forwarded to the cloud as is.
   */
  readonly random?: RandomBytes;
}

interface DeadlineWatch {
  readonly signal: AbortSignal;
  expired: boolean;
  dispose(): void;
}


/** Least time kept back from a cloud run for the edge to answer instead, ms. */
export const RESERVE_MIN_MS = 25;

export class EdgeService {
  private readonly defaultDeadlineMs: number;
  private readonly maxDeadlineMs: number;
  private readonly router: StageRouter | undefined;
  private readonly spans: SpanRecorder;

  constructor(private readonly opts: EdgeServiceOptions) {
    this.spans = opts.spans ?? NOOP_SPAN_RECORDER;
    this.defaultDeadlineMs = opts.defaultDeadlineMs ?? 30_000;
    this.maxDeadlineMs = opts.maxDeadlineMs ?? 300_000;
    this.router = opts.estimates ? new StageRouter(opts.estimates) : undefined;
  }

  /** The catalog entry a request addresses, learning the cloud's offers first if the name is new. */
  resolve(model: string, version?: number): CatalogEntry {
    const { catalog } = this.opts;
    if (!catalog.find(model, version)) catalog.learnOffers(this.opts.cloud.status().offers);
    return catalog.get(model, version);
  }

  /** Answers one request. Rejects with a CleaveError; records metrics either way. */
  async infer(req: EdgeInferRequest): Promise<EdgeInferResult> {
    const { clock, metrics } = this.opts;
    const t0 = req.receivedAt ?? clock.now();
    let entry: CatalogEntry | undefined;
    let watch: DeadlineWatch | undefined;
    const own = req.traceparent !== undefined ? parseTraceparent(req.traceparent) : undefined;
    // The exported span's parent is the caller's span; with no caller span, the edge's own
    // (a root with Cleave's trace id, so the exported trace keeps the id the answer carries).
    const span = this.spans.start(SPAN_NAMES.edgeRequest, {
      role: 'server', ...optionalParent(own && req.parentSpanId !== undefined ? { ...own, spanId: req.parentSpanId } : own),
      attributes: { 'cleave.model': req.model, 'cleave.tenant': req.tenant },
    });
    let cloudSpanId: string | undefined;
    try {
      entry = this.resolve(req.model, req.version);
      checkInputs(req.model, req.inputs, entry.inputs);
      checkOutputNames(req.model, req.outputs, entry.outputs);
      const budget = this.budget(req.deadlineMs);
      const deadlineAt = t0 + budget;
      const mode = req.cache ?? 'default';
      const target = entry;
      const compute = (signal: AbortSignal): Promise<ComputedAnswer> => this.compute(target, req, deadlineAt, signal, span, own);
      // Only a cloud run waits on something that can outlive its budget; edge compute is short and not cancellable.
      const mayGoToCloud = target.placement === 'cloud' || (req.placement !== undefined && req.placement !== 'edge');
      watch = mayGoToCloud ? this.watchDeadline(req.signal, deadlineAt) : undefined;
      const signal = watch?.signal ?? req.signal;

      const tc = clock.now();
      let status: CacheStatus;
      let answer: ComputedAnswer;
      let cacheMs: number;
      if (mode === 'bypass') {
        // No key needed: skip the digest entirely.
        cacheMs = 0;
        ({ value: answer, status } = await this.opts.cache.lookup('', compute, { mode, ...(signal ? { signal } : {}) }));
      } else {
        const key = await cacheKey({ tenant: req.tenant, model: target.name, version: target.version, ...(req.outputs ? { outputs: req.outputs } : {}), inputs: req.inputs }, this.opts.digest);
        const keyed = clock.now();
        ({ value: answer, status } = await this.opts.cache.lookup(key, compute, {
          mode, cacheable: (a) => a.degraded === undefined, ...(signal ? { signal } : {}),
        }));
        // A hit's cache segment is digest + lookup; a computed answer's is the digest only (the rest is compute).
        cacheMs = status === 'hit' ? clock.now() - tc : keyed - tc;
      }
      const computed = status === 'miss' || status === 'bypass' || status === 'refresh';
      const timing: EdgeTiming = {
        cacheMs,
        ...(computed ? pickSegments(answer) : {}),
        totalMs: clock.now() - t0,
      };
      const result: EdgeInferResult = {
        model: target.name, version: answer.version, outputs: answer.outputs, servedBy: answer.servedBy, cache: status, timing,
        ...(answer.degraded ? { degraded: answer.degraded } : {}),
        ...(computed && answer.placement !== undefined ? { placement: answer.placement } : {}),
      };
      if (computed) cloudSpanId = answer.cloudSpanId;
      this.record(result, req.tenant);
      span.setAttributes({ 'cleave.served_by': result.servedBy, 'cleave.cache': result.cache });
      span.end();
      this.logRequest(req, own, span, { model: result.model, version: result.version, code: 'ok', totalMs: timing.totalMs, result, cloudSpanId });
      return result;
    } catch (e) {
      let err = toCleaveError(e);
      // The wait was cut by this request's own deadline, not by its client: say so.
      if (watch?.expired && err.code === 'CLEAVE_E_CANCELLED') err = deadlineError(req.model);
      metrics.failed(entry?.name ?? '(unknown)', err.code, req.tenant);
      span.end({ code: err.code, message: err.message });
      this.logRequest(req, own, span, { model: entry?.name ?? req.model, ...(entry ? { version: entry.version } : {}), code: err.code, totalMs: clock.now() - t0 });
      throw err;
    } finally {
      watch?.dispose();
    }
  }

  /** A signal that aborts when the client's does or when `deadlineAt` passes (needs timers). */
  private watchDeadline(client: AbortSignal | undefined, deadlineAt: number): DeadlineWatch | undefined {
    const timers = this.opts.timers;
    if (!timers) return undefined;
    const ac = new AbortController();
    const onClient = (): void => ac.abort();
    if (client?.aborted) ac.abort();
    client?.addEventListener('abort', onClient, { once: true });
    const watch: DeadlineWatch = {
      signal: ac.signal,
      expired: false,
      dispose: () => {
        timers.clearTimeout(timer);
        client?.removeEventListener('abort', onClient);
      },
    };
    const timer = timers.setTimeout(() => {
      watch.expired = true;
      ac.abort();
    }, Math.max(0, deadlineAt - this.opts.clock.now()));
    return watch;
  }

  /** One `request` log line (nothing without a log sink). */
  private logRequest(
    req: EdgeInferRequest, own: TraceContext | undefined, span: RecordedSpan,
    l: { model: string; version?: number; code: string; totalMs: number; result?: EdgeInferResult; cloudSpanId?: string | undefined },
  ): void {
    const log = this.opts.log;
    if (!log) return;
    const r = l.result;
    const t = r?.timing;
    log(requestLogEvent({
      tier: 'edge', model: l.model, ...(l.version !== undefined ? { version: l.version } : {}), code: l.code, totalMs: l.totalMs,
      ...(own ? { span: own } : {}), ...(req.parentSpanId !== undefined ? { parentSpanId: req.parentSpanId } : {}),
      ...(req.requestId !== undefined ? { requestId: req.requestId } : {}), tenant: req.tenant,
      extra: {
        served_by: r?.servedBy, cache: r?.cache, placement: r?.placement, degraded: r?.degraded?.fallback,
        cloud_span_id: l.cloudSpanId, otel_span_id: span.context?.spanId,
      },
      segments: { cache: t?.cacheMs, edge: t?.edgeMs, link: t?.linkMs, cloud_queue: t?.cloudQueueMs, cloud_compute: t?.cloudComputeMs },
    }));
  }

  /** RunService for the client WebSocket: the protocol's RUN answered through `infer`. */
  runService(tenant: string): RunService {
    return {
      infer: (r) => this.runHandle(r, tenant),
      loadReport: () => this.loadReport(),
    };
  }

  /** Per-model load for LOAD frames to WebSocket clients. */
  loadReport(): Record<string, ModelLoad> {
    // The edge has no batcher queue to report; the cloud's report is relayed as it was last seen.
    return this.opts.cloud.status().load?.models ?? {};
  }

  private runHandle(r: ServiceRunRequest, tenant: string): ServiceRunHandle {
    const ac = new AbortController();
    const receivedAt = r.receivedAt ?? this.opts.clock.now();
    // The edge's own span for this run, child of the client's, as the HTTP routes open one.
    const parent = r.traceparent !== undefined ? parseTraceparent(r.traceparent) : undefined;
    const traceparent = this.opts.random ? formatTraceparent(childSpan(parent, this.opts.random)) : r.traceparent;
    const promise = this.infer({
      model: r.model, inputs: r.inputs, tenant, signal: ac.signal, receivedAt,
      ...(r.version !== undefined ? { version: r.version } : {}),
      ...(r.outputs ? { outputs: r.outputs } : {}),
      ...(r.priority !== undefined ? { priority: r.priority } : {}),
      ...(traceparent !== undefined ? { traceparent } : {}),
      ...(this.opts.random && parent ? { parentSpanId: parent.spanId } : {}),
      ...(r.requestId !== undefined ? { requestId: r.requestId } : {}),
      ...(r.deadline !== undefined ? { deadlineMs: Math.max(1, r.deadline - receivedAt) } : {}),
    }).then((res) => ({
      model: res.model, version: res.version, outputs: res.outputs,
      timing: { queueMs: res.timing.cloudQueueMs ?? 0, computeMs: res.timing.edgeMs ?? res.timing.cloudComputeMs ?? 0, batchSize: 1 },
      ...(traceparent !== undefined ? { traceparent } : {}),
    }));
    return {
      promise,
      cancel: () => {
        ac.abort();
        // Edge work is not queued: once handed to the backend or the link it has started.
        return false;
      },
    };
  }

  private budget(asked: number | undefined): number {
    if (asked === undefined) return this.defaultDeadlineMs;
    if (!Number.isFinite(asked) || asked <= 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `deadline must be a positive number of milliseconds, got ${asked}`, { deadlineMs: String(asked) });
    }
    return Math.min(asked, this.maxDeadlineMs);
  }

  private async compute(entry: CatalogEntry, req: EdgeInferRequest, deadlineAt: number, signal: AbortSignal, span: RecordedSpan, own: TraceContext | undefined): Promise<ComputedAnswer> {
    const place = this.place(entry, req, deadlineAt);
    const note = place.explanation !== undefined ? { placement: place.explanation } : {};
    // An `auto` decision is counted once, with its estimate error when its own tier answered.
    let counted = false;
    const count = (actualMs?: number): void => {
      if (counted || !place.decision) return;
      counted = true;
      const d = place.decision;
      const prior = d.candidates.find((c) => c.tier === d.tier)?.priorUsed === true;
      this.opts.metrics.decision({
        kind: 'model', model: entry.name, choice: d.tier, probe: false,
        ...(actualMs !== undefined ? { estimate: { tier: d.tier, expectedMs: d.expectedMs, actualMs, prior } } : {}),
      });
    };
    if (place.tier === 'edge') {
      try {
        const a = await this.computeAtEdge(entry, req, deadlineAt);
        count(a.edgeMs);
        return { ...a, ...note };
      } finally {
        count();
      }
    }
    const remaining = deadlineAt - this.opts.clock.now();
    if (remaining <= 0) {
      count();
      throw deadlineError(entry.name);
    }
    // What answers here if the cloud does not: the model itself (sent to the cloud by choice) or
    // its fallback. Its expected edge time is kept back from the cloud's budget, so a link that
    // never answers (blackholed, before the heartbeat notices) still leaves time to answer here.
    const local = entry.placement === 'edge' ? entry : entry.fallback !== undefined ? this.opts.catalog.find(entry.fallback) : undefined;
    const reserve = local ? this.reserveMs(local, req.inputs, remaining) : 0;
    // With an exporter, the cloud is told the exported call span, so the exported spans form one
    // tree; without one, the edge's own span (Cleave's ids, as in the answer's traceparent).
    const call = this.spans.start(SPAN_NAMES.edgeCloudCall, { role: 'client', ...optionalParent(span.context ?? own), attributes: { 'cleave.model': entry.name } });
    const traceparent = call.context ? formatTraceparent(call.context) : req.traceparent;
    try {
      if (remaining - reserve <= 0) throw deadlineError(entry.name);
      const r = await this.opts.cloud.run({
        model: entry.name, version: entry.version, inputs: req.inputs, deadlineMs: remaining - reserve,
        ...(req.outputs ? { outputs: req.outputs } : {}),
        ...(req.priority !== undefined ? { priority: req.priority } : {}),
        ...(traceparent !== undefined ? { traceparent } : {}),
      }, signal);
      this.opts.estimates?.observeCloud(entry.name, requestRows(req.inputs), r, this.opts.cloud.status().load);
      const cloudSpanId = spanIdOf(r.traceparent);
      call.end();
      count(r.totalMs);
      return {
        version: entry.version, outputs: r.outputs, servedBy: 'cloud',
        linkMs: Math.max(0, r.totalMs - r.timing.queueMs - r.timing.computeMs),
        cloudQueueMs: r.timing.queueMs, cloudComputeMs: r.timing.computeMs, ...note,
        ...(cloudSpanId !== undefined ? { cloudSpanId } : {}),
      };
    } catch (e) {
      const err = toCleaveError(e);
      call.end({ code: err.code, message: err.message });
      count();
      const kept = err.code === 'CLEAVE_E_DEADLINE' && reserve > 0 && this.opts.clock.now() < deadlineAt;
      if ((!FALLBACK_CODES.has(err.code) && !kept) || signal.aborted) throw err;
      // An edge model sent to the cloud by choice runs here instead: the same model, not degraded.
      if (entry.placement === 'edge') return { ...(await this.computeAtEdge(entry, req, deadlineAt)), ...note };
      if (entry.fallback === undefined) throw err;
      const fallback = this.opts.catalog.get(entry.fallback);
      const local = await this.computeAtEdge(fallback, req, deadlineAt);
      this.opts.metrics.degraded.inc({ model: entry.name, fallback: fallback.name });
      // The answer keeps the requested model's name and version: the fallback has its exact contract.
      return { ...local, version: entry.version, degraded: { fallback: fallback.name, reason: err.code } };
    }
  }

  /**
   * Time kept back for answering at the edge when the cloud does not: three times the local
   * model's expected edge time (it may queue behind other fallbacks on a busy box), at least
   * RESERVE_MIN_MS, never more than half the budget.
   */
  private reserveMs(local: CatalogEntry, inputs: TensorMap, remaining: number): number {
    const est = this.opts.estimates?.edgeCompute.estimate(local.name, requestRows(inputs)) ?? 0;
    return Math.min(remaining / 2, Math.max(RESERVE_MIN_MS, 3 * est));
  }

  /**
   * The tier of one call. Fixed policies are taken as asked (a cloud model has no edge copy to
   * run); `auto` asks the cost model, with the cloud counted only while the link is up and offers
   * the model.
   */
  private place(entry: CatalogEntry, req: EdgeInferRequest, deadlineAt: number): { tier: 'edge' | 'cloud'; explanation?: string; decision?: PlacementDecision } {
    const policy = req.placement ?? entry.placement;
    if (policy === 'edge' && entry.placement !== 'edge') {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `model ${JSON.stringify(entry.name)} runs in the cloud only; it has no edge copy for placement "edge"`, { model: entry.name, placement: 'edge' });
    }
    if (policy !== 'auto') return { tier: policy };
    const status = this.opts.cloud.status();
    const cloudAvailable = status.state === 'connected' && (entry.placement === 'cloud' || status.offers.some((o) => o.name === entry.name));
    const edgeAvailable = entry.placement === 'edge';
    if (!this.router) return { tier: edgeAvailable ? 'edge' : 'cloud' };
    if (!edgeAvailable && !cloudAvailable) return { tier: 'cloud' };
    const batch = requestRows(req.inputs);
    let bytesIn = 0;
    for (const t of Object.values(req.inputs)) bytesIn += tensorBytes(t);
    const { decision, explanation } = this.router.decide({
      model: entry.name, batch, bytesIn, outputs: entry.outputs, edgeAvailable, cloudAvailable, policy: 'auto',
      deadlineMs: Math.max(0, deadlineAt - this.opts.clock.now()),
    });
    return { tier: decision.tier, explanation, decision };
  }

  private async computeAtEdge(entry: CatalogEntry, req: EdgeInferRequest, deadlineAt: number): Promise<ComputedAnswer> {
    const { clock } = this.opts;
    const session = await this.opts.catalog.session(entry);
    if (clock.now() >= deadlineAt) throw deadlineError(entry.name);
    const t = clock.now();
    const outputs = await session.run(req.inputs, req.outputs);
    const edgeMs = clock.now() - t;
    this.opts.estimates?.observeEdge(entry.name, requestRows(req.inputs), edgeMs);
    return { version: entry.version, outputs, servedBy: 'edge', edgeMs };
  }

  private record(r: EdgeInferResult, tenant: string): void {
    const t = r.timing;
    this.opts.metrics.answered(r.model, r.servedBy, r.cache, t.totalMs, [
      ['cache', t.cacheMs], ['edge', t.edgeMs], ['link', t.linkMs], ['cloud-queue', t.cloudQueueMs], ['cloud-compute', t.cloudComputeMs],
    ], tenant);
  }

}

function pickSegments(a: ComputedAnswer): Omit<EdgeTiming, 'cacheMs' | 'totalMs'> {
  return {
    ...(a.edgeMs !== undefined ? { edgeMs: a.edgeMs } : {}),
    ...(a.linkMs !== undefined ? { linkMs: a.linkMs } : {}),
    ...(a.cloudQueueMs !== undefined ? { cloudQueueMs: a.cloudQueueMs } : {}),
    ...(a.cloudComputeMs !== undefined ? { cloudComputeMs: a.cloudComputeMs } : {}),
  };
}


function optionalParent(parent: TraceContext | undefined): { parent?: TraceContext } {
  return parent ? { parent } : {};
}

function deadlineError(model: string): CleaveError {
  return new CleaveError('CLEAVE_E_DEADLINE', `the deadline of the request for model ${JSON.stringify(model)} passed before it could run`, { model });
}
