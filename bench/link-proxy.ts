/**
 * A userspace link emulator for the benches: a TCP proxy on loopback that puts a one-way delay,
 * jitter and a bandwidth limit on each direction, and can cut, blackhole or take down the link on
 * command. Benches put it between a Cleave edge and its cloud (separate processes speaking
 * WebSocket over TCP), because this kernel has no netem (see shared/FACTS.md, "Network emulation").
 *
 * What it does not model, by design:
 * - The TCP handshake is not delayed: `connect()` completes in loopback time and the upstream
 *   connection is opened at once. Only bytes pay the delay, so a WebSocket upgrade costs one RTT
 *   (request + response), not the 1.5 RTT a real SYN/SYN-ACK/ACK + upgrade would.
 * - No loss, no reordering, no retransmission, no congestion control: bytes arrive intact and in
 *   order, or (blackhole) not at all.
 * - Pacing is per connection and per direction: two connections each get the full bandwidth.
 */
import net, { type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** How the emulated link behaves. Applies to each direction unless `down` overrides it. */
export interface LinkShape {
  /** One-way delay added to each direction, ms (RTT adds about 2x). Default 0. */
  delayMs: number;
  /** Uniform jitter added per chunk in [0, jitterMs], ms, never reordering bytes within a connection. Default 0. */
  jitterMs?: number;
  /** Bandwidth per direction, bit/s; 0 or Infinity = unlimited. Default unlimited. */
  bitsPerSec?: number;
  /** Separate shaping for the downstream (server -> client) direction; default same as above. */
  down?: Partial<Pick<LinkShape, 'delayMs' | 'jitterMs' | 'bitsPerSec'>>;
}

/** Counters since the proxy started. Bytes are those delivered, not those received and dropped. */
export interface LinkStats {
  /** Connections accepted and proxied (those refused while the link is down are not counted). */
  connections: number;
  /** Proxied connections with at least one socket still open. */
  open: number;
  /** Bytes delivered client -> target. */
  bytesUp: number;
  /** Bytes delivered target -> client. */
  bytesDown: number;
}

/** A running link emulator; see {@link startLinkProxy}. */
export interface LinkProxy {
  /** Port on 127.0.0.1 where clients connect. */
  readonly port: number;
  /** `scheme://127.0.0.1:PORT/path`; scheme defaults to `ws`. E.g. `url('/v1/ws')`. */
  readonly url: (path?: string, opts?: { scheme?: string }) => string;
  /** Replaces the shape while running; applies to bytes not yet scheduled (queued bytes keep their times). */
  shape(s: LinkShape): void;
  /** Resets every open connection now (both sides see ECONNRESET); new connections are still accepted. */
  cut(): void;
  /**
   * On: keep accepting connections and reading, deliver nothing in either direction; queued and
   * newly read bytes are dropped. A client sees only its own timeouts. Off: forward again; any
   * connection that lost bytes meanwhile is reset, since its byte stream now has a hole that a
   * real TCP would have retransmitted and this proxy cannot.
   */
  blackhole(on: boolean): void;
  /** On: reset new connections at once and cut existing ones. Off: accept again. */
  down(on: boolean): void;
  /** Undoes blackhole and down; the shape stays. */
  restore(): void;
  stats(): LinkStats;
  /** Stops listening, resets every connection, clears every timer; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Options for {@link startLinkProxy}. */
export interface LinkProxyOptions {
  /** Where each accepted connection is forwarded. */
  target: { host: string; port: number };
  /** Port to listen on, 127.0.0.1. Default 0 (any free port). */
  listenPort?: number;
  /** Initial shape. Default: no delay, unlimited. */
  shape?: LinkShape;
  /** Source of jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /**
   * Bytes queued per direction before the source socket is paused (resumed below a quarter of
   * it), bytes. Default 4 MiB.
   */
  maxQueuedBytes?: number;
}

/** Pacing slice: large reads are split so that a 64 KiB read does not leave the wire in one lump. */
const SLICE_BYTES = 16 * 1024;
/**
 * Deliver slices due within this many ms. Timers are ms-granular and measure from the event
 * loop's cached clock, so they can fire a fraction of a ms early; re-arming for that fraction
 * would cost a whole ms. A larger value would bias delays low (netem never delivers early).
 */
const EARLY_MS = 0.25;

interface DirectionShape {
  delayMs: number;
  jitterMs: number;
  /** 0 = unlimited. */
  bitsPerSec: number;
}

function checkNonNegative(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
    throw new RangeError(`link shape ${name} must be a number >= 0, got ${String(v)}`);
  }
  return v;
}

function normalizeShape(s: LinkShape): { up: DirectionShape; down: DirectionShape } {
  const delayMs = checkNonNegative('delayMs', s.delayMs, 0);
  const jitterMs = checkNonNegative('jitterMs', s.jitterMs, 0);
  const bps = checkNonNegative('bitsPerSec', s.bitsPerSec, 0);
  if (!Number.isFinite(delayMs) || !Number.isFinite(jitterMs)) {
    throw new RangeError(`link shape delayMs and jitterMs must be finite, got ${delayMs} and ${jitterMs}`);
  }
  const up: DirectionShape = { delayMs, jitterMs, bitsPerSec: Number.isFinite(bps) ? bps : 0 };
  const d = s.down ?? {};
  const downBps = checkNonNegative('down.bitsPerSec', d.bitsPerSec, up.bitsPerSec);
  const down: DirectionShape = {
    delayMs: checkNonNegative('down.delayMs', d.delayMs, delayMs),
    jitterMs: checkNonNegative('down.jitterMs', d.jitterMs, jitterMs),
    bitsPerSec: Number.isFinite(downBps) ? downBps : 0,
  };
  if (!Number.isFinite(down.delayMs) || !Number.isFinite(down.jitterMs)) {
    throw new RangeError(`link shape down.delayMs and down.jitterMs must be finite, got ${down.delayMs} and ${down.jitterMs}`);
  }
  return { up, down };
}

/** What a direction needs from the proxy; read on every chunk so shape changes apply at once. */
interface LinkControl {
  shape(): DirectionShape;
  blackholed(): boolean;
  random(): number;
  maxQueuedBytes: number;
}

interface Slice {
  buf: Buffer;
  /** performance.now() time at which the slice is handed to the destination socket. */
  at: number;
}

/**
 * One direction of one connection: a FIFO of slices, each stamped with its delivery time.
 * departure = max(now, wireFreeAt) + serialization; delivery = departure + delay + jitter, but
 * never before the previous slice's delivery, so bytes are never reordered.
 */
class LinkDirection {
  private queue: Slice[] = [];
  private head = 0;
  private queuedBytes = 0;
  private wireFreeAt = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ending = false;
  private waitingDrain = false;
  private pausedSource = false;
  private disposed = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly link: LinkControl,
    private readonly onDeliver: (bytes: number) => void,
    /** Called when bytes (or the FIN) are dropped by the blackhole. */
    private readonly onDrop: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.disposed) return;
    if (this.link.blackholed()) {
      this.onDrop();
      return;
    }
    const shape = this.link.shape();
    const now = performance.now();
    if (this.head === this.queue.length && !this.waitingDrain && shape.delayMs === 0 && shape.jitterMs === 0 && shape.bitsPerSec === 0) {
      // Unshaped and idle: skip the timer round trip so "no shaping" costs next to nothing.
      this.lastAt = now;
      this.write(chunk);
      return;
    }
    const jitter = shape.jitterMs > 0 ? this.link.random() * shape.jitterMs : 0;
    const step = shape.bitsPerSec > 0 ? SLICE_BYTES : chunk.length;
    for (let off = 0; off < chunk.length; off += step) {
      const buf = chunk.subarray(off, off + step);
      let departure = now;
      if (shape.bitsPerSec > 0) {
        departure = Math.max(now, this.wireFreeAt) + (buf.length * 8 * 1000) / shape.bitsPerSec;
        this.wireFreeAt = departure;
      }
      const at = Math.max(departure + shape.delayMs + jitter, this.lastAt);
      this.lastAt = at;
      this.queue.push({ buf, at });
    }
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > this.link.maxQueuedBytes && !this.pausedSource) {
      this.pausedSource = true;
      this.src.pause();
    }
    this.arm();
  }

  /** The source sent its FIN: pass it on once everything queued has been delivered. */
  end(): void {
    if (this.disposed) return;
    if (this.link.blackholed()) {
      this.onDrop();
      return;
    }
    this.ending = true;
    if (this.head === this.queue.length && !this.waitingDrain) this.dst.end();
  }

  /** Drops what is queued (blackhole). Returns whether anything was dropped. */
  drop(): boolean {
    const had = this.head < this.queue.length;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.resumeSource();
    return had;
  }

  dispose(): void {
    this.disposed = true;
    this.drop();
  }

  private arm(): void {
    if (this.timer || this.waitingDrain || this.disposed) return;
    const next = this.queue[this.head];
    if (!next) return;
    const wait = Math.max(0, Math.ceil(next.at - performance.now() - EARLY_MS));
    this.timer = setTimeout(this.flush, wait);
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    if (this.disposed) return;
    const now = performance.now();
    for (;;) {
      const s = this.queue[this.head];
      if (!s || s.at > now + EARLY_MS) break;
      this.head++;
      this.queuedBytes -= s.buf.length;
      if (!this.write(s.buf)) {
        this.waitingDrain = true;
        this.dst.once('drain', this.onDrain);
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.queuedBytes <= this.link.maxQueuedBytes / 4) this.resumeSource();
    if (this.head === this.queue.length && this.ending && !this.waitingDrain) this.dst.end();
    else this.arm();
  };

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.flush();
  };

  private write(buf: Buffer): boolean {
    if (this.dst.destroyed || this.dst.writableEnded) return true;
    this.onDeliver(buf.length);
    return this.dst.write(buf);
  }

  private resumeSource(): void {
    if (!this.pausedSource) return;
    this.pausedSource = false;
    if (!this.src.destroyed) this.src.resume();
  }
}

/** Sends an RST where the socket is connected, else just destroys it. */
function reset(s: Socket): void {
  if (s.destroyed) return;
  // resetAndDestroy() on a connecting socket waits for the connect; nothing to reset yet.
  if (s.connecting) {
    s.destroy();
    return;
  }
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

class ProxiedConnection {
  readonly up: LinkDirection;
  readonly down: LinkDirection;
  /** Bytes were dropped by the blackhole: the streams can no longer be resumed. */
  tainted = false;
  private closedSockets = 0;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    upLink: LinkControl,
    downLink: LinkControl,
    counters: { bytesUp: number; bytesDown: number },
    onClosed: (c: ProxiedConnection) => void,
  ) {
    const taint = (): void => { this.tainted = true; };
    this.up = new LinkDirection(client, upstream, upLink, (n) => { counters.bytesUp += n; }, taint);
    this.down = new LinkDirection(upstream, client, downLink, (n) => { counters.bytesDown += n; }, taint);
    for (const s of [client, upstream]) s.setNoDelay(true);
    client.on('data', (d: Buffer) => this.up.push(d));
    upstream.on('data', (d: Buffer) => this.down.push(d));
    client.on('end', () => this.up.end());
    upstream.on('end', () => this.down.end());
    // Errors are expected (resets, refused upstream); 'close' carries what matters.
    client.on('error', () => {});
    upstream.on('error', () => {});
    const onClose = (self: Socket, other: Socket, hadError: boolean): void => {
      // Nothing more can be written into `self`; a reset or failure propagates as a reset.
      (self === client ? this.down : this.up).dispose();
      if (hadError) reset(other);
      if (++this.closedSockets === 2) {
        this.up.dispose();
        this.down.dispose();
        onClosed(this);
      }
    };
    client.on('close', (hadError) => onClose(client, upstream, hadError));
    upstream.on('close', (hadError) => onClose(upstream, client, hadError));
  }

  /** Drops what is queued either way (blackhole start). */
  drop(): void {
    const a = this.up.drop();
    const b = this.down.drop();
    if (a || b) this.tainted = true;
  }

  reset(): void {
    this.up.dispose();
    this.down.dispose();
    reset(this.client);
    reset(this.upstream);
  }
}

/** Starts the link emulator on 127.0.0.1; resolves once it listens. */
export async function startLinkProxy(opts: LinkProxyOptions): Promise<LinkProxy> {
  let shape = normalizeShape(opts.shape ?? { delayMs: 0 });
  let blackholed = false;
  let isDown = false;
  const random = opts.random ?? Math.random;
  const maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
  if (!(maxQueuedBytes > 0)) throw new RangeError(`maxQueuedBytes must be > 0, got ${maxQueuedBytes}`);
  const counters = { bytesUp: 0, bytesDown: 0 };
  let connections = 0;
  const open = new Set<ProxiedConnection>();
  const upLink: LinkControl = { shape: () => shape.up, blackholed: () => blackholed, random, maxQueuedBytes };
  const downLink: LinkControl = { shape: () => shape.down, blackholed: () => blackholed, random, maxQueuedBytes };

  // allowHalfOpen: a client's FIN is passed on (after the queued bytes) instead of closing both ways.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => {});
    if (isDown) {
      reset(client);
      return;
    }
    connections++;
    const upstream = net.connect({ host: opts.target.host, port: opts.target.port, allowHalfOpen: true });
    const conn = new ProxiedConnection(client, upstream, upLink, downLink, counters, (c) => open.delete(c));
    open.add(conn);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`link proxy: unexpected listen address ${String(address)}`);
  const port = address.port;

  const cut = (): void => {
    for (const c of [...open]) c.reset();
  };
  const endBlackhole = (): void => {
    if (!blackholed) return;
    blackholed = false;
    for (const c of [...open]) if (c.tainted) c.reset();
  };

  return {
    port,
    url: (path = '/', o = {}) => `${o.scheme ?? 'ws'}://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`,
    shape(s) {
      shape = normalizeShape(s);
    },
    cut,
    blackhole(on) {
      if (on) {
        blackholed = true;
        for (const c of open) c.drop();
      } else {
        endBlackhole();
      }
    },
    down(on) {
      isDown = on;
      if (on) cut();
    },
    restore() {
      isDown = false;
      endBlackhole();
    },
    stats: () => ({ connections, open: open.size, bytesUp: counters.bytesUp, bytesDown: counters.bytesDown }),
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        cut();
      });
    },
  };
}
