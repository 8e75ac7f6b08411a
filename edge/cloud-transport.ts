/**
 * What the edge needs from its link to the cloud tier, whatever carries it: on Node a CloudLink
 * over one persistent `ws` socket; in a Worker a Durable Object that owns the socket (a Worker
 * cannot share one WebSocket between requests) reached through its stub. EdgeService only sees
 * this interface.
 */
import { CleaveError } from '../shared/errors.js';
import type { RunTiming, ModelOffer, LoadFrame, StageRef, TensorMap } from '../shared/protocol/frames.js';

/** Where the link is. */
export type LinkState =
  /** No cloud configured: every cloud run fails with CLEAVE_E_UNAVAILABLE. */
  | 'disabled'
  /** First connection attempt (or a reconnect) in progress. */
  | 'connecting'
  /** Handshake done; runs go out now. */
  | 'connected'
  /** The last attempt failed; the next one waits for its backoff. Runs fail fast. */
  | 'down';

/** A snapshot of the link for health, metrics and (later) the router. */
export interface LinkStatus {
  readonly state: LinkState;
  /** Cloud URL without credentials, for logs and /v2 metadata. */
  readonly url?: string;
  /** EWMA of PING/PONG round trips, ms; undefined before the first PONG. */
  readonly rttMs?: number;
  /** Models the cloud offered in its last WELCOME. */
  readonly offers: readonly ModelOffer[];
  /** The cloud's last LOAD report. */
  readonly load?: LoadFrame;
  /** Consecutive failed connection attempts (0 when connected). */
  readonly failures: number;
  /** Why the last attempt or connection ended, for logs and health detail. */
  readonly lastError?: string;
  /** Successful handshakes since start (1 after the first connect; more after reconnects). */
  readonly connects: number;
}

/** One run sent to the cloud. */
export interface CloudRunRequest {
  readonly model: string;
  readonly version?: number;
  readonly inputs: TensorMap;
  readonly outputs?: readonly string[];
  /** Budget from now, ms: enforced locally and sent with the run. Required: no run waits forever. */
  readonly deadlineMs: number;
  readonly priority?: number;
  /** W3C traceparent of the edge's span for this request. */
  readonly traceparent?: string;
  /**
   * Run these models as one subgraph request (a workflow's consecutive cloud stages), so
   * intermediates stay in the cloud; `model` then names the subgraph for logs and metrics.
   */
  readonly stages?: readonly StageRef[];
  /** Send float32 inputs int8-encoded (a split model's activation over a slow link). */
  readonly int8Inputs?: boolean;
  /**
   * Receives each stage's outputs of a subgraph run as they complete (PARTIAL frames). A
   * transport that cannot stream (the Worker's Durable Object over RPC) never calls it; the
   * caller then learns every stage's outputs from the result.
   */
  readonly onPartial?: (stage: number, model: string, outputs: TensorMap) => void;
}

/** A run's answer, with where its time went. */
export interface CloudRunResult {
  readonly outputs: TensorMap;
  /** The cloud's own account: queue and compute time, batch size. */
  readonly timing: RunTiming;
  /** From handing the run to the link to its result, ms, on the edge's clock. */
  readonly totalMs: number;
  /**
   * What crossed the link, for the link estimator: RUN and RESULT frame sizes, bytes, and the time
   * from the RUN going out to its RESULT, ms. Absent when the transport cannot tell.
   */
  readonly wire?: { readonly ms: number; readonly bytesUp: number; readonly bytesDown: number };
  /** W3C traceparent of the cloud's span for this run (its RESULT's), when it sent one. */
  readonly traceparent?: string;
}

export interface CloudTransport {
  /**
   * Runs a model in the cloud. Rejects with a CleaveError: CLEAVE_E_UNAVAILABLE at once when the
   * link is down or disabled (fail fast; the caller may fall back), CLEAVE_E_DEADLINE when the
   * budget runs out, CLEAVE_E_CANCELLED when `signal` aborts, or the cloud's own error code.
   */
  run(req: CloudRunRequest, signal?: AbortSignal): Promise<CloudRunResult>;
  /** The link as last seen. In a Worker this can lag the Durable Object's view by one request. */
  status(): LinkStatus;
  /** Stops reconnecting and closes the socket; runs in flight fail with CLEAVE_E_UNAVAILABLE. */
  close(): Promise<void>;
}

/** A transport for an edge with no cloud configured. */
export const NO_CLOUD: CloudTransport = {
  run: (req) => Promise.reject(new CleaveError('CLEAVE_E_UNAVAILABLE', `model ${JSON.stringify(req.model)} runs in the cloud, and this edge has no cloud configured (start it with --cloud ws://host:port/v1/ws)`, { model: req.model })),
  status: () => ({ state: 'disabled', offers: [], failures: 0, connects: 0 }),
  close: () => Promise.resolve(),
};
