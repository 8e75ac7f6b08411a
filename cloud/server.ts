/**
 * The cloud tier on Node: the Hono app on @hono/node-server and the protocol WebSocket (`ws`) on
 * the same port, the model repository warmed before readiness, and a graceful shutdown that stops
 * accepting, tells protocol clients to go away, drains in-flight work, then closes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { serve } from '@hono/node-server';
import { WebSocketServer, type WebSocket } from 'ws';
import { nodeBackends } from '../cli/backends.js';
import { ensureZoo, DEFAULT_ZOO_DIR } from '../cli/zoo-files.js';
import { otelSpanRecorder } from '../shared/observability/otel-span-recorder.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from '../shared/protocol/constants.js';
import { systemClock, systemTimers } from '../shared/time.js';
import { createCloudApp } from './app.js';
import { bearerToken, TokenAuth } from './auth.js';
import type { CloudConfig } from './config.js';
import { availableProviders, resolveDevice } from './device.js';
import { InferenceService } from './inference-service.js';
import { CloudMetrics } from './metrics.js';
import { FolderSource } from './repository/folder-source.js';
import { ModelRepository } from './repository/model-lifecycle.js';
import type { ModelSource } from './repository/model-source.js';
import { SplitSource } from './repository/split-source.js';
import { defaultStoreCacheDir, StoreSource } from './repository/store-source.js';
import { nodePluginRegistry } from './plugins/node-model-stores.js';
import { ZooSource } from './repository/zoo-source.js';
import { ServerSession, type SessionMetrics } from '../shared/protocol/server-session.js';
import { createWorkerBackend } from './worker-backend.js';
import { cloudDashboardRoutes, type CloudConnection } from './dashboard-routes.js';
import { nodeDashboardAssets } from '../dashboard/node-dashboard-assets.js';
import { cryptoRandomBytes } from '../shared/trace.js';

/** Path of the protocol WebSocket. */
export const PROTOCOL_PATH = '/v1/ws';
/** Interval of WebSocket-level pings; a peer that misses two is dropped, ms. */
const HEARTBEAT_MS = 15_000;

export interface CloudServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  readonly url: string;
  /** Device the server chose and why. */
  readonly device: { device: string; reason: string };
  readonly repository: ModelRepository;
  readonly service: InferenceService;
  readonly metrics: CloudMetrics;
  /** Resolves when the startup models are loaded and warmed (readiness turns 200). */
  readonly ready: Promise<void>;
  /** Graceful shutdown; resolves when everything is closed. */
  close(): Promise<void>;
}

export interface CloudServerOptions {
  /** Receives JSON log events; default: one line each on stderr when config.log. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Process metrics in /metrics. Default true. */
  readonly processMetrics?: boolean;
}

export async function startCloudServer(config: CloudConfig, opts: CloudServerOptions = {}): Promise<CloudServer> {
  const log = opts.log ?? (config.log ? (e: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ...e })}\n`) : () => {});
  const device = resolveDevice(config.device, await availableProviders());
  log({ event: 'device', device: device.device, reason: device.reason });

  const backend = config.inferenceWorkers
    ? createWorkerBackend({ providers: device.executionProviders })
    : (await nodeBackends()).get('onnxruntime-node');
  let source: ModelSource;
  // Plugins load (and are validated) at start even without a store that uses them: a broken one fails fast.
  const stores = await nodePluginRegistry({ pluginDirs: config.pluginDirs });
  for (const p of stores.plugins) log({ event: 'plugin', name: p.manifest.name, version: p.manifest.version, dir: p.dir });
  if (config.modelStore) {
    const store = await stores.registry.modelStoreFor(config.modelStore, { env: process.env });
    source = new StoreSource(store, {
      cacheDir: config.repository ?? defaultStoreCacheDir(config.modelStore), defaultMaxBatchSize: config.maxBatchSize,
      warn: (m: string) => log({ event: 'warn', message: m }),
      onSync: (r) => log({ event: 'model-store-sync', store: store.describe().location, fetched: r.fetched.length, removed: r.removed.length, unchanged: r.unchanged.length }),
    });
  } else if (config.repository) {
    source = new FolderSource(config.repository, { defaultMaxBatchSize: config.maxBatchSize, warn: (m: string) => log({ event: 'warn', message: m }) });
  } else {
    await ensureZoo();
    source = new ZooSource(DEFAULT_ZOO_DIR, { defaultMaxBatchSize: config.maxBatchSize });
  }
  // Tails are on-demand models: listed and runnable by name, neither warmed nor offered.
  if (config.splitTails) source = new SplitSource(source, { warn: (m: string) => log({ event: 'warn', message: m }) });
  const metrics = new CloudMetrics({ processMetrics: opts.processMetrics ?? true });
  metrics.modelMemoryBudget.set(config.memoryBudgetBytes);
  const repository = new ModelRepository({
    source,
    backend,
    loadOptions: {
      executionProviders: device.executionProviders,
      ...(config.intraOpThreads > 0 ? { intraOpThreads: config.intraOpThreads } : {}),
    },
    memoryBudgetBytes: config.memoryBudgetBytes,
    clock: systemClock,
    warn: (m: string) => log({ event: 'warn', message: m }),
    onEvent: (e) => {
      metrics.modelEvents.inc({ model: e.model, event: e.type });
      log({ event: `model-${e.type}`, model: e.model, version: e.version, bytes: e.bytes, ms: Math.round(e.ms) });
    },
  });
  await repository.refresh();
  // One `request` line per inference only when something reads the log (the no-op sink would still build them).
  const requestLog = opts.log ?? (config.log ? log : undefined);
  const service = new InferenceService({
    repository, metrics, clock: systemClock, timers: systemTimers,
    // OpenTelemetry spans when the process registered an SDK (docs/observability.md); else free.
    spans: otelSpanRecorder(),
    ...(requestLog ? { log: requestLog } : {}),
    defaultMaxBatchSize: config.maxBatchSize,
    batchingOverride: {
      ...(config.batching ? {} : { maxBatchSize: 1 }),
      ...(config.maxQueueDelayMs !== undefined ? { maxQueueDelayMs: config.maxQueueDelayMs } : {}),
    },
  });
  const auth = new TokenAuth(config.tokens, { linkSecrets: config.linkSecrets });
  const limits: ProtocolLimits = { ...DEFAULT_LIMITS, maxFrameBytes: config.maxFrameBytes, maxStreams: config.maxStreams };

  let isReady = false;
  let draining = false;
  const app = createCloudApp({
    service, repository, metrics, auth, clock: systemClock, name: 'cleave-cloud', version: '0.1.0',
    maxBodyBytes: config.maxBodyBytes, isReady: () => isReady && !draining,
  });
  // The protocol connections by session, for the dashboard's list of connected edges.
  const connectionInfo = new Map<ServerSession, Omit<CloudConnection, 'inFlight'>>();
  // The cloud's own dashboard view and its JSON (docs/dashboard.md); before serving, as Hono builds its router once.
  app.route('/', cloudDashboardRoutes({
    repository, service, metrics, auth, name: 'cleave-cloud', version: '0.1.0', device: device.device,
    isReady: () => isReady && !draining, assets: nodeDashboardAssets(), clock: systemClock, random: cryptoRandomBytes,
    connections: () => [...connectionInfo].map(([s, c]) => ({ ...c, inFlight: s.inFlight })),
  }));

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s as Server)) as Server;
  });
  const port = (server.address() as AddressInfo).port;

  // The transport cap sits above the protocol limit, so a frame a little too big still gets a
  // coded ERROR from the decoder and the connection lives; only a grossly oversized one closes (1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes * 2 + 1024 });
  const sessions = new Set<ServerSession>();
  const sockets = new Set<WebSocket>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== PROTOCOL_PATH || draining) {
      const status = draining ? '503 Service Unavailable' : '404 Not Found';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const token = bearerToken(req.headers.authorization);
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A wrong token is answered with a coded close after the upgrade, so WebSocket clients
      // (which never see an HTTP 401 body) learn why: 4401 CLEAVE_E_UNAUTHORIZED.
      if (token !== undefined && !auth.check(token)) {
        ws.close(4401, 'CLEAVE_E_UNAUTHORIZED: the token is not valid');
        return;
      }
      attach(ws, token !== undefined || !auth.required, req.socket.remoteAddress);
    });
  });

  const sessionMetrics: SessionMetrics = {
    streams: (delta) => metrics.streams.inc(delta),
    protocolError: (code) => metrics.protocolErrors.inc({ code }),
  };

  function attach(ws: WebSocket, authenticated: boolean, remote: string | undefined): void {
    ws.binaryType = 'arraybuffer';
    const id = randomUUID();
    const session = new ServerSession(
      { send: (b) => ws.send(b), close: (code, reason) => ws.close(code, reason) },
      {
        id, service, metrics: sessionMetrics, clock: systemClock, timers: systemTimers, limits, serverName: 'cleave-cloud/0.1.0',
        device: device.device, offers: () => repository.offers(), authenticated,
        ...(auth.required ? { checkToken: (t: string) => auth.check(t) } : {}),
        loadIntervalMs: config.loadIntervalMs, log,
      },
    );
    sessions.add(session);
    connectionInfo.set(session, { id, connectedAt: Date.now(), ...(remote !== undefined ? { remote } : {}) });
    sockets.add(ws);
    metrics.connections.inc();
    let alive = true;
    const beat = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, HEARTBEAT_MS);
    beat.unref();
    ws.on('pong', () => { alive = true; });
    ws.on('message', (data, isBinary) => {
      alive = true;
      if (!isBinary) {
        session.receive(new Uint8Array(0));
        return;
      }
      session.receive(new Uint8Array(data as ArrayBuffer));
    });
    ws.on('close', () => {
      clearInterval(beat);
      session.closed();
      sessions.delete(session);
      connectionInfo.delete(session);
      sockets.delete(ws);
      metrics.connections.dec();
    });
    ws.on('error', (e) => log({ event: 'ws-error', session: id, message: e.message }));
  }

  const ready = (async () => {
    await repository.loadAll();
    isReady = true;
    log({ event: 'ready', port, models: repository.offers().map((o) => `${o.name}@${o.version}`) });
  })();
  ready.catch((e: unknown) => log({ event: 'startup-failed', message: (e as Error).message }));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      log({ event: 'draining', sessions: sessions.size });
      server.close();
      service.stopAccepting();
      const drained = Promise.all([...sessions].map((s) => s.goaway())).then(() => service.drain());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), config.drainTimeoutMs); });
      const outcome = await Promise.race([drained.then(() => 'drained' as const), timedOut]);
      clearTimeout(timer);
      service.close();
      for (const ws of sockets) ws.close(1001, 'CLEAVE_E_UNAVAILABLE: server shutting down');
      server.closeAllConnections();
      wss.close();
      await ready.catch(() => undefined);
      await repository.close();
      log({ event: 'closed', outcome });
    })();
    return closing;
  };

  return {
    port, url: `http://${config.host}:${port}`, device, repository, service, metrics, ready, close,
  };
}
