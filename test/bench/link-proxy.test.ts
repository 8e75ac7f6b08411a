import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startLinkProxy, type LinkProxy } from '../../bench/link-proxy.js';
import { median } from '../../bench/stats.js';

// Real time on loopback, on a 2-core machine shared with other work: figures are checked within
// 10% (plus a few ms for loopback and timer granularity where the figure is a latency).

const servers: Server[] = [];
const proxies: LinkProxy[] = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen(server: Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Echoes every byte back; passes the FIN back too. */
function echoServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  // Connections the proxy keeps (blackhole, down) must not hold server.close() up.
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as Server['close'];
  return listen(server);
}

interface SinkResult { bytes: number; firstAt: number; firstBytes: number; lastAt: number; sha: string }

/** Reads until FIN and reports when the first and last bytes arrived. */
function sinkServer(): Promise<{ port: number; result: Promise<SinkResult> }> {
  let done!: (r: SinkResult) => void;
  const result = new Promise<SinkResult>((r) => { done = r; });
  const server = net.createServer((s) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let firstAt = 0;
    let firstBytes = 0;
    let lastAt = 0;
    s.on('data', (d: Buffer) => {
      const now = performance.now();
      if (bytes === 0) { firstAt = now; firstBytes = d.length; }
      lastAt = now;
      bytes += d.length;
      hash.update(d);
    });
    s.on('end', () => { done({ bytes, firstAt, firstBytes, lastAt, sha: hash.digest('hex') }); s.end(); });
    s.on('error', () => {});
  });
  return listen(server).then((port) => ({ port, result }));
}

/** Writes `payload` to each connection, then FIN. */
function sourceServer(payload: Buffer): Promise<number> {
  return listen(net.createServer((s) => {
    s.on('error', () => {});
    s.end(payload);
  }));
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.off('error', reject);
      // Resets are what cut/blackhole/down tests expect; they look at 'close', not at errors.
      s.on('error', () => {});
      resolve(s);
    });
    s.setNoDelay(true);
    s.once('error', reject);
    clients.push(s);
  });
}

/** Resolves with whatever arrived once `n` bytes have, or rejects after `timeoutMs`. */
function readBytes(s: Socket, n: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) { cleanup(); resolve(Buffer.concat(parts)); }
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`got ${got} of ${n} bytes within ${timeoutMs} ms`)); }, timeoutMs);
    const cleanup = (): void => { clearTimeout(timer); s.off('data', onData); };
    s.on('data', onData);
  });
}

/** Reads until FIN. */
function readAll(s: Socket): Promise<{ data: Buffer; firstAt: number; firstBytes: number; lastAt: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let firstAt = 0;
    let lastAt = 0;
    s.on('data', (d: Buffer) => {
      const now = performance.now();
      if (parts.length === 0) firstAt = now;
      lastAt = now;
      parts.push(d);
    });
    s.once('end', () => resolve({ data: Buffer.concat(parts), firstAt, firstBytes: parts[0]?.length ?? 0, lastAt }));
    s.once('error', reject);
  });
}

/** Median of `n` 8-byte ping-pongs through an echo, after one warm-up round trip. */
async function medianRttMs(s: Socket, n = 10): Promise<number> {
  const ping = Buffer.from('ping-pong');
  s.write(ping);
  await readBytes(s, ping.length);
  const rtts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    s.write(ping);
    await readBytes(s, ping.length);
    rtts.push(performance.now() - t0);
  }
  return median(rtts);
}

/** Resolves with how long after the call the socket closed, or rejects after `timeoutMs`. */
function closesWithin(s: Socket, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  if (s.destroyed) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    s.on('error', () => {});
    s.once('close', () => { clearTimeout(timer); resolve(performance.now() - t0); });
  });
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function mbit(bytes: number, ms: number): number {
  return (bytes * 8) / (ms / 1000) / 1e6;
}

async function proxyTo(port: number, opts: Omit<Parameters<typeof startLinkProxy>[0], 'target'> = {}): Promise<LinkProxy> {
  const p = await startLinkProxy({ target: { host: '127.0.0.1', port }, ...opts });
  proxies.push(p);
  return p;
}

describe('link proxy: shaping', () => {
  it('passes a few MB of random bytes unchanged both ways when unshaped', async () => {
    const proxy = await proxyTo(await echoServer());
    const payload = randomBytes(3 * 1024 * 1024);
    const s = await connect(proxy.port);
    const back = readAll(s);
    s.end(payload);
    const { data } = await back;
    expect(data.length).toBe(payload.length);
    expect(sha(data)).toBe(sha(payload));
    expect(proxy.stats()).toMatchObject({ connections: 1, bytesUp: payload.length, bytesDown: payload.length });
  });

  it('adds the one-way delay to each direction: 20 ms gives a 40 ms round trip', async () => {
    const proxy = await proxyTo(await echoServer(), { shape: { delayMs: 20 } });
    const rtt = await medianRttMs(await connect(proxy.port));
    console.log(`link-proxy: delay 20 ms -> median RTT ${rtt.toFixed(1)} ms`);
    expect(rtt).toBeGreaterThanOrEqual(40 * 0.9);
    expect(rtt).toBeLessThanOrEqual(40 * 1.1 + 3);
  });

  it('paces an upload to 20 Mbit/s, measured at the sink', async () => {
    const sink = await sinkServer();
    const proxy = await proxyTo(sink.port, { shape: { delayMs: 5, bitsPerSec: 20e6 } });
    const payload = randomBytes(4_000_000);
    const s = await connect(proxy.port);
    s.end(payload);
    const r = await sink.result;
    expect(r.bytes).toBe(payload.length);
    expect(r.sha).toBe(sha(payload));
    const rate = mbit(r.bytes - r.firstBytes, r.lastAt - r.firstAt);
    console.log(`link-proxy: upload at 20 Mbit/s -> ${rate.toFixed(2)} Mbit/s`);
    expect(rate).toBeGreaterThanOrEqual(20 * 0.9);
    expect(rate).toBeLessThanOrEqual(20 * 1.1);
  });

  it('paces a download by the down override (10 Mbit/s) independently of the 20 Mbit/s up', async () => {
    const payload = randomBytes(4_000_000);
    const proxy = await proxyTo(await sourceServer(payload), { shape: { delayMs: 5, bitsPerSec: 20e6, down: { bitsPerSec: 10e6 } } });
    const s = await connect(proxy.port);
    const r = await readAll(s);
    expect(sha(r.data)).toBe(sha(payload));
    const rate = mbit(r.data.length - r.firstBytes, r.lastAt - r.firstAt);
    console.log(`link-proxy: download at 10 Mbit/s (down override) -> ${rate.toFixed(2)} Mbit/s`);
    expect(rate).toBeGreaterThanOrEqual(10 * 0.9);
    expect(rate).toBeLessThanOrEqual(10 * 1.1);
  });

  it('keeps the pace and the bytes intact when a small queue limit pauses the source', async () => {
    const sink = await sinkServer();
    const proxy = await proxyTo(sink.port, { shape: { delayMs: 0, bitsPerSec: 16e6 }, maxQueuedBytes: 64 * 1024 });
    const payload = randomBytes(2_000_000);
    const s = await connect(proxy.port);
    s.end(payload);
    const r = await sink.result;
    expect(r.sha).toBe(sha(payload));
    const rate = mbit(r.bytes - r.firstBytes, r.lastAt - r.firstAt);
    expect(rate).toBeGreaterThanOrEqual(16 * 0.9);
    expect(rate).toBeLessThanOrEqual(16 * 1.1);
  });

  it('never reorders bytes under 10 ms jitter', async () => {
    const proxy = await proxyTo(await echoServer(), { shape: { delayMs: 5, jitterMs: 10 } });
    const s = await connect(proxy.port);
    const n = 200;
    const back = readBytes(s, n * 4);
    for (let i = 0; i < n; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      s.write(b);
      // Separate writes a little so the proxy sees many chunks, each with its own jitter.
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const data = await back;
    const seen = Array.from({ length: n }, (_, i) => data.readUInt32BE(i * 4));
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('applies shape() changes to later bytes, without reordering bytes already queued', async () => {
    const proxy = await proxyTo(await echoServer());
    const s = await connect(proxy.port);
    const before = await medianRttMs(s, 5);
    proxy.shape({ delayMs: 30 });
    const after = await medianRttMs(s, 5);
    console.log(`link-proxy: RTT ${before.toFixed(1)} ms unshaped, ${after.toFixed(1)} ms after shape({ delayMs: 30 })`);
    expect(before).toBeLessThan(10);
    expect(after).toBeGreaterThanOrEqual(60 * 0.9);
    expect(after).toBeLessThanOrEqual(60 * 1.1 + 3);

    // A byte queued under a 100 ms delay keeps its time; one sent after dropping the delay to 0
    // must not overtake it.
    proxy.shape({ delayMs: 100 });
    const back = readBytes(s, 2);
    const t0 = performance.now();
    s.write('A');
    await new Promise((r) => setTimeout(r, 20));
    proxy.shape({ delayMs: 0 });
    s.write('B');
    const data = await back;
    expect(data.toString()).toBe('AB');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100 * 0.9);
  });

  it('rejects a negative or NaN shape, naming the value', async () => {
    const proxy = await proxyTo(await echoServer());
    expect(() => proxy.shape({ delayMs: -1 })).toThrow(/delayMs must be a number >= 0, got -1/);
    expect(() => proxy.shape({ delayMs: 0, down: { bitsPerSec: Number.NaN } })).toThrow(/down\.bitsPerSec.*NaN/);
    expect(() => proxy.shape({ delayMs: 0, bitsPerSec: Infinity })).not.toThrow();
  });

  it('carries a WebSocket: the upgrade and each message pay at least one round trip', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/ws' });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary })));
    try {
      const proxy = await proxyTo((wss.address() as AddressInfo).port, { shape: { delayMs: 15 } });
      const t0 = performance.now();
      const ws = new WebSocket(proxy.url('/v1/ws'));
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      const openMs = performance.now() - t0;
      const t1 = performance.now();
      ws.send('hi');
      const reply = await new Promise<string>((r) => ws.once('message', (m: Buffer) => r(m.toString())));
      const echoMs = performance.now() - t1;
      ws.close();
      expect(reply).toBe('hi');
      // The TCP handshake is not delayed: the upgrade request and response are the one RTT. No upper
      // bound: on a loaded 2-core CI box the first connection's own overhead varies by tens of ms.
      expect(openMs).toBeGreaterThanOrEqual(30 * 0.9);
      expect(echoMs).toBeGreaterThanOrEqual(30 * 0.9);
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it('builds URLs on its port, ws by default', async () => {
    const proxy = await proxyTo(await echoServer());
    expect(proxy.url('/v1/ws')).toBe(`ws://127.0.0.1:${proxy.port}/v1/ws`);
    expect(proxy.url('health', { scheme: 'http' })).toBe(`http://127.0.0.1:${proxy.port}/health`);
  });
});

describe('link proxy: failures', () => {
  it('cut() closes the client promptly, and a new connection works', async () => {
    const proxy = await proxyTo(await echoServer(), { shape: { delayMs: 5 } });
    const s = await connect(proxy.port);
    await medianRttMs(s, 1);
    const closed = closesWithin(s, 500);
    proxy.cut();
    expect(await closed).toBeLessThan(200);
    expect(proxy.stats().open).toBe(0);
    const again = await connect(proxy.port);
    expect(await medianRttMs(again, 1)).toBeGreaterThan(0);
  });

  it('blackhole: no reply within 500 ms; restore resets the damaged connection and new ones get replies', async () => {
    const proxy = await proxyTo(await echoServer(), { shape: { delayMs: 5 } });
    const old = await connect(proxy.port);
    await medianRttMs(old, 1);
    proxy.blackhole(true);
    old.write('hello?');
    await expect(readBytes(old, 1, 500)).rejects.toThrow(/got 0 of 1 bytes/);
    // A connection made during the blackhole is accepted but nothing comes back either.
    const during = await connect(proxy.port);
    during.write('anyone?');
    await expect(readBytes(during, 1, 500)).rejects.toThrow(/got 0 of 1 bytes/);
    expect(old.destroyed).toBe(false);

    const oldClosed = closesWithin(old, 1000);
    proxy.restore();
    // Both lost bytes; their streams have holes and are reset rather than resumed.
    expect(await oldClosed).toBeLessThan(500);
    await closesWithin(during, 1000);
    const fresh = await connect(proxy.port);
    expect(await medianRttMs(fresh, 2)).toBeGreaterThan(0);
  });

  it('blackhole(false) lets a connection that lost nothing carry on', async () => {
    const proxy = await proxyTo(await echoServer());
    const s = await connect(proxy.port);
    await medianRttMs(s, 1);
    proxy.blackhole(true);
    proxy.blackhole(false);
    expect(await medianRttMs(s, 1)).toBeLessThan(100);
  });

  it('down: new connections are closed at once, existing ones cut; restore brings them back', async () => {
    const proxy = await proxyTo(await echoServer());
    const existing = await connect(proxy.port);
    const existingClosed = closesWithin(existing, 500);
    proxy.down(true);
    expect(await existingClosed).toBeLessThan(200);

    const refused = net.connect({ host: '127.0.0.1', port: proxy.port });
    clients.push(refused);
    refused.write('hello?');
    const gotData: Buffer[] = [];
    refused.on('data', (d: Buffer) => gotData.push(d));
    expect(await closesWithin(refused, 1000)).toBeLessThan(200);
    expect(gotData).toEqual([]);
    expect(proxy.stats().connections).toBe(1);

    proxy.restore();
    const back = await connect(proxy.port);
    expect(await medianRttMs(back, 1)).toBeGreaterThan(0);
    expect(proxy.stats().connections).toBe(2);
  });

  it('resets the client when the target refuses the connection', async () => {
    const port = await listen(net.createServer());
    await new Promise((r) => servers.pop()!.close(r));
    const proxy = await proxyTo(port);
    const s = await connect(proxy.port);
    expect(await closesWithin(s, 1000)).toBeLessThan(500);
  });
});

describe('link proxy: lifecycle', () => {
  it('close() leaves no sockets, servers or timers behind', async () => {
    const kinds = ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'];
    const count = (): Record<string, number> => {
      const out: Record<string, number> = Object.fromEntries(kinds.map((k) => [k, 0]));
      for (const r of process.getActiveResourcesInfo()) if (r in out) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    const echoPort = await echoServer();
    // Handles of the previous test may still be closing.
    await new Promise((r) => setTimeout(r, 100));
    const before = count();
    const proxy = await startLinkProxy({ target: { host: '127.0.0.1', port: echoPort }, shape: { delayMs: 200, bitsPerSec: 1e6 } });
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    s.on('error', () => {});
    s.write(randomBytes(100_000)); // queued in the proxy behind pacing timers
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.stats().open).toBe(1);
    await proxy.close();
    await closesWithin(s, 1000);
    await new Promise((r) => setTimeout(r, 20));
    expect(count()).toEqual(before);
  });

  it('the CLI prints its port, obeys stdin commands and exits by itself once stdin ends', async () => {
    const echoPort = await echoServer();
    const cli = fileURLToPath(new URL('../../bench/link-proxy-cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', cli, '--target', `127.0.0.1:${echoPort}`, '--delay-ms', '10', '--mbit', '50'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const waitFor = async (re: RegExp, ms = 10_000): Promise<RegExpExecArray> => {
      const t0 = performance.now();
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (performance.now() - t0 > ms) throw new Error(`CLI output did not match ${re} within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const port = Number((await waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const s = await connect(port);
      const rtt = await medianRttMs(s, 3);
      expect(rtt).toBeGreaterThanOrEqual(18);
      child.stdin.write('shape delay=0 mbit=0\n');
      await waitFor(/shape: delay 0 ms/);
      expect(await medianRttMs(s, 3)).toBeLessThan(15);
      child.stdin.write('stats\n');
      await waitFor(/"connections":1/);
      child.stdin.write('cut\n');
      await closesWithin(s, 2000);
      child.stdin.write('bogus\n');
      await waitFor(/unknown command "bogus"/);
      child.stdin.end();
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 15_000);
});
