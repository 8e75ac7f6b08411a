/**
 * The trace fields an edge route hands to EdgeService.infer and the workflow service: the edge's
 * span as a traceparent (sent to the cloud), the request id and the caller's span id (both for the
 * `request` log line and the exported span's parent). Runtime-neutral.
 */
import { formatTraceparent, parseTraceparent, type TraceContext } from '../../shared/trace.js';

/** What a route knows of a request's identity (RequestContext has these). */
export interface RequestIdentity {
  readonly requestId: string;
  /** The edge's span for this request. */
  readonly span: TraceContext;
}

/** The trace fields of a service request. */
export interface TraceArgs {
  readonly traceparent: string;
  readonly requestId: string;
  /** The caller's span id, when its `traceparent` header was valid. */
  readonly parentSpanId?: string;
}

/**
 * Trace fields from a request's identity and its incoming `traceparent` header. The parent is
 * taken from the header only when it belongs to the same trace as the edge's span (it always
 * does when the span was opened from it; a mismatch means the span started a new trace).
 */
export function traceArgs(id: RequestIdentity, incomingTraceparent: string | undefined): TraceArgs {
  const parent = parseTraceparent(incomingTraceparent);
  return {
    traceparent: formatTraceparent(id.span),
    requestId: id.requestId,
    ...(parent && parent.traceId === id.span.traceId ? { parentSpanId: parent.spanId } : {}),
  };
}
