/**
 * The cloud tier's own dashboard view: the same page bundle as the edge's, drawn in "cloud" mode,
 * and the JSON it reads. Mount with `app.route('/', cloudDashboardRoutes(...))`:
 *
 *   GET /v1/dashboard/overview   { cloud, models, edges }: the repository with each model's state
 *                                and memory, its batcher's queue and running counts with their
 *                                EWMAs, the batches it executed by size, and the protocol
 *                                connections (edges) open now
 *   GET /dashboard ...           the page, login and logout (shared/dashboard/dashboard-routes.ts)
 *
 * With tokens configured (`--tokens`, `--link-secrets`) both need one: the overview a Bearer
 * token, the page a token or the session cookie its login sets. Without tokens they are open,
 * like the rest of the cloud's HTTP API.
 */
import type { Hono } from 'hono';
import { CleaveError } from '../shared/errors.js';
import type { Clock } from '../shared/time.js';
import type { RandomBytes } from '../shared/trace.js';
import type { DashboardAssets } from '../shared/dashboard/dashboard-assets.js';
import { dashboardRoutes, type DashboardAuth } from '../shared/dashboard/dashboard-routes.js';
import { bearerToken, type TokenAuth } from './auth.js';
import type { InferenceService } from './inference-service.js';
import type { CloudMetrics } from './metrics.js';
import type { ModelRepository } from './repository/model-lifecycle.js';

/** One protocol connection, as the server tracks it. */
export interface CloudConnection {
  /** Session id (a UUID). */
  readonly id: string;
  /** Remote address of the peer, when known. */
  readonly remote?: string;
  /** Wall clock of the upgrade, ms since the epoch. */
  readonly connectedAt: number;
  /** Runs in flight on it now. */
  readonly inFlight: number;
}

export interface CloudDashboardOptions {
  readonly repository: ModelRepository;
  readonly service: InferenceService;
  readonly metrics: CloudMetrics;
  readonly auth: TokenAuth;
  /** The protocol connections open now. */
  readonly connections: () => readonly CloudConnection[];
  readonly name: string;
  readonly version: string;
  /** The device the server runs on (`cpu`, `cuda:0`). */
  readonly device: string;
  readonly isReady: () => boolean;
  /** The built page (dist/dashboard); none: the page routes answer 404. */
  readonly assets?: DashboardAssets;
  /** Monotonic clock, ms (session expiry). */
  readonly clock: Clock;
  /** A CSPRNG for session tokens. */
  readonly random: RandomBytes;
}

/** A token check as a dashboard key check. */
export function cloudDashboardAuth(auth: TokenAuth): DashboardAuth {
  return {
    required: auth.required,
    async verify(key) {
      const v = auth.verify(key);
      if (!v.ok) throw new CleaveError('CLEAVE_E_UNAUTHORIZED', `the cloud dashboard needs a valid token (--tokens): ${v.message}`, { reason: v.reason });
      return v.kind === 'link' ? `edge/${v.edgeId}` : v.kind;
    },
  };
}

/**
 * Executed batches per model by size bucket (`{ "1": n, "2": n, ... }`, a batch counted under
 * the smallest bucket bound it fits), from the batch-size histogram's cumulative buckets.
 */
export async function batchesBySize(metrics: CloudMetrics): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  const cumulative = new Map<string, [number, number][]>();
  for (const v of (await metrics.batchSize.get()).values) {
    if (!String(v.metricName ?? '').endsWith('_bucket')) continue;
    // Bucket samples carry `le` beside the declared labels.
    const le = (v.labels as Record<string, string | number | undefined>).le;
    if (le === undefined || le === '+Inf') continue;
    const key = `${v.labels.model}@${v.labels.version}`;
    cumulative.set(key, [...(cumulative.get(key) ?? []), [Number(le), v.value]]);
  }
  for (const [key, list] of cumulative) {
    list.sort((a, b) => a[0] - b[0]);
    const rec: Record<string, number> = {};
    let prev = 0;
    for (const [le, n] of list) {
      rec[String(le)] = n - prev;
      prev = n;
    }
    out.set(key, rec);
  }
  return out;
}

export function cloudDashboardRoutes(opts: CloudDashboardOptions): Hono {
  const app = dashboardRoutes({
    auth: cloudDashboardAuth(opts.auth), mode: 'cloud', clock: opts.clock, random: opts.random,
    ...(opts.assets ? { assets: opts.assets } : {}),
    unservedReason: 'this cloud server was started without the dashboard files; run `npm run build:dashboard` and start it with the Node server (`cleave cloud`)',
  });

  app.get('/v1/dashboard/overview', async (c) => {
    if (!opts.auth.check(bearerToken(c.req.header('authorization')))) {
      c.header('www-authenticate', 'Bearer realm="cleave-cloud"');
      throw new CleaveError('CLEAVE_E_UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" header is required');
    }
    const load = opts.service.loadReport();
    const batches = await batchesBySize(opts.metrics);
    const models = opts.repository.index().map((m) => {
      const l = load[m.name];
      return {
        name: m.name, version: m.version, state: m.state,
        ...(m.bytes !== undefined ? { bytes: m.bytes } : {}), ...(m.reason !== undefined ? { reason: m.reason } : {}),
        ...(l ? { queued: l.queued, running: l.running, queueMs: l.queueMs, computeMs: l.computeMs, batchSize: l.batchSize } : {}),
        ...(batches.has(`${m.name}@${m.version}`) ? { batches: batches.get(`${m.name}@${m.version}`) } : {}),
      };
    });
    return c.json({
      cloud: {
        name: opts.name, version: opts.version, device: opts.device, ready: opts.isReady(),
        memoryInUse: opts.repository.memoryInUse(), memoryBudget: opts.repository.memoryBudgetBytes,
      },
      models,
      edges: opts.connections().map((e) => ({ id: e.id, ...(e.remote !== undefined ? { remote: e.remote } : {}), connectedAt: e.connectedAt, inFlight: e.inFlight })),
    }, 200, { 'cache-control': 'no-store' });
  });

  return app;
}
