/**
 * Closed-loop HTTP load from the bench process with autocannon: `connections` keep-alive
 * connections, each sending its next request as soon as its last one is answered, for a fixed
 * time. Latencies come from autocannon's per-response event (hrtime, sub-microsecond), not from
 * its result histogram, which records whole milliseconds and so cannot tell a 0.3 ms answer
 * from a 0.9 ms one.
 */
import autocannon from 'autocannon';
import { percentile } from './stats.js';

export interface HttpLoadOptions {
  readonly url: string;
  /** Sent with every request (POST). */
  readonly body: string;
  readonly headers?: Record<string, string>;
  readonly connections: number;
  readonly durationS: number;
}

export interface HttpLoadResult {
  /** 2xx answers. */
  readonly requests: number;
  /** 2xx answers per second of wall time. */
  readonly reqPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers with another status; a run with any is not a measurement of the happy path. */
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
}

/** Runs the load and summarises it. Rejects when autocannon does. */
export function runHttpLoad(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const latencies: number[] = [];
  let t0 = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: opts.url,
      method: 'POST',
      body: opts.body,
      headers: { 'content-type': 'application/json', ...opts.headers },
      connections: opts.connections,
      duration: opts.durationS,
    }, (err: unknown, result) => {
      if (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const elapsedS = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      resolve({
        requests: latencies.length,
        reqPerS: latencies.length / elapsedS,
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
        non2xx: result.non2xx,
        errors: result.errors,
      });
    });
    t0 = performance.now();
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}
