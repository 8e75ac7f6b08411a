/**
 * SpanRecorder over the OpenTelemetry API (@opentelemetry/api, runtime-neutral: Node, workerd,
 * browsers). The API alone records nothing: spans reach an exporter only when the application
 * registers an SDK (see docs/observability.md and docs/otel-preload.mjs). Until then every start()
 * returns the shared NOOP_SPAN after one cheap check, so the hot path pays no allocation.
 *
 * A span's parent is the W3C context Cleave received (the client's traceparent at the edge, the
 * edge's in a RUN at the cloud), marked remote, so an SDK with the default ParentBased sampler
 * follows the caller's sampled flag.
 */
import { ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { NOOP_SPAN, type RecordedSpan, type SpanRecorder, type SpanRole } from './span-recorder.js';

/** Tracer name Cleave registers its spans under. */
export const OTEL_TRACER_NAME = 'cleave';

const KINDS: Readonly<Record<SpanRole, SpanKind>> = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL };

// The API's no-op provider is a module singleton; a fresh proxy hands it back while it has no delegate.
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

/** True when an SDK has registered a tracer provider with the global API. */
export function otelProviderRegistered(): boolean {
  const p = trace.getTracerProvider();
  return !(p instanceof ProxyTracerProvider) || p.getDelegate() !== NOOP_PROVIDER;
}

/** Options of otelSpanRecorder. */
export interface OtelSpanRecorderOptions {
  /** The tracer to use. Default `trace.getTracer('cleave')` (whatever provider is global at start() time). */
  readonly tracer?: Tracer;
}

/**
 * A SpanRecorder that creates OpenTelemetry spans while a provider is registered (or with an
 * explicit tracer), and NOOP_SPAN otherwise or when the sampler drops the span.
 */
export function otelSpanRecorder(opts: OtelSpanRecorderOptions = {}): SpanRecorder {
  const explicit = opts.tracer;
  let tracer: Tracer | undefined = explicit;
  return {
    start(name, start): RecordedSpan {
      if (!explicit && !otelProviderRegistered()) return NOOP_SPAN;
      tracer ??= trace.getTracer(OTEL_TRACER_NAME);
      const parent = start.parent
        ? trace.setSpanContext(ROOT_CONTEXT, { traceId: start.parent.traceId, spanId: start.parent.spanId, traceFlags: start.parent.flags, isRemote: true })
        : ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: KINDS[start.role], ...(start.attributes ? { attributes: start.attributes as Attributes } : {}) }, parent);
      if (!span.isRecording()) {
        span.end();
        return NOOP_SPAN;
      }
      const sc = span.spanContext();
      let ended = false;
      return {
        context: { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags },
        setAttributes: (a) => { span.setAttributes(a as Attributes); },
        end(error) {
          if (ended) return;
          ended = true;
          if (error) {
            span.setAttribute('cleave.error_code', error.code);
            span.setStatus({ code: SpanStatusCode.ERROR, message: `${error.code}: ${error.message}` });
          }
          span.end();
        },
      };
    },
  };
}
