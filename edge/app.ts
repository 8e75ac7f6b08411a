/**
 * The edge's HTTP face: one Hono app built from injected parts, served unchanged by the Worker
 * entry (edge/worker.ts) and the Node entry (edge/node.ts).
 *
 *   GET  /v2/health/live | /v2/health/ready | /v2          KServe v2 health and server metadata
 *   GET  /v2/models/:name[/versions/:v][/ready]            model metadata and readiness
 *   POST /v2/models/:name[/versions/:v]/infer              KServe v2 infer (JSON, binary extension)
 *   POST /v1/models/:name[/versions/:v]/infer              native: msgpack or JSON, negotiated
 *   GET  /v1/ws                                            the Cleave protocol for clients (WebSocket)
 *   GET  /v1/status                                        link, cache and models, as JSON
 *   GET  /metrics                                          Prometheus
 *
 * Every inference answer carries Server-Timing, x-request-id, traceparent and x-cleave-cache;
 * every error is `{ error, code, message, detail }` with the status of its code.
 */
import { Hono, type Context } from 'hono';
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
  readonly log?: (event: Record<string, unknown>) => void;
}

type Env = { Variables: { ctx: RequestContext } };

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
  const identity = (c: Context<Env>): Pick<RequestContext, 'requestId' | 'span'> =>
    (c.get('ctx') as RequestContext | undefined)
    ?? { requestId: requestId(c.req.header(HEADERS.requestId), opts.random), span: childSpan(parseTraceparent(c.req.header(HEADERS.traceparent)), opts.random) };

  app.onError((err, c) => {
    const e = toCleaveError(err);
    if (e.code === 'CLEAVE_E_INTERNAL' || e.code === 'CLEAVE_E_BACKEND') opts.log?.({ event: 'error', code: e.code, message: e.message, path: c.req.path });
    const ctx = c.get('ctx') as RequestContext | undefined;
    const total = ctx ? clock.now() - ctx.receivedAt : 0;
    return c.json(errorBody(e), e.httpStatus as 400, errorHeaders(identity(c), total));
  });
  app.notFound((c) => c.json(errorBody(new CleaveError('CLEAVE_E_NOT_FOUND', `no route ${c.req.method} ${c.req.path}; see docs/edge.md for the endpoints`)), 404, errorHeaders(identity(c), 0)));

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
  app.on('GET', ['/v2', '/v2/*', '/v1/status', '/metrics'], stamp);

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
    models: catalog.list().map((e) => ({ name: e.name, version: e.version, placement: e.placement, loaded: e.placement === 'edge' ? catalog.isLoaded(e) : undefined, fallback: e.fallback })),
  }));

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
    c.set('ctx', readRequestContext((n) => c.req.header(n), receivedAt, opts.random));
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
      receivedAt: ctx.receivedAt, traceparent: formatTraceparent(ctx.span), ...optional('placement', ctx.placement), ...optional('signal', signalFor(c, entry)),
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
      receivedAt: ctx.receivedAt, traceparent: formatTraceparent(ctx.span), ...optional('placement', ctx.placement), ...optional('signal', signalFor(c, entry)),
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
    app.get('/v1/ws', opts.upgradeWebSocket(clientSocketHandler({
      service, metrics: opts.metrics, clock, timers: opts.timers, limits, name: `${opts.name}/${opts.version}`, backend: opts.backend, random: opts.random,
      offers: () => catalog.list().map((e) => ({ name: e.name, version: e.version, inputs: e.inputs, outputs: e.outputs, maxBatchSize: e.maxBatchSize })),
      ...(opts.workflows ? { workflows: opts.workflows } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    })));
  } else {
    app.get('/v1/ws', (c) => c.json(errorBody(new CleaveError('CLEAVE_E_UNAVAILABLE', 'this edge runtime has no WebSocket support')), 501, errorHeaders(identity(c), 0)));
  }

  return app;
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}


