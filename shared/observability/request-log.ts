/**
 * The one structured `request` log line each tier writes per inference, so an edge line and a
 * cloud line of the same request can be joined on `trace_id` (and the edge's `cloud_span_id` with
 * the cloud's `span_id`). Field names are snake_case, times are ms rounded to 3 decimals (µs),
 * absent values are left out rather than written as null. Runtime-neutral; the caller's `log`
 * adds `ts` and writes the line.
 *
 * Fields (docs/observability.md lists them with examples):
 *   event 'request', tier 'edge' | 'cloud', status 'ok' | 'error', code ('ok' or a CLEAVE_E_*),
 *   model, version, request_id, trace_id, span_id, parent_span_id, tenant, plus per-tier extras
 *   (served_by, cache, placement, cloud_span_id; protocol, batch_size, stages) and timing
 *   segments total_ms, cache_ms, edge_ms, link_ms, cloud_queue_ms, cloud_compute_ms, queue_ms,
 *   compute_ms.
 */
import { parseTraceparent, type TraceContext } from '../trace.js';

/** A log event as both tiers' `log` functions take it. */
export type LogEvent = Record<string, unknown>;

/** Writes one log event. */
export type LogSink = (event: LogEvent) => void;

/** The trace fields of a line: the hop's span and its parent. */
export interface TraceFields {
  readonly trace_id: string;
  readonly span_id: string;
  readonly parent_span_id?: string;
}

/** What a request line is built from. */
export interface RequestLine {
  readonly tier: 'edge' | 'cloud';
  readonly model: string;
  readonly version?: number;
  /** 'ok' or the error code. */
  readonly code: string;
  readonly span?: TraceContext;
  /** The caller's span id (the parent of `span`), when there was one. */
  readonly parentSpanId?: string;
  readonly requestId?: string;
  readonly tenant?: string;
  /** Whole request as this tier saw it, ms. */
  readonly totalMs: number;
  /** Timing segments, ms, written as `<name>_ms`; undefined ones are left out. */
  readonly segments?: Readonly<Record<string, number | undefined>>;
  /** Tier-specific fields, written as given (undefined ones are left out). */
  readonly extra?: Readonly<Record<string, string | number | boolean | undefined>>;
}

/** ms rounded to 3 decimals (µs): enough for latency, short in the log. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The trace fields of a span and its parent, as log fields. */
export function traceFields(span: TraceContext, parentSpanId?: string): TraceFields {
  return { trace_id: span.traceId, span_id: span.spanId, ...(parentSpanId !== undefined ? { parent_span_id: parentSpanId } : {}) };
}

/** The span id of a traceparent value, or undefined for an absent or invalid one. */
export function spanIdOf(traceparent: string | undefined): string | undefined {
  return traceparent === undefined ? undefined : parseTraceparent(traceparent)?.spanId;
}

/** The `request` log event of one inference. */
export function requestLogEvent(l: RequestLine): LogEvent {
  const e: LogEvent = {
    event: 'request',
    tier: l.tier,
    status: l.code === 'ok' ? 'ok' : 'error',
    code: l.code,
    model: l.model,
  };
  if (l.version !== undefined) e.version = l.version;
  if (l.requestId !== undefined) e.request_id = l.requestId;
  if (l.span) Object.assign(e, traceFields(l.span, l.parentSpanId));
  else if (l.parentSpanId !== undefined) e.parent_span_id = l.parentSpanId;
  if (l.tenant !== undefined) e.tenant = l.tenant;
  for (const [k, v] of Object.entries(l.extra ?? {})) if (v !== undefined) e[k] = v;
  e.total_ms = roundMs(l.totalMs);
  for (const [k, v] of Object.entries(l.segments ?? {})) if (v !== undefined) e[`${k}_ms`] = roundMs(v);
  return e;
}
