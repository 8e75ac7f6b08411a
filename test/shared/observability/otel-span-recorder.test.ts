// The OpenTelemetry recorder against a minimal TracerProvider registered with the real
// @opentelemetry/api globals (no SDK is installed): what Cleave hands the API (names, kinds,
// remote parents, attributes, status) is what any SDK would receive.
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, trace, type Context, type Span, type SpanContext, type SpanOptions, type SpanStatus, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { otelProviderRegistered, otelSpanRecorder } from '../../../shared/observability/otel-span-recorder.js';
import { NOOP_SPAN } from '../../../shared/observability/span-recorder.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = { traceId: TID, spanId: '00f067aa0ba902b7', flags: 1 };

interface Started {
  readonly name: string;
  readonly options: SpanOptions | undefined;
  readonly parent: SpanContext | undefined;
  readonly attributes: Record<string, unknown>;
  status?: SpanStatus;
  ended: number;
}

/** A provider that records spans; it samples a span when its parent is sampled (or it has none). */
function recordingProvider(): { provider: TracerProvider; started: Started[] } {
  const started: Started[] = [];
  let next = 1;
  const tracer = {
    startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
      const parent = ctx ? trace.getSpanContext(ctx) : undefined;
      const sampled = parent === undefined || (parent.traceFlags & 1) === 1;
      const rec: Started = { name, options, parent, attributes: { ...options?.attributes }, ended: 0 };
      started.push(rec);
      const sc: SpanContext = { traceId: parent?.traceId ?? 'f'.repeat(32), spanId: (next++).toString(16).padStart(16, '0'), traceFlags: sampled ? 1 : 0 };
      const span = {
        spanContext: () => sc,
        isRecording: () => sampled,
        setAttribute: (k: string, v: unknown) => { rec.attributes[k] = v; return span; },
        setAttributes: (a: Record<string, unknown>) => { Object.assign(rec.attributes, a); return span; },
        setStatus: (s: SpanStatus) => { rec.status = s; return span; },
        end: () => { rec.ended++; },
      };
      return span as unknown as Span;
    },
  } as unknown as Tracer;
  return { provider: { getTracer: () => tracer }, started };
}

afterEach(() => {
  trace.disable();
});

describe('otelSpanRecorder', () => {
  it('records nothing and returns the shared no-op span while no provider is registered', () => {
    expect(otelProviderRegistered()).toBe(false);
    const s = otelSpanRecorder().start('cleave.edge.request', { role: 'server', parent: PARENT });
    expect(s).toBe(NOOP_SPAN);
    expect(s.context).toBeUndefined();
  });

  it('starts spans under the registered provider with the W3C parent as a remote parent', () => {
    const { provider, started } = recordingProvider();
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    expect(otelProviderRegistered()).toBe(true);
    const s = otelSpanRecorder().start('cleave.cloud.infer', { role: 'server', parent: PARENT, attributes: { 'cleave.model': 'mlp-small' } });
    expect(s.context).toEqual({ traceId: TID, spanId: '0000000000000001', flags: 1 });
    s.setAttributes({ 'cleave.cache': 'miss' });
    s.end();
    s.end();
    expect(started).toHaveLength(1);
    const r = started[0]!;
    expect(r.name).toBe('cleave.cloud.infer');
    expect(r.options?.kind).toBe(SpanKind.SERVER);
    expect(r.parent).toEqual({ traceId: TID, spanId: PARENT.spanId, traceFlags: 1, isRemote: true });
    expect(r.attributes).toEqual({ 'cleave.model': 'mlp-small', 'cleave.cache': 'miss' });
    expect(r.ended).toBe(1);
    expect(r.status).toBeUndefined();
  });

  it('marks a failed span with the error code and status ERROR', () => {
    const { provider, started } = recordingProvider();
    trace.setGlobalTracerProvider(provider);
    const s = otelSpanRecorder().start('cleave.edge.cloud_call', { role: 'client' });
    s.end({ code: 'CLEAVE_E_DEADLINE', message: 'too late' });
    expect(started[0]!.options?.kind).toBe(SpanKind.CLIENT);
    expect(started[0]!.parent).toBeUndefined();
    expect(started[0]!.attributes['cleave.error_code']).toBe('CLEAVE_E_DEADLINE');
    expect(started[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'CLEAVE_E_DEADLINE: too late' });
  });

  it('returns the no-op span when the sampler drops the span (an unsampled parent), and ends the dropped one', () => {
    const { provider, started } = recordingProvider();
    trace.setGlobalTracerProvider(provider);
    const s = otelSpanRecorder().start('cleave.edge.request', { role: 'server', parent: { ...PARENT, flags: 0 } });
    expect(s).toBe(NOOP_SPAN);
    expect(started[0]!.ended).toBe(1);
  });
});
