/**
 * The server side of one protocol connection (docs/protocol.md): handshake and version choice,
 * credits, many runs multiplexed with no head-of-line blocking (each run answers when it is
 * done), cancel, ping, periodic load reports, and goaway on shutdown. Transport- and
 * runtime-neutral: the cloud's Node server and the edge (Node or workerd) feed it bytes, give it
 * a `send`/`close`, and a RunService that does the work.
 */
import { CleaveError, isCleaveError, toCleaveError, type ErrorCode } from '../errors.js';
import { Capability, FrameType, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type ProtocolLimits } from './constants.js';
import { FrameDecoder, FrameEncoder } from './frame-codec.js';
import type { Frame, HelloFrame, ModelLoad, ModelOffer, RunFrame, RunTiming, StageRef, TensorMap } from './frames.js';
import type { Clock, TimerHandle, Timers } from '../time.js';

/** One model run as a session hands it to its service. */
export interface ServiceRunRequest {
  readonly model: string;
  readonly version?: number;
  readonly inputs: TensorMap;
  /** Output names to return; default all. */
  readonly outputs?: readonly string[];
  /** 1 is highest; default the model's default level. */
  readonly priority?: number;
  /** Absolute deadline on the session clock, ms. */
  readonly deadline?: number;
  /** 'ws' or 'http', for metrics. */
  readonly protocol: string;
  /** When the request arrived, session clock ms (so queue time includes decoding). Default now. */
  readonly receivedAt?: number;
  /** W3C traceparent of the caller's span, when it sent one. */
  readonly traceparent?: string;
  /** The caller's request id (KServe HTTP `x-request-id`), for log lines; the protocol carries none. */
  readonly requestId?: string;
  /**
   * Set when the RUN asked to stream: a service whose run has steps (an edge workflow's nodes)
   * reports each step's outputs here, sent as PARTIAL frames. A plain model run ignores it.
   */
  readonly onPartial?: (stage: number, model: string, outputs: TensorMap) => void;
}

/** A subgraph request: consecutive stages as one request. */
export interface ServiceStagesRequest extends Omit<ServiceRunRequest, 'model' | 'version'> {
  /** Name for logs and metrics. */
  readonly name: string;
  readonly stages: readonly StageRef[];
  /** Called with each stage's outputs as it completes (for PARTIAL frames). */
  readonly onStage?: (stage: number, model: string, outputs: TensorMap) => void;
}

/** What a run produced. */
export interface ServiceRunResult {
  readonly model: string;
  readonly version: number;
  readonly outputs: TensorMap;
  readonly timing: RunTiming;
  /** W3C traceparent of the span the service opened for this run; sent back in RESULT. */
  readonly traceparent?: string;
}

/** A request in progress: its result and a way to drop it if it has not started. */
export interface ServiceRunHandle {
  readonly promise: Promise<ServiceRunResult>;
  /** True when the work was dropped before any compute started. */
  cancel(): boolean;
}

/** The work behind a session: the cloud's InferenceService, the edge's EdgeService. */
export interface RunService {
  infer(req: ServiceRunRequest): ServiceRunHandle;
  /** Subgraph runs; a service without it answers RUNs with `stages` with CLEAVE_E_BAD_ARGUMENT. */
  runStages?(req: ServiceStagesRequest): ServiceRunHandle;
  /** Per-model load for LOAD frames. */
  loadReport(): Record<string, ModelLoad>;
}

/** Counters a session reports to; both tiers back them with their own metrics. */
export interface SessionMetrics {
  /** Streams in flight changed by `delta`. */
  streams(delta: number): void;
  /** A protocol-level failure with this code. */
  protocolError(code: ErrorCode): void;
}

/** What a session needs from its transport. */
export interface SessionTransport {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

export interface SessionOptions {
  readonly id: string;
  readonly service: RunService;
  readonly metrics: SessionMetrics;
  readonly clock: Clock;
  /** Wall clock for the timestamps peers see (PONG, WELCOME, LOAD), ms since the epoch. Default Date.now. */
  readonly wallClock?: Clock;
  readonly timers: Timers;
  readonly limits: ProtocolLimits;
  /** Server name and version sent in WELCOME. */
  readonly serverName: string;
  readonly device: string;
  readonly offers: () => readonly ModelOffer[];
  /** True when the upgrade request already carried a valid token. */
  readonly authenticated: boolean;
  /** Checks a HELLO token; undefined when the server needs no token. */
  readonly checkToken?: (token: string) => boolean;
  /** Interval of LOAD frames, ms. Default 1000. */
  readonly loadIntervalMs?: number;
  /** The first frame must arrive within this, ms. Default 10000. */
  readonly helloTimeoutMs?: number;
  /** Malformed frames tolerated before the connection is closed (a broken or hostile peer). Default 100. */
  readonly maxProtocolErrors?: number;
  readonly log?: (event: Record<string, unknown>) => void;
}

const SERVER_CAPS = [Capability.INT8_TENSORS, Capability.SUBGRAPH, Capability.STAGE_IO, Capability.STREAM, Capability.LOAD_REPORTS, Capability.CANCEL];
/** What a server without runStages (the edge) can honestly offer: it refuses RUNs with `stages`. */
const SERVER_CAPS_NO_SUBGRAPH = SERVER_CAPS.filter((c) => c !== Capability.SUBGRAPH && c !== Capability.STAGE_IO);

export class ServerSession {
  private readonly encoder = new FrameEncoder();
  private readonly decoder: FrameDecoder;
  private state: 'hello' | 'open' | 'closing' | 'closed' = 'hello';
  private readonly runs = new Map<number, ServiceRunHandle>();
  private window: number;
  private protocolErrors = 0;
  private loadTimer: TimerHandle | undefined;
  private helloTimer: TimerHandle | undefined;
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly transport: SessionTransport, private readonly opts: SessionOptions) {
    this.decoder = new FrameDecoder(opts.limits);
    this.window = opts.limits.maxStreams;
    this.helloTimer = opts.timers.setTimeout(() => {
      if (this.state === 'hello') this.fail(new CleaveError('CLEAVE_E_PROTOCOL', `no HELLO within ${opts.helloTimeoutMs ?? 10_000} ms`));
    }, opts.helloTimeoutMs ?? 10_000);
  }

  /** Runs in flight. */
  get inFlight(): number {
    return this.runs.size;
  }

  /** One binary message from the peer. */
  receive(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    const receivedAt = this.opts.clock.now();
    let frame: Frame;
    try {
      frame = this.decoder.decode(bytes);
    } catch (e) {
      this.onBadFrame(toCleaveError(e, 'CLEAVE_E_PROTOCOL'));
      return;
    }
    if (this.state === 'hello') {
      if (frame.t !== FrameType.HELLO) {
        this.fail(new CleaveError('CLEAVE_E_PROTOCOL', `the first frame must be HELLO (t=${FrameType.HELLO}), got t=${frame.t}`));
        return;
      }
      this.onHello(frame);
      return;
    }
    switch (frame.t) {
      case FrameType.RUN: this.onRun(frame, receivedAt); break;
      case FrameType.CANCEL: this.onCancel(frame.id); break;
      case FrameType.PING: this.send({ t: FrameType.PONG, ts: frame.ts, peerTs: this.wallNow() }); break;
      case FrameType.PONG: break;
      case FrameType.ERROR: this.opts.log?.({ event: 'peer-error', session: this.opts.id, code: frame.code, message: frame.message }); break;
      default:
        this.onBadFrame(new CleaveError('CLEAVE_E_PROTOCOL', `frame type ${frame.t} is not valid from a client after the handshake`, { t: frame.t }));
    }
  }

  /** The transport closed (either side). Queued runs of this connection are dropped. */
  closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopTimers();
    for (const h of this.runs.values()) h.cancel();
    this.opts.metrics.streams(-this.runs.size);
    this.runs.clear();
    this.notifyDrained();
  }

  /** Graceful shutdown: GOAWAY, then resolve once every run in flight has been answered. */
  async goaway(reason = 'server shutting down'): Promise<void> {
    if (this.state === 'open') this.send({ t: FrameType.GOAWAY, code: 'CLEAVE_E_UNAVAILABLE', reason });
    if (this.state !== 'closed') this.state = 'closing';
    if (this.runs.size > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private onHello(hello: HelloFrame): void {
    if (this.helloTimer !== undefined) this.opts.timers.clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    const version = Math.min(PROTOCOL_VERSION, hello.maxVersion);
    if (version < Math.max(MIN_PROTOCOL_VERSION, hello.minVersion)) {
      this.fail(new CleaveError('CLEAVE_E_VERSION', `client speaks protocol ${hello.minVersion}..${hello.maxVersion}, server speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`));
      return;
    }
    if (!this.opts.authenticated && this.opts.checkToken) {
      if (hello.token === undefined || !this.opts.checkToken(hello.token)) {
        this.fail(new CleaveError('CLEAVE_E_UNAUTHORIZED', hello.token === undefined
          ? 'a token is required: send it as "Authorization: Bearer <token>" on the upgrade or as "token" in HELLO'
          : 'the token is not valid'));
        return;
      }
    }
    this.state = 'open';
    this.send({
      t: FrameType.WELCOME, version, session: this.opts.id, server: this.opts.serverName, caps: this.opts.service.runStages ? SERVER_CAPS : SERVER_CAPS_NO_SUBGRAPH,
      models: this.opts.offers(), credits: this.window, maxFrameBytes: this.opts.limits.maxFrameBytes,
      device: this.opts.device, serverTime: this.wallNow(),
    });
    this.opts.log?.({ event: 'session-open', session: this.opts.id, client: hello.client, version });
    if (hello.caps.includes(Capability.LOAD_REPORTS)) this.scheduleLoad();
  }

  private onRun(run: RunFrame, receivedAt: number): void {
    if (this.state === 'closing') {
      this.streamError(run.id, new CleaveError('CLEAVE_E_UNAVAILABLE', 'the server is shutting down (GOAWAY sent); send new runs elsewhere'));
      return;
    }
    if (this.runs.has(run.id)) {
      // Answered on stream 0, not on the id: an ERROR on the id would read as the answer to the run already using it.
      const err = new CleaveError('CLEAVE_E_PROTOCOL', `stream id ${run.id} is already in flight; ids must be unique among running streams`, { id: run.id });
      this.opts.metrics.protocolError(err.code);
      this.send({ t: FrameType.ERROR, id: 0, code: err.code, message: err.message, detail: err.detail });
      return;
    }
    if (this.runs.size >= this.window) {
      this.streamError(run.id, new CleaveError('CLEAVE_E_TOO_MANY_STREAMS', `${this.runs.size} runs already in flight, credits allow ${this.window}; wait for a result before sending more`));
      return;
    }
    const deadline = run.deadlineMs !== undefined ? receivedAt + run.deadlineMs : undefined;
    const common = {
      inputs: run.inputs,
      protocol: 'ws',
      receivedAt,
      ...(run.outputs ? { outputs: run.outputs } : {}),
      ...(run.priority !== undefined ? { priority: run.priority } : {}),
      ...(deadline !== undefined ? { deadline } : {}),
      ...(run.traceparent !== undefined ? { traceparent: run.traceparent } : {}),
    };
    const service = this.opts.service;
    if (run.stages && !service.runStages) {
      this.streamError(run.id, new CleaveError('CLEAVE_E_BAD_ARGUMENT', `this server does not run subgraphs (RUN with "stages"); send one RUN per model`, { id: run.id }));
      return;
    }
    const partial = (stage: number, model: string, outputs: TensorMap): void => this.send({ t: FrameType.PARTIAL, id: run.id, stage, model, outputs }, run.int8Outputs);
    const handle = run.stages && service.runStages
      ? service.runStages({ ...common, name: run.model, stages: run.stages, ...(run.stream ? { onStage: partial } : {}) })
      : service.infer({ ...common, model: run.model, ...(run.version !== undefined ? { version: run.version } : {}), ...(run.stream ? { onPartial: partial } : {}) });
    this.runs.set(run.id, handle);
    this.opts.metrics.streams(1);
    handle.promise.then(
      (r) => {
        if (!this.finish(run.id, handle)) return;
        this.send({ t: FrameType.RESULT, id: run.id, outputs: r.outputs, timing: r.timing, ...(r.traceparent !== undefined ? { traceparent: r.traceparent } : {}) }, run.int8Outputs);
      },
      (e: unknown) => {
        if (!this.finish(run.id, handle)) return;
        this.streamError(run.id, toCleaveError(e));
      },
    );
  }

  private onCancel(id: number): void {
    const h = this.runs.get(id);
    // Unknown ids are ignored: the result and the cancel may have crossed on the wire.
    if (!h) return;
    if (h.cancel()) {
      this.finish(id, h);
      this.streamError(id, new CleaveError('CLEAVE_E_CANCELLED', `stream ${id} was cancelled before it started`));
    }
    // Started work runs to completion; its RESULT still comes and the client discards it.
  }

  /** Removes a run; false when it was already answered (cancelled, or the connection closed). */
  private finish(id: number, handle: ServiceRunHandle): boolean {
    if (this.runs.get(id) !== handle) return false;
    this.runs.delete(id);
    this.opts.metrics.streams(-1);
    if (this.runs.size === 0) this.notifyDrained();
    return true;
  }

  private onBadFrame(err: CleaveError): void {
    this.protocolErrors++;
    const id = typeof err.detail.id === 'number' ? err.detail.id : 0;
    const t = err.detail.t;
    // A malformed RUN whose id could be read fails only that stream; anything else is reported on id 0.
    if (id > 0 && t === FrameType.RUN && this.state === 'open' && !this.runs.has(id)) this.streamError(id, err);
    else this.send({ t: FrameType.ERROR, id: 0, code: err.code, message: err.message, detail: err.detail });
    this.opts.metrics.protocolError(err.code);
    if (this.state === 'hello') {
      this.fail(err);
      return;
    }
    if (this.protocolErrors > (this.opts.maxProtocolErrors ?? 100)) {
      this.fail(new CleaveError('CLEAVE_E_PROTOCOL', `more than ${this.opts.maxProtocolErrors ?? 100} malformed frames; closing`));
    }
  }

  private streamError(id: number, err: CleaveError): void {
    if (isProtocolCode(err.code)) this.opts.metrics.protocolError(err.code);
    this.send({ t: FrameType.ERROR, id, code: err.code, message: err.message, ...(Object.keys(err.detail).length ? { detail: err.detail } : {}) });
  }

  /** Connection-level failure: an ERROR on id 0, then the close code the error maps to. */
  private fail(err: CleaveError): void {
    if (this.state === 'closed') return;
    this.opts.metrics.protocolError(err.code);
    this.send({ t: FrameType.ERROR, id: 0, code: err.code, message: err.message });
    this.transport.close(err.wsCloseCode, truncateReason(`${err.code}: ${err.message}`));
    this.closed();
  }

  private scheduleLoad(): void {
    const every = this.opts.loadIntervalMs ?? 1000;
    const tick = (): void => {
      if (this.state !== 'open' && this.state !== 'closing') return;
      this.send({ t: FrameType.LOAD, ts: this.wallNow(), models: this.opts.service.loadReport() });
      this.loadTimer = this.opts.timers.setTimeout(tick, every);
    };
    tick();
  }

  private send(frame: Frame, int8Floats = false): void {
    if (this.state === 'closed') return;
    try {
      this.transport.send(this.encoder.encode(frame, { int8Floats }));
    } catch (e) {
      // An output that cannot be encoded (e.g. too large) must still answer its stream.
      const err = toCleaveError(e);
      if ('id' in frame && frame.t !== FrameType.ERROR && frame.id > 0) {
        this.transport.send(this.encoder.encode({ t: FrameType.ERROR, id: frame.id, code: err.code, message: err.message }));
      } else if (!isCleaveError(e)) {
        throw e;
      }
    }
  }

  private wallNow(): number {
    return this.opts.wallClock?.now() ?? Date.now();
  }

  private stopTimers(): void {
    if (this.loadTimer !== undefined) this.opts.timers.clearTimeout(this.loadTimer);
    if (this.helloTimer !== undefined) this.opts.timers.clearTimeout(this.helloTimer);
    this.loadTimer = this.helloTimer = undefined;
  }

  private notifyDrained(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}

const PROTOCOL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CLEAVE_E_PROTOCOL', 'CLEAVE_E_UNKNOWN_FRAME', 'CLEAVE_E_TOO_LARGE', 'CLEAVE_E_TOO_MANY_STREAMS', 'CLEAVE_E_UNAUTHORIZED', 'CLEAVE_E_VERSION',
]);

function isProtocolCode(c: ErrorCode): boolean {
  return PROTOCOL_CODES.has(c);
}

/** Close reasons are limited to 123 UTF-8 bytes by RFC 6455. */
function truncateReason(s: string): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length <= 123) return s;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, '') + '...';
}
