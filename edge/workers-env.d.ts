// The few Cloudflare Workers runtime APIs the Worker entry uses, declared here instead of pulling
// @cloudflare/workers-types into a project whose other entries are Node: only edge/worker.ts,
// edge/link-object.ts and edge/workerd-socket.ts see them.

declare module 'cloudflare:workers' {
  /** Base class of Durable Objects; public methods are callable over RPC from a stub. */
  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: unknown;
    protected readonly env: Env;
    constructor(ctx: unknown, env: Env);
  }
}

/** The server end of an accepted outbound WebSocket, as workerd hands it out. */
interface WorkersWebSocket {
  accept(): void;
  /** 'blob' (the default under newer compatibility dates) or 'arraybuffer'. */
  binaryType: string;
  send(data: ArrayBuffer | ArrayBufferView | string): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (ev: unknown) => void): void;
}

/**
 * The KV namespace bindings of wrangler.toml `[[kv_namespaces]]`, for the Worker's env type to
 * extend. The KV type is the structural one the stores use, not @cloudflare/workers-types'.
 */
interface CleaveKvBindings {
  /** Deployed workflows (edge/workflow-kv-store.ts, `workflowKvStoreFromEnv`); absent when not bound. */
  readonly WORKFLOWS?: import('./workflow-kv-store.js').KvNamespaceLike;
}
