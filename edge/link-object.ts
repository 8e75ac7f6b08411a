/**
 * The cloud link of a Worker. A Worker may not use a WebSocket opened while handling one request
 * from another request, so a plain Worker cannot keep one link for all its requests. A Durable
 * Object can: this one owns a CloudLink (reconnects, heartbeats, multiplexing) over an outbound
 * workerd WebSocket, and the Worker's requests reach it through its stub over RPC. One object per
 * Cloudflare location (named by `cf.colo`) keeps the link near the edge that uses it.
 *
 * Errors do not cross RPC as CleaveErrors, so `run` answers with a tagged union the Worker side
 * (DurableObjectTransport) turns back into a coded error.
 */
import { DurableObject } from 'cloudflare:workers';
import { CleaveError, isCleaveError, toCleaveError, type ErrorCode, type ErrorDetail } from '../shared/errors.js';
import { systemClock, systemTimers } from '../shared/time.js';
import { CloudLink } from './cloud-link.js';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkStatus } from './cloud-transport.js';
import { edgeSettingsFromEnv, resolveEdgeConfig } from './config.js';
import { FetchUpgradeSocket } from './workerd-socket.js';

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
      this.link = new CloudLink({
        url: config.cloudUrl,
        ...(config.cloudToken !== undefined ? { token: config.cloudToken } : {}),
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
      const result = await link.run(req);
      return { ok: true, result, status: link.status() };
    } catch (e) {
      const err = toCleaveError(e);
      return { ok: false, error: { code: err.code, message: err.message, detail: err.detail }, status: this.link?.status() ?? { state: 'disabled', offers: [], failures: 0, connects: 0 } };
    }
  }

  async status(): Promise<LinkStatus> {
    return this.get().status();
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
      reply = await this.stub().run(req);
    } catch (e) {
      // The object itself failed (reset, overloaded): the link is as good as down for this request.
      throw isCleaveError(e) ? e : new CleaveError('CLEAVE_E_UNAVAILABLE', `the cloud link object failed: ${(e as Error).message}`, {}, { cause: e });
    }
    this.last = reply.status;
    if (reply.ok) return reply.result;
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
