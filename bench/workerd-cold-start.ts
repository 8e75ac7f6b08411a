/**
 * Cold start of the edge Worker in workerd: `wrangler dev` started from nothing, timed in two
 * parts. Spawn to `Ready on` is wrangler's own start (bundling with esbuild, starting workerd);
 * Ready to the first successful answer is what a started Worker costs its first request: the
 * isolate evaluating the bundle, onnxruntime-web's wasm instantiation, the session create and
 * the first run. Only the second part is the edge's to improve.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServerProcess, type ServerProcess } from './server-process.js';

export interface ColdStartRun {
  /** Spawn of `wrangler dev` to its `Ready on` line, ms. */
  readonly spawnToReadyMs: number;
  /** `Ready on` to the first 200 answer of the inference request, ms (client side). */
  readonly readyToFirstAnswerMs: number;
  /** Requests sent until one was answered 200 (connection refusals and errors retried). */
  readonly attempts: number;
  /** The Worker's own Server-Timing total and edge (compute) segments of that answer, ms. */
  readonly serverTotalMs?: number;
  readonly serverEdgeMs?: number;
  /** The first answer's body, to check it against the Node edge. */
  readonly answer: string;
}

export interface ColdStartRequest {
  /** e.g. /v2/models/mlp-small/infer (POST). */
  readonly path: string;
  readonly body: string;
  readonly headers?: Record<string, string>;
  /** No 200 answer this long after Ready: the run fails, ms. Default 60000. */
  readonly timeoutMs?: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Starts `wrangler dev`, times it to Ready and to the first answer of the request, stops it. */
export async function measureWorkerdColdStart(req: ColdStartRequest): Promise<ColdStartRun> {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  // wrangler's CLI run with this node directly: `npx` would add npm's own start to every run.
  const cli = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
  // Fresh local state for each start: a cold start, and no clash with another wrangler in this checkout.
  const state = await mkdtemp(join(tmpdir(), 'cleave-bench-wrangler-'));
  try {
    const wrangler = await startServerProcess({
      command: process.execPath,
      args: [
        cli, 'dev', '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
        '--persist-to', join(state, 'state'), '--show-interactive-dev-session=false',
      ],
      env: { WRANGLER_SEND_METRICS: 'false' },
      cwd: ROOT,
      ready: /Ready on (http:\/\/[\w.:[\]-]+)/,
      timeoutMs: 180_000,
      group: true,
    });
    try {
      return await firstAnswer(wrangler, req);
    } finally {
      await wrangler.stop(5_000);
    }
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

/** Sends the request until it is answered 200 (the port may refuse at first); times it from Ready. */
async function firstAnswer(wrangler: ServerProcess, req: ColdStartRequest): Promise<ColdStartRun> {
  const timeoutMs = req.timeoutMs ?? 60_000;
  let attempts = 0;
  let last = '';
  while (performance.now() < wrangler.readyAt + timeoutMs) {
    attempts++;
    try {
      const res = await fetch(`${wrangler.url}${req.path}`, {
        method: 'POST', body: req.body, headers: { 'content-type': 'application/json', ...req.headers },
      });
      const answer = await res.text();
      if (res.status === 200) {
        const readyToFirstAnswerMs = performance.now() - wrangler.readyAt;
        const timing = res.headers.get('server-timing') ?? '';
        const total = /total;dur=([\d.]+)/.exec(timing)?.[1];
        const edge = /edge;dur=([\d.]+)/.exec(timing)?.[1];
        return {
          spawnToReadyMs: wrangler.readyMs, readyToFirstAnswerMs, attempts, answer,
          ...(total !== undefined ? { serverTotalMs: Number(total) } : {}),
          ...(edge !== undefined ? { serverEdgeMs: Number(edge) } : {}),
        };
      }
      last = `HTTP ${res.status}: ${answer.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`the Worker gave no 200 answer within ${timeoutMs} ms of Ready (${attempts} attempts; last: ${last})\n${wrangler.output()}`);
}
