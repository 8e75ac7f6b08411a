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
import { edgeProtocolLimits } from './protocol-limits.js';
import { MemoryWorkflowStore, type WorkflowStore } from '../shared/workflow/store.js';
import { readRequestContext } from './request-context.js';
import { SplitModels, type SplittableModel } from './split-models.js';
import { workflowRoutes } from './workflow-routes.js';
import { workflowRunRoutes } from './workflow-run-routes.js';
import { EdgeWorkflowRuntime } from './workflow-runtime.js';
import { WorkflowService } from './workflow-service.js';

/** Settings of an edge node; every one has a default. */
export interface EdgeSettings {
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
  const catalog = new ModelCatalog(parts.models, { backend: parts.backend });
  const cache = new ResultCache<ComputedAnswer>({
    maxBytes: settings.cacheBytes ?? 64 * 1024 * 1024,
    ttlMs: settings.cacheTtlMs ?? 60_000,
    clock: parts.clock,
    sizeOf: answerBytes,
    onEvent: (e) => metrics.cacheEvent(e),
  });
  const estimates = parts.estimates ?? new LiveEstimates(parts.clock);
  const service = new EdgeService({
    catalog, cloud: parts.cloud, cache, metrics, clock: parts.clock, timers: parts.timers, digest: parts.digest, estimates,
    ...(settings.defaultDeadlineMs !== undefined ? { defaultDeadlineMs: settings.defaultDeadlineMs } : {}),
    ...(settings.maxDeadlineMs !== undefined ? { maxDeadlineMs: settings.maxDeadlineMs } : {}),
  });
  const splits = parts.splittable && parts.splittable.length > 0 ? new SplitModels(parts.splittable, parts.backend) : undefined;
  const runtime = new EdgeWorkflowRuntime({ catalog, cloud: parts.cloud, estimates, clock: parts.clock, ...(splits ? { splits } : {}) });
  const workflows = new WorkflowService({
    store: parts.workflowStore ?? new MemoryWorkflowStore(), runtime, estimates, clock: parts.clock, ...(splits ? { splits } : {}),
    ...(settings.defaultDeadlineMs !== undefined ? { defaultDeadlineMs: settings.defaultDeadlineMs } : {}),
    ...(settings.maxDeadlineMs !== undefined ? { maxDeadlineMs: settings.maxDeadlineMs } : {}),
    ...(parts.log ? { log: parts.log } : {}),
  });
  const app = createEdgeApp({
    service, catalog, cloud: parts.cloud, cache, metrics, estimates, clock: parts.clock, timers: parts.timers, random: parts.random,
    name: EDGE_NAME, version: EDGE_VERSION, backend: parts.backend.name, workflows,
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
      const ctx = readRequestContext((h) => c.req.header(h), parts.clock.now(), parts.random);
      return { receivedAt: ctx.receivedAt, traceparent: formatTraceparent(ctx.span), ...(ctx.deadlineMs !== undefined ? { deadlineMs: ctx.deadlineMs } : {}) };
    },
  }));
  app.route('/v1/workflows', workflowRoutes({
    store: workflows.deployingStore(), models: workflows.models, clock: parts.wallClock ?? { now: () => Date.now() }, maxBodyBytes: Math.min(maxBodyBytes, 1024 * 1024),
    ...(parts.readBody ? { readBody: parts.readBody } : {}),
    ...(parts.log ? { audit: (e) => parts.log!({ ...e }) } : {}),
  }));
  return {
    app: app as unknown as Hono, service, catalog, cache, metrics, estimates, cloud: parts.cloud, workflows,
    async close() {
      await parts.cloud.close();
      await catalog.close();
    },
  };
}
