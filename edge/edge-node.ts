/**
 * Assembles one edge node from the parts a runtime entry provides (backend, model entries, cloud
 * transport, clock, randomness, digest, WebSocket upgrade) and the settings: catalog, result
 * cache, metrics, service and the Hono app. Both entries (edge/worker.ts, edge/node.ts) call
 * this, so the Worker and the ARM gateway run the same node.
 */
import type { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import type { InferenceBackend } from '../shared/backend/backend.js';
import type { ProtocolLimits } from '../shared/protocol/constants.js';
import type { Clock, Timers } from '../shared/time.js';
import type { RandomBytes } from '../shared/trace.js';
import { createEdgeApp } from './app.js';
import type { BodyReader } from './body-reader.js';
import type { Digest } from './cache-key.js';
import type { CloudTransport } from './cloud-transport.js';
import { answerBytes, EdgeService, type ComputedAnswer } from './edge-service.js';
import { LiveEstimates } from './live-estimates.js';
import { EdgeMetrics } from './metrics.js';
import { ModelCatalog, type CatalogEntry } from './model-catalog.js';
import { ResultCache } from './result-cache.js';
import { formatTraceparent } from '../shared/trace.js';
import { NOOP_SPAN_RECORDER, type SpanRecorder } from '../shared/observability/span-recorder.js';
import { traceArgs } from './observability/trace-args.js';
import { workflowRunObserver } from './observability/workflow-observer.js';
import { edgeProtocolLimits } from './protocol-limits.js';
import { MemoryWorkflowStore, type WorkflowStore } from '../shared/workflow/store.js';
import { readRequestContext } from './request-context.js';
import { SplitModels, type SplittableModel } from './split-models.js';
import { workflowRoutes } from './workflow-routes.js';
import { workflowRunRoutes } from './workflow-run-routes.js';
import { EdgeWorkflowRuntime } from './workflow-runtime.js';
import { WorkflowService } from './workflow-service.js';
import { auditCatalogEvents, createEdgeSecurity, type EdgeSecurity } from './tenants/edge-security.js';
import { dashboardApiRoutes } from './dashboard/dashboard-api-routes.js';
import { DashboardRecorder } from './dashboard/run-recorder.js';
import { principalOf } from './tenants/http-guard.js';
import { edgeDashboardRoutes } from './dashboard-routes.js';
import type { DashboardAssets } from '../shared/dashboard/dashboard-assets.js';

/** Settings of an edge node; every one has a default. */
export interface EdgeSettings {
  /**
   * Origins browsers may call this edge from (CORS): `*`, or exact origins such as
   * https://app.example.com. Default none: no CORS headers, so browser pages on other origins
   * cannot read answers.
   */
  readonly corsOrigins?: readonly string[];
  /** Bytes the result cache may hold. Default 64 MiB. */
  readonly cacheBytes?: number;
  /** Time to live of a cached answer, ms; 0 keeps answers until evicted. Default 60000. */
  readonly cacheTtlMs?: number;
  /** Largest request body, bytes. Default 16 MiB. */
  readonly maxBodyBytes?: number;
  /** Budget of a request that states none, ms. Default 30000. */
  readonly defaultDeadlineMs?: number;
  /** Largest budget a request may state, ms. Default 300000. */
  readonly maxDeadlineMs?: number;
  readonly protocolLimits?: Partial<ProtocolLimits>;
}

export interface EdgeParts {
  readonly backend: InferenceBackend;
  readonly models: readonly CatalogEntry[];
  readonly cloud: CloudTransport;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: RandomBytes;
  readonly digest: Digest;
  readonly upgradeWebSocket?: UpgradeWebSocket;
  /** Live estimates to use (default: new ones); pass them when the cloud link feeds them too (PING RTTs). */
  readonly estimates?: LiveEstimates;
  /** The runtime's cheapest way to read a request body (default: the WHATWG stream). */
  readonly readBody?: BodyReader;
  /** Node process metrics on /metrics (Node only). */
  readonly processMetrics?: boolean;
  readonly isReady?: () => boolean;
  readonly log?: (event: Record<string, unknown>) => void;
  /** Where deployed workflows are kept (Node: a folder; Workers: KV). Default: in memory. */
  readonly workflowStore?: WorkflowStore;
  /** Models whose bytes this edge holds and may cut for split-model nodes (Node: the model folder). */
  readonly splittable?: readonly SplittableModel[];
  /** Wall clock for deploy times (ms since the epoch). Default Date.now. */
  readonly wallClock?: Clock;
  /** Tenant keys, quotas and the audit log (edge/tenants). Default: an open edge with an in-memory audit log. */
  readonly security?: EdgeSecurity;
  /** The built dashboard page (Node: dist/dashboard); none on the Worker, where /dashboard answers 404 (edge/dashboard-routes.ts). */
  readonly dashboardAssets?: DashboardAssets;
  /** Where spans go; default none (NOOP_SPAN_RECORDER). The Node entry passes the OpenTelemetry one. */
  readonly spans?: SpanRecorder;
}

export interface EdgeNode {
  readonly app: Hono;
  readonly service: EdgeService;
  readonly catalog: ModelCatalog;
  readonly cache: ResultCache<ComputedAnswer>;
  readonly metrics: EdgeMetrics;
  /** Live measurements (edge and cloud compute, link, cloud queue) for the router. */
  readonly estimates: LiveEstimates;
  readonly cloud: CloudTransport;
  readonly workflows: WorkflowService;
  /** Closes the link and releases the model sessions. */
  close(): Promise<void>;
}

export const EDGE_NAME = 'cleave-edge';
export const EDGE_VERSION = '0.1.0';

export function createEdgeNode(parts: EdgeParts, settings: EdgeSettings = {}): EdgeNode {
  const metrics = new EdgeMetrics({ ...(parts.processMetrics ? { processMetrics: true } : {}) });
  const security = parts.security ?? createEdgeSecurity({ clock: parts.clock, ...(parts.wallClock ? { wallClock: parts.wallClock } : {}), ...(parts.log ? { log: parts.log } : {}) });
  const catalog = new ModelCatalog(parts.models, { backend: parts.backend, onEvent: auditCatalogEvents(security.audit) });
  const cache = new ResultCache<ComputedAnswer>({
    maxBytes: settings.cacheBytes ?? 64 * 1024 * 1024,
    ttlMs: settings.cacheTtlMs ?? 60_000,
    clock: parts.clock,
    sizeOf: answerBytes,
    onEvent: (e) => metrics.cacheEvent(e),
  });
  const estimates = parts.estimates ?? new LiveEstimates(parts.clock);
  // The router's link estimates are read at each scrape (cleave_edge_router_link_*).
  metrics.watchLinkEstimates(() => estimates.link.snapshot());
  // OpenTelemetry spans when the entry hands in a recorder (the Node entry does: docs/observability.md);
  // the Worker does not: a Worker has no SDK to export them with, so its spans would be free no-ops anyway.
  const spans = parts.spans ?? NOOP_SPAN_RECORDER;
  const service = new EdgeService({
    catalog, cloud: parts.cloud, cache, metrics, clock: parts.clock, timers: parts.timers, digest: parts.digest, estimates,
    spans, random: parts.random, ...(parts.log ? { log: parts.log } : {}),
    ...(settings.defaultDeadlineMs !== undefined ? { defaultDeadlineMs: settings.defaultDeadlineMs } : {}),
    ...(settings.maxDeadlineMs !== undefined ? { maxDeadlineMs: settings.maxDeadlineMs } : {}),
  });
  const splits = parts.splittable && parts.splittable.length > 0 ? new SplitModels(parts.splittable, parts.backend) : undefined;
  const runtime = new EdgeWorkflowRuntime({ catalog, cloud: parts.cloud, estimates, clock: parts.clock, spans, ...(splits ? { splits } : {}) });
  // The dashboard's live statistics, fed by every workflow run beside the metrics observer.
  const dashboard = new DashboardRecorder({ clock: parts.wallClock ?? { now: () => Date.now() } });
  const observeRun = workflowRunObserver({ metrics, clock: parts.clock, ...(parts.log ? { log: parts.log } : {}) });
  const workflows = new WorkflowService({
    store: parts.workflowStore ?? new MemoryWorkflowStore(), runtime, estimates, clock: parts.clock, ...(splits ? { splits } : {}),
    ...(settings.defaultDeadlineMs !== undefined ? { defaultDeadlineMs: settings.defaultDeadlineMs } : {}),
    ...(settings.maxDeadlineMs !== undefined ? { maxDeadlineMs: settings.maxDeadlineMs } : {}),
    ...(parts.log ? { log: parts.log } : {}),
    onRun: (req, outcome) => {
      observeRun(req, outcome);
      dashboard.onRun(req, outcome);
    },
  });
  const app = createEdgeApp({
    service, catalog, cloud: parts.cloud, cache, metrics, estimates, clock: parts.clock, timers: parts.timers, random: parts.random,
    name: EDGE_NAME, version: EDGE_VERSION, backend: parts.backend.name, workflows, security,
    ...(settings.corsOrigins !== undefined && settings.corsOrigins.length > 0 ? { corsOrigins: settings.corsOrigins } : {}),
    ...(settings.maxBodyBytes !== undefined ? { maxBodyBytes: settings.maxBodyBytes } : {}),
    ...(settings.protocolLimits ? { protocolLimits: settings.protocolLimits } : {}),
    ...(parts.upgradeWebSocket ? { upgradeWebSocket: parts.upgradeWebSocket } : {}),
    ...(parts.readBody ? { readBody: parts.readBody } : {}),
    ...(parts.isReady ? { isReady: parts.isReady } : {}),
    ...(parts.log ? { log: parts.log } : {}),
  });
  const maxBodyBytes = settings.maxBodyBytes ?? 16 * 1024 * 1024;
  app.route('/v1/workflows', workflowRunRoutes({
    service: workflows, clock: parts.clock, maxBodyBytes, limits: edgeProtocolLimits(settings.protocolLimits, maxBodyBytes),
    ...(parts.readBody ? { readBody: parts.readBody } : {}),
    context: (c) => {
      // With keys the tenant is the verified key's (edge/tenants), never the header's.
      const principal = principalOf(c);
      const ctx = readRequestContext((h) => c.req.header(h), parts.clock.now(), parts.random, principal ? { principal } : {});
      // The answer names the run's span and id, as every other inference answer does; an error
      // answer too (the app's error handler reads the context from here).
      (c as unknown as { set(key: 'ctx', value: typeof ctx): void }).set('ctx', ctx);
      c.header('x-request-id', ctx.requestId);
      c.header('traceparent', formatTraceparent(ctx.span));
      return { receivedAt: ctx.receivedAt, ...traceArgs(ctx, c.req.header('traceparent')), ...(ctx.deadlineMs !== undefined ? { deadlineMs: ctx.deadlineMs } : {}) };
    },
  }));
  app.route('/v1/workflows', workflowRoutes({
    store: workflows.deployingStore(), models: workflows.models, clock: parts.wallClock ?? { now: () => Date.now() }, maxBodyBytes: Math.min(maxBodyBytes, 1024 * 1024),
    ...(parts.readBody ? { readBody: parts.readBody } : {}),
    // The audit log writes each deploy and delete to the log as { event: 'audit', ... }.
    auditLog: security.audit,
  }));
  // The dashboard's JSON (GET /v1/dashboard/*) and POST /v1/workflows/dry-run; admin scope with keys.
  app.route('/', dashboardApiRoutes({
    recorder: dashboard, service: workflows, store: workflows.deployingStore(), estimates, cloud: parts.cloud, cache,
    edge: { name: EDGE_NAME, version: EDGE_VERSION, backend: parts.backend.name },
    maxBodyBytes, limits: edgeProtocolLimits(settings.protocolLimits, maxBodyBytes), auditLog: security.audit,
    ...(parts.readBody ? { readBody: parts.readBody } : {}),
  }));
  // The dashboard page itself (GET /dashboard, login, logout): it checks the admin key or session on its own.
  app.route('/', edgeDashboardRoutes({
    clock: parts.clock, random: parts.random,
    ...(parts.dashboardAssets ? { assets: parts.dashboardAssets } : {}), ...(security.guard ? { guard: security.guard } : {}),
  }));
  return {
    app: app as unknown as Hono, service, catalog, cache, metrics, estimates, cloud: parts.cloud, workflows,
    async close() {
      await parts.cloud.close();
      await catalog.close();
    },
  };
}
