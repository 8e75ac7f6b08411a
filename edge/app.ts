/**
 * The edge's HTTP face: one Hono app built from injected parts, served unchanged by the Worker
 * entry (edge/worker.ts) and the Node entry (edge/node.ts).
 *
 *   GET  /v2/health/live | /v2/health/ready | /v2          KServe v2 health and server metadata
 *   GET  /v2/models/:name[/versions/:v][/ready]            model metadata and readiness
 *   POST /v2/models/:name[/versions/:v]/infer              KServe v2 infer (JSON, binary extension)
 *   POST /v1/models/:name[/versions/:v]/infer              native: msgpack or JSON, negotiated
 *   GET  /v1/ws                                            the Cleave protocol for clients (WebSocket)
 *   GET  /v1/status                                        link, cache, models and tenant quotas, as JSON
 *   GET  /v1/audit[?limit=&tenant=&action=]                audited admin actions, newest first
 *   GET  /metrics                                          Prometheus
 *
 * With API keys configured (edge/tenants), every route but health and `GET /v2` needs a key:
 * `admin` scope for /metrics, /v1/status, /v1/audit and workflow deploy/delete, `infer` for the
 * rest (edge/tenants/route-scopes.ts); each tenant has its rate limit and concurrency quota.
 *
 * Every inference answer carries Server-Timing, x-request-id, traceparent and x-cleave-cache;
 * every error is `{ error, code, message, detail }` with the status of its code.
 */
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { UpgradeWebSocket } from 'hono/ws';
import { CleaveError, toCleaveError } from '../shared/errors.js';
import { formatServerTiming, TIMING } from '../shared/server-timing.js';
import {
  BINARY_CONTENT_TYPE, buildInferResponse, errorBody, HEADER_LENGTH_HEADER, JSON_CONTENT_TYPE, modelMetadata, parseHeaderLength, parseInferRequest, parseModelVersion, serverMetadata,
} from '../shared/kserve/index.js';
import type { ProtocolLimits } from '../shared/protocol/constants.js';
import type { Clock, Timers } from '../shared/time.js';
import { childSpan, formatTraceparent, parseTraceparent, requestId, type RandomBytes } from '../shared/trace.js';
import { poolStatusOf } from './cloud-pool.js';
import type { CloudTransport } from './cloud-transport.js';
import type { ComputedAnswer, EdgeService } from './edge-service.js';
import type { LiveEstimates } from './live-estimates.js';
import type { EdgeMetrics } from './metrics.js';
import type { CatalogEntry, ModelCatalog } from './model-catalog.js';
import { encodeNativeResponse, parseNativeRequest, requestFormat, responseFormat } from './native-codec.js';
import { answerHeaders, errorHeaders, HEADERS, readRequestContext, type RequestContext } from './request-context.js';
import type { ResultCache } from './result-cache.js';
import { clientSocketHandler } from './client-socket.js';
import { mediaType, webBodyReader, type BodyReader } from './body-reader.js';
import { edgeProtocolLimits } from './protocol-limits.js';
import type { WorkflowService } from './workflow-service.js';
import { withWorkflows } from './workflow-run-service.js';
import { AUDIT_ACTIONS, type AuditAction } from './tenants/audit-log.js';
import type { EdgeSecurity } from './tenants/edge-security.js';
import { principalOf, tenantGuardMiddleware } from './tenants/http-guard.js';
import type { Principal } from './tenants/key-registry.js';
import { quotaRunService } from './tenants/quota-run-service.js';
import { traceArgs } from './observability/trace-args.js';

export interface EdgeAppOptions {
  readonly service: EdgeService;
  readonly catalog: ModelCatalog;
  readonly cloud: CloudTransport;
  readonly cache: ResultCache<ComputedAnswer>;
  readonly metrics: EdgeMetrics;
  /** Live measurements shown on /v1/status. */
  readonly estimates?: LiveEstimates;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: RandomBytes;
  /** Server name and version for `GET /v2` and WELCOME. */
  readonly name: string;
  readonly version: string;
  /** Largest request body, bytes. Default 16 MiB. */
  readonly maxBodyBytes?: number;
  /** Limits of the native msgpack codec and the client WebSocket. */
  readonly protocolLimits?: Partial<ProtocolLimits>;
  /** The runtime's WebSocket upgrade (hono/cloudflare-workers or @hono/node-ws); without it /v1/ws answers 501. */
  readonly upgradeWebSocket?: UpgradeWebSocket;
  /** How request bodies are read; default the WHATWG stream (edge/body-reader.ts). */
  readonly readBody?: BodyReader;
  /** False while warming up or draining: readiness answers 503. Default: always ready. */
  readonly isReady?: () => boolean;
  /** What runs the edge models, for `GET /v2` and /v1/status. */
  readonly backend: string;
  /** Deployed workflows, for the client WebSocket (RUN `workflow:<name>`). */
  readonly workflows?: WorkflowService;
  /** Origins allowed by CORS (`*` or exact origins); none = no CORS headers. */
  readonly corsOrigins?: readonly string[];
  /** Tenant keys, quotas and the audit log (edge/tenants/edge-security.ts); default: open, no audit. */
  readonly security?: EdgeSecurity;
  readonly log?: (event: Record<string, unknown>) => void;
}

type Env = { Variables: { ctx: RequestContext; id: Pick<RequestContext, 'requestId' | 'span'>; principal: Principal } };

/** Request headers a browser client (shared/client) sends: auth, tracing and the x-cleave-* controls. */
const CORS_REQUEST_HEADERS = ['authorization', 'x-api-key', 'content-type', 'accept', 'traceparent', 'tracestate', 'x-request-id', 'x-cleave-cache', 'x-cleave-tenant', 'x-cleave-deadline-ms', 'x-cleave-placement', 'inference-header-content-length', 'cache-control'];
/** Answer headers a browser page may read. */
const CORS_EXPOSED_HEADERS = ['x-request-id', 'traceparent', 'server-timing', 'retry-after', 'x-cleave-cache', 'x-cleave-served-by', 'x-cleave-plan', 'x-cleave-placement', 'x-cleave-degraded', 'inference-header-content-length'];

const EXTENSIONS = ['binary_tensor_data', 'cleave_protocol_v1', 'cleave_native_msgpack', 'cleave_result_cache'];

export function createEdgeApp(opts: EdgeAppOptions): Hono<Env> {
  const app = new Hono<Env>();
  const { service, catalog, cloud, clock } = opts;
  const maxBody = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const limits = edgeProtocolLimits(opts.protocolLimits, maxBody);
  const isReady = opts.isReady ?? (() => true);

  // The id and span of an error answer. Routes without the context middleware, and requests whose
  // x-cleave-* headers failed it, have no context: their id and span are read here on their own
  // (neither read can fail), so every error answer can still be found in logs.
  // Read once per request and kept, so an error answer and an audit entry carry the same id.
  const identity = (c: Context<Env>): Pick<RequestContext, 'requestId' | 'span'> => {
    const known = (c.get('ctx') as RequestContext | undefined) ?? (c.get('id') as Pick<RequestContext, 'requestId' | 'span'> | undefined);
    if (known) return known;
    const id = { requestId: requestId(c.req.header(HEADERS.requestId), opts.random), span: childSpan(parseTraceparent(c.req.header(HEADERS.traceparent)), opts.random) };
    c.set('id', id);
    return id;
  };

  app.onError((err, c) => {
    const e = toCleaveError(err);
    if (e.code === 'CLEAVE_E_INTERNAL' || e.code === 'CLEAVE_E_BACKEND') opts.log?.({ event: 'error', code: e.code, message: e.message, path: c.req.path });
    const ctx = c.get('ctx') as RequestContext | undefined;
    const total = ctx ? clock.now() - ctx.receivedAt : 0;
    return c.json(errorBody(e), e.httpStatus as 400, errorHeaders(identity(c), total));
  });
  app.notFound((c) => c.json(errorBody(new CleaveError('CLEAVE_E_NOT_FOUND', `no route ${c.req.method} ${c.req.path}; see docs/edge.md for the endpoints`)), 404, errorHeaders(identity(c), 0)));

  // Before the guard: a browser's preflight carries no credentials and must not be refused.
  if (opts.corsOrigins && opts.corsOrigins.length > 0) {
    const list = [...opts.corsOrigins];
    app.use('*', cors({
      origin: list.includes('*') ? '*' : list,
      allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowHeaders: CORS_REQUEST_HEADERS,
      exposeHeaders: CORS_EXPOSED_HEADERS,
      maxAge: 600,
    }));
  }
  // Before every route, so no handler runs for a request the guard refuses (401, 403, 429).
  const guard = opts.security?.guard;
  if (opts.security && guard) app.use('*', tenantGuardMiddleware(guard, { audit: opts.security.audit, requestIdOf: (c) => identity(c as Context<Env>).requestId }));

  // Every answer carries a request id, a trace span and Server-Timing, not only inference answers
  // (those set their own, with segments). Not on /v1/ws: an upgrade's headers are not ours to add to.
  const stamp = async (c: Context<Env>, next: () => Promise<void>): Promise<void> => {
    const t0 = clock.now();
    const id = identity(c);
    c.header(HEADERS.requestId, id.requestId);
    c.header(HEADERS.traceparent, formatTraceparent(id.span));
    await next();
    c.header('server-timing', formatServerTiming([{ name: TIMING.total, durMs: clock.now() - t0 }]));
  };
  app.on('GET', ['/v2', '/v2/*', '/v1/status', '/v1/audit', '/metrics'], stamp);
  // Deploys and deletes too: their answer and their audit entry name the same request id.
  app.on(['POST', 'DELETE'], ['/v1/workflows', '/v1/workflows/:name'], stamp);

  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', (c) => {
    const link = cloud.status().state;
    return isReady() ? c.json({ ready: true, link }) : c.json({ ready: false, link }, 503);
  });
  app.get('/v2', (c) => c.json({ ...serverMetadata({ name: opts.name, version: opts.version, extensions: EXTENSIONS }), backend: opts.backend }));

  app.get('/v1/status', (c) => c.json({
    name: opts.name, version: opts.version, backend: opts.backend, ready: isReady(),
    link: cloud.status(),
    ...optional('cloud', poolStatusOf(cloud)),
    cache: opts.cache.stats(),
    ...(opts.estimates ? { estimates: opts.estimates.snapshot() } : {}),
    ...(guard ? { tenants: guard.status() } : {}),
    models: catalog.list().map((e) => ({ name: e.name, version: e.version, placement: e.placement, loaded: e.placement === 'edge' ? catalog.isLoaded(e) : undefined, fallback: e.fallback })),
  }));

  app.get('/v1/audit', (c) => {
    if (!opts.security) return c.json({ entries: [] });
    return c.json({ entries: opts.security.audit.recent(auditQuery(c.req.query('limit'), c.req.query('tenant'), c.req.query('action'))) });
  });

  app.get('/metrics', async (c) => {
    opts.metrics.observeLink(cloud.status());
    const s = opts.cache.stats();
    opts.metrics.cacheBytes.set(s.bytes);
    opts.metrics.cacheEntries.set(s.entries);
    const { contentType, body } = await opts.metrics.exposition();
    return c.body(body, 200, { 'content-type': contentType });
  });

  const entryOf = (c: Context): CatalogEntry => service.resolve(c.req.param('name') ?? '', parseModelVersion(c.req.param('version')));

  const metadata = (c: Context): Response => {
    const e = entryOf(c);
    return c.json(modelMetadata({ name: e.name, version: e.version, inputs: e.inputs, outputs: e.outputs, maxBatchSize: e.maxBatchSize }, 'onnxruntime_onnx', catalog.versions(e.name).map(String)));
  };
  app.get('/v2/models/:name', metadata);
  app.get('/v2/models/:name/versions/:version', metadata);

  const modelReady = (c: Context): Response => {
    const e = entryOf(c);
    // A cloud model is ready when the link is up, or when its fallback can answer.
    const fallback = e.fallback !== undefined ? catalog.find(e.fallback) : undefined;
    const ready = e.placement === 'edge' ? catalog.isLoaded(e) : cloud.status().state === 'connected' || (fallback !== undefined && catalog.isLoaded(fallback));
    return c.json({ name: e.name, ready, placement: e.placement }, ready ? 200 : 503);
  };
  app.get('/v2/models/:name/ready', modelReady);
  app.get('/v2/models/:name/versions/:version/ready', modelReady);

  // Context first, so even a body-limit or validation error carries the request id.
  const context = async (c: Context<Env>, next: () => Promise<void>): Promise<void> => {
    const receivedAt = clock.now();
    const principal = c.get('principal') as Principal | undefined;
    const id = c.get('id') as Pick<RequestContext, 'requestId' | 'span'> | undefined;
    c.set('ctx', readRequestContext((n) => c.req.header(n), receivedAt, opts.random, { ...(principal ? { principal } : {}), ...(id ? { identity: id } : {}) }));
    await next();
  };
  const readBody = (c: Context): Promise<Uint8Array> => (opts.readBody ?? webBodyReader)(c, maxBody);
  // Only a cloud run can be cancelled once started; asking for the request's signal costs a web
  // Request on @hono/node-server, so edge models do without it.
  const signalFor = (c: Context<Env>, e: CatalogEntry): AbortSignal | undefined => {
    const placement = c.get('ctx').placement;
    return e.placement === 'cloud' || (placement !== undefined && placement !== 'edge') ? c.req.raw.signal : undefined;
  };

  const kserveInfer = async (c: Context<Env>): Promise<Response> => {
    const ctx = c.get('ctx');
    const entry = entryOf(c);
    const contentType = mediaType(c.req.header('content-type'));
    const headerLength = parseHeaderLength(c.req.header(HEADER_LENGTH_HEADER));
    // JSON, or JSON plus a binary tail; no content type is read as JSON, as v2 clients that omit it expect.
    if (contentType !== undefined && contentType !== JSON_CONTENT_TYPE && contentType !== BINARY_CONTENT_TYPE) {
      throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `content type ${JSON.stringify(contentType)} is not read here; send ${JSON_CONTENT_TYPE}, or ${BINARY_CONTENT_TYPE} with ${HEADER_LENGTH_HEADER} for the binary extension`, { field: 'content-type' });
    }
    const body = await readBody(c);
    const req = parseInferRequest(body, { ...(headerLength !== undefined ? { headerLength } : {}), limits: { maxBodyBytes: maxBody } });
    const timeoutUs = req.parameters.timeout;
    if (timeoutUs !== undefined && (typeof timeoutUs !== 'number' || !(timeoutUs > 0))) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `request parameter "timeout" must be a positive number of microseconds, got ${JSON.stringify(timeoutUs)}`, { field: 'parameters.timeout' });
    }
    const deadlineMs = ctx.deadlineMs ?? (typeof timeoutUs === 'number' ? timeoutUs / 1000 : undefined);
    const r = await service.infer({
      model: entry.name, version: entry.version, inputs: req.inputs, tenant: ctx.tenant, cache: ctx.cache,
      receivedAt: ctx.receivedAt, ...traceArgs(ctx, c.req.header(HEADERS.traceparent)), ...optional('placement', ctx.placement), ...optional('signal', signalFor(c, entry)),
      ...(req.outputs ? { outputs: req.outputs } : {}),
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    });
    const res = buildInferResponse({
      modelName: r.model, modelVersion: String(r.version), ...(req.id !== undefined ? { id: req.id } : {}),
      outputs: r.outputs, binary: req.binaryOutputs,
      parameters: { cleave_served_by: r.servedBy, cleave_cache: r.cache, ...(r.degraded ? { cleave_degraded: true, cleave_fallback: r.degraded.fallback } : {}) },
    });
    const headers: Record<string, string> = { ...answerHeaders(ctx, r), 'content-type': res.contentType };
    if (res.headerLength !== undefined) headers[HEADER_LENGTH_HEADER] = String(res.headerLength);
    return c.body(res.body as Uint8Array<ArrayBuffer>, 200, headers);
  };
  app.post('/v2/models/:name/infer', context, kserveInfer);
  app.post('/v2/models/:name/versions/:version/infer', context, kserveInfer);

  const nativeInfer = async (c: Context<Env>): Promise<Response> => {
    const ctx = c.get('ctx');
    const entry = entryOf(c);
    const inFormat = requestFormat(c.req.header('content-type'));
    const outFormat = responseFormat(c.req.header('accept'), inFormat);
    const req = parseNativeRequest(await readBody(c), inFormat, limits);
    const deadlineMs = req.deadlineMs ?? ctx.deadlineMs;
    const r = await service.infer({
      model: entry.name, version: entry.version, inputs: req.inputs, tenant: ctx.tenant, cache: req.cache ?? ctx.cache,
      receivedAt: ctx.receivedAt, ...traceArgs(ctx, c.req.header(HEADERS.traceparent)), ...optional('placement', ctx.placement), ...optional('signal', signalFor(c, entry)),
      ...(req.outputs ? { outputs: req.outputs } : {}),
      ...(req.priority !== undefined ? { priority: req.priority } : {}),
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    });
    const out = encodeNativeResponse({
      model: r.model, version: r.version, outputs: r.outputs, servedBy: r.servedBy, cache: r.cache, timing: r.timing, requestId: ctx.requestId,
      ...(r.degraded ? { degraded: r.degraded } : {}),
      ...(req.id !== undefined ? { id: req.id } : {}),
    }, outFormat, { ...(req.int8Outputs ? { int8Outputs: true } : {}) });
    return c.body(out.body as Uint8Array<ArrayBuffer>, 200, { ...answerHeaders(ctx, r), 'content-type': out.contentType, vary: 'accept' });
  };
  app.post('/v1/models/:name/infer', context, nativeInfer);
  app.post('/v1/models/:name/versions/:version/infer', context, nativeInfer);

  if (opts.upgradeWebSocket) {
    const socketOptions = {
      service, metrics: opts.metrics, clock, timers: opts.timers, limits, name: `${opts.name}/${opts.version}`, backend: opts.backend, random: opts.random,
      offers: () => catalog.list().map((e) => ({ name: e.name, version: e.version, inputs: e.inputs, outputs: e.outputs, maxBatchSize: e.maxBatchSize })),
      ...(opts.log ? { log: opts.log } : {}),
    };
    const open = clientSocketHandler({ ...socketOptions, ...(opts.workflows ? { workflows: opts.workflows } : {}) });
    // With keys, the connection's runs belong to the key's tenant (its cache scope) and each takes
    // a rate token and a concurrency slot: the socket gets a service bound to that tenant, with
    // workflow RUNs inside the quota too.
    app.get('/v1/ws', opts.upgradeWebSocket(!guard ? open : (c) => {
      const p = principalOf(c);
      if (!p) throw new CleaveError('CLEAVE_E_INTERNAL', 'the client WebSocket was reached without a verified API key');
      const base = service.runService(p.tenant);
      const runs = quotaRunService(opts.workflows ? withWorkflows(base, opts.workflows, clock) : base, guard, p);
      const bound = Object.assign(Object.create(service) as EdgeService, { runService: () => runs });
      return clientSocketHandler({ ...socketOptions, service: bound })(c);
    }));
  } else {
    app.get('/v1/ws', (c) => c.json(errorBody(new CleaveError('CLEAVE_E_UNAVAILABLE', 'this edge runtime has no WebSocket support')), 501, errorHeaders(identity(c), 0)));
  }

  return app;
}

/** The `GET /v1/audit` query: limit 1..1000 (default 100), a tenant, an action; CLEAVE_E_BAD_ARGUMENT naming a bad one. */
function auditQuery(limit: string | undefined, tenant: string | undefined, action: string | undefined): { limit: number; tenant?: string; action?: AuditAction } {
  const n = limit === undefined ? 100 : /^[1-9][0-9]{0,3}$/.test(limit) ? Number(limit) : NaN;
  if (!(n <= 1000)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `limit ${JSON.stringify((limit ?? '').slice(0, 40))} must be an integer from 1 to 1000`, { field: 'limit' });
  if (action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(action)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `action ${JSON.stringify(action.slice(0, 40))} must be one of ${AUDIT_ACTIONS.join(', ')}`, { field: 'action' });
  }
  return { limit: n, ...(tenant !== undefined ? { tenant } : {}), ...(action !== undefined ? { action: action as AuditAction } : {}) };
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}


