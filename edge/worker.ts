/**
 * Cloudflare Workers entry of the edge (named by wrangler.toml). It wires workerd's pieces into
 * the runtime-neutral edge node: onnxruntime-web through the wasm glue, the bundled zoo models,
 * Hono's workerd WebSocket upgrade, WebCrypto for cache keys, and, when CLEAVE_CLOUD_URL is set,
 * the cloud link held by a Durable Object per Cloudflare location.
 *
 * One edge node per isolate: the result cache and loaded sessions live as long as the isolate.
 */
import { upgradeWebSocket } from 'hono/cloudflare-workers';
import type { UpgradeWebSocket } from 'hono/ws';
import { systemClock, systemTimers } from '../shared/time.js';
import { pooledRandomBytes } from '../shared/trace.js';
import { workerdOrtBackend } from '../wasm/ort-workerd.js';
import { webCryptoSha256 } from './cache-key.js';
import { NO_CLOUD } from './cloud-transport.js';
import { edgeSettingsFromEnv, resolveEdgeConfig } from './config.js';
import { createEdgeNode, type EdgeNode } from './edge-node.js';
import { DurableObjectTransport, type LinkObjectRpc } from './link-object.js';
import { WORKER_MANIFEST, WORKER_MODEL_FILES } from './worker-models.js';
import { zooCatalogEntries } from './zoo-catalog.js';
import { workflowKvStoreFromEnv, type KvNamespaceLike } from './workflow-kv-store.js';
import { createEdgeSecurity, keyFileFromText } from './tenants/edge-security.js';
import type { Rejection } from './tenants/tenant-guard.js';

export { CloudLinkObject } from './link-object.js';

/** The bindings this Worker reads (wrangler.toml). */
interface WorkerEnv {
  readonly [key: string]: unknown;
  /** Durable Object namespace of CloudLinkObject. */
  readonly CLOUD_LINK?: { idFromName(name: string): unknown; get(id: unknown): LinkObjectRpc };
  /** KV namespace deployed workflows persist in (wrangler.toml [[kv_namespaces]]). */
  readonly WORKFLOWS?: KvNamespaceLike;
}

let node: EdgeNode | undefined;

function edgeFor(env: WorkerEnv, colo: string): EdgeNode {
  if (node) return node;
  const config = resolveEdgeConfig(edgeSettingsFromEnv(env));
  const ns = env.CLOUD_LINK;
  const cloud = config.cloudUrl !== undefined && ns ? new DurableObjectTransport(() => ns.get(ns.idFromName(colo))) : NO_CLOUD;
  const workflowStore = workflowKvStoreFromEnv(env);
  const keys = keyFileFromText(config.apiKeys);
  let rejections: ((r: Rejection) => void) | undefined;
  node = createEdgeNode({
    backend: workerdOrtBackend(),
    models: zooCatalogEntries(WORKER_MANIFEST, {
      bytesOf: async (file) => {
        const b = WORKER_MODEL_FILES[file];
        if (!b) throw new Error(`model file ${file} is not bundled into this Worker`);
        return new Uint8Array(b);
      },
      cloud: cloud !== NO_CLOUD,
    }),
    cloud, clock: systemClock, timers: systemTimers, random: pooledRandomBytes(), digest: webCryptoSha256,
    // Tenant keys come from the CLEAVE_API_KEYS secret (the key file's JSON); none = an open edge.
    security: createEdgeSecurity({
      ...(keys ? { keys } : {}), clock: systemClock, digest: webCryptoSha256,
      // The guard exists before the node (and its metrics) do: bound late, counted once both exist.
      onReject: (r) => rejections?.(r),
    }),
    upgradeWebSocket: upgradeWebSocket as unknown as UpgradeWebSocket,
    // Deployed workflows live in the WORKFLOWS KV namespace when it is bound, else in this isolate only.
    ...(workflowStore ? { workflowStore } : {}),
  }, config);
  const metrics = node.metrics;
  rejections = (r) => metrics.rejected(r.reason, r.tenant);
  return node;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> {
    const colo = (request as unknown as { cf?: { colo?: string } }).cf?.colo ?? 'local';
    return edgeFor(env, colo).app.fetch(request, env, ctx as never);
  },
};
