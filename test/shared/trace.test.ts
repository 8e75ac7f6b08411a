import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../shared/errors.js';
import {
  childSpan,
  cryptoRandomBytes,
  formatTraceparent,
  parseTraceparent,
  requestId,
  type RandomBytes,
  type TraceContext,
} from '../../shared/trace.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';
const VALID = `00-${TID}-${SID}-01`;

/** Deterministic bytes: 1, 2, 3, ... (wrapping at 256). */
function counting(): RandomBytes {
  let next = 1;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
}

/** Replays the given byte arrays, one per call. */
function scripted(...draws: number[][]): RandomBytes {
  let i = 0;
  return (n) => {
    const d = draws[i++];
    if (d === undefined) throw new Error('scripted random ran out');
    expect(d.length).toBe(n);
    return Uint8Array.from(d);
  };
}

describe('parseTraceparent', () => {
  const valid: [string, string, TraceContext][] = [
    ['the spec example', VALID, { traceId: TID, spanId: SID, flags: 1 }],
    ['not sampled', `00-${TID}-${SID}-00`, { traceId: TID, spanId: SID, flags: 0 }],
    ['unknown flag bits are kept', `00-${TID}-${SID}-ff`, { traceId: TID, spanId: SID, flags: 255 }],
    ['leading OWS', ` \t${VALID}`, { traceId: TID, spanId: SID, flags: 1 }],
    ['trailing OWS', `${VALID} \t `, { traceId: TID, spanId: SID, flags: 1 }],
    ['future version, exactly 55 chars', `cc-${TID}-${SID}-01`, { traceId: TID, spanId: SID, flags: 1 }],
    ['future version with extra fields', `01-${TID}-${SID}-09-what-the-future-will-be-like`, { traceId: TID, spanId: SID, flags: 9 }],
    ['future version with an empty extra field', `fe-${TID}-${SID}-01-`, { traceId: TID, spanId: SID, flags: 1 }],
  ];
  it.each(valid)('accepts %s', (_, header, want) => {
    expect(parseTraceparent(header)).toEqual(want);
  });

  const invalid: [string, string | null | undefined][] = [
    ['null', null],
    ['undefined', undefined],
    ['empty', ''],
    ['only OWS', '   '],
    ['uppercase trace id', `00-${TID.toUpperCase()}-${SID}-01`],
    ['uppercase span id', `00-${TID}-00F067AA0BA902B7-01`],
    ['uppercase flags', `00-${TID}-${SID}-0A`],
    ['uppercase version', `0A-${TID}-${SID}-01`],
    ['short trace id', `00-${TID.slice(1)}-${SID}-01`],
    ['long trace id', `00-${TID}0-${SID}-01`],
    ['short span id', `00-${TID}-${SID.slice(1)}-01`],
    ['long span id', `00-${TID}-${SID}0-01`],
    ['one-digit flags', `00-${TID}-${SID}-1`],
    ['three-digit flags', `00-${TID}-${SID}-001`],
    ['one-digit version', `0-${TID}-${SID}-01`],
    ['three-digit version', `000-${TID}-${SID}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SID}-01`],
    ['all-zero span id', `00-${TID}-${'0'.repeat(16)}-01`],
    ['all-zero ids in a future version', `01-${'0'.repeat(32)}-${SID}-01`],
    ['version ff', `ff-${TID}-${SID}-01`],
    ['version 00 with extra fields', `${VALID}-what-the-future-will-be-like`],
    ['version 00 with a trailing dash', `${VALID}-`],
    ['future version, extra text without a dash', `01-${TID}-${SID}-01.what-the-future`],
    ['future version, shorter than 55', `01-${TID}-${SID}-1`],
    ['non-hex in trace id', `00-${TID.slice(0, 31)}g-${SID}-01`],
    ['non-hex version', `0x-${TID}-${SID}-01`],
    ['underscores for dashes', `00_${TID}_${SID}_01`],
    ['whitespace inside', `00- ${TID}-${SID}-01`],
    ['whitespace before a field', `00-${TID} -${SID}-01`],
    ['a newline in front', `\n${VALID}`],
    ['two headers joined by a comma', `${VALID}, ${VALID}`],
    ['longer than 512 chars (a future version that would parse)', `01-${TID}-${SID}-01-${'a'.repeat(512)}`],
  ];
  it.each(invalid)('rejects %s', (_, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('looks at values up to 512 chars, counting OWS', () => {
    const future = `01-${TID}-${SID}-01-`;
    expect(parseTraceparent(future.padEnd(512, 'x'))).toBeDefined();
    expect(parseTraceparent(future.padEnd(513, 'x'))).toBeUndefined();
    expect(parseTraceparent(' '.repeat(513 - VALID.length) + VALID)).toBeUndefined();
  });
});

describe('formatTraceparent', () => {
  it('round-trips through parseTraceparent', () => {
    const ctx = { traceId: TID, spanId: SID, flags: 3 };
    expect(formatTraceparent(ctx)).toBe(`00-${TID}-${SID}-03`);
    expect(parseTraceparent(formatTraceparent(ctx))).toEqual(ctx);
    expect(formatTraceparent(parseTraceparent(VALID)!)).toBe(VALID);
  });

  it('writes version 00 for a context read from a future version', () => {
    expect(formatTraceparent(parseTraceparent(`42-${TID}-${SID}-01-extra`)!)).toBe(VALID);
  });

  it.each([
    ['uppercase trace id', { traceId: TID.toUpperCase(), spanId: SID, flags: 1 }],
    ['zero trace id', { traceId: '0'.repeat(32), spanId: SID, flags: 1 }],
    ['short span id', { traceId: TID, spanId: 'abc', flags: 1 }],
    ['zero span id', { traceId: TID, spanId: '0'.repeat(16), flags: 1 }],
    ['flags 256', { traceId: TID, spanId: SID, flags: 256 }],
    ['flags 1.5', { traceId: TID, spanId: SID, flags: 1.5 }],
    ['flags -1', { traceId: TID, spanId: SID, flags: -1 }],
  ])('throws CLEAVE_E_BAD_ARGUMENT for %s', (_, ctx) => {
    expect(() => formatTraceparent(ctx)).toThrow(expect.objectContaining({ code: 'CLEAVE_E_BAD_ARGUMENT' }));
  });
});

describe('childSpan', () => {
  it('keeps the trace id and flags and changes the span id', () => {
    const parent = parseTraceparent(`00-${TID}-${SID}-00`)!;
    const child = childSpan(parent, counting());
    expect(child).toEqual({ traceId: TID, spanId: '0102030405060708', flags: 0 });
    expect(parseTraceparent(formatTraceparent(child))).toEqual(child);
  });

  it('starts a sampled trace when there is no parent', () => {
    expect(childSpan(undefined, counting())).toEqual({
      traceId: '0102030405060708090a0b0c0d0e0f10',
      spanId: '1112131415161718',
      flags: 1,
    });
  });

  it('is deterministic for a deterministic random source', () => {
    expect(childSpan(undefined, counting())).toEqual(childSpan(undefined, counting()));
  });

  it('retries an all-zero draw', () => {
    const random = scripted(new Array(16).fill(0), [...new Array(15).fill(0), 7], new Array(8).fill(0), [0, 0, 0, 0, 0, 0, 0, 9]);
    expect(childSpan(undefined, random)).toEqual({ traceId: `${'0'.repeat(30)}07`, spanId: `${'0'.repeat(14)}09`, flags: 1 });
  });

  it('reports a source that only returns zeros instead of looping forever', () => {
    const zeros: RandomBytes = (n) => new Uint8Array(n);
    expect(() => childSpan(undefined, zeros)).toThrow(expect.objectContaining({ code: 'CLEAVE_E_INTERNAL' }));
  });

  it('reports a source that returns the wrong number of bytes', () => {
    const short: RandomBytes = () => new Uint8Array([1, 2]);
    try {
      childSpan(undefined, short);
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_INTERNAL')).toBe(true);
      expect((e as Error).message).toContain('returned 2 bytes');
    }
  });

  it('makes distinct valid ids with the crypto source', () => {
    const a = childSpan(undefined, cryptoRandomBytes);
    const b = childSpan(a, cryptoRandomBytes);
    expect(parseTraceparent(formatTraceparent(a))).toEqual(a);
    expect(b.traceId).toBe(a.traceId);
    expect(b.spanId).not.toBe(a.spanId);
  });
});

describe('cryptoRandomBytes', () => {
  it('returns the asked length, past the 65536-byte getRandomValues quota', () => {
    expect(cryptoRandomBytes(0)).toHaveLength(0);
    expect(cryptoRandomBytes(16)).toHaveLength(16);
    const big = cryptoRandomBytes(65536 * 2 + 5);
    expect(big).toHaveLength(65536 * 2 + 5);
    // The tail chunk was filled too (all zero with probability 2^-40).
    expect(big.subarray(-5).some((b) => b !== 0)).toBe(true);
  });
});

describe('requestId', () => {
  it.each(['a', 'req-123', 'A.b_c:d-E', '0123456789', 'x'.repeat(128), '550e8400-e29b-41d4-a716-446655440000'])('keeps a valid client id %j', (id) => {
    expect(requestId(id, counting())).toBe(id);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['129 chars', 'x'.repeat(129)],
    ['a space', 'req 1'],
    ['a newline (log injection)', 'req\nFAKE LOG LINE'],
    ['a slash', 'a/b'],
    ['quotes', '"abc"'],
    ['non-ASCII', 'réq'],
    ['surrounding whitespace', ' abc '],
  ])('replaces an id that is %s with 32 random hex digits', (_, id) => {
    expect(requestId(id, counting())).toBe('0102030405060708090a0b0c0d0e0f10');
  });

  it('makes fresh ids with the crypto source', () => {
    const a = requestId(undefined, cryptoRandomBytes);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(requestId(undefined, cryptoRandomBytes)).not.toBe(a);
  });
});
