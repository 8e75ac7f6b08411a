/**
 * What every edge request carries besides its body, read from headers once: the request id, the
 * trace span the edge opens (child of the client's `traceparent`, or a new trace), the tenant that
 * scopes the cache (the API key's tenant when keys are configured, else `x-cleave-tenant`), the
 * cache mode and the deadline. And the headers every answer carries back:
 * `Server-Timing` with its segments, `x-request-id`, `traceparent`, `x-cleave-cache`,
 * `x-cleave-served-by`, `x-cleave-degraded`. Runtime-neutral.
 */
import { CleaveError } from '../shared/errors.js';
import { formatServerTiming, TIMING, type TimingSegment } from '../shared/server-timing.js';
import { childSpan, formatTraceparent, parseTraceparent, requestId, type RandomBytes, type TraceContext } from '../shared/trace.js';
import type { EdgeInferResult } from './edge-service.js';
import type { CacheMode } from './result-cache.js';
import { PLACEMENT_POLICIES, type PlacementPolicy } from '../shared/router/placement.js';

/** Request headers the edge reads. */
export const HEADERS = {
  requestId: 'x-request-id',
  traceparent: 'traceparent',
  tenant: 'x-cleave-tenant',
  cache: 'x-cleave-cache',
  deadline: 'x-cleave-deadline-ms',
  servedBy: 'x-cleave-served-by',
  placement: 'x-cleave-placement',
  degraded: 'x-cleave-degraded',
} as const;

/** Tenant of requests that name none. */
export const DEFAULT_TENANT = 'default';
const TENANT_RE = /^[A-Za-z0-9._-]{1,64}$/;
const CACHE_MODES: readonly CacheMode[] = ['default', 'bypass', 'refresh'];

export interface RequestContext {
  readonly requestId: string;
  /** The edge's span for this request; its traceparent goes to the cloud and back to the client. */
  readonly span: TraceContext;
  /** The verified key's tenant when keys are configured; else `x-cleave-tenant`, or `default`. Label metrics with this. */
  readonly tenant: string;
  /** The API key that authenticated the request, when keys are configured. */
  readonly keyId?: string;
  /** From `x-cleave-cache`, else `Cache-Control` (no-store: bypass, no-cache: refresh), else default. */
  readonly cache: CacheMode;
  /** From `x-cleave-deadline-ms`, when given. */
  readonly deadlineMs?: number;
  /** From `x-cleave-placement` (edge, cloud or auto), when given. */
  readonly placement?: PlacementPolicy;
  /** Service clock when the request was read, ms. */
  readonly receivedAt: number;
}

/** What an earlier middleware already knows about a request. */
export interface KnownRequest {
  /** The verified key's tenant and id (edge/tenants): the tenant comes from here, never from the header. */
  readonly principal?: { readonly tenant: string; readonly keyId: string };
  /** The request id and span already given out (so one request has one id in every log line and answer). */
  readonly identity?: Pick<RequestContext, 'requestId' | 'span'>;
}

/** Reads a request's context. Throws CLEAVE_E_BAD_ARGUMENT naming a malformed header. */
export function readRequestContext(header: (name: string) => string | undefined, receivedAt: number, random: RandomBytes, known: KnownRequest = {}): RequestContext {
  const id = known.identity?.requestId ?? requestId(header(HEADERS.requestId), random);
  const span = known.identity?.span ?? childSpan(parseTraceparent(header(HEADERS.traceparent)), random);
  // With a principal the header was already checked against the key's tenant (edge/tenants/tenant-guard.ts).
  const tenantRaw = known.principal ? known.principal.tenant : header(HEADERS.tenant);
  if (tenantRaw !== undefined && !TENANT_RE.test(tenantRaw)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `header ${HEADERS.tenant} must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(tenantRaw.slice(0, 80))}`, { field: HEADERS.tenant });
  }
  const deadlineRaw = header(HEADERS.deadline);
  let deadlineMs: number | undefined;
  if (deadlineRaw !== undefined) {
    deadlineMs = Number(deadlineRaw);
    if (deadlineRaw.trim() === '' || !Number.isFinite(deadlineMs) || deadlineMs <= 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `header ${HEADERS.deadline} must be a positive number of milliseconds, got ${JSON.stringify(deadlineRaw.slice(0, 40))}`, { field: HEADERS.deadline });
    }
  }
  const placementRaw = header(HEADERS.placement);
  if (placementRaw !== undefined && !(PLACEMENT_POLICIES as readonly string[]).includes(placementRaw)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `header ${HEADERS.placement} must be one of ${PLACEMENT_POLICIES.join(', ')}, got ${JSON.stringify(placementRaw.slice(0, 40))}`, { field: HEADERS.placement });
  }
  return {
    requestId: id,
    ...(placementRaw !== undefined ? { placement: placementRaw as PlacementPolicy } : {}),
    span,
    tenant: tenantRaw ?? DEFAULT_TENANT,
    ...(known.principal ? { keyId: known.principal.keyId } : {}),
    cache: cacheMode(header(HEADERS.cache), header('cache-control')),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    receivedAt,
  };
}

function cacheMode(explicit: string | undefined, cacheControl: string | undefined): CacheMode {
  if (explicit !== undefined) {
    const m = explicit.trim().toLowerCase();
    if (!(CACHE_MODES as readonly string[]).includes(m)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `header ${HEADERS.cache} must be one of ${CACHE_MODES.join(', ')}, got ${JSON.stringify(explicit.slice(0, 40))}`, { field: HEADERS.cache });
    }
    return m as CacheMode;
  }
  if (cacheControl !== undefined) {
    const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
    // no-store: the answer must not be kept, so neither read nor write; no-cache: revalidate, i.e. recompute and store.
    if (directives.includes('no-store')) return 'bypass';
    if (directives.includes('no-cache')) return 'refresh';
  }
  return 'default';
}

/** The Server-Timing segments of an answer. */
export function timingSegments(r: EdgeInferResult): TimingSegment[] {
  const t = r.timing;
  const segs: TimingSegment[] = [{ name: TIMING.cache, durMs: t.cacheMs, desc: r.cache }];
  if (t.edgeMs !== undefined) segs.push({ name: TIMING.edge, durMs: t.edgeMs, ...(r.degraded ? { desc: `degraded:${r.degraded.fallback}` } : {}) });
  if (t.linkMs !== undefined) segs.push({ name: TIMING.link, durMs: t.linkMs });
  if (t.cloudQueueMs !== undefined) segs.push({ name: TIMING.cloudQueue, durMs: t.cloudQueueMs });
  if (t.cloudComputeMs !== undefined) segs.push({ name: TIMING.cloudCompute, durMs: t.cloudComputeMs });
  segs.push({ name: TIMING.total, durMs: t.totalMs });
  return segs;
}

/** Headers for a successful answer. */
export function answerHeaders(ctx: RequestContext, r: EdgeInferResult): Record<string, string> {
  const h: Record<string, string> = {
    'server-timing': formatServerTiming(timingSegments(r)),
    [HEADERS.requestId]: ctx.requestId,
    [HEADERS.traceparent]: formatTraceparent(ctx.span),
    [HEADERS.cache]: r.cache,
    [HEADERS.servedBy]: r.servedBy,
  };
  if (r.placement !== undefined) h[HEADERS.placement] = r.placement;
  if (r.degraded) h[HEADERS.degraded] = `fallback=${r.degraded.fallback}; reason=${r.degraded.reason}`;
  return h;
}

/** Headers for an error answer: the id and trace so it can be found in logs, and the total time. */
export function errorHeaders(ctx: Pick<RequestContext, 'requestId' | 'span'> | undefined, totalMs: number): Record<string, string> {
  const h: Record<string, string> = { 'server-timing': formatServerTiming([{ name: TIMING.total, durMs: totalMs }]) };
  if (ctx) {
    h[HEADERS.requestId] = ctx.requestId;
    h[HEADERS.traceparent] = formatTraceparent(ctx.span);
  }
  return h;
}
