/**
 * Open-loop, fixed-rate HTTP load (the wrk2 model): request i is due at t0 + i / rate whatever
 * happened to the earlier ones, and its latency runs from that intended time to the end of its
 * answer. A server that falls behind therefore shows its queueing in the latency, instead of
 * quietly slowing the generator down (coordinated omission).
 *
 * Why not autocannon's `overallRate` (house point 13 prefers the library): in autocannon 8 the
 * rate is a per-connection quota reset by a 1 s `setInterval` (lib/httpClient.js); within the
 * quota each connection is closed-loop. All connections start their intervals together, so a
 * "1000 req/s" run is a burst of closed-loop requests at the top of every second, then silence:
 * its latencies measure the connection count, not the rate. autocannon stays the closed-loop
 * tool (bench/http-load.ts); this file only adds the pacing it lacks, on node:http's keep-alive
 * Agent, so nothing is hand-written below HTTP.
 */
import http from 'node:http';

export interface PacedLoadOptions {
  /** Full URL of the endpoint; every request is a POST. */
  readonly url: string;
  /** Offered load, requests per second. */
  readonly rate: number;
  /** Seconds of sending; the run sends floor(rate * durationS) requests. */
  readonly durationS: number;
  /** Body of request i is bodies[i]; must hold at least floor(rate * durationS). */
  readonly bodies: readonly Buffer[];
  readonly headers?: Record<string, string>;
  /** Most keep-alive sockets; requests beyond wait in the Agent's queue (and that wait counts). Default 64. */
  readonly connections?: number;
  /** After the last send, how long answers are awaited before the rest count as timeouts, ms. Default 5000. */
  readonly drainMs?: number;
}

export interface PacedLoadResult {
  readonly offeredRate: number;
  /** Requests sent. */
  readonly sent: number;
  /** 2xx answers. */
  readonly ok: number;
  /** 2xx answers per second, over max(durationS, time of the last answer): a server that keeps up gives about `offeredRate`. */
  readonly achievedRate: number;
  /** From intended send time to the end of the answer, ms; failures count as +Infinity. */
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Actual minus intended send time, p99, ms: above a few ms the generator itself fell behind. */
  readonly sendLagP99Ms: number;
  readonly non2xx: number;
  /** Connection errors and requests still unanswered after the drain. */
  readonly errors: number;
  /** Answers by their `x-cleave-cache` header (`none` when absent). */
  readonly cacheHeader: Readonly<Record<string, number>>;
  /** CPU time of this process during the run over its wall time, as a fraction of one core. */
  readonly generatorCpu: number;
  readonly wallS: number;
}

/** Runs the load and summarises it; never rejects for a failed request (those are counted). */
export async function runPacedLoad(opts: PacedLoadOptions): Promise<PacedLoadResult> {
  const total = Math.floor(opts.rate * opts.durationS);
  if (!(opts.rate > 0) || total < 1) throw new RangeError(`rate ${opts.rate} x ${opts.durationS} s: expected at least one request`);
  if (opts.bodies.length < total) throw new RangeError(`${opts.bodies.length} bodies for ${total} requests`);
  const url = new URL(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections ?? 64 });
  const interval = 1000 / opts.rate;
  const latency = new Float64Array(total).fill(Infinity);
  const lag = new Float64Array(total);
  const cacheHeader: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let done = 0;
  let lastEnd = 0;
  let onAllDone: () => void = () => {};
  const allDone = new Promise<void>((resolve) => { onAllDone = resolve; });
  const finish = (): void => {
    if (++done === total) onAllDone();
  };

  const fire = (i: number, due: number): void => {
    const body = opts.bodies[i]!;
    lag[i] = performance.now() - due;
    let settled = false;
    const req = http.request({
      agent, hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...opts.headers },
    }, (res) => {
      res.resume();
      res.once('end', () => {
        if (settled) return;
        settled = true;
        const end = performance.now();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          ok++;
          latency[i] = end - due;
          lastEnd = Math.max(lastEnd, end);
          const c = res.headers['x-cleave-cache'];
          const k = typeof c === 'string' ? c : 'none';
          cacheHeader[k] = (cacheHeader[k] ?? 0) + 1;
        } else {
          non2xx++;
        }
        finish();
      });
    });
    req.once('error', () => {
      if (settled) return;
      settled = true;
      errors++;
      finish();
    });
    req.end(body);
  };

  const cpu0 = process.cpuUsage();
  // A little lead so the first due times are not already late when the loop starts.
  const t0 = performance.now() + 5;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && t0 + sent * interval <= now) {
        fire(sent, t0 + sent * interval);
        sent++;
      }
      if (sent >= total) {
        resolve();
        return;
      }
      // setTimeout cannot wait less than about 1 ms; a due time inside that goes out on the next
      // tick, late by under a millisecond, which the latency (from the due time) includes.
      setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
    };
    tick();
  });
  const drainMs = opts.drainMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([allDone, new Promise<void>((resolve) => { timer = setTimeout(resolve, drainMs); })]);
  clearTimeout(timer);
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  errors += total - done;
  agent.destroy();

  const sorted = Float64Array.from(latency).sort();
  const sortedLag = Float64Array.from(lag).sort();
  const q = (xs: Float64Array, p: number): number => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]!;
  return {
    offeredRate: opts.rate,
    sent: total,
    ok,
    achievedRate: ok / Math.max(opts.durationS, (lastEnd - t0) / 1000),
    p50Ms: q(sorted, 0.5),
    p90Ms: q(sorted, 0.9),
    p99Ms: q(sorted, 0.99),
    maxMs: sorted[sorted.length - 1]!,
    sendLagP99Ms: q(sortedLag, 0.99),
    non2xx,
    errors,
    cacheHeader,
    generatorCpu: (cpu.user + cpu.system) / 1000 / (wallS * 1000),
    wallS,
  };
}
