/**
 * The client WebSocket at `/v1/ws`: the same Cleave protocol the edge speaks to the cloud
 * (docs/protocol.md), served by the shared ServerSession over the edge's own RunService, so a
 * client uses the same ProtocolClient against an edge or a cloud. Each RUN goes through
 * EdgeService (cache, edge or cloud, fallback) like an HTTP request. Hono's upgrade helper hands
 * the socket events in; the runtime entry picks the helper (workerd or @hono/node-ws).
 */
import type { Context } from 'hono';
import type { WSContext, WSEvents, WSMessageReceive } from 'hono/ws';
import { CleaveError } from '../shared/errors.js';
import type { ProtocolLimits } from '../shared/protocol/constants.js';
import type { ModelOffer } from '../shared/protocol/frames.js';
import { ServerSession } from '../shared/protocol/server-session.js';
import type { Clock, Timers } from '../shared/time.js';
import { requestId, type RandomBytes } from '../shared/trace.js';
import type { EdgeService } from './edge-service.js';
import { withWorkflows } from './workflow-run-service.js';
import type { WorkflowService } from './workflow-service.js';
import type { EdgeMetrics } from './metrics.js';
import { DEFAULT_TENANT, HEADERS } from './request-context.js';

export interface ClientSocketOptions {
  readonly service: EdgeService;
  readonly metrics: EdgeMetrics;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly limits: ProtocolLimits;
  /** Server name and version for WELCOME. */
  readonly name: string;
  /** Reported as the WELCOME `device`. */
  readonly backend: string;
  readonly random: RandomBytes;
  readonly offers: () => readonly ModelOffer[];
  /** Deployed workflows, run by RUNs for `workflow:<name>` (workflow-run-service.ts). */
  readonly workflows?: WorkflowService;
  readonly log?: (event: Record<string, unknown>) => void;
}

/** The events of one client connection, for `upgradeWebSocket(clientSocketHandler(opts))`. */
export function clientSocketHandler(opts: ClientSocketOptions): (c: Context) => WSEvents {
  return (c) => {
    const tenant = c.req.header(HEADERS.tenant) ?? DEFAULT_TENANT;
    let session: ServerSession | undefined;
    const open = (ws: WSContext): ServerSession => {
      const s = new ServerSession(
        { send: (b) => ws.send(b as Uint8Array<ArrayBuffer>), close: (code, reason) => ws.close(code, reason) },
        {
          id: requestId(undefined, opts.random),
          service: opts.workflows ? withWorkflows(opts.service.runService(tenant), opts.workflows, opts.clock) : opts.service.runService(tenant),
          metrics: { streams: (d) => opts.metrics.wsStreams.inc(d), protocolError: (code) => opts.metrics.protocolErrors.inc({ code }) },
          clock: opts.clock, timers: opts.timers, limits: opts.limits, serverName: opts.name, device: opts.backend,
          offers: opts.offers,
          // Tenant keys and their auth arrive with the operations issue; until then the socket is open like the HTTP routes.
          authenticated: true,
          ...(opts.log ? { log: opts.log } : {}),
        },
      );
      opts.metrics.wsConnections.inc();
      return s;
    };
    return {
      onOpen: (_evt, ws) => {
        session ??= open(ws);
      },
      onMessage: (evt, ws) => {
        session ??= open(ws);
        const s = session;
        const bytes = toBytes(evt.data);
        if (bytes instanceof Promise) void bytes.then((b) => s.receive(b));
        else if (bytes) s.receive(bytes);
        else {
          // Text frames are not part of the protocol: answer the way a malformed frame is answered.
          const err = new CleaveError('CLEAVE_E_PROTOCOL', 'protocol frames are binary msgpack; a text message was received');
          ws.close(err.wsCloseCode, `${err.code}: text message`);
          s.closed();
        }
      },
      onClose: () => {
        if (session) {
          session.closed();
          opts.metrics.wsConnections.dec();
        }
        session = undefined;
      },
    };
  };
}

function toBytes(data: WSMessageReceive): Uint8Array | Promise<Uint8Array> | undefined {
  if (typeof data === 'string') return undefined;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.arrayBuffer().then((b) => new Uint8Array(b));
  return new Uint8Array(data as ArrayBufferLike);
}
