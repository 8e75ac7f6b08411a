// CloudLink against a real ServerSession over an in-memory socket pair, on a ManualClock: every
// delay (backoff, heartbeat, deadlines, connect waits) is asserted to the millisecond, no sleeps.
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, CloudLink, HEARTBEAT_CLOSE_CODE, redactUrl, type CloudLinkOptions } from '../../edge/cloud-link.js';
import type { LinkStatus } from '../../edge/cloud-transport.js';
import { CleaveError } from '../../shared/errors.js';
import type { WebSocketLike } from '../../shared/protocol/client.js';
import { DEFAULT_LIMITS } from '../../shared/protocol/constants.js';
import { FrameDecoder } from '../../shared/protocol/frame-codec.js';
import type { Frame, ModelOffer, TensorMap } from '../../shared/protocol/frames.js';
import { ServerSession, type RunService, type ServiceRunHandle, type ServiceRunRequest, type ServiceRunResult } from '../../shared/protocol/server-session.js';
import { hostTensor } from '../../shared/tensor.js';
import { ManualClock } from '../../shared/time.js';

const URL_ = 'ws://cloud.test:9000/v1/ws';
const OFFER: ModelOffer = {
  name: 'add-one', version: 1, maxBatchSize: 8,
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
};

/** Lets every queued microtask (and the microtasks they queue) run; no time passes on the clock. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

type Listener = (ev: never) => void;

/**
 * The client end of an in-memory socket. Bytes it sends reach its ServerSession in a microtask;
 * frames the session sends come back as ArrayBuffer copies, after `latencyMs` on the clock (or in
 * a microtask at 0), in order. `blackhole` drops frames both ways and swallows the close, like a
 * dead route that TCP has not noticed yet.
 */
class FakeSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  blackhole = false;
  latencyMs = 0;
  closedWith: number | undefined;
  session: ServerSession | undefined;
  /** Frames the client sent, decoded, for assertions. */
  readonly sent: Frame[] = [];
  private readonly listeners = new Map<string, Listener[]>();
  private readonly decoder = new FrameDecoder({});

  constructor(private readonly clock: ManualClock) {}

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error(`send on a socket in state ${this.readyState}`);
    const copy = data.slice();
    this.sent.push(this.decoder.decode(copy));
    if (this.blackhole) return;
    queueMicrotask(() => this.session?.receive(copy));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.closedWith = code;
    this.readyState = 2;
    if (this.blackhole) return;
    queueMicrotask(() => this.finish(code, reason));
  }

  /** Server side: open the socket. */
  accept(session: ServerSession): void {
    this.session = session;
    this.readyState = 1;
    this.emit('open', undefined);
  }

  /** Server side: the connection attempt fails, as `ws` reports ECONNREFUSED. */
  refuse(message: string): void {
    this.emit('error', { message });
    this.finish(1006, '');
  }

  /** Server side: a frame to the client. */
  deliver(bytes: Uint8Array): void {
    if (this.blackhole || this.readyState !== 1) return;
    const buf = bytes.slice().buffer;
    const go = (): void => { if (this.readyState === 1) this.emit('message', { data: buf }); };
    if (this.latencyMs > 0) this.clock.setTimeout(go, this.latencyMs);
    else queueMicrotask(go);
  }

  /** Either side: the connection is gone. */
  finish(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.session?.closed();
    this.emit('close', { code, reason });
  }

  private emit(type: string, ev: unknown): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: unknown) => void)(ev);
  }
}

interface HeldRun {
  readonly req: ServiceRunRequest;
  readonly session: number;
  release(): void;
}

/** The far side: a ServerSession per connection over an add-one service; runs may be held. */
class FakeCloud {
  mode: 'accept' | 'refuse' | 'hang' = 'accept';
  hold = false;
  latencyMs = 0;
  checkToken: ((t: string) => boolean) | undefined;
  readonly sockets: FakeSocket[] = [];
  readonly sessions: ServerSession[] = [];
  readonly tokens: (string | undefined)[] = [];
  readonly runs: { model: string; session: number }[] = [];
  readonly held: HeldRun[] = [];
  /** Clock time of each connect call. */
  readonly attempts: number[] = [];
  private readonly hanging: FakeSocket[] = [];

  constructor(private readonly clock: ManualClock) {}

  readonly connect = (_url: string, token: string | undefined): WebSocketLike => {
    const s = new FakeSocket(this.clock);
    this.attempts.push(this.clock.now());
    s.latencyMs = this.latencyMs;
    this.sockets.push(s);
    this.tokens.push(token);
    const mode = this.mode;
    queueMicrotask(() => {
      if (mode === 'accept') this.accept(s);
      else if (mode === 'refuse') s.refuse('connect ECONNREFUSED 10.0.0.9:9000');
      else this.hanging.push(s);
    });
    return s;
  };

  /** Accepts the sockets left hanging. */
  openHanging(): void {
    for (const s of this.hanging.splice(0)) if (s.readyState === 0) this.accept(s);
  }

  get last(): FakeSocket {
    return this.sockets[this.sockets.length - 1]!;
  }

  private accept(s: FakeSocket): void {
    const n = this.sessions.length;
    const service: RunService = {
      infer: (req) => this.infer(req, n),
      loadReport: () => ({ 'add-one': { queued: 0, running: 0, queueMs: 0, computeMs: 1, batchSize: 1 } }),
    };
    const session = new ServerSession(
      { send: (b) => s.deliver(b), close: (code, reason) => queueMicrotask(() => s.finish(code, reason)) },
      {
        id: `s${n}`, service, metrics: { streams: () => undefined, protocolError: () => undefined },
        clock: this.clock, wallClock: this.clock, timers: this.clock, limits: DEFAULT_LIMITS,
        serverName: 'fake-cloud', device: 'cpu', offers: () => [OFFER],
        authenticated: this.checkToken === undefined, ...(this.checkToken ? { checkToken: this.checkToken } : {}),
        loadIntervalMs: 1_000_000,
      },
    );
    this.sessions.push(session);
    s.accept(session);
  }

  private infer(req: ServiceRunRequest, session: number): ServiceRunHandle {
    this.runs.push({ model: req.model, session });
    const x = req.inputs.x!;
    const result: ServiceRunResult = {
      model: req.model, version: 1,
      outputs: { y: hostTensor('float32', x.dims, Float32Array.from(x.data as Float32Array, (v) => v + 1)) },
      timing: { queueMs: 0, computeMs: 1, batchSize: 1 },
    };
    if (!this.hold) return { promise: Promise.resolve(result), cancel: () => false };
    let started = false;
    let resolve!: (r: ServiceRunResult) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<ServiceRunResult>((res, rej) => { resolve = res; reject = rej; });
    this.held.push({ req, session, release: () => { started = true; resolve(result); } });
    return {
      promise,
      cancel: () => {
        if (started) return false;
        reject(new CleaveError('CLEAVE_E_CANCELLED', 'dropped'));
        return true;
      },
    };
  }
}

function setup(opts: Partial<CloudLinkOptions> = {}): { clock: ManualClock; cloud: FakeCloud; link: CloudLink; states: LinkStatus[] } {
  const clock = new ManualClock(1000);
  const cloud = new FakeCloud(clock);
  const states: LinkStatus[] = [];
  const link = new CloudLink({
    url: URL_, connect: cloud.connect, clock, timers: clock, random: () => 0.5,
    backoff: { initialMs: 100, maxMs: 1000, factor: 2 }, heartbeatMs: 1000, heartbeatTimeoutMs: 3000,
    connectTimeoutMs: 5000, firstConnectWaitMs: 1000, onStateChange: (s) => states.push(s),
    ...opts,
  });
  return { clock, cloud, link, states };
}

const input = (v = 1): TensorMap => ({ x: hostTensor('float32', [1, 4], new Float32Array([v, v, v, v])) });
const req = (deadlineMs = 10_000, v = 1): { model: string; inputs: TensorMap; deadlineMs: number } => ({ model: 'add-one', inputs: input(v), deadlineMs });

/** A promise's outcome, without an unhandled rejection while the test moves time. */
function track<T>(p: Promise<T>): { readonly value?: T; readonly error?: CleaveError; readonly settled: boolean } {
  const s: { value?: T; error?: CleaveError; settled: boolean } = { settled: false };
  p.then((v) => { s.value = v; s.settled = true; }, (e: CleaveError) => { s.error = e; s.settled = true; });
  return s;
}

async function connected(opts: Partial<CloudLinkOptions> = {}): Promise<ReturnType<typeof setup>> {
  const t = setup(opts);
  t.link.start();
  await flush();
  expect(t.link.status().state).toBe('connected');
  return t;
}

describe('backoffDelayMs', () => {
  it.each([
    [1, 0.5, 50], [2, 0.5, 100], [3, 0.5, 200], [4, 0.5, 400], [5, 0.5, 500], [9, 0.5, 500],
    [1, 0, 0], [3, 0.999, 399.6], [30, 1, 1000],
  ])('failure %i with random %f waits %f ms (random * min(maxMs, initialMs * factor^(failures-1)))', (failures, r, ms) => {
    expect(backoffDelayMs(failures, r, { initialMs: 100, maxMs: 1000, factor: 2 })).toBeCloseTo(ms, 9);
  });
});

describe('CloudLink', () => {
  it('logs a message from the cloud it cannot read that belongs to no stream, and keeps the link', async () => {
    const events: Record<string, unknown>[] = [];
    const t = await connected({ log: (e) => events.push(e) });
    t.cloud.last.deliver(new Uint8Array([0xc1, 0x00, 0x01]));
    await flush();
    expect(events).toContainEqual(expect.objectContaining({ event: 'cloud-unreadable-message', code: 'CLEAVE_E_PROTOCOL' }));
    expect(t.link.status().state).toBe('connected');
    await expect(t.link.run(req())).resolves.toMatchObject({ outputs: { y: expect.anything() } });
    await t.link.close();
  });

  it('does not connect until start(), then connects and runs a model', async () => {
    const { cloud, link, states } = setup();
    await flush();
    expect(cloud.sockets).toHaveLength(0);
    expect(link.status()).toMatchObject({ state: 'down', connects: 0, failures: 0 });
    await expect(link.run(req())).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringContaining('not started') });

    link.start();
    expect(link.status().state).toBe('connecting');
    await flush();
    expect(states.map((s) => s.state)).toEqual(['connecting', 'connected']);
    const s = link.status();
    expect(s).toMatchObject({ state: 'connected', url: URL_, connects: 1, failures: 0, offers: [OFFER] });
    expect(s.load?.models['add-one']?.computeMs).toBe(1);
    // HELLO carried the client name and no token.
    expect(cloud.last.sent[0]).toMatchObject({ t: 1, client: 'cleave-edge' });
    expect(cloud.last.sent[0]).not.toHaveProperty('token');

    const r = await link.run(req(10_000, 2));
    expect(Array.from(r.outputs.y!.data as Float32Array)).toEqual([3, 3, 3, 3]);
    expect(r.timing).toEqual({ queueMs: 0, computeMs: 1, batchSize: 1 });
    expect(r.totalMs).toBe(0);
    await link.close();
  });

  it('multiplexes many runs in flight on one socket', async () => {
    const { cloud, link } = await connected();
    cloud.hold = true;
    const runs = Array.from({ length: 20 }, (_, i) => link.run(req(10_000, i)));
    await flush();
    expect(cloud.held).toHaveLength(20);
    for (const h of [...cloud.held].reverse()) h.release();
    const results = await Promise.all(runs);
    expect(results.map((r) => (r.outputs.y!.data as Float32Array)[0])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(cloud.sockets).toHaveLength(1);
    await link.close();
  });

  it('fails fast with CLEAVE_E_UNAVAILABLE while down, naming the url, state and last error', async () => {
    const { cloud, clock, link } = setup();
    cloud.mode = 'refuse';
    link.start();
    await flush();
    const s = link.status();
    expect(s).toMatchObject({ state: 'down', failures: 1, connects: 0, lastError: expect.stringContaining('ECONNREFUSED 10.0.0.9:9000') });
    const before = clock.now();
    const p = track(link.run(req()));
    await flush();
    expect(clock.now()).toBe(before);
    expect(p.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(p.error?.message).toContain(URL_);
    expect(p.error?.message).toContain('is down after 1 failed attempt, next in 50 ms');
    expect(p.error?.message).toContain('ECONNREFUSED');
    expect(p.error?.detail).toMatchObject({ url: URL_, state: 'down', failures: 1, model: 'add-one' });
    await link.close();
  });

  it('reconnects after random * min(maxMs, initialMs * factor^(failures-1)) and resets failures on success', async () => {
    const { cloud, clock, link } = setup();
    cloud.mode = 'refuse';
    link.start();
    await flush();
    expect(cloud.sockets).toHaveLength(1);
    // random() = 0.5, initial 100, factor 2, max 1000.
    for (const [i, delay] of [50, 100, 200, 400, 500, 500].entries()) {
      clock.advance(delay - 1);
      await flush();
      expect(cloud.sockets).toHaveLength(i + 1);
      clock.advance(1);
      await flush();
      expect(cloud.sockets).toHaveLength(i + 2);
      expect(link.status()).toMatchObject({ state: 'down', failures: i + 2 });
    }
    cloud.mode = 'accept';
    clock.advance(500);
    await flush();
    expect(link.status()).toMatchObject({ state: 'connected', failures: 0, connects: 1 });

    // A lost connection starts the ladder again at its first rung.
    cloud.last.finish(1006, '');
    await flush();
    expect(link.status()).toMatchObject({ state: 'down', failures: 1, lastError: expect.stringContaining('closed (1006)') });
    const n = cloud.sockets.length;
    clock.advance(49);
    await flush();
    expect(cloud.sockets).toHaveLength(n);
    clock.advance(1);
    await flush();
    expect(link.status()).toMatchObject({ state: 'connected', failures: 0, connects: 2 });
    await link.close();
  });

  it('a run arriving during the first connect waits for it and succeeds', async () => {
    const { cloud, clock, link } = setup();
    cloud.mode = 'hang';
    link.start();
    await flush();
    const p = track(link.run(req(5000)));
    clock.advance(400);
    await flush();
    expect(p.settled).toBe(false);
    cloud.openHanging();
    await flush();
    expect(p.error).toBeUndefined();
    expect(p.value?.totalMs).toBe(400);
    // The server saw what was left of the deadline.
    expect(cloud.last.sent.find((f) => f.t === 3)).toMatchObject({ deadlineMs: 4600 });
    await link.close();
  });

  it('a waiting run fails with CLEAVE_E_UNAVAILABLE after firstConnectWaitMs, or CLEAVE_E_DEADLINE when its deadline is shorter', async () => {
    const { cloud, clock, link } = setup();
    cloud.mode = 'hang';
    link.start();
    await flush();
    const long = track(link.run(req(5000)));
    const short = track(link.run(req(300)));
    clock.advance(299);
    await flush();
    expect(short.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect(short.error?.code).toBe('CLEAVE_E_DEADLINE');
    expect(long.settled).toBe(false);
    clock.advance(700);
    await flush();
    expect(long.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(long.error?.message).toContain('within 1000 ms');
    expect(link.status().state).toBe('connecting');

    // The handshake never finishes: at connectTimeoutMs the attempt fails and backoff starts.
    clock.advance(3999);
    await flush();
    expect(link.status().state).toBe('connecting');
    clock.advance(1);
    await flush();
    expect(link.status()).toMatchObject({ state: 'down', failures: 1, lastError: expect.stringContaining('no WELCOME within 5000 ms') });
    await link.close();
  });

  it('runs waiting for an attempt fail as soon as it fails', async () => {
    const { cloud, link } = setup();
    cloud.mode = 'hang';
    link.start();
    await flush();
    const p = track(link.run(req()));
    cloud.sockets[0]!.refuse('Unexpected server response: 503');
    await flush();
    expect(p.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(p.error?.message).toContain('503');
    await link.close();
  });

  it('a deadline shorter than the server takes rejects with CLEAVE_E_DEADLINE', async () => {
    const { cloud, clock, link } = await connected();
    cloud.hold = true;
    const p = track(link.run(req(250)));
    clock.advance(250);
    await flush();
    expect(p.error?.code).toBe('CLEAVE_E_DEADLINE');
    expect(link.status().state).toBe('connected');
    await link.close();
  });

  it('rejects a run without a positive finite deadline', async () => {
    const { link } = await connected();
    await expect(link.run(req(0))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await expect(link.run(req(Infinity))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await link.close();
  });

  it('an abort signal cancels a run in flight or waiting; a pre-aborted one rejects at once', async () => {
    const { cloud, link } = await connected();
    const pre = new AbortController();
    pre.abort();
    await expect(link.run(req(), pre.signal)).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    await flush();
    expect(cloud.sessions[0]!.inFlight).toBe(0);
    expect(cloud.runs).toHaveLength(0);

    cloud.hold = true;
    const ac = new AbortController();
    const p = track(link.run(req(), ac.signal));
    await flush();
    expect(cloud.held).toHaveLength(1);
    ac.abort();
    await flush();
    expect(p.error?.code).toBe('CLEAVE_E_CANCELLED');
    // The server heard the CANCEL and dropped the run that had not started.
    expect(cloud.last.sent.some((f) => f.t === 7)).toBe(true);
    expect(cloud.sessions[0]!.inFlight).toBe(0);
    await link.close();

    const w = setup();
    w.cloud.mode = 'hang';
    w.link.start();
    await flush();
    const ac2 = new AbortController();
    const waiting = track(w.link.run(req(), ac2.signal));
    ac2.abort();
    await flush();
    expect(waiting.error?.code).toBe('CLEAVE_E_CANCELLED');
    await w.link.close();
    await flush();
    expect(w.clock.pendingCount).toBe(0);
  });

  it('runs in flight fail with CLEAVE_E_UNAVAILABLE when the socket closes, and the link reconnects', async () => {
    const { cloud, clock, link } = await connected();
    cloud.hold = true;
    const p = track(link.run(req()));
    await flush();
    cloud.last.finish(1011, 'boom');
    await flush();
    expect(p.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(link.status()).toMatchObject({ state: 'down', failures: 1, lastError: expect.stringContaining('closed (1011 boom)') });
    clock.advance(50);
    await flush();
    expect(link.status()).toMatchObject({ state: 'connected', connects: 2 });
    await link.close();
  });

  it('heartbeat: a PING right after the handshake, then heartbeatMs after each PONG; rttMs is their EWMA', async () => {
    const samples: number[] = [];
    const { cloud, clock, link } = setup({ onRtt: (ms) => samples.push(ms) });
    cloud.latencyMs = 20;
    link.start();
    await flush();
    clock.advance(20); // WELCOME arrives
    await flush();
    expect(link.status().state).toBe('connected');
    expect(link.status().rttMs).toBeUndefined();
    const pings = (): number => cloud.last.sent.filter((f) => f.t === 8).length;
    expect(pings()).toBe(1);
    clock.advance(20); // PONG arrives
    await flush();
    expect(link.status().rttMs).toBe(20);

    cloud.last.latencyMs = 60;
    clock.advance(999);
    await flush();
    expect(pings()).toBe(1);
    clock.advance(1);
    await flush();
    expect(pings()).toBe(2);
    clock.advance(60);
    await flush();
    expect(link.status().rttMs).toBe(30); // 20 + 0.25 * (60 - 20)
    // onRtt gets the raw samples, not the EWMA: the router's estimator smooths them its own way.
    expect(samples).toEqual([20, 60]);
    await link.close();
  });

  it('an unanswered PING closes the socket (4408) after heartbeatTimeoutMs and reconnects with backoff', async () => {
    const { cloud, clock, link } = await connected();
    const first = cloud.last;
    cloud.hold = true;
    const inFlight = track(link.run(req(60_000)));
    await flush();
    first.blackhole = true;
    clock.advance(1000); // the next PING goes out into the void
    await flush();
    clock.advance(2999);
    await flush();
    expect(link.status().state).toBe('connected');
    clock.advance(1);
    await flush();
    expect(first.closedWith).toBe(HEARTBEAT_CLOSE_CODE);
    expect(link.status()).toMatchObject({ state: 'down', failures: 1, lastError: expect.stringContaining('no PONG') });
    expect(inFlight.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    clock.advance(50);
    await flush();
    expect(cloud.sockets).toHaveLength(2);
    expect(link.status()).toMatchObject({ state: 'connected', connects: 2, failures: 0 });
    await link.close();
  });

  it('GOAWAY: new runs go to a new connection at once while a run in flight finishes on the old one', async () => {
    const { cloud, link, clock } = await connected();
    cloud.hold = true;
    const old = track(link.run(req(10_000, 5)));
    await flush();
    expect(cloud.held).toHaveLength(1);
    void cloud.sessions[0]!.goaway('rolling restart');
    await flush();
    expect(cloud.sockets).toHaveLength(2);
    expect(link.status()).toMatchObject({ state: 'connected', connects: 2, failures: 0 });
    expect(clock.now()).toBe(1000);

    cloud.hold = false;
    const fresh = await link.run(req(10_000, 7));
    expect((fresh.outputs.y!.data as Float32Array)[0]).toBe(8);
    expect(cloud.runs.map((r) => r.session)).toEqual([0, 1]);
    expect(cloud.sockets[0]!.readyState).toBe(1);

    cloud.held[0]!.release();
    await flush();
    expect((old.value?.outputs.y!.data as Float32Array)[0]).toBe(6);
    // Drained: the link closes the old socket itself.
    expect(cloud.sockets[0]!.closedWith).toBe(1000);
    expect(cloud.sockets[0]!.readyState).toBe(3);
    expect(cloud.sockets[1]!.readyState).toBe(1);
    await link.close();
  });

  it('a run arriving during the GOAWAY handover waits for the new connection', async () => {
    const { cloud, link } = await connected();
    cloud.mode = 'hang';
    void cloud.sessions[0]!.goaway('bye');
    await flush();
    expect(link.status().state).toBe('connecting');
    const p = track(link.run(req()));
    cloud.openHanging();
    await flush();
    expect(p.value).toBeDefined();
    expect(cloud.runs.map((r) => r.session)).toEqual([1]);
    await link.close();
  });

  it('close() rejects waiting and in-flight runs, closes the socket, stops reconnecting and leaves no timers', async () => {
    const { cloud, clock, link, states } = await connected();
    cloud.hold = true;
    const inFlight = track(link.run(req()));
    await flush();
    await link.close();
    await flush();
    expect(inFlight.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(cloud.last.closedWith).toBe(1000);
    expect(states.at(-1)?.state).toBe('down');
    expect(clock.pendingCount).toBe(0);
    await link.close(); // idempotent
    await expect(link.run(req())).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringContaining('closed') });
    clock.advance(100_000);
    await flush();
    expect(cloud.sockets).toHaveLength(1);

    // While connecting, with a run waiting.
    const a = setup();
    a.cloud.mode = 'hang';
    a.link.start();
    await flush();
    const waiting = track(a.link.run(req()));
    await a.link.close();
    await flush();
    expect(waiting.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(a.clock.pendingCount).toBe(0);
    a.cloud.openHanging();
    await flush();
    expect(a.link.status().state).toBe('down');

    // While down, with a reconnect scheduled.
    const b = setup();
    b.cloud.mode = 'refuse';
    b.link.start();
    await flush();
    expect(b.clock.pendingCount).toBe(1);
    await b.link.close();
    expect(b.clock.pendingCount).toBe(0);
    b.clock.advance(100_000);
    await flush();
    expect(b.cloud.sockets).toHaveLength(1);
  });

  it('passes the token to connect, and in HELLO only with tokenInHello', async () => {
    const without = setup({ token: 'sekret' });
    without.cloud.checkToken = (t) => t === 'sekret';
    without.link.start();
    await flush();
    expect(without.cloud.tokens).toEqual(['sekret']);
    expect(without.link.status()).toMatchObject({ state: 'down', lastError: expect.stringMatching(/CLEAVE_E_UNAUTHORIZED|4401/) });
    await without.link.close();

    const withHello = setup({ token: 'sekret', tokenInHello: true });
    withHello.cloud.checkToken = (t) => t === 'sekret';
    withHello.link.start();
    await flush();
    expect(withHello.link.status().state).toBe('connected');
    expect(withHello.cloud.last.sent[0]).toMatchObject({ token: 'sekret' });
    await withHello.link.close();
  });

  it('accepts a socket factory that returns a promise, bounded by connectTimeoutMs', async () => {
    const clock = new ManualClock();
    const cloud = new FakeCloud(clock);
    let late: ((s: WebSocketLike) => void) | undefined;
    const link = new CloudLink({
      url: URL_, clock, timers: clock, random: () => 0.5, connectTimeoutMs: 500,
      connect: (u, t) => (late ? Promise.resolve(cloud.connect(u, t)) : new Promise((r) => { late = r; })),
    });
    link.start();
    await flush();
    clock.advance(500);
    await flush();
    expect(link.status()).toMatchObject({ state: 'down', lastError: expect.stringContaining('no socket') });
    // The socket that turns up after the attempt gave up is closed, not adopted.
    const stray = cloud.connect(URL_, undefined) as FakeSocket;
    late!(stray);
    await flush();
    expect(stray.closedWith).toBe(1000);
    clock.advance(50);
    await flush();
    expect(link.status()).toMatchObject({ state: 'connected', connects: 1 });
    await link.close();
  });

  it('a socket factory that throws counts as a failed attempt', async () => {
    const { link } = setup({ connect: () => { throw new SyntaxError('Invalid URL: nope'); } });
    link.start();
    expect(link.status()).toMatchObject({ state: 'down', failures: 1, lastError: expect.stringContaining('Invalid URL') });
    await link.close();
  });

  it('status().url carries no credentials, query or fragment', () => {
    expect(redactUrl('wss://edge:pw@cloud.test:9000/v1/ws?token=abc#x')).toBe('wss://cloud.test:9000/v1/ws');
    const { link } = setup({ url: 'ws://u:p@cloud.test/v1/ws?token=t' });
    expect(link.status().url).toBe('ws://cloud.test/v1/ws');
  });

  it('rejects nonsensical options by name', () => {
    expect(() => setup({ heartbeatMs: 0 })).toThrow(/heartbeatMs is 0/);
    expect(() => setup({ backoff: { factor: 0.5 } })).toThrow(/backoff.factor/);
  });
});

// The demand-driven reconnect (wakeIntervalMs): while the link is down and the backoff has put the
// next attempt far off, a run starts an attempt at once, at most one per interval. Found by
// test/e2e/faults.test.ts: after a 5 s outage the backoff left a restored link unused for over 5 s.
/** A link that failed `failures` times with random() = 1, so the next attempt is a full ceiling away. */
async function downAfter(failures: number, opts: Partial<CloudLinkOptions> = {}): Promise<{ clock: ManualClock; cloud: FakeCloud; link: CloudLink; events: Record<string, unknown>[] }> {
  const events: Record<string, unknown>[] = [];
  const { clock, cloud, link } = setup({ random: () => 0.999, backoff: { initialMs: 100, maxMs: 10_000, factor: 2 }, log: (e) => events.push(e), ...opts });
  cloud.mode = 'refuse';
  link.start();
  await flush();
  while (cloud.attempts.length < failures) {
    clock.advance(10_000);
    await flush();
  }
  expect(link.status()).toMatchObject({ state: 'down', failures });
  return { clock, cloud, link, events };
}

describe('CloudLink wake on demand (wakeIntervalMs)', () => {
  it('a run while down with the next attempt far off starts one at once and, once the cloud is back, is sent on it', async () => {
    // 7 failures: the 8th attempt is 0.999 * min(10000, 100 * 2^6) = 6394 ms away.
    const { clock, cloud, link, events } = await downAfter(7);
    const n = cloud.attempts.length;
    cloud.mode = 'accept';
    const p = track(link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 }));
    expect(cloud.attempts).toHaveLength(n + 1);
    expect(cloud.attempts.at(-1)).toBe(clock.now());
    await flush();
    expect(p.error).toBeUndefined();
    expect(Array.from(p.value!.outputs.y!.data as Float32Array)).toEqual([2, 2, 2, 2]);
    expect(link.status()).toMatchObject({ state: 'connected', failures: 0, connects: 1 });
    expect(events.find((e) => e.event === 'cloud-link-wake')).toMatchObject({ failures: 7, scheduledInMs: 6394 });
    await link.close();
  });

  it('while the cloud stays out: runs fail fast, and wake at most one attempt per wakeIntervalMs', async () => {
    const { clock, cloud, link } = await downAfter(7);
    const n = cloud.attempts.length;
    const t0 = clock.now();
    // A run every 50 ms for 2 s: each is refused (at once, or as soon as its woken attempt fails).
    const outcomes: ReturnType<typeof track>[] = [];
    for (let t = 0; t < 2000; t += 50) {
      outcomes.push(track(link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 })));
      await flush();
      clock.advance(50);
    }
    await flush();
    expect(outcomes.every((o) => o.settled && o.error?.code === 'CLEAVE_E_UNAVAILABLE')).toBe(true);
    const woken = cloud.attempts.slice(n).map((at) => at - t0);
    // At 0, 500, 1000, 1500 ms: one per interval, never closer.
    expect(woken).toEqual([0, 500, 1000, 1500]);
    await link.close();
  });

  it('does not wake when the scheduled attempt is near, nor with wakeIntervalMs Infinity', async () => {
    // 2 failures: the next attempt is 0.999 * 200 = 199.8 ms away, under the 500 ms interval.
    const near = await downAfter(2);
    const n = near.cloud.attempts.length;
    expect(track(near.link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 }))).toBeDefined();
    expect(near.cloud.attempts).toHaveLength(n);
    await near.link.close();

    const off = await downAfter(7, { wakeIntervalMs: Infinity });
    const m = off.cloud.attempts.length;
    const p = track(off.link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 }));
    await flush();
    expect(off.cloud.attempts).toHaveLength(m);
    expect(p.error?.message).toContain('next in 6394 ms');
    await off.link.close();
  });

  it('rejects a negative or NaN wakeIntervalMs by name', () => {
    const clock = new ManualClock();
    for (const v of [-1, Number.NaN]) {
      expect(() => new CloudLink({ url: 'ws://x/v1/ws', connect: new FakeCloud(clock).connect, clock, timers: clock, random: () => 0, wakeIntervalMs: v }))
        .toThrow(/wakeIntervalMs/);
    }
  });
});
