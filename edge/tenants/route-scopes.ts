/**
 * Which routes need which scope once API keys are configured. Open: liveness, readiness and the
 * server metadata (`GET /v2`), which load balancers and KServe clients probe without credentials;
 * and `/dashboard/*`, whose routes check the admin key or session themselves.
 * `admin`: deploying, deleting and dry-running workflows, /metrics, /v1/status, /v1/audit and the
 * dashboard's data (/v1/dashboard/*: documents, placements, timings). Everything else
 * needs `infer`, including paths this table does not know: a route added later is guarded until
 * someone decides otherwise (it fails closed). Runtime-neutral.
 */
import type { AuditAction } from './audit-log.js';
import type { Scope } from './key-file.js';

/** What a route needs. */
export interface RouteAccess {
  readonly scope: Scope;
  /**
   * The request holds a concurrency slot while it runs. Not the client WebSocket's upgrade: its
   * runs take slots one by one (quota-run-service.ts), and the connection itself holds none.
   */
  readonly holdsSlot: boolean;
  /** The audited action this route performs: a refusal for lack of scope is audited too. */
  readonly audit?: AuditAction;
}

const OPEN = new Set(['/v2', '/v2/health/live', '/v2/health/ready']);
const ADMIN_READS = new Set(['/metrics', '/v1/status', '/v1/audit']);
/** `/v1/workflows/<name>` (DELETE is admin); `/v1/workflows/<name>/infer|plan` are runs (infer). */
const WORKFLOW_ITEM = /^\/v1\/workflows\/[^/]+\/?$/;
/** The dashboard's JSON endpoints (edge/dashboard/dashboard-api-routes.ts), any method. */
const DASHBOARD_API = /^\/v1\/dashboard(\/|$)/;
/** `POST /v1/workflows/dry-run`: runs a document it was given, as a deploy would. */
const DRY_RUN = /^\/v1\/workflows\/dry-run\/?$/;
/**
 * The dashboard page, its files, login and logout (edge/dashboard-routes.ts): passed through
 * here because those routes check the admin key or the session cookie themselves; a browser
 * loading a page or a script sends a cookie, never an Authorization header.
 */
const DASHBOARD_PAGE = /^\/dashboard(\/|$)/;

/** The access `method path` needs; undefined when it is open. */
export function routeAccess(method: string, path: string): RouteAccess | undefined {
  const m = method.toUpperCase();
  if ((m === 'GET' || m === 'HEAD') && OPEN.has(path)) return undefined;
  if (DASHBOARD_PAGE.test(path)) return undefined;
  if (ADMIN_READS.has(path) || DASHBOARD_API.test(path)) return { scope: 'admin', holdsSlot: true };
  if (m === 'POST' && DRY_RUN.test(path)) return { scope: 'admin', holdsSlot: true, audit: 'workflow.dry-run' };
  if (m === 'POST' && (path === '/v1/workflows' || path === '/v1/workflows/')) return { scope: 'admin', holdsSlot: true, audit: 'workflow.deploy' };
  if (m === 'DELETE' && WORKFLOW_ITEM.test(path)) return { scope: 'admin', holdsSlot: true, audit: 'workflow.delete' };
  if (path === '/v1/ws') return { scope: 'infer', holdsSlot: false };
  return { scope: 'infer', holdsSlot: true };
}
