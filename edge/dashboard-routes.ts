/**
 * The dashboard page on the edge: the static routes of shared/dashboard/dashboard-routes.ts with
 * the edge's key check (an `admin` key of the tenant guard). Mount with
 * `app.route('/', edgeDashboardRoutes(...))`. The tenant guard lets `/dashboard` paths through
 * (edge/tenants/route-scopes.ts): these routes check the key or the session themselves, because a
 * browser loading a page and its script sends a cookie, never an Authorization header.
 *
 * The data the page reads is the edge's own API (`/v1/dashboard/*`, `/v1/workflows`), guarded
 * as usual. Served by the Node edge, which reads dist/dashboard from disk (edge/node.ts passes the
 * assets); the Worker has no filesystem and passes none, so there the routes answer 404 naming
 * the Node edge. Runtime-neutral.
 */
import type { Hono } from 'hono';
import type { Clock } from '../shared/time.js';
import type { RandomBytes } from '../shared/trace.js';
import type { DashboardAssets } from '../shared/dashboard/dashboard-assets.js';
import { dashboardRoutes, type DashboardAuth } from '../shared/dashboard/dashboard-routes.js';
import type { TenantGuard } from './tenants/tenant-guard.js';

export interface EdgeDashboardOptions {
  /** The built page (Node: dist/dashboard); none on the Worker. */
  readonly assets?: DashboardAssets;
  /** The tenant guard; none on an open edge, where the page is served openly. */
  readonly guard?: TenantGuard;
  /** Monotonic clock, ms (session expiry). */
  readonly clock: Clock;
  /** A CSPRNG for session tokens. */
  readonly random: RandomBytes;
  /** Session lifetime, ms. Default 1800000 (30 min). */
  readonly sessionTtlMs?: number;
}

/** An admin key check by the guard: the same 401/403/429 as any admin route, rate token included. */
export function edgeDashboardAuth(guard: TenantGuard | undefined): DashboardAuth {
  if (!guard) return { required: false, verify: async () => 'open' };
  return {
    required: true,
    async verify(key) {
      const p = await guard.authenticate((name) => (name === 'authorization' && key !== undefined ? `Bearer ${key}` : undefined), 'admin');
      guard.admitRate(p);
      return `${p.tenant}/${p.keyId}`;
    },
  };
}

export function edgeDashboardRoutes(opts: EdgeDashboardOptions): Hono {
  return dashboardRoutes({
    auth: edgeDashboardAuth(opts.guard), mode: 'edge', clock: opts.clock, random: opts.random,
    ...(opts.assets ? { assets: opts.assets } : {}),
    ...(opts.sessionTtlMs !== undefined ? { sessionTtlMs: opts.sessionTtlMs } : {}),
    unservedReason: 'this edge runtime (the Worker) does not serve the dashboard: it has no files to serve it from; open /dashboard on a Node edge (`cleave edge`), which shows the same data',
  });
}
