/**
 * The `Server-Timing` response header (https://w3c.github.io/server-timing/): where the time of
 * one request went, readable in browser devtools and by the Cleave client SDK.
 *
 *   Server-Timing = #( metric-name *( OWS ";" OWS param-name OWS "=" OWS param-value ) )
 *   metric-name, param-name = token; param-value = token / quoted-string
 *
 * Only `dur` (milliseconds) and `desc` are understood; the spec defines nothing else.
 */

import { CleaveError } from './errors.js';

/** One metric of a Server-Timing header. */
export interface TimingSegment {
  /** Metric name, an RFC 7230 token (see TIMING for the names the edge uses). */
  name: string;
  /** Duration in milliseconds; written rounded to 3 decimals (microseconds). */
  durMs?: number;
  /** Human-readable description. */
  desc?: string;
}

/**
 * The segment names the edge reports, in the order a request passes through them.
 *
 * - `cache`: computing the result-cache key digest plus the lookup.
 * - `edge`: model compute on the edge (the head of a split, or the whole small model).
 * - `link`: the round trip to the cloud minus the cloud's own queue and compute time, i.e. the
 *   network and the framing on both ends.
 * - `cloud-queue`: time the request waited in the cloud's scheduler, as reported by the cloud.
 * - `cloud-compute`: model compute on the cloud GPU tier, as reported by the cloud.
 * - `total`: the whole request as the edge saw it, from the first byte read to the response.
 */
export const TIMING = {
  cache: 'cache',
  edge: 'edge',
  link: 'link',
  cloudQueue: 'cloud-queue',
  cloudCompute: 'cloud-compute',
  total: 'total',
} as const;

/** One of the segment names in TIMING. */
export type TimingName = (typeof TIMING)[keyof typeof TIMING];

// RFC 7230 section 3.2.6 tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** True when `s` is an RFC 7230 token (1 or more tchar). */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Makes `desc` something an HTTP field value can carry: every character other than HTAB, SP
 * and visible ASCII (CR, LF, other controls, DEL, anything non-ASCII) becomes `?`, one per code
 * point. Header values are byte strings (Headers.set rejects code points above 0xFF and CR/LF/NUL)
 * and Latin-1 obs-text is read differently by different clients, so plain ASCII is the only form
 * that means the same thing everywhere. Descriptions are for people, so a lossy `?` beats
 * failing the response.
 */
export function sanitizeTimingDesc(desc: string): string {
  let out = '';
  for (const ch of desc) {
    const c = ch.codePointAt(0) ?? 0;
    out += c === 0x09 || (c >= 0x20 && c <= 0x7e) ? ch : '?';
  }
  return out;
}

/**
 * Rounds to microseconds. Past 2^53 microseconds a double has no fractional microseconds left to
 * round, and `ms * 1000` could overflow to Infinity, so such values pass through as they are.
 */
function roundDur(ms: number): number {
  return ms >= 1e15 ? ms : Math.round(ms * 1000) / 1000;
}

/**
 * Formats segments as a Server-Timing value: `name;dur=1.234;desc="..."`, joined by `, `.
 *
 * - A name that is not an RFC 7230 token throws CLEAVE_E_BAD_ARGUMENT: names come from code,
 *   not from requests, so a bad one is a programming error.
 * - `durMs` is rounded to 3 decimals; a negative duration (clock skew between hosts) is written
 *   as 0 and a non-finite one (NaN, Infinity) is left out.
 * - `desc` is always a quoted-string with `"` and `\` escaped, after sanitizeTimingDesc.
 * - A segment with neither is written as the bare name, which the spec allows.
 */
export function formatServerTiming(segments: readonly TimingSegment[]): string {
  const parts: string[] = [];
  for (const seg of segments) {
    if (!isToken(seg.name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `Server-Timing metric name ${JSON.stringify(seg.name)} is not an RFC 7230 token`, { name: seg.name });
    }
    let part = seg.name;
    if (seg.durMs !== undefined && Number.isFinite(seg.durMs)) {
      part += `;dur=${roundDur(Math.max(0, seg.durMs))}`;
    }
    if (seg.desc !== undefined) {
      part += `;desc="${sanitizeTimingDesc(seg.desc).replace(/["\\]/g, '\\$&')}"`;
    }
    parts.push(part);
  }
  return parts.join(', ');
}

/** Limits for parseServerTiming. */
export interface ParseServerTimingOptions {
  /** Metrics kept; later ones are ignored. Default 64. */
  maxSegments?: number;
}

const DEFAULT_MAX_SEGMENTS = 64;
// A decimal number as a `dur` value; anything else (hex, Infinity, empty) is not a duration.
// Number() alone would also take `0x1f`, `Infinity` and ``.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A single-pass scanner over one header value. Every method moves forward or not at all. */
class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): string | undefined {
    return this.s[this.pos];
  }

  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.s[this.pos] ?? '')) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /** Reads a quoted-string at `"`; undefined when it is not closed. */
  quoted(): string | undefined {
    this.pos++; // opening quote
    let out = '';
    while (!this.done) {
      const ch = this.s[this.pos++] ?? '';
      if (ch === '"') return out;
      if (ch === '\\') {
        if (this.done) return undefined;
        out += this.s[this.pos++] ?? '';
      } else {
        out += ch;
      }
    }
    return undefined;
  }

  /** Moves past the next list comma outside a quoted-string, or to the end. */
  skipEntry(): void {
    while (!this.done) {
      const ch = this.s[this.pos];
      if (ch === ',') return;
      if (ch === '"') {
        if (this.quoted() === undefined) return;
      } else {
        this.pos++;
      }
    }
  }
}

/**
 * Parses a Server-Timing value, tolerantly: never throws, runs in one pass (linear in the input).
 *
 * - Entries that do not parse (no token name, junk after the name or a param, a param without a
 *   name, an unclosed quoted-string) are skipped; the rest are kept.
 * - `dur` and `desc` are matched case-insensitively and the first occurrence wins, as in the
 *   spec; other params, and params without `=value`, are ignored.
 * - A `dur` that is not a decimal number is left out (the entry is kept).
 * - At most `maxSegments` (default 64) metrics are returned.
 */
export function parseServerTiming(header: string, options: ParseServerTimingOptions = {}): TimingSegment[] {
  const maxSegments = options.maxSegments ?? DEFAULT_MAX_SEGMENTS;
  const out: TimingSegment[] = [];
  const sc = new Scanner(header);
  while (!sc.done && out.length < maxSegments) {
    sc.skipOws();
    if (sc.peek() === ',') {
      sc.pos++; // empty list element, allowed by the #rule
      continue;
    }
    if (sc.done) break;
    const seg = parseEntry(sc);
    if (seg === undefined) sc.skipEntry();
    else out.push(seg);
  }
  return out;
}

/** Parses one metric up to (not past) its terminating comma; undefined when it is malformed. */
function parseEntry(sc: Scanner): TimingSegment | undefined {
  const name = sc.token();
  if (name === '') return undefined;
  const seg: TimingSegment = { name };
  let sawDur = false;
  for (;;) {
    sc.skipOws();
    if (sc.done || sc.peek() === ',') return seg;
    if (sc.peek() !== ';') return undefined;
    sc.pos++;
    sc.skipOws();
    const param = sc.token().toLowerCase();
    if (param === '') return undefined;
    sc.skipOws();
    if (sc.peek() !== '=') continue; // a param without a value carries nothing we read
    sc.pos++;
    sc.skipOws();
    let value: string | undefined;
    if (sc.peek() === '"') {
      value = sc.quoted();
      if (value === undefined) return undefined;
    } else {
      value = sc.token();
      if (value === '') return undefined;
    }
    if (param === 'dur' && !sawDur) {
      sawDur = true;
      const dur = Number(value);
      if (DECIMAL.test(value) && Number.isFinite(dur)) seg.durMs = dur;
    } else if (param === 'desc' && seg.desc === undefined) {
      seg.desc = value;
    }
  }
}

/** Where a request's time went at the edge, ms (the Server-Timing segments of an answer); the edge fills it, clients read it. */
export interface EdgeTiming {
  /** Cache key digest and lookup (0 when the cache was bypassed). */
  readonly cacheMs: number;
  /** Model compute on the edge backend. */
  readonly edgeMs?: number;
  /** Round trip to the cloud minus the cloud's own queue and compute time. */
  readonly linkMs?: number;
  readonly cloudQueueMs?: number;
  readonly cloudComputeMs?: number;
  /** The whole request as the edge saw it. */
  readonly totalMs: number;
}
