/**
 * Options of CleaveClient, their defaults, and the checks that turn a wrong one into a
 * CLEAVE_E_BAD_ARGUMENT naming the option, the value and what is allowed. Checked by hand rather
 * than with zod: a dozen scalars do not justify a schema library in a bundle meant for browsers
 * and phones.
 */
import { CleaveError } from '../errors.js';
import type { WebSocketLike } from '../protocol/client.js';
import { systemClock, systemTimers, type Clock, type Timers } from '../time.js';
import type { FetchLike } from './edge-selector.js';
import type { WireFormat } from './native-body.js';

/**
 * A WebSocket class: the platform's (browsers, workerd, React Native, Node >= 22) or the `ws`
 * package's on Node 20. The third argument carries headers where the class takes them (`ws`,
 * React Native); browsers ignore it, so there the API key goes in the protocol's HELLO instead.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

/** Options of a CleaveClient. */
export interface CleaveClientOptions {
  /** Base URLs of one or more edges, e.g. `https://edge-a.example.com`. The fastest healthy one is used. */
  readonly edges: readonly string[];
  /** Default: the global fetch. */
  readonly fetch?: FetchLike;
  /** For `connect()`. Default: the global WebSocket (absent on Node 20: pass the `ws` package's). */
  readonly WebSocket?: WebSocketConstructor;
  /** Monotonic clock, ms. Default performance.now(). */
  readonly clock?: Clock;
  /** Timers for deadlines, probe timeouts and retry waits. Default the runtime's. */
  readonly timers?: Timers;
  /** Wall clock for Retry-After dates, ms since the epoch. Default Date.now. */
  readonly wallClock?: () => number;
  readonly probe?: {
    /** A probe round older than this is repeated at the next call, ms. Default 30000. */
    readonly intervalMs?: number;
    /** A probe with no answer by then marks its edge down, ms. Default 2000. */
    readonly timeoutMs?: number;
    /** Path probed on each edge. Default '/v2/health/ready'. */
    readonly path?: string;
  };
  /** Budget of a call that states none, ms; sent to the edge as `x-cleave-deadline-ms`. Default 30000. */
  readonly defaultDeadlineMs?: number;
  /** Retries after a failed first attempt, where safe (docs/client.md). Default 2. */
  readonly retries?: number;
  /** Tenant (`x-cleave-tenant`): scopes the edge's result cache. Default: the edge's `default`. */
  readonly tenant?: string;
  /** Sent as `Authorization: Bearer <apiKey>` (and as the HELLO token over WebSocket). */
  readonly apiKey?: string;
  /** Body encoding of model calls. Default 'msgpack'. */
  readonly format?: WireFormat;
  /** More headers for every HTTP request. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Options with defaults filled in and every value checked. */
export interface ResolvedClientOptions {
  readonly edges: readonly string[];
  readonly fetch: FetchLike;
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly wallClock: () => number;
  readonly probe: { readonly intervalMs: number; readonly timeoutMs: number; readonly path: string };
  readonly defaultDeadlineMs: number;
  readonly retries: number;
  readonly format: WireFormat;
  /** Headers of every HTTP request: the caller's, authorization and tenant. */
  readonly headers: Readonly<Record<string, string>>;
  readonly apiKey?: string;
}

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  probeIntervalMs: 30_000,
  probeTimeoutMs: 2_000,
  probePath: '/v2/health/ready',
  defaultDeadlineMs: 30_000,
  retries: 2,
  format: 'msgpack' as WireFormat,
});

/** Tenants as the edge accepts them (edge/request-context.ts). */
const TENANT_RE = /^[A-Za-z0-9._-]{1,64}$/;

function bad(option: string, value: unknown, expected: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value === 'function' ? 'a function' : String(value);
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `client option ${option} = ${shown} is not valid; expected ${expected}`, { option });
}

function positive(option: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(option, v, 'a number of milliseconds > 0');
  return v;
}

/** Checks `opts` and fills in the defaults. */
export function resolveClientOptions(opts: CleaveClientOptions): ResolvedClientOptions {
  if (!Array.isArray(opts.edges) || opts.edges.length === 0) bad('edges', opts.edges, 'a non-empty array of edge base URLs such as "http://127.0.0.1:8787"');
  const edges = opts.edges.map((e, i) => {
    let u: URL;
    try {
      u = new URL(String(e));
    } catch {
      return bad(`edges[${i}]`, e, 'an absolute http:// or https:// URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(`edges[${i}]`, e, 'an http:// or https:// URL');
    if (u.search !== '' || u.hash !== '') bad(`edges[${i}]`, e, 'a base URL without query or fragment');
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  });
  const dup = edges.find((e, i) => edges.indexOf(e) !== i);
  if (dup !== undefined) bad('edges', dup, 'each edge listed once');
  const fetchFn = opts.fetch ?? (typeof globalThis.fetch === 'function' ? (input: string, init?: RequestInit) => globalThis.fetch(input, init) : undefined);
  if (typeof fetchFn !== 'function') bad('fetch', opts.fetch, 'a fetch function (this runtime has no global fetch)');
  const ws = opts.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (ws !== undefined && typeof ws !== 'function') bad('WebSocket', ws, 'a WebSocket class');
  const retries = opts.retries ?? DEFAULT_CLIENT_OPTIONS.retries;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) bad('retries', retries, 'an integer from 0 to 10');
  const format = opts.format ?? DEFAULT_CLIENT_OPTIONS.format;
  if (format !== 'msgpack' && format !== 'json') bad('format', format, '"msgpack" or "json"');
  const path = opts.probe?.path ?? DEFAULT_CLIENT_OPTIONS.probePath;
  if (typeof path !== 'string' || !path.startsWith('/')) bad('probe.path', path, 'a path starting with "/"');
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.tenant !== undefined) {
    if (typeof opts.tenant !== 'string' || !TENANT_RE.test(opts.tenant)) bad('tenant', opts.tenant, '1 to 64 characters of A-Z a-z 0-9 . _ -');
    headers['x-cleave-tenant'] = opts.tenant;
  }
  if (opts.apiKey !== undefined) {
    // Header values cannot hold control characters; a key with a newline is a paste error.
    if (typeof opts.apiKey !== 'string' || opts.apiKey === '' || /[\x00-\x20\x7f]/.test(opts.apiKey)) bad('apiKey', '(hidden)', 'a non-empty key without spaces or control characters');
    headers.authorization = `Bearer ${opts.apiKey}`;
  }
  return {
    edges,
    fetch: fetchFn,
    WebSocket: ws,
    clock: opts.clock ?? systemClock,
    timers: opts.timers ?? systemTimers,
    wallClock: opts.wallClock ?? (() => Date.now()),
    probe: {
      intervalMs: positive('probe.intervalMs', opts.probe?.intervalMs, DEFAULT_CLIENT_OPTIONS.probeIntervalMs),
      timeoutMs: positive('probe.timeoutMs', opts.probe?.timeoutMs, DEFAULT_CLIENT_OPTIONS.probeTimeoutMs),
      path,
    },
    defaultDeadlineMs: positive('defaultDeadlineMs', opts.defaultDeadlineMs, DEFAULT_CLIENT_OPTIONS.defaultDeadlineMs),
    retries,
    format,
    headers,
    ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
  };
}

/** Checks a per-call deadline; the client default when absent. */
export function callDeadline(v: unknown, dflt: number): number {
  return positive('deadlineMs', v, dflt);
}
