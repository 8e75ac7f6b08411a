/**
 * The cloud's HTTP face, a Hono app built from injected parts: KServe v2 health, metadata and
 * infer (JSON and the binary-data extension), Triton's model-repository extension (index, load,
 * unload), and Prometheus `/metrics`. Errors answer with the status of their code and a body
 * KServe clients (`error`) and Cleave clients (`code`, `message`) both read.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { CleaveError, toCleaveError } from '../shared/errors.js';
import { buildInferResponse, errorBody, HEADER_LENGTH_HEADER, modelMetadata, parseHeaderLength, parseInferRequest, parseModelVersion, serverMetadata } from '../shared/kserve/index.js';
import type { Clock } from '../shared/time.js';
import { pooledRandomBytes, requestId, type RandomBytes } from '../shared/trace.js';
import { bearerToken, type TokenAuth } from './auth.js';
import type { InferenceService } from './inference-service.js';
import type { CloudMetrics } from './metrics.js';
import type { ModelRepository } from './repository/model-lifecycle.js';

export interface CloudAppOptions {
  readonly service: InferenceService;
  readonly repository: ModelRepository;
  readonly metrics: CloudMetrics;
  readonly auth: TokenAuth;
  readonly clock: Clock;
  /** Server name and version for `GET /v2`. */
  readonly name: string;
  readonly version: string;
  /** Largest HTTP request body, bytes. Default 64 MiB. */
  readonly maxBodyBytes?: number;
  /** False while starting (warmup) or draining: readiness answers 503. */
  readonly isReady: () => boolean;
  /** Randomness for request ids of HTTP requests that bring none. Default pooledRandomBytes(). */
  readonly random?: RandomBytes;
}

const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics', 'cleave_protocol_v1'];

export function createCloudApp(opts: CloudAppOptions): Hono {
  const app = new Hono();
  const maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const random = opts.random ?? pooledRandomBytes();

  app.onError((err, c) => errorResponse(c, toCleaveError(err)));
  app.notFound((c) => errorResponse(c, new CleaveError('CLEAVE_E_NOT_FOUND', `no route ${c.req.method} ${c.req.path}; see docs/cloud.md for the endpoints`)));

  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', (c) => (opts.isReady() ? c.json({ ready: true }) : c.json({ ready: false }, 503)));
  app.get('/v2', (c) => c.json(serverMetadata({ name: opts.name, version: opts.version, extensions: EXTENSIONS })));

  app.get('/metrics', async (c) => {
    opts.metrics.modelMemory.set(opts.repository.memoryInUse());
    const { contentType, body } = await opts.metrics.exposition();
    return c.body(body, 200, { 'content-type': contentType });
  });

  const requireToken = async (c: Context, next: () => Promise<void>): Promise<Response | void> => {
    if (opts.auth.check(bearerToken(c.req.header('authorization')))) return next();
    return errorResponse(c, new CleaveError('CLEAVE_E_UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" header is required'));
  };

  const metadata = async (c: Context): Promise<Response> => {
    const name = c.req.param('name') ?? '';
    const version = parseModelVersion(c.req.param('version'));
    const config = await opts.repository.config(name, version);
    const v = version ?? Math.max(...config.versions);
    return c.json(modelMetadata({ name, version: v, inputs: config.inputs, outputs: config.outputs, maxBatchSize: config.maxBatchSize }, 'onnxruntime_onnx', config.versions.map(String)));
  };
  app.get('/v2/models/:name', metadata);
  app.get('/v2/models/:name/versions/:version', metadata);

  const modelReady = async (c: Context): Promise<Response> => {
    const name = c.req.param('name') ?? '';
    const version = parseModelVersion(c.req.param('version'));
    const config = await opts.repository.config(name, version);
    const ready = opts.repository.isReady(name, version ?? Math.max(...config.versions));
    return c.json({ name, ready }, ready ? 200 : 503);
  };
  app.get('/v2/models/:name/ready', modelReady);
  app.get('/v2/models/:name/versions/:version/ready', modelReady);

  const infer = async (c: Context): Promise<Response> => {
    const receivedAt = opts.clock.now();
    const name = c.req.param('name') ?? '';
    const version = parseModelVersion(c.req.param('version'));
    // Unknown model is a 404 before the body is even read.
    await opts.repository.config(name, version);
    const headerLength = parseHeaderLength(c.req.header(HEADER_LENGTH_HEADER));
    const body = new Uint8Array(await c.req.arrayBuffer());
    const req = parseInferRequest(body, { ...(headerLength !== undefined ? { headerLength } : {}), limits: { maxBodyBytes: maxBody } });
    const priority = intParam(req.parameters, 'priority');
    // Triton's `timeout` request parameter is in microseconds; Cleave also takes a header in ms.
    const timeoutUs = intParam(req.parameters, 'timeout');
    const deadlineHeader = c.req.header('x-cleave-deadline-ms');
    const budgetMs = deadlineHeader !== undefined ? parsePositive(deadlineHeader, 'x-cleave-deadline-ms') : timeoutUs !== undefined ? timeoutUs / 1000 : undefined;
    // W3C trace context and the request id, as the edge sends them: the answer names the cloud's span.
    const traceparent = c.req.header('traceparent');
    const id = requestId(c.req.header('x-request-id'), random);
    const r = await opts.service.infer({
      model: name,
      ...(version !== undefined ? { version } : {}),
      inputs: req.inputs,
      ...(req.outputs ? { outputs: req.outputs } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(budgetMs !== undefined ? { deadline: receivedAt + budgetMs } : {}),
      protocol: 'http',
      receivedAt,
      requestId: id,
      ...(traceparent !== undefined ? { traceparent } : {}),
    }).promise;
    const res = buildInferResponse({
      modelName: name, modelVersion: String(r.version), ...(req.id !== undefined ? { id: req.id } : {}),
      outputs: r.outputs, binary: req.binaryOutputs,
    });
    const headers: Record<string, string> = {
      'content-type': res.contentType,
      'server-timing': `queue;dur=${r.timing.queueMs.toFixed(2)}, compute;dur=${r.timing.computeMs.toFixed(2)}`,
      'x-cleave-batch-size': String(r.timing.batchSize),
      'x-request-id': id,
    };
    if (r.traceparent !== undefined) headers.traceparent = r.traceparent;
    if (res.headerLength !== undefined) headers[HEADER_LENGTH_HEADER] = String(res.headerLength);
    return c.body(res.body as Uint8Array<ArrayBuffer>, 200, headers);
  };
  const limit = bodyLimit({
    maxSize: maxBody,
    onError: (c) => errorResponse(c, new CleaveError('CLEAVE_E_TOO_LARGE', `request body exceeds ${maxBody} bytes (--max-body-bytes)`, { limit: maxBody })),
  });
  app.post('/v2/models/:name/infer', requireToken, limit, infer);
  app.post('/v2/models/:name/versions/:version/infer', requireToken, limit, infer);

  // Triton's model repository extension: administrative, so always behind the token when one is set.
  app.post('/v2/repository/index', requireToken, async (c) => {
    await opts.repository.refresh();
    return c.json(opts.repository.index());
  });
  app.post('/v2/repository/models/:name/load', requireToken, async (c) => {
    const name = c.req.param('name') ?? '';
    await opts.repository.load(name);
    return c.json({ name, state: 'READY' });
  });
  app.post('/v2/repository/models/:name/unload', requireToken, async (c) => {
    const name = c.req.param('name') ?? '';
    await opts.repository.unload(name);
    return c.json({ name, state: 'UNAVAILABLE' });
  });

  return app;
}

function errorResponse(c: Context, e: CleaveError): Response {
  return c.json(errorBody(e), e.httpStatus as 400);
}

function parsePositive(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} "${s}" must be a positive number of milliseconds`);
  return n;
}

function intParam(params: Record<string, unknown>, key: string): number | undefined {
  const v = params[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `request parameter "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}
