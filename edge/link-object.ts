/**
 * The cloud link of a Worker. A Worker may not use a WebSocket opened while handling one request
 * from another request, so a plain Worker cannot keep one link for all its requests. A Durable
 * Object can: this one owns a CloudLink (reconnects, heartbeats, multiplexing) over an outbound
 * workerd WebSocket, and the Worker's requests reach it through its stub over RPC. One object per
 * Cloudflare location (named by `cf.colo`) keeps the link near the edge that uses it.
 *
 * Errors do not cross RPC as CleaveErrors, so `run` answers with a tagged union the Worker side
 * (DurableObjectTransport) turns back into a coded error. Both directions pass through rpcPlain:
 * see there for why.
 */
import { DurableObject } from 'cloudflare:workers';
import { CleaveError, isCleaveError, toCleaveError, type ErrorCode, type ErrorDetail } from '../shared/errors.js';
import type { TensorMap } from '../shared/protocol/frames.js';
import { systemClock, systemTimers } from '../shared/time.js';
import { CloudLink } from './cloud-link.js';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkStatus } from './cloud-transport.js';
import { cloudUrlList, edgeSettingsFromEnv, resolveEdgeConfig } from './config.js';
import { FetchUpgradeSocket } from './workerd-socket.js';
import { linkTokenProvider } from '../shared/auth/link-token.js';

/** What `run` answers over RPC. */
export type LinkRunReply =
  | { readonly ok: true; readonly result: CloudRunResult; readonly status: LinkStatus }
  | { readonly ok: false; readonly error: { code: ErrorCode; message: string; detail: ErrorDetail }; readonly status: LinkStatus };

/** The RPC surface of CloudLinkObject, as a stub exposes it. */
export interface LinkObjectRpc {
  run(req: CloudRunRequest): Promise<LinkRunReply>;
  status(): Promise<LinkStatus>;
}

export class CloudLinkObject extends DurableObject<Record<string, unknown>> {
  private link: CloudLink | undefined;

  private get(): CloudLink {
    if (!this.link) {
      const config = resolveEdgeConfig(edgeSettingsFromEnv(this.env));
      if (config.cloudUrl === undefined) throw new CleaveError('CLEAVE_E_UNAVAILABLE', 'CLEAVE_CLOUD_URL is not set for this Worker');
      // One socket per location: the Worker has no pool of endpoints (a gateway's `--cloud a,b` does).
      const urls = cloudUrlList(config.cloudUrl);
      if (urls.length !== 1) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `CLEAVE_CLOUD_URL lists ${urls.length} URLs; the Worker edge links each location to one cloud URL (put a load balancer in front of several)`, { setting: 'CLEAVE_CLOUD_URL' });
      }
      this.link = new CloudLink({
        url: urls[0]!,
        // A rotating token minted per connect from CLEAVE_CLOUD_SECRET, else the static CLEAVE_CLOUD_TOKEN (docs/security.md).
        ...(config.cloudSecret !== undefined
          ? { tokenProvider: linkTokenProvider({ secret: config.cloudSecret, edgeId: config.edgeId ?? 'edge', wallClock: { now: () => Date.now() } }) }
          : config.cloudToken !== undefined ? { token: config.cloudToken } : {}),
        connect: (url, token) => new FetchUpgradeSocket(url, token),
        clock: systemClock, timers: systemTimers, random: Math.random,
        client: 'cleave-edge-worker/0.1.0',
      }).start();
    }
    return this.link;
  }

  async run(req: CloudRunRequest): Promise<LinkRunReply> {
    try {
      const link = this.get();
      const result = await link.run({ ...req, inputs: tensorMapOf(req.inputs) });
      return rpcPlain({ ok: true, result, status: link.status() });
    } catch (e) {
      const err = toCleaveError(e);
      return rpcPlain({ ok: false, error: { code: err.code, message: err.message, detail: err.detail }, status: this.link?.status() ?? { state: 'disabled', offers: [], failures: 0, connects: 0 } });
    }
  }

  async status(): Promise<LinkStatus> {
    return rpcPlain(this.get().status());
  }
}

/** The Worker's side: a CloudTransport that forwards runs to the location's CloudLinkObject. */
export class DurableObjectTransport implements CloudTransport {
  private last: LinkStatus = { state: 'connecting', offers: [], failures: 0, connects: 0 };

  constructor(private readonly stub: () => LinkObjectRpc) {}

  async run(req: CloudRunRequest, signal?: AbortSignal): Promise<CloudRunResult> {
    if (signal?.aborted) throw new CleaveError('CLEAVE_E_CANCELLED', `the request for model ${JSON.stringify(req.model)} was cancelled`);
    let reply: LinkRunReply;
    try {
      // A callback cannot cross RPC: the Worker learns stage outputs from the result instead.
      const { onPartial: _onPartial, ...plain } = req;
      reply = await this.stub().run(rpcPlain(plain));
    } catch (e) {
      // The object itself failed (reset, overloaded): the link is as good as down for this request.
      throw isCleaveError(e) ? e : new CleaveError('CLEAVE_E_UNAVAILABLE', `the cloud link object failed: ${(e as Error).message}`, {}, { cause: e });
    }
    this.last = reply.status;
    if (reply.ok) return { ...reply.result, outputs: tensorMapOf(reply.result.outputs) };
    throw new CleaveError(reply.error.code, reply.error.message, reply.error.detail);
  }

  status(): LinkStatus {
    return this.last;
  }

  /** Refreshes the cached status from the object (for /v1/status and readiness). */
  async refresh(): Promise<LinkStatus> {
    this.last = await this.stub().status();
    return this.last;
  }

  async close(): Promise<void> {
    // The object outlives any one isolate; it is not closed from here.
  }
}

/**
 * A deep copy of `v` that workerd's RPC can serialize. The codecs build tensor maps and error
 * details with `Object.create(null)` (so a tensor named "constructor" is just a name), and
 * workerd's serializer takes only objects whose prototype is Object.prototype as plain data: any
 * other object is refused with `Could not serialize object of type "Object"`. Arrays are copied,
 * typed arrays and primitives pass as they are (structured clone copies them anyway). Keys are
 * defined rather than assigned, so a "__proto__" key stays a key.
 */
function rpcPlain<T>(v: T): T {
  if (typeof v !== 'object' || v === null || v instanceof ArrayBuffer) return v;
  // Structured clone copies the whole buffer behind a view: a tensor viewing a request body would
  // carry the entire body across. A view of part of a buffer is cut to its own bytes first.
  if (ArrayBuffer.isView(v)) return (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : (v as unknown as { slice(): T }).slice()) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => rpcPlain(x)) as T;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== null && proto !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: rpcPlain(x), enumerable: true, writable: true, configurable: true });
  return out as T;
}

/** A tensor map that came through RPC, back in the null-prototype form the codecs give. */
function tensorMapOf(map: TensorMap): TensorMap {
  const out = Object.create(null) as Record<string, TensorMap[string]>;
  for (const [k, t] of Object.entries(map)) out[k] = t;
  return out;
}
