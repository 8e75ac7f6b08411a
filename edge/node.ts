/**
 * Node entry of the edge (an ARM gateway, a box on the shop floor, a laptop): the same app as the
 * Worker on @hono/node-server, WebSockets through @hono/node-ws, onnxruntime-node with the wasm
 * build as fallback, the zoo's model folder, and the cloud link over `ws`. Everything Node-only
 * about the edge is in this file and edge/node-socket.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { serve, type HttpBindings, type ServerType } from '@hono/node-server';
import { createNodeWebSocket } from '@hono/node-ws';
import { Hono } from 'hono';
import { nodeBackends } from '../cli/backends.js';
import { DEFAULT_ZOO_DIR, ensureZoo, readManifest } from '../cli/zoo-files.js';
import { CleaveError } from '../shared/errors.js';
import { systemClock, systemTimers } from '../shared/time.js';
import { pooledRandomBytes } from '../shared/trace.js';
import { checkDeclaredLength, joinChunks, tooLarge, type BodyReader } from './body-reader.js';
import type { Digest } from './cache-key.js';
import { CloudPool } from './cloud-pool.js';
import { NO_CLOUD, type CloudTransport } from './cloud-transport.js';
import { cloudUrlList, type EdgeConfig } from './config.js';
import { createEdgeNode, type EdgeNode } from './edge-node.js';
import { LiveEstimates } from './live-estimates.js';
import { nodeCloudLink } from './node-socket.js';
import { zooCatalogEntries } from './zoo-catalog.js';
import { slowedBackend } from '../shared/backend/slowed-backend.js';
import type { SplittableModel } from './split-models.js';
import type { DType } from '../shared/onnx/dtype.js';
import type { TensorSpec } from '../shared/protocol/frames.js';
import { WorkflowFileStore } from './workflow-file-store.js';
import { zooSampleInputs } from '../shared/zoo/samples/index.js';
import { EVALUATION_SEED } from '../shared/zoo/build.js';
import { linkTokenProvider } from '../shared/auth/link-token.js';
import { otelSpanRecorder } from '../shared/observability/otel-span-recorder.js';
import { createEdgeSecurity, keyFileFromText } from './tenants/edge-security.js';
import type { Rejection } from './tenants/tenant-guard.js';
import { parseKeyFile, type KeyFile } from './tenants/key-file.js';
import { maskedLog } from './tenants/log-masker.js';
import { parse as parseYaml } from 'yaml';
import { nodeDashboardAssets } from '../dashboard/node-dashboard-assets.js';

export interface EdgeServer {
  readonly port: number;
  readonly url: string;
  readonly node: EdgeNode;
  /** Resolves when every edge model is loaded (readiness turns 200). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** node:crypto's SHA-256: synchronous and about twice as fast as WebCrypto for small inputs. */
const nodeSha256: Digest = (bytes) => createHash('sha256').update(bytes).digest();

/**
 * Reads the body from Node's IncomingMessage instead of a web Request: @hono/node-server builds
 * the Request (a ReadableStream, an AbortController) only when something asks for it.
 */
const nodeBodyReader: BodyReader = async (c, maxBytes) => {
  const incoming = (c.env as HttpBindings | undefined)?.incoming as IncomingMessage | undefined;
  if (!incoming) return (await import('./body-reader.js')).webBodyReader(c, maxBytes);
  checkDeclaredLength(incoming.headers['content-length'], maxBytes);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    // The rest is left unread: the 413 goes out with Connection: close (below), which ends the socket.
    if (total > maxBytes) throw tooLarge(maxBytes);
    // A plain Uint8Array view: Buffer's slice() does not copy, and parsers rely on slice() copying.
    chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return joinChunks(chunks, total);
};

/** Edge id in link tokens when the edgeId setting is unset. */
const DEFAULT_EDGE_ID = 'edge';

/** The key file at `path`; CLEAVE_E_NOT_FOUND naming it when it cannot be read, CLEAVE_E_BAD_ARGUMENT when it is not valid. */
async function readKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CleaveError('CLEAVE_E_NOT_FOUND', `cannot read key file ${path} (apiKeysFile): ${(e as Error).message}`, { path });
  }
  // No aliases: a key file has no use for them, and they are how YAML bombs are built.
  return parseKeyFile(text, path, { yaml: (t) => parseYaml(t, { maxAliasCount: 0 }) });
}

/** Zoo shapes name symbolic dims ('N'); the contracts write -1 for them. */
function zooSpecs(list: readonly { name: string; dtype: DType; shape: readonly (number | string)[] }[]): TensorSpec[] {
  return list.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) }));
}

export async function startEdgeServer(config: EdgeConfig, hooks: { log?: (event: Record<string, unknown>) => void; processMetrics?: boolean; drainMs?: number } = {}): Promise<EdgeServer> {
  // Every event is masked before it is written (logMask), audit entries included.
  const log = maskedLog(hooks.log, config.logMask ?? []);
  const keys = config.apiKeysFile !== undefined ? await readKeyFile(config.apiKeysFile) : keyFileFromText(config.apiKeys);
  const dir = config.models ?? DEFAULT_ZOO_DIR;
  const manifest = config.models === undefined ? await ensureZoo(dir) : await readManifest(dir);
  if (!manifest) {
    throw new CleaveError('CLEAVE_E_NOT_FOUND', `no manifest.json in model folder ${dir}; write one with \`cleave models --out ${dir}\``, { path: dir });
  }
  const registry = await nodeBackends();
  const estimates = new LiveEstimates(systemClock);
  const chosen = registry.get(config.backend === 'auto' ? undefined : config.backend);
  // Benchmarks emulate a weaker edge device this way (never on by default).
  const backend = config.emulateSlowdown > 1 ? slowedBackend(chosen, config.emulateSlowdown, systemClock, systemTimers) : chosen;
  const cloudLink = (url: string): CloudTransport => nodeCloudLink({
    url, client: 'cleave-edge/0.1.0', ...(log ? { log } : {}),
    // A rotating token minted per connect from cloudSecret, else the static cloudToken (docs/security.md).
    ...(config.cloudSecret !== undefined
      ? { tokenProvider: linkTokenProvider({ secret: config.cloudSecret, edgeId: config.edgeId ?? DEFAULT_EDGE_ID, wallClock: { now: () => Date.now() } }) }
      : config.cloudToken !== undefined ? { token: config.cloudToken } : {}),
    // Heartbeat round trips are RTT samples for the router, on top of those its own traffic gives.
    onRtt: (ms) => estimates.link.observeRtt(ms),
  }).start();
  const cloudUrls = config.cloudUrl === undefined ? [] : cloudUrlList(config.cloudUrl);
  // One URL is the bare link, exactly as before; several share one CloudPool (edge/cloud-pool.ts).
  const cloud: CloudTransport = cloudUrls.length === 0 ? NO_CLOUD
    : cloudUrls.length === 1 ? cloudLink(cloudUrls[0]!)
      : new CloudPool({
        endpoints: cloudUrls.map((url) => ({ url, transport: cloudLink(url) })),
        clock: systemClock, timers: systemTimers, random: Math.random, ...(log ? { log } : {}),
      });

  let warmed = false;
  let draining = false;
  const outer = new Hono();
  // A body refused before it was read to the end (413) leaves the connection unusable: the
  // server closes it just after an answer that said keep-alive, so a client that reuses it
  // (undici's fetch does) fails its next request with "other side closed". `Connection: close`
  // on the answer makes both sides agree the connection ends there.
  outer.use(async (c, next) => {
    await next();
    if (c.res.status === 413) c.res.headers.set('connection', 'close');
  });
  const { upgradeWebSocket, injectWebSocket, wss } = createNodeWebSocket({ app: outer });
  const workflowStore = config.workflowsDir !== undefined ? await WorkflowFileStore.open({ dir: config.workflowsDir, ...(log ? { warn: (m: string) => log({ event: 'workflow-store', message: m }) } : {}) }) : undefined;
  const readModel = (file: string): Promise<Uint8Array> => readFile(join(dir, file)).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  // The gateway holds the cloud tier's files too: it can cut them for split-model nodes.
  const splittable: SplittableModel[] = manifest.models
    .filter((m) => m.tier === 'cloud' && m.quantization === 'none')
    .map((m) => ({
      name: m.name, version: m.version, bytes: () => readModel(m.file), samples: () => zooSampleInputs(m.name, 32, EVALUATION_SEED),
      inputs: zooSpecs(m.inputs), outputs: zooSpecs(m.outputs),
    }));
  let rejections: ((r: Rejection) => void) | undefined;
  const node = createEdgeNode({
    backend, splittable, ...(workflowStore ? { workflowStore } : {}),
    models: zooCatalogEntries(manifest, { bytesOf: (file) => readFile(join(dir, file)).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)), cloud: config.cloudUrl !== undefined }),
    cloud, estimates, clock: systemClock, timers: systemTimers, random: pooledRandomBytes(), digest: nodeSha256,
    security: createEdgeSecurity({
      ...(keys ? { keys } : {}), clock: systemClock, digest: nodeSha256,
      // The guard exists before the node (and its metrics) do: bound late, counted once both exist.
      onReject: (r) => rejections?.(r),
      ...(log ? { log } : {}),
    }),
    upgradeWebSocket, readBody: nodeBodyReader, processMetrics: hooks.processMetrics ?? true,
    // The dashboard page from dist/dashboard (npm run build:dashboard); read again when rebuilt.
    dashboardAssets: nodeDashboardAssets(),
    // OpenTelemetry spans when the process registered an SDK (docs/observability.md); else free.
    spans: otelSpanRecorder(),
    // Readiness turns 503 while draining, so a load balancer stops sending before the port closes.
    isReady: () => !draining && (warmed || !config.warm),
    ...(log ? { log } : {}),
  }, config);
  rejections = (r) => node.metrics.rejected(r.reason, r.tenant);
  outer.route('/', node.app);

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: outer.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  injectWebSocket(server);
  const port = (server.address() as AddressInfo).port;
  const ready = config.warm ? node.catalog.warm().then(() => { warmed = true; }) : Promise.resolve();
  ready.catch((e: unknown) => log?.({ event: 'warm-failed', message: (e as Error).message }));
  log?.({ event: 'edge-listening', port, backend: backend.name, cloud: cloud.status().url ?? 'none', auth: keys ? `api keys (${keys.tenants.length} tenants)` : 'open' });

  let closing: Promise<void> | undefined;
  /** Longest wait for requests in flight on close, ms. */
  const drainMs = hooks.drainMs ?? 10_000;
  return {
    port,
    url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    node,
    ready,
    close() {
      closing ??= (async () => {
        draining = true;
        const http = server as unknown as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Idle keep-alive connections go now; requests in flight get up to drainMs to finish,
          // then whatever is left is cut. WebSocket clients are told to go elsewhere (1001).
          http.closeIdleConnections?.();
          for (const ws of wss.clients) ws.close(1001, 'edge shutting down');
          const cut = setTimeout(() => http.closeAllConnections?.(), drainMs);
          cut.unref();
        });
        await node.close();
      })();
      return closing;
    },
  };
}
