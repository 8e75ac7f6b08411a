/**
 * The client side of the protocol (docs/protocol.md), runtime-neutral: it drives any socket with
 * the WHATWG WebSocket shape (the `ws` package on Node, the platform WebSocket in workerd and
 * browsers). It does the handshake, numbers streams, spends and regains credits (runs beyond the
 * window wait in a local queue), enforces each run's deadline locally as well (a blackholed link
 * never answers), cancels, measures RTT with PING/PONG, and keeps the latest LOAD report.
 */
import { CleaveError, type ErrorCode } from '../errors.js';
import type { Clock, TimerHandle, Timers } from '../time.js';
import { FrameType, MAX_STREAM_ID, PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, Capability, type ProtocolLimits } from './constants.js';
import { FrameDecoder, FrameEncoder } from './frame-codec.js';
import type { Frame, LoadFrame, RunFrame, RunTiming, StageRef, TensorMap, WelcomeFrame } from './frames.js';

/** The subset of the WHATWG WebSocket this client uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (ev: unknown) => void): void;
}

export interface ClientOptions {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Sent in HELLO when the upgrade request could not carry it (browsers cannot set headers). */
  readonly token?: string;
  /** Client name and version for the server's logs. Default 'cleave-client'. */
  readonly client?: string;
  /** Capabilities to announce. Default: all this client understands. */
  readonly caps?: readonly string[];
  readonly limits?: Partial<ProtocolLimits>;
  /** Runs allowed to wait locally for credit. Default 4096. */
  readonly maxQueued?: number;
  /** Handshake must finish within this, ms. Default 10000. */
  readonly helloTimeoutMs?: number;
  /** Weight of the newest RTT sample in the EWMA. Default 0.25. */
  readonly rttAlpha?: number;
  readonly onLoad?: (load: LoadFrame) => void;
  readonly onGoaway?: (code: ErrorCode, reason: string) => void;
  readonly onClose?: (code: number, reason: string) => void;
  /**
   * A message from the server that could not be read and belongs to no stream (nothing else
   * hears of it). Without this hook such a message is dropped silently: a server speaking
   * another dialect then shows only as a handshake timeout.
   */
  readonly onUnreadable?: (err: CleaveError) => void;
}

/** A run as the caller states it. */
export interface RunRequest {
  readonly model: string;
  readonly version?: number;
  readonly stages?: readonly StageRef[];
  readonly inputs: TensorMap;
  readonly outputs?: readonly string[];
  /** Budget from now, ms: enforced here and sent to the server. */
  readonly deadlineMs?: number;
  readonly priority?: number;
  readonly traceparent?: string;
  /** Send float32 inputs int8-encoded. */
  readonly int8Inputs?: boolean;
  /** Ask for float32 outputs int8-encoded. */
  readonly int8Outputs?: boolean;
  /** Receives each stage's outputs of a subgraph run as they complete. */
  readonly onPartial?: (stage: number, model: string, outputs: TensorMap) => void;
}

export interface RunResult {
  readonly outputs: TensorMap;
  readonly timing: RunTiming;
  /** From handing the run to the socket to its result, ms (includes any wait for credit). */
  readonly totalMs: number;
  /** From the RUN frame going out to its RESULT arriving, ms: link time plus the server's queue and compute. */
  readonly wireMs: number;
  /** Encoded size of the RUN frame, bytes (what crossed the link upward). */
  readonly bytesUp: number;
  /** Encoded size of the RESULT frame, bytes (what crossed the link downward). */
  readonly bytesDown: number;
  /** W3C traceparent of the server's span for this run, when the RESULT carried one. */
  readonly traceparent?: string;
}

export interface RunHandle {
  readonly promise: Promise<RunResult>;
  /** Stops the run: the promise rejects with CLEAVE_E_CANCELLED; the server drops it if it has not started. */
  cancel(): void;
}

interface Pending {
  readonly req: RunRequest;
  readonly startedAt: number;
  resolve(r: RunResult): void;
  reject(e: CleaveError): void;
  settled: boolean;
  /** Assigned when sent. */
  id?: number;
  /** Clock and encoded size when the RUN frame went out. */
  sentAt?: number;
  bytesUp?: number;
  timer?: TimerHandle;
}

const OPEN = 1;
const ALL_CAPS = [Capability.INT8_TENSORS, Capability.SUBGRAPH, Capability.STREAM, Capability.LOAD_REPORTS, Capability.CANCEL];

export class ProtocolClient {
  /** Resolves with the server's WELCOME. */
  readonly ready: Promise<WelcomeFrame>;
  private readonly encoder = new FrameEncoder();
  private readonly decoder: FrameDecoder;
  private readonly inFlight = new Map<number, Pending>();
  private readonly waiting: Pending[] = [];
  private readonly pings = new Map<number, (rtt: number) => void>();
  private credits = 0;
  private nextId = 1;
  private rtt: number | undefined;
  private lastLoad: LoadFrame | undefined;
  private welcome: WelcomeFrame | undefined;
  private closedWith: CleaveError | undefined;
  private goingAway = false;
  /** The last connection-level ERROR: the close that follows it is explained by it. */
  private lastConnError: CleaveError | undefined;

  constructor(private readonly socket: WebSocketLike, private readonly opts: ClientOptions) {
    this.decoder = new FrameDecoder(opts.limits ?? {});
    socket.binaryType = 'arraybuffer';
    let resolveReady!: (w: WelcomeFrame) => void;
    let rejectReady!: (e: CleaveError) => void;
    this.ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
    this.ready.catch(() => undefined);
    this.onWelcome = resolveReady;
    this.onReadyFailed = rejectReady;
    const helloTimer = opts.timers.setTimeout(() => {
      // 4408 (a timeout, in the application range): platform WebSockets in browsers and workerd throw on
      // any close code but 1000 and 3000-4999, which would leave the socket open.
      if (!this.welcome) this.shutdown(new CleaveError('CLEAVE_E_UNAVAILABLE', `no WELCOME within ${opts.helloTimeoutMs ?? 10_000} ms`), 4408);
    }, opts.helloTimeoutMs ?? 10_000);
    this.ready.then(() => opts.timers.clearTimeout(helloTimer), () => opts.timers.clearTimeout(helloTimer));

    const hello = (): void => {
      this.send({
        t: FrameType.HELLO, minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION,
        client: opts.client ?? 'cleave-client', caps: opts.caps ?? ALL_CAPS, ...(opts.token !== undefined ? { token: opts.token } : {}),
      });
    };
    if (socket.readyState === OPEN) hello();
    else socket.addEventListener('open', hello);
    socket.addEventListener('message', (ev) => this.receive(ev.data));
    socket.addEventListener('close', (ev) => {
      const code = ev.code === 4401 ? 'CLEAVE_E_UNAUTHORIZED' : ev.code === 4426 ? 'CLEAVE_E_VERSION' : 'CLEAVE_E_UNAVAILABLE';
      const why = this.lastConnError ? `: ${this.lastConnError.code} ${this.lastConnError.message}` : '';
      this.shutdown(new CleaveError(this.lastConnError?.code ?? code, `connection to the cloud closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})${why}`, { closeCode: ev.code }));
      opts.onClose?.(ev.code, ev.reason);
    });
    socket.addEventListener('error', () => {
      // The close event follows with the code; nothing to do here but keep the runtime from throwing.
    });
  }

  private readonly onWelcome: (w: WelcomeFrame) => void;
  private readonly onReadyFailed: (e: CleaveError) => void;

  /** Smoothed round-trip time, ms; undefined before the first PONG. */
  get rttMs(): number | undefined {
    return this.rtt;
  }

  /** The latest LOAD report. */
  get load(): LoadFrame | undefined {
    return this.lastLoad;
  }

  /** Runs that may still be sent without waiting. */
  get availableCredits(): number {
    return this.credits;
  }

  /** Runs sent and not yet answered by the server. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** True once the connection is closed or the server said GOAWAY: use another connection. */
  get unusable(): boolean {
    return this.closedWith !== undefined || this.goingAway;
  }

  /** Starts a run. */
  run(req: RunRequest): RunHandle {
    let pending!: Pending;
    const promise = new Promise<RunResult>((resolve, reject) => {
      pending = { req, startedAt: this.opts.clock.now(), resolve, reject, settled: false };
    });
    const fail = (e: CleaveError): void => this.settle(pending, e);
    if (this.closedWith) fail(this.closedWith);
    else if (this.goingAway) fail(new CleaveError('CLEAVE_E_UNAVAILABLE', 'the server sent GOAWAY; open a new connection'));
    else if (this.waiting.length >= (this.opts.maxQueued ?? 4096)) {
      fail(new CleaveError('CLEAVE_E_TOO_MANY_STREAMS', `${this.waiting.length} runs already wait for credit (maxQueued ${this.opts.maxQueued ?? 4096})`));
    } else {
      if (req.deadlineMs !== undefined) {
        pending.timer = this.opts.timers.setTimeout(() => {
          fail(new CleaveError('CLEAVE_E_DEADLINE', `run of "${req.model}" got no answer within its ${req.deadlineMs} ms deadline`));
          this.abandon(pending);
        }, req.deadlineMs);
      }
      this.waiting.push(pending);
      this.pump();
    }
    return {
      promise,
      cancel: () => {
        if (pending.settled) return;
        fail(new CleaveError('CLEAVE_E_CANCELLED', `run of "${req.model}" was cancelled by the caller`));
        this.abandon(pending);
      },
    };
  }

  /** Measures one round trip, ms. */
  ping(): Promise<number> {
    const ts = this.opts.clock.now();
    return new Promise((resolve, reject) => {
      if (this.closedWith) {
        reject(this.closedWith);
        return;
      }
      this.pings.set(ts, resolve);
      this.send({ t: FrameType.PING, ts });
    });
  }

  close(code = 1000, reason = 'client closing'): void {
    this.shutdown(new CleaveError('CLEAVE_E_UNAVAILABLE', `connection closed by the client (${reason})`), code, reason);
  }

  /** A settled run leaves the wait queue, or has the server drop it. Its id stays reserved until the server answers. */
  private abandon(p: Pending): void {
    if (p.id === undefined) {
      const i = this.waiting.indexOf(p);
      if (i >= 0) this.waiting.splice(i, 1);
      return;
    }
    if (this.inFlight.has(p.id) && !this.closedWith) this.send({ t: FrameType.CANCEL, id: p.id });
  }

  private pump(): void {
    if (!this.welcome) return;
    while (this.credits > 0 && this.waiting.length > 0) {
      const p = this.waiting.shift()!;
      if (p.settled) continue;
      const id = this.allocateId();
      p.id = id;
      this.credits--;
      this.inFlight.set(id, p);
      const r = p.req;
      const elapsed = this.opts.clock.now() - p.startedAt;
      const frame: RunFrame = {
        t: FrameType.RUN, id, model: r.model, inputs: r.inputs,
        ...(r.version !== undefined ? { version: r.version } : {}),
        ...(r.stages ? { stages: r.stages } : {}),
        ...(r.outputs ? { outputs: r.outputs } : {}),
        // The server sees what is left of the budget after waiting here for credit.
        ...(r.deadlineMs !== undefined ? { deadlineMs: Math.max(1, r.deadlineMs - elapsed) } : {}),
        ...(r.priority !== undefined ? { priority: r.priority } : {}),
        ...(r.traceparent !== undefined ? { traceparent: r.traceparent } : {}),
        ...(r.onPartial ? { stream: true } : {}),
        ...(r.int8Outputs ? { int8Outputs: true } : {}),
      };
      try {
        p.bytesUp = this.send(frame, r.int8Inputs ?? false);
        p.sentAt = this.opts.clock.now();
      } catch (e) {
        this.inFlight.delete(id);
        this.credits++;
        this.settle(p, e instanceof CleaveError ? e : new CleaveError('CLEAVE_E_INTERNAL', String(e)));
      }
    }
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_STREAM_ID ? 1 : id + 1;
      if (!this.inFlight.has(id)) return id;
    }
  }

  private receive(data: unknown): void {
    let frame: Frame;
    let size = 0;
    try {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
      if (!bytes) throw new CleaveError('CLEAVE_E_PROTOCOL', 'the server sent a text message; the protocol uses binary messages only');
      size = bytes.byteLength;
      frame = this.decoder.decode(bytes);
    } catch (e) {
      const err = e instanceof CleaveError ? e : new CleaveError('CLEAVE_E_PROTOCOL', String(e));
      // A reply we cannot read still ends its stream when the id was readable.
      const id = typeof err.detail.id === 'number' ? err.detail.id : 0;
      if (id > 0) this.terminal(id, err);
      else this.opts.onUnreadable?.(err);
      return;
    }
    switch (frame.t) {
      case FrameType.WELCOME:
        this.welcome = frame;
        this.credits = frame.credits;
        this.onWelcome(frame);
        this.pump();
        break;
      case FrameType.RESULT: {
        const p = this.inFlight.get(frame.id);
        const now = this.opts.clock.now();
        this.terminal(frame.id, undefined, p && {
          outputs: frame.outputs, timing: frame.timing, totalMs: now - p.startedAt,
          wireMs: now - (p.sentAt ?? p.startedAt), bytesUp: p.bytesUp ?? 0, bytesDown: size,
          ...(frame.traceparent !== undefined ? { traceparent: frame.traceparent } : {}),
        });
        break;
      }
      case FrameType.ERROR:
        if (frame.id === 0) {
          // Connection-level: before WELCOME it fails the handshake; the server closes after fatal ones.
          this.lastConnError = new CleaveError(frame.code, frame.message, frame.detail ?? {});
          if (!this.welcome) this.onReadyFailed(this.lastConnError);
        } else {
          this.terminal(frame.id, new CleaveError(frame.code, frame.message, frame.detail ?? {}));
        }
        break;
      case FrameType.PARTIAL: {
        const p = this.inFlight.get(frame.id);
        if (p && !p.settled) p.req.onPartial?.(frame.stage, frame.model, frame.outputs);
        break;
      }
      case FrameType.PONG: {
        const done = this.pings.get(frame.ts);
        if (!done) break;
        this.pings.delete(frame.ts);
        const sample = this.opts.clock.now() - frame.ts;
        const a = this.opts.rttAlpha ?? 0.25;
        this.rtt = this.rtt === undefined ? sample : this.rtt + a * (sample - this.rtt);
        done(sample);
        break;
      }
      case FrameType.PING:
        this.send({ t: FrameType.PONG, ts: frame.ts, peerTs: this.opts.clock.now() });
        break;
      case FrameType.CREDIT:
        this.credits += frame.credits;
        this.pump();
        break;
      case FrameType.LOAD:
        this.lastLoad = frame;
        this.opts.onLoad?.(frame);
        break;
      case FrameType.GOAWAY:
        this.goingAway = true;
        for (const p of this.waiting.splice(0)) this.settle(p, new CleaveError('CLEAVE_E_UNAVAILABLE', `the server is going away (${frame.reason}); run was not sent`));
        this.opts.onGoaway?.(frame.code, frame.reason);
        break;
      default:
        break;
    }
  }

  /** The server finished stream `id`: its credit comes back; the caller hears unless it already gave up. */
  private terminal(id: number, err: CleaveError | undefined, result?: RunResult): void {
    const p = this.inFlight.get(id);
    if (!p) return;
    this.inFlight.delete(id);
    this.credits++;
    if (err) this.settle(p, err);
    else if (result && !p.settled) {
      p.settled = true;
      if (p.timer !== undefined) this.opts.timers.clearTimeout(p.timer);
      p.resolve(result);
    }
    this.pump();
  }

  private settle(p: Pending, err: CleaveError): void {
    if (p.settled) return;
    p.settled = true;
    if (p.timer !== undefined) this.opts.timers.clearTimeout(p.timer);
    p.reject(err);
  }

  /** Sends one frame; returns its encoded size, bytes. */
  private send(frame: Frame, int8Floats = false): number {
    const bytes = this.encoder.encode(frame, { int8Floats });
    this.socket.send(bytes);
    return bytes.byteLength;
  }

  private shutdown(err: CleaveError, code?: number, reason?: string): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.onReadyFailed(err);
    for (const p of this.waiting.splice(0)) this.settle(p, err);
    for (const p of this.inFlight.values()) this.settle(p, err);
    this.inFlight.clear();
    this.pings.clear();
    if (code !== undefined && this.socket.readyState <= OPEN) {
      try {
        this.socket.close(code, reason);
      } catch {
        // Already closing.
      }
    }
  }
}
