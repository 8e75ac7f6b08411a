/**
 * A fetch that answers for made-up edges on a ManualClock, for unit tests of the client's selection,
 * retry and deadline rules: each edge is a function from request to reply; a reply may take clock
 * time (`delayMs`), fail to connect (`refused`), or never come (`hang`). Requests honour their
 * AbortSignal as a real fetch does. Nothing here waits for real time: `drive()` advances the
 * clock in steps and lets promise chains run between them.
 */
import { encodeNativeResponse } from '../../edge/native-codec.js';
import type { ManualClock } from '../../shared/time.js';
import type { HostTensor } from '../../shared/tensor.js';
import type { FetchLike } from '../../shared/client/index.js';

export interface FakeRequest {
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  /** Clock time the request was made. */
  readonly at: number;
}

export interface FakeReply {
  /** Clock time before the reply (or the refusal), ms. Default 0. */
  readonly delayMs?: number;
  readonly status?: number;
  /** A JSON value, or raw bytes. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Fail as a refused connection does (TypeError, like undici and browsers). */
  readonly refused?: boolean;
  /** Never answer (a blackholed link): only the request's signal ends it. */
  readonly hang?: boolean;
}

export type FakeEdge = (req: FakeRequest) => FakeReply;

/** Healthy probe answers after `rttMs`; other paths answered by `rest`. */
export function edge(rttMs: number, rest: FakeEdge = () => ({ status: 500 })): FakeEdge {
  return (req) => (req.path.startsWith('/v2/health') ? { delayMs: rttMs, status: 200, body: { ready: true } } : rest(req));
}

/** A native msgpack answer of `outputs`, as an edge writes it. */
export function nativeAnswer(outputs: Record<string, HostTensor>, extra: Partial<{ servedBy: 'edge' | 'cloud'; cache: 'hit' | 'miss' }> = {}): FakeReply {
  const b = encodeNativeResponse({
    model: 'm', version: 1, outputs, servedBy: extra.servedBy ?? 'edge', cache: extra.cache ?? 'miss',
    timing: { cacheMs: 0.1, edgeMs: 1, totalMs: 1.2 }, requestId: 'req-1',
  }, 'msgpack');
  return { status: 200, body: b.body, headers: { 'content-type': b.contentType, 'x-request-id': 'req-1', traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' } };
}

/** A Cleave error answer. */
export function errorReply(status: number, code: string, message: string, headers: Record<string, string> = {}): FakeReply {
  return { status, body: { error: message, code, message, detail: { field: 'x' } }, headers };
}

export class FakeEdges {
  readonly requests: FakeRequest[] = [];

  constructor(private readonly clock: ManualClock, private readonly edges: Record<string, FakeEdge>) {}

  /** Requests to non-probe paths, as `origin path`. */
  calls(): string[] {
    return this.requests.filter((r) => !r.path.startsWith('/v2/health')).map((r) => `${r.origin}${r.path}`);
  }

  readonly fetch: FetchLike = (input, init = {}) => {
    const url = new URL(input);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const req: FakeRequest = {
      origin: url.origin, path: url.pathname + url.search, method: init.method ?? 'GET', headers, at: this.clock.now(),
      ...(init.body instanceof Uint8Array ? { body: init.body } : {}),
    };
    this.requests.push(req);
    const handler = this.edges[url.origin];
    const reply: FakeReply = handler ? handler(req) : { refused: true };
    const signal = init.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const deliver = (): void => {
        signal?.removeEventListener('abort', onAbort);
        if (reply.refused) {
          reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
          return;
        }
        const raw = reply.body instanceof Uint8Array ? reply.body : reply.body === undefined ? null : new TextEncoder().encode(JSON.stringify(reply.body));
        const type = reply.body instanceof Uint8Array ? {} : { 'content-type': 'application/json' };
        resolve(new Response(raw as Uint8Array<ArrayBuffer> | null, { status: reply.status ?? 200, headers: { ...type, ...reply.headers } }));
      };
      const handle = reply.hang ? undefined : this.clock.setTimeout(deliver, reply.delayMs ?? 0);
      const onAbort = (): void => {
        if (handle !== undefined) this.clock.clearTimeout(handle);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };
}

/** Lets every pending promise chain run (one macrotask turn, no clock time). */
export function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Advances `clock` by `ms` in `stepMs` steps, flushing promise chains before and after each step,
 * so replies and timers that become due in turn are all seen.
 */
export async function drive(clock: ManualClock, ms: number, stepMs = 1): Promise<void> {
  await flush();
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await flush();
  }
}

/** Settles `p` while driving the clock up to `maxMs`; returns its value or its rejection. */
export async function settle<T>(clock: ManualClock, p: Promise<T>, maxMs = 60_000, stepMs = 1): Promise<{ value?: T; error?: unknown; at: number }> {
  let out: { value?: T; error?: unknown } | undefined;
  p.then((value) => { out = { value }; }, (error: unknown) => { out = { error }; });
  await flush();
  for (let t = 0; !out && t < maxMs; t += stepMs) {
    clock.advance(stepMs);
    await flush();
  }
  if (!out) throw new Error(`promise still pending after ${maxMs} ms of clock time`);
  return { ...out, at: clock.now() };
}
