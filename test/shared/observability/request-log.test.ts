import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../shared/errors.js';
import { BoundedLabel, OVERFLOW_LABEL_VALUE } from '../../../shared/observability/bounded-label.js';
import { requestLogEvent, roundMs, spanIdOf, traceFields } from '../../../shared/observability/request-log.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';
const PARENT = 'b7ad6b7169203331';

describe('requestLogEvent', () => {
  it('writes trace ids, request id, tenant, extras and timing segments in snake_case, rounded to µs', () => {
    const e = requestLogEvent({
      tier: 'edge', model: 'mlp-small', version: 1, code: 'ok', span: { traceId: TID, spanId: SID, flags: 1 }, parentSpanId: PARENT,
      requestId: 'req-1', tenant: 'acme', totalMs: 12.34567,
      segments: { cache: 0.0123456, edge: undefined, cloud_queue: 1.5 },
      extra: { served_by: 'cloud', cache: 'miss', cloud_span_id: 'aaaaaaaaaaaaaaaa', degraded: undefined },
    });
    expect(e).toEqual({
      event: 'request', tier: 'edge', status: 'ok', code: 'ok', model: 'mlp-small', version: 1, request_id: 'req-1',
      trace_id: TID, span_id: SID, parent_span_id: PARENT, tenant: 'acme', served_by: 'cloud', cache: 'miss', cloud_span_id: 'aaaaaaaaaaaaaaaa',
      total_ms: 12.346, cache_ms: 0.012, cloud_queue_ms: 1.5,
    });
    // Absent values are left out, not written as null.
    expect(JSON.stringify(e)).not.toContain('null');
    expect('edge_ms' in e).toBe(false);
  });

  it('marks an error line with its code and status error', () => {
    const e = requestLogEvent({ tier: 'cloud', model: 'x', code: 'CLEAVE_E_SHAPE', totalMs: 1 });
    expect(e).toMatchObject({ status: 'error', code: 'CLEAVE_E_SHAPE', tier: 'cloud' });
    expect('trace_id' in e).toBe(false);
  });

  it('reads span ids from traceparent values and ignores invalid ones', () => {
    expect(spanIdOf(`00-${TID}-${SID}-01`)).toBe(SID);
    expect(spanIdOf('00-zz-1-01')).toBeUndefined();
    expect(spanIdOf(undefined)).toBeUndefined();
    expect(traceFields({ traceId: TID, spanId: SID, flags: 0 })).toEqual({ trace_id: TID, span_id: SID });
    expect(roundMs(1.23456789)).toBe(1.235);
  });
});

describe('BoundedLabel', () => {
  it('keeps the first max distinct values and maps later ones to _other', () => {
    const l = new BoundedLabel({ max: 2 });
    expect(['a', 'b', 'a', 'c', 'b', 'd'].map((v) => l.value(v))).toEqual(['a', 'b', 'a', OVERFLOW_LABEL_VALUE, 'b', OVERFLOW_LABEL_VALUE]);
    expect(l.overflowCount).toBe(2);
  });

  it('refuses a max that is not a non-negative integer with CLEAVE_E_BAD_ARGUMENT', () => {
    for (const max of [-1, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        new BoundedLabel({ max });
      } catch (e) {
        err = e;
      }
      expect(isCleaveError(err) && err.code === 'CLEAVE_E_BAD_ARGUMENT', String(max)).toBe(true);
      expect((err as Error).message).toContain(String(max));
    }
  });
});
