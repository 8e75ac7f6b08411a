/**
 * The edge's persistent link to the cloud tier: one protocol connection (ProtocolClient) that
 * many runs share, kept up by reconnecting with jittered exponential backoff; a PING heartbeat
 * that feeds the RTT estimate and notices a blackholed link (which never closes by itself); and
 * GOAWAY handover to a fresh connection while the old one drains. Runtime-neutral: the socket
 * comes from an injected factory (`ws` on Node, see node-socket.ts; the platform WebSocket in a
 * Durable Object), and all waiting goes through the injected Timers.
 */
import { CleaveError, toCleaveError } from '../shared/errors.js';
import { ProtocolClient, type WebSocketLike } from '../shared/protocol/client.js';
import type { LoadFrame, ModelOffer, WelcomeFrame } from '../shared/protocol/frames.js';
import type { Clock, TimerHandle, Timers } from '../shared/time.js';
import type { CloudRunRequest, CloudRunResult, CloudTransport, LinkState, LinkStatus } from './cloud-transport.js';

/** Reconnect backoff; see backoffDelayMs for the formula. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay, ms. Default 100. */
  readonly initialMs?: number;
  /** Largest ceiling, ms. Default 10000. */
  readonly maxMs?: number;
  /** Growth of the ceiling per consecutive failure. Default 2. */
  readonly factor?: number;
}

export interface CloudLinkOptions {
  /** Protocol endpoint, e.g. `ws://cloud:9000/v1/ws`. */
  readonly url: string;
  /**
   * The runtime's socket factory. It may return a promise (a Worker upgrades through `fetch` to
   * set headers); connectTimeoutMs covers that wait too.
   */
  readonly connect: (url: string, token: string | undefined) => WebSocketLike | Promise<WebSocketLike>;
  /** Handed to `connect` (Node sends it as `Authorization: Bearer`). */
  readonly token?: string;
  /**
   * Called on every connect attempt for the token to present, instead of `token`: a rotating
   * link token (shared/auth/link-token.ts) is minted fresh for each connect and reconnect, so a
   * long-lived link never presents an expired one. Its time counts against connectTimeoutMs.
   */
  readonly tokenProvider?: () => string | Promise<string>;
  /** Also send the token in HELLO, for sockets that cannot set headers. Default false. */
  readonly tokenInHello?: boolean;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Uniform in [0, 1), for backoff jitter. */
  readonly random: () => number;
  readonly backoff?: BackoffOptions;
  /** Interval between a PONG and the next PING while connected, ms. Default 5000. */
  readonly heartbeatMs?: number;
  /**
   * A PING unanswered this long means the link is dead: its socket is closed (code 4408) and a
   * reconnect follows with backoff, ms. Default 2 * heartbeatMs. The server answers PING on its
   * event loop while inference runs off it, so silence this long is not load; a dead link is
   * found within heartbeatMs + heartbeatTimeoutMs.
   */
  readonly heartbeatTimeoutMs?: number;
  /** Socket open plus HELLO/WELCOME must finish within this, ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * A run that arrives while an attempt is in progress (the first, a reconnect, or the handover
   * after GOAWAY) waits this long for it, bounded by its own deadline, rather than failing at
   * once, ms. Default 1000.
   */
  readonly firstConnectWaitMs?: number;
  /**
   * While the link is down, a run that arrives when the next scheduled attempt is more than this
   * far off starts an attempt at once and waits for it (as any run during an attempt does, up to
   * firstConnectWaitMs), at most one such attempt per this interval, ms. Default 500; Infinity
   * turns it off. Why: after a few failures the jittered backoff can leave a link that is back
   * unused for up to backoff.maxMs while every run meanwhile is refused or degraded. Tying retries
   * to demand brings it back within about this interval, and still bounds the attempts one busy
   * edge makes against a cloud that is really gone (two per second at the default); an idle edge
   * keeps the plain backoff.
   */
  readonly wakeIntervalMs?: number;
  /** Client name in HELLO. Default 'cleave-edge'. */
  readonly client?: string;
  /** Called with the new status whenever the state changes. */
  readonly onStateChange?: (status: LinkStatus) => void;
  /** Receives one event per connect, loss, GOAWAY and heartbeat timeout. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Each PING's round trip, ms, as measured (the router's link estimator takes raw samples). */
  readonly onRtt?: (ms: number) => void;
}

/**
 * Close code the link sends when a PING goes unanswered: private range, after the protocol's
 * 4401/4426 pattern (HTTP 408). 1001 would fit the meaning, but the WHATWG WebSocket throws on
 * any code other than 1000 and 3000-4999, so a Durable Object could not send it.
 */
export const HEARTBEAT_CLOSE_CODE = 4408;

/**
 * Delay before reconnect attempt number `failures` (1 after the first failure), ms: "full
 * jitter", `random * min(maxMs, initialMs * factor ** (failures - 1))`, so edges that lost the
 * same server do not come back in step.
 */
export function backoffDelayMs(failures: number, random: number, b: Required<BackoffOptions>): number {
  return random * Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, failures - 1));
}

interface Connection {
  readonly attempt: number;
  phase: 'opening' | 'open' | 'draining' | 'ended';
  socket?: WebSocketLike;
  client?: ProtocolClient;
  /** Runs handed to this connection and not yet settled: a draining one closes at 0. */
  active: number;
  /** The connect timeout (async sockets), the next heartbeat, or the PONG timeout. */
  timer?: TimerHandle;
  /** From the socket's error event (ws says why: ECONNREFUSED, 503), for lastError. */
  socketError?: string | undefined;
  /** The token this attempt presents (from `token` or `tokenProvider`). */
  token?: string | undefined;
}

interface Waiter {
  readonly req: CloudRunRequest;
  readonly startedAt: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (r: CloudRunResult) => void;
  readonly reject: (e: CleaveError) => void;
  readonly onAbort: () => void;
  timer: TimerHandle;
}

/** WHATWG readyState CLOSING: a socket below it still needs a close(). */
const CLOSING = 2;

/** A CloudTransport over one multiplexed protocol connection that reconnects by itself. */
export class CloudLink implements CloudTransport {
  private readonly backoff: Required<BackoffOptions>;
  private readonly heartbeatMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly firstConnectWaitMs: number;
  private readonly wakeIntervalMs: number;
  private readonly safeUrl: string;
  private state: LinkState = 'down';
  private started = false;
  private closed = false;
  private current: Connection | undefined;
  /** Connections after GOAWAY, finishing their runs. */
  private readonly draining = new Set<Connection>();
  private readonly waiters = new Set<Waiter>();
  private reconnectTimer: TimerHandle | undefined;
  private nextAttemptAt = 0;
  /** When the latest attempt began (clock ms); -Infinity before the first. */
  private lastAttemptAt = -Infinity;
  private attempts = 0;
  private failures = 0;
  private connects = 0;
  private lastError: string | undefined;
  private offers: readonly ModelOffer[] = [];
  private load: LoadFrame | undefined;
  private rtt: number | undefined;

  constructor(private readonly opts: CloudLinkOptions) {
    this.backoff = { initialMs: 100, maxMs: 10_000, factor: 2, ...opts.backoff };
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 2 * this.heartbeatMs;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.firstConnectWaitMs = opts.firstConnectWaitMs ?? 1000;
    this.wakeIntervalMs = opts.wakeIntervalMs ?? 500;
    const positive: Record<string, number> = {
      'backoff.initialMs': this.backoff.initialMs, 'backoff.maxMs': this.backoff.maxMs, heartbeatMs: this.heartbeatMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs, connectTimeoutMs: this.connectTimeoutMs,
    };
    for (const [name, v] of Object.entries(positive)) {
      if (!(v > 0) || !Number.isFinite(v)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cloud link option ${name} is ${v}; expected a finite number of ms > 0`, { option: name });
    }
    if (!(this.backoff.factor >= 1)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cloud link option backoff.factor is ${this.backoff.factor}; expected >= 1`, { option: 'backoff.factor' });
    if (!(this.wakeIntervalMs >= 0)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cloud link option wakeIntervalMs is ${this.wakeIntervalMs}; expected a number of ms >= 0 (Infinity: off)`, { option: 'wakeIntervalMs' });
    if (!(this.firstConnectWaitMs >= 0)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cloud link option firstConnectWaitMs is ${this.firstConnectWaitMs}; expected >= 0`, { option: 'firstConnectWaitMs' });
    this.safeUrl = redactUrl(opts.url);
  }

  /** Begins connecting (the constructor does not, so callers can wire things first). Returns this. */
  start(): this {
    if (this.started || this.closed) return this;
    this.started = true;
    this.open();
    return this;
  }

  run(req: CloudRunRequest, signal?: AbortSignal): Promise<CloudRunResult> {
    const startedAt = this.opts.clock.now();
    if (signal?.aborted) return Promise.reject(cancelled(req));
    if (!(req.deadlineMs > 0) || !Number.isFinite(req.deadlineMs)) {
      return Promise.reject(new CleaveError('CLEAVE_E_BAD_ARGUMENT', `run of "${req.model}" has deadlineMs ${req.deadlineMs}; expected a finite number of ms > 0`, { model: req.model }));
    }
    const conn = this.current;
    if (conn?.phase === 'open' && conn.client && !conn.client.unusable) return this.dispatch(conn, conn.client, req, signal, startedAt);
    if (this.state === 'down' && this.shouldWake()) this.wake();
    if (this.state === 'connecting' && !this.closed) return this.wait(req, signal, startedAt);
    return Promise.reject(this.unavailable(req));
  }

  status(): LinkStatus {
    return {
      state: this.state,
      url: this.safeUrl,
      offers: this.offers,
      failures: this.failures,
      connects: this.connects,
      ...(this.rtt !== undefined ? { rttMs: this.rtt } : {}),
      ...(this.load !== undefined ? { load: this.load } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.reconnectTimer !== undefined) this.opts.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const conns = [...this.draining, ...(this.current ? [this.current] : [])];
    for (const c of conns) this.end(c, 'closed by the edge');
    this.lastError = 'the link was closed';
    this.failWaiters();
    this.setState('down');
    return Promise.resolve();
  }

  /** Down with the next attempt far off and none begun lately: see wakeIntervalMs. */
  private shouldWake(): boolean {
    if (!this.started || this.closed || this.reconnectTimer === undefined) return false;
    const now = this.opts.clock.now();
    return this.nextAttemptAt - now > this.wakeIntervalMs && now - this.lastAttemptAt >= this.wakeIntervalMs;
  }

  /** The scheduled attempt, now: a run is waiting for the cloud. */
  private wake(): void {
    if (this.reconnectTimer !== undefined) this.opts.timers.clearTimeout(this.reconnectTimer);
    this.opts.log?.({ event: 'cloud-link-wake', url: this.safeUrl, failures: this.failures, scheduledInMs: Math.round(this.nextAttemptAt - this.opts.clock.now()) });
    this.open();
  }

  /** One connection attempt; it becomes `current` at once so runs can wait for it. */
  private open(): void {
    this.reconnectTimer = undefined;
    this.lastAttemptAt = this.opts.clock.now();
    const conn: Connection = { attempt: ++this.attempts, phase: 'opening', active: 0 };
    this.current = conn;
    this.setState('connecting');
    let socket: WebSocketLike | Promise<WebSocketLike>;
    try {
      const provider = this.opts.tokenProvider;
      if (provider) {
        // Minting may be async (WebCrypto): the attempt then waits like an async socket factory does.
        socket = Promise.resolve().then(provider).then((token) => {
          conn.token = token;
          return conn.phase === 'ended' ? Promise.reject(new Error('attempt ended while its token was minted')) : this.opts.connect(this.opts.url, token);
        });
      } else {
        conn.token = this.opts.token;
        socket = this.opts.connect(this.opts.url, this.opts.token);
      }
    } catch (e) {
      this.end(conn, `cannot open a socket to ${this.safeUrl}: ${toCleaveError(e).message}`);
      return;
    }
    if (!isPromise(socket)) {
      this.attach(conn, socket, this.connectTimeoutMs);
      return;
    }
    const openedAt = this.opts.clock.now();
    conn.timer = this.opts.timers.setTimeout(() => this.end(conn, `no socket to ${this.safeUrl} within ${this.connectTimeoutMs} ms`), this.connectTimeoutMs);
    socket.then(
      (s) => {
        if (conn.phase === 'ended') {
          // The attempt already timed out or the link closed: this late socket is nobody's.
          closeQuietly(s, 1000, 'cloud link gave up on this attempt');
          return;
        }
        this.stopTimer(conn);
        this.attach(conn, s, this.connectTimeoutMs - (this.opts.clock.now() - openedAt));
      },
      (e: unknown) => this.end(conn, `cannot open a socket to ${this.safeUrl}: ${toCleaveError(e).message}`),
    );
  }

  private attach(conn: Connection, socket: WebSocketLike, helloTimeoutMs: number): void {
    conn.socket = socket;
    // Registered before the client's listeners, so the reason is known when the close arrives.
    socket.addEventListener('error', (ev) => { conn.socketError ??= errorText(ev); });
    const token = conn.token;
    const client = new ProtocolClient(socket, {
      clock: this.opts.clock,
      timers: this.opts.timers,
      client: this.opts.client ?? 'cleave-edge',
      helloTimeoutMs: Math.max(1, helloTimeoutMs),
      ...(token !== undefined && this.opts.tokenInHello ? { token } : {}),
      onLoad: (load) => { if (this.current === conn) this.load = load; },
      onGoaway: (_code, reason) => this.onGoaway(conn, reason),
      onUnreadable: (err) => this.opts.log?.({ event: 'cloud-unreadable-message', url: this.safeUrl, code: err.code, message: err.message }),
      onClose: (code, reason) => this.end(conn, `connection to ${this.safeUrl} closed (${code}${reason ? ` ${reason}` : ''})${conn.socketError ? `: ${conn.socketError}` : ''}`),
    });
    conn.client = client;
    // A close during the handshake reaches onClose first (synchronously), with the better reason.
    client.ready.then((w) => this.onWelcome(conn, client, w), (e: unknown) => this.end(conn, toCleaveError(e).message));
  }

  private onWelcome(conn: Connection, client: ProtocolClient, welcome: WelcomeFrame): void {
    if (conn.phase !== 'opening') return;
    conn.phase = 'open';
    this.failures = 0;
    this.connects++;
    this.offers = welcome.models;
    this.opts.log?.({ event: 'cloud-link-connected', url: this.safeUrl, session: welcome.session, server: welcome.server, device: welcome.device, connects: this.connects });
    this.setState('connected');
    // The first PING goes out at once, so the router has an RTT right after connecting.
    this.beat(conn, client);
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) {
      this.opts.timers.clearTimeout(w.timer);
      w.signal?.removeEventListener('abort', w.onAbort);
      this.dispatch(conn, client, w.req, w.signal, w.startedAt).then(w.resolve, w.reject);
    }
  }

  /** Sends a PING; a PONG schedules the next one, silence past heartbeatTimeoutMs ends the connection. */
  private beat(conn: Connection, client: ProtocolClient): void {
    conn.timer = this.opts.timers.setTimeout(() => {
      this.opts.log?.({ event: 'cloud-link-heartbeat-timeout', url: this.safeUrl, timeoutMs: this.heartbeatTimeoutMs });
      this.end(conn, `no PONG from ${this.safeUrl} within ${this.heartbeatTimeoutMs} ms: the link is dead or blackholed`, HEARTBEAT_CLOSE_CODE, 'heartbeat timeout');
    }, this.heartbeatTimeoutMs);
    client.ping().then(
      (sample) => {
        if (conn.phase !== 'open') return;
        this.stopTimer(conn);
        this.rtt = client.rttMs;
        this.opts.onRtt?.(sample);
        conn.timer = this.opts.timers.setTimeout(() => {
          conn.timer = undefined;
          if (conn.phase === 'open') this.beat(conn, client);
        }, this.heartbeatMs);
      },
      // Only a closed client rejects; its close is handled by onClose.
      () => undefined,
    );
  }

  private onGoaway(conn: Connection, reason: string): void {
    if (conn.phase !== 'open') return;
    conn.phase = 'draining';
    this.stopTimer(conn);
    this.draining.add(conn);
    if (this.current === conn) this.current = undefined;
    this.opts.log?.({ event: 'cloud-link-goaway', url: this.safeUrl, reason, inFlight: conn.active });
    this.retireIfIdle(conn);
    // The server asked us to move, it did not fail: a new connection at once, without backoff.
    if (!this.closed) this.open();
  }

  private retireIfIdle(conn: Connection): void {
    if (conn.phase === 'draining' && conn.active === 0) this.end(conn, 'drained after GOAWAY');
  }

  /**
   * A connection is over: closed by either side, failed its handshake or heartbeat, drained, or
   * the link closed. Only the loss of the current one moves the link down and schedules a retry.
   */
  private end(conn: Connection, why: string, code = 1000, reason = 'cloud link moving on'): void {
    if (conn.phase === 'ended') return;
    conn.phase = 'ended';
    this.stopTimer(conn);
    this.draining.delete(conn);
    // Runs still on it reject with the client's coded error (CLEAVE_E_UNAVAILABLE).
    conn.client?.close(code, reason);
    // The client skips the socket when it had already shut down, and a socket that threw on an
    // earlier close (the WHATWG one rejects 1002) is still open: close it here too.
    if (conn.socket && conn.socket.readyState < CLOSING) closeQuietly(conn.socket, code, reason);
    if (this.current !== conn) return;
    this.current = undefined;
    if (this.closed) return;
    this.failures++;
    this.lastError = why;
    this.opts.log?.({ event: 'cloud-link-down', url: this.safeUrl, attempt: conn.attempt, failures: this.failures, error: why });
    this.setState('down');
    this.failWaiters();
    const delay = backoffDelayMs(this.failures, this.opts.random(), this.backoff);
    this.nextAttemptAt = this.opts.clock.now() + delay;
    this.reconnectTimer = this.opts.timers.setTimeout(() => this.open(), delay);
  }

  private dispatch(conn: Connection, client: ProtocolClient, req: CloudRunRequest, signal: AbortSignal | undefined, startedAt: number): Promise<CloudRunResult> {
    const left = req.deadlineMs - (this.opts.clock.now() - startedAt);
    if (left <= 0) return Promise.reject(deadline(req, 'waiting for the connection'));
    const handle = client.run({ ...req, deadlineMs: left });
    conn.active++;
    const onAbort = (): void => handle.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
      conn.active--;
      this.retireIfIdle(conn);
    };
    return handle.promise.then(
      (r) => {
        done();
        return {
          outputs: r.outputs, timing: r.timing, totalMs: this.opts.clock.now() - startedAt, wire: { ms: r.wireMs, bytesUp: r.bytesUp, bytesDown: r.bytesDown },
          ...(r.traceparent !== undefined ? { traceparent: r.traceparent } : {}),
        };
      },
      (e: unknown) => {
        done();
        throw e;
      },
    );
  }

  private wait(req: CloudRunRequest, signal: AbortSignal | undefined, startedAt: number): Promise<CloudRunResult> {
    return new Promise((resolve, reject) => {
      const drop = (): void => {
        this.waiters.delete(w);
        this.opts.timers.clearTimeout(w.timer);
        signal?.removeEventListener('abort', w.onAbort);
      };
      const w: Waiter = {
        req, startedAt, signal, resolve, reject,
        onAbort: () => {
          drop();
          reject(cancelled(req));
        },
        timer: this.opts.timers.setTimeout(() => {
          drop();
          reject(req.deadlineMs <= this.firstConnectWaitMs
            ? deadline(req, `waiting for the connection to ${this.safeUrl}`)
            : new CleaveError('CLEAVE_E_UNAVAILABLE', `no connection to ${this.safeUrl} within ${this.firstConnectWaitMs} ms (firstConnectWaitMs); run of "${req.model}" not sent`, this.detail(req)));
        }, Math.min(this.firstConnectWaitMs, req.deadlineMs)),
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      this.waiters.add(w);
    });
  }

  private failWaiters(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) {
      this.opts.timers.clearTimeout(w.timer);
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(this.unavailable(w.req));
    }
  }

  private unavailable(req: CloudRunRequest): CleaveError {
    const why = this.closed ? 'is closed'
      : !this.started ? 'is not started'
        : `is ${this.state} after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'}${this.reconnectTimer !== undefined ? `, next in ${Math.max(0, Math.round(this.nextAttemptAt - this.opts.clock.now()))} ms` : ''}`;
    return new CleaveError('CLEAVE_E_UNAVAILABLE', `the cloud link to ${this.safeUrl} ${why}${this.lastError ? ` (last error: ${this.lastError})` : ''}; run of "${req.model}" not sent`, this.detail(req));
  }

  private detail(req: CloudRunRequest): Record<string, string | number> {
    return { model: req.model, url: this.safeUrl, state: this.state, failures: this.failures, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private setState(state: LinkState): void {
    if (state === this.state) return;
    this.state = state;
    this.opts.onStateChange?.(this.status());
  }

  private stopTimer(conn: Connection): void {
    if (conn.timer !== undefined) this.opts.timers.clearTimeout(conn.timer);
    conn.timer = undefined;
  }
}

function cancelled(req: CloudRunRequest): CleaveError {
  return new CleaveError('CLEAVE_E_CANCELLED', `run of "${req.model}" was cancelled by the caller`, { model: req.model });
}

function deadline(req: CloudRunRequest, where: string): CleaveError {
  return new CleaveError('CLEAVE_E_DEADLINE', `run of "${req.model}" spent its whole ${req.deadlineMs} ms deadline ${where}`, { model: req.model, deadlineMs: req.deadlineMs });
}

/** The URL without user info, query (tokens travel there for browsers) or fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//').replace(/[?#].*$/, '');
  }
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

function closeQuietly(socket: WebSocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closing, or a code this runtime refuses: nothing more to do.
  }
}

/** ws's ErrorEvent carries a message (ECONNREFUSED, "Unexpected server response: 503"); the platform one does not. */
function errorText(ev: unknown): string | undefined {
  if (typeof ev !== 'object' || ev === null) return undefined;
  const { message, error } = ev as { message?: unknown; error?: unknown };
  if (typeof message === 'string' && message) return message;
  return error instanceof Error ? error.message : undefined;
}

