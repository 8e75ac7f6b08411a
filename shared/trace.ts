/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for a request that crosses
 * client -> edge -> cloud, plus the `x-request-id` that people paste into bug reports.
 *
 * Only `traceparent` is handled; `tracestate` is vendor data that Cleave forwards untouched or
 * not at all. Randomness is injected (RandomBytes) so tests are exact; production passes
 * cryptoRandomBytes. Runtime-neutral: only the Web Crypto global is used.
 */

import { CleaveError } from './errors.js';

/** One hop's position in a distributed trace. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero: the whole request across every hop. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: this hop (the spec's `parent-id` on the wire). */
  spanId: string;
  /** Trace flags, 0..255; bit 0 (0x01) is "sampled". */
  flags: number;
}

/** Returns `n` random bytes. Injected so that ids are deterministic in tests. */
export type RandomBytes = (n: number) => Uint8Array;

/** The `sampled` trace flag. */
export const TRACE_FLAG_SAMPLED = 0x01;

/**
 * Longest `traceparent` value looked at, in characters (512). The spec's version 00 is 55; the
 * cap bounds the work on a hostile header sent with some far-future version.
 */
export const MAX_TRACEPARENT_LENGTH = 512;

/** Longest client `x-request-id` kept, in characters (128). */
export const MAX_REQUEST_ID_LENGTH = 128;

// Web Crypto is a global in Node 20, workerd and browsers. Typed structurally so `shared/`
// does not lean on the Node or DOM type libraries.
interface WebCryptoLike {
  getRandomValues<T extends Uint8Array>(array: T): T;
}

/** getRandomValues refuses more than 65536 bytes per call (QuotaExceededError). */
const GET_RANDOM_VALUES_MAX = 65536;

/** RandomBytes from `globalThis.crypto.getRandomValues` (CSPRNG; Node 20, workerd, browsers). */
export const cryptoRandomBytes: RandomBytes = (n) => {
  const crypto = (globalThis as { crypto?: WebCryptoLike }).crypto;
  if (crypto === undefined) {
    throw new CleaveError('CLEAVE_E_INTERNAL', 'globalThis.crypto.getRandomValues is not available in this runtime');
  }
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += GET_RANDOM_VALUES_MAX) {
    crypto.getRandomValues(out.subarray(at, Math.min(n, at + GET_RANDOM_VALUES_MAX)));
  }
  return out;
};

/**
 * Random bytes drawn from `source` in blocks of `blockBytes` (default 4096) and handed out in
 * slices: one getRandomValues call per ~170 requests instead of three per request (request id,
 * trace id, span id), which bench:edge measured at about 30 µs a request. Each slice is a copy,
 * so a caller may keep it.
 */
export function pooledRandomBytes(source: RandomBytes = cryptoRandomBytes, blockBytes = 4096): RandomBytes {
  let pool: Uint8Array = new Uint8Array(0);
  let at = 0;
  return (n) => {
    if (n > blockBytes) return source(n);
    if (at + n > pool.length) {
      pool = source(blockBytes);
      at = 0;
    }
    const out = pool.slice(at, at + n);
    at += n;
    return out;
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ALL_ZERO = /^0+$/;
// version-trace_id-parent_id-flags, each field lowercase hex; the first 55 characters of any version.
const TRACEPARENT_HEAD = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}/;

/** Strips HTTP optional whitespace (SP, HTAB) from both ends, as a field-value parser does. */
function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s[start] === ' ' || s[start] === '\t')) start++;
  while (end > start && (s[end - 1] === ' ' || s[end - 1] === '\t')) end--;
  return s.slice(start, end);
}

/**
 * Parses a `traceparent` header value. Returns undefined for anything invalid: the spec says an
 * invalid header is ignored and a new trace started, so this is never an error.
 *
 * - Version 00: exactly `00-<32 hex>-<16 hex>-<2 hex>`, lowercase only.
 * - Version ff: invalid.
 * - Any other version (a future one): the first 55 characters must parse as above and be
 *   followed by the end of the value or by `-` (the spec's forward-compatibility rule); the
 *   rest is ignored.
 * - A trace id or span id of all zeros is invalid.
 * - Leading and trailing SP/HTAB are dropped (HTTP optional whitespace, as the spec's test suite
 *   expects); whitespace anywhere else is invalid.
 * - Values longer than MAX_TRACEPARENT_LENGTH (512) characters are ignored.
 */
export function parseTraceparent(header: string | null | undefined): TraceContext | undefined {
  if (header === null || header === undefined || header.length > MAX_TRACEPARENT_LENGTH) return undefined;
  const value = trimOws(header);
  if (!TRACEPARENT_HEAD.test(value)) return undefined;
  const version = value.slice(0, 2);
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (version === 'ff') return undefined;
  if (version === '00') {
    if (value.length !== 55) return undefined;
  } else if (value.length > 55 && value[55] !== '-') {
    return undefined;
  }
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/**
 * Formats a context as a version-00 `traceparent` value. Throws CLEAVE_E_BAD_ARGUMENT for a
 * context that could not have come from parseTraceparent or childSpan (a programming error).
 */
export function formatTraceparent(ctx: TraceContext): string {
  if (!TRACE_ID.test(ctx.traceId) || ALL_ZERO.test(ctx.traceId)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `trace id ${JSON.stringify(ctx.traceId)} is not 32 lowercase hex digits, not all zero`, { traceId: ctx.traceId });
  }
  if (!SPAN_ID.test(ctx.spanId) || ALL_ZERO.test(ctx.spanId)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `span id ${JSON.stringify(ctx.spanId)} is not 16 lowercase hex digits, not all zero`, { spanId: ctx.spanId });
  }
  if (!Number.isInteger(ctx.flags) || ctx.flags < 0 || ctx.flags > 255) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `trace flags ${ctx.flags} are not an integer in 0..255`, { flags: ctx.flags });
  }
  return `00-${ctx.traceId}-${ctx.spanId}-${HEX[ctx.flags]}`;
}

/**
 * Tries before giving up on a random source that keeps returning all-zero ids. A real CSPRNG
 * returns 8 zero bytes with probability 2^-64, so reaching this means the source is broken, and
 * looping forever would hang the request instead of reporting it.
 */
const MAX_ID_ATTEMPTS = 16;

/** `n` random bytes as lowercase hex, never all zero (the spec reserves zero ids as invalid). */
function nonZeroHexId(n: number, random: RandomBytes, what: string): string {
  for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
    const bytes = random(n);
    if (bytes.length !== n) {
      throw new CleaveError('CLEAVE_E_INTERNAL', `random source returned ${bytes.length} bytes for a ${what}, expected ${n}`);
    }
    if (bytes.some((b) => b !== 0)) return toHex(bytes);
  }
  throw new CleaveError('CLEAVE_E_INTERNAL', `random source returned an all-zero ${what} ${MAX_ID_ATTEMPTS} times in a row`);
}

/**
 * The context for this hop's work: the parent's trace id and flags with a new span id, or, with
 * no parent, a new trace (random trace id, flags 01 = sampled). Ids are never all zero: an
 * all-zero draw is retried (up to 16 times, then CLEAVE_E_INTERNAL for a broken source).
 */
export function childSpan(parent: TraceContext | undefined, random: RandomBytes): TraceContext {
  if (parent === undefined) {
    const traceId = nonZeroHexId(16, random, 'trace id');
    return { traceId, spanId: nonZeroHexId(8, random, 'span id'), flags: TRACE_FLAG_SAMPLED };
  }
  return { traceId: parent.traceId, spanId: nonZeroHexId(8, random, 'span id'), flags: parent.flags };
}

const REQUEST_ID = new RegExp(`^[A-Za-z0-9._:-]{1,${MAX_REQUEST_ID_LENGTH}}$`);

/**
 * The request id to log and echo in `x-request-id`. A client's id is kept when it is 1..128
 * characters of `[A-Za-z0-9._:-]` (safe to log and to put in a header unquoted); otherwise a new
 * one is made: 16 random bytes as 32 lowercase hex digits, the same shape as a trace id.
 */
export function requestId(incoming: string | null | undefined, random: RandomBytes): string {
  if (incoming !== null && incoming !== undefined && REQUEST_ID.test(incoming)) return incoming;
  return nonZeroHexId(16, random, 'request id');
}
