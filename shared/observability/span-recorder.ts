/**
 * Where Cleave reports spans besides its own W3C ids (shared/trace.ts): an interface both tiers
 * call around a request, a cloud call and a cloud execution, with a no-op implementation that
 * costs nothing. The OpenTelemetry implementation (otel-span-recorder.ts) is one of them; tests
 * use a recording one. Runtime-neutral.
 *
 * Why the span may carry its own context: when an exporter is installed, the span ids it exports
 * are its own, not Cleave's. A caller that propagates a traceparent downstream (the edge's RUN to
 * the cloud) sends the recorder's context when there is one, so the exported spans form one
 * tree; Cleave's own ids stay in headers and log lines.
 */
import type { TraceContext } from '../trace.js';

/** What a span stands for, as OpenTelemetry's SpanKind. */
export type SpanRole = 'server' | 'client' | 'internal';

/** Attribute values a span takes. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

/** How a span starts. */
export interface SpanStart {
  readonly role: SpanRole;
  /** The remote or local parent; undefined: a root span (a new trace). */
  readonly parent?: TraceContext;
  readonly attributes?: SpanAttributes;
}

/** A span in progress. */
export interface RecordedSpan {
  /** This span's ids when it is really recorded (to propagate downstream); undefined for a no-op span. */
  readonly context: TraceContext | undefined;
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span; with `error`, marked failed with the Cleave error code. Later calls do nothing. */
  end(error?: { readonly code: string; readonly message: string }): void;
}

/** Starts spans. */
export interface SpanRecorder {
  start(name: string, start: SpanStart): RecordedSpan;
}

/** A span that records nothing. One shared instance: it has no state. */
export const NOOP_SPAN: RecordedSpan = {
  context: undefined,
  setAttributes: () => undefined,
  end: () => undefined,
};

/** A recorder that records nothing (the default everywhere). */
export const NOOP_SPAN_RECORDER: SpanRecorder = { start: () => NOOP_SPAN };

/** Span names Cleave uses, so dashboards can rely on them. */
export const SPAN_NAMES = {
  /** One inference request at the edge (single model). */
  edgeRequest: 'cleave.edge.request',
  /** One run the edge sends to the cloud (a model, a subgraph or a split tail). */
  edgeCloudCall: 'cleave.edge.cloud_call',
  /** One request executed by the cloud (a model or a subgraph). */
  cloudInfer: 'cleave.cloud.infer',
} as const;
