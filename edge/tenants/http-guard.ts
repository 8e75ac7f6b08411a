/**
 * The tenant guard as Hono middleware: for each guarded route (route-scopes.ts) it verifies the
 * key, checks the scope and tenant header, takes a rate token and, for work, a concurrency slot.
 * The slot is given back when the handler is done, or, for a streamed answer (NDJSON, SSE), when
 * its body ends or the client goes away. The principal goes into the context as `principal`,
 * where the request context (edge/request-context.ts) takes its tenant from. Runtime-neutral.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { isCleaveError } from '../../shared/errors.js';
import type { AuditLog } from './audit-log.js';
import type { Release } from './concurrency-quota.js';
import type { Principal } from './key-registry.js';
import { routeAccess } from './route-scopes.js';
import type { TenantGuard } from './tenant-guard.js';

/** The context variable the principal is kept in. */
export const PRINCIPAL_VAR = 'principal';

/** The verified principal of a request, when keys are configured and the route is guarded. */
export function principalOf(c: Context): Principal | undefined {
  return (c as unknown as { get(key: string): unknown }).get(PRINCIPAL_VAR) as Principal | undefined;
}

/** Content types whose body keeps coming after the handler returned. */
const STREAMING = /^(application\/x-ndjson|text\/event-stream)\b/i;

export interface GuardMiddlewareOptions {
  /** Where refused administrative actions (a key without the admin scope) are recorded. */
  readonly audit?: AuditLog;
  /** The request's id, as its answer will carry it. */
  readonly requestIdOf?: (c: Context) => string;
}

/** Middleware that enforces `guard` on every guarded route. */
export function tenantGuardMiddleware(guard: TenantGuard, opts: GuardMiddlewareOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    const access = routeAccess(c.req.method, c.req.path);
    if (!access) {
      await next();
      return;
    }
    let release: Release | undefined;
    try {
      const principal = await guard.authenticate((n) => c.req.header(n), access.scope);
      c.set(PRINCIPAL_VAR as never, principal as never);
      guard.admitRate(principal);
      if (access.holdsSlot) release = guard.acquire(principal);
    } catch (e) {
      // Headers set now survive into the error answer the app's onError writes.
      challengeHeaders(e, (k, v) => c.header(k, v));
      if (access.audit && opts.audit && isCleaveError(e, 'CLEAVE_E_FORBIDDEN') && typeof e.detail.tenant === 'string') {
        const keyId = typeof e.detail.keyId === 'string' ? e.detail.keyId : undefined;
        opts.audit.append({
          tenant: e.detail.tenant, ...(keyId !== undefined ? { keyId } : {}), action: access.audit, target: `workflow/${c.req.path.split('/')[3] ?? '?'}`.slice(0, 80),
          outcome: 'error', code: e.code, ...(opts.requestIdOf ? { requestId: opts.requestIdOf(c) } : {}),
        });
      }
      throw e;
    }
    if (!release) {
      await next();
      return;
    }
    let handedOver = false;
    try {
      await next();
      const res = c.res;
      if (res.body && STREAMING.test(res.headers.get('content-type') ?? '')) {
        c.res = releaseWhenDone(res, release);
        handedOver = true;
      }
    } finally {
      if (!handedOver) release();
    }
  };
}

/**
 * The headers a refusal carries: `WWW-Authenticate: Bearer` on a 401 (RFC 9110 requires a
 * challenge), `Retry-After` in seconds on a 429.
 */
export function challengeHeaders(e: unknown, set: (name: string, value: string) => void): void {
  if (isCleaveError(e, 'CLEAVE_E_UNAUTHORIZED')) set('www-authenticate', 'Bearer realm="cleave-edge"');
  if (isCleaveError(e, 'CLEAVE_E_RATE_LIMITED') && typeof e.detail.retryAfterS === 'number') set('retry-after', String(e.detail.retryAfterS));
}

/** `res` with a body that gives the slot back when it ends, fails or is cancelled. */
export function releaseWhenDone(res: Response, release: Release): Response {
  const reader = res.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (e) {
        release();
        controller.error(e);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
