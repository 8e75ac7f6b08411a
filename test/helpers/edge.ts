/**
 * The edge node as a real separate process, on each runtime it claims to support:
 *
 *   startEdgeProcess(['--cloud', ws])  `cleave edge --port 0` on Node; resolves on its `ready:` line.
 *   startWorkerd({ CLEAVE_CLOUD_URL })   the Worker in workerd through `wrangler dev`; resolves once
 *                                        `GET /v2/health/live` answers 200.
 *
 * Both reject with everything the process printed if it exits, or is not ready in time, and
 * `stop()` ends it (SIGTERM, then SIGKILL after a grace period) and waits for the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../bench/server-process.js';
import { zooDir } from './zoo.js';

export { freePort };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin/cleave.mjs');
const WRANGLER = path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js');

/** A started edge process. */
export interface EdgeProcess {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly pid: number;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  stop(): Promise<void>;
}

/** A Worker served by `wrangler dev`. */
export interface WorkerdProcess extends EdgeProcess {
  /** `performance.now()` in this process when wrangler printed `Ready on`, ms. */
  readonly startedMs: number;
}

/** Grace between SIGTERM and SIGKILL, ms. */
const STOP_GRACE_MS = 10_000;

function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(String(child.exitCode ?? child.signalCode));
    else child.once('exit', (code, signal) => resolve(String(code ?? signal)));
  });
}

/** Strips ANSI colour codes (wrangler colours its output even into a pipe sometimes). */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

/**
 * Spawns `cleave edge --port 0 --no-log <args>` (without `--no-log` when `opts.log`) and resolves on its `ready:` line (the edge
 * models are loaded). Rejects with the process output when it exits first or is not ready
 * within `timeoutMs` (default 60000).
 */
export function startEdgeProcess(args: readonly string[] = [], opts: { env?: Record<string, string>; timeoutMs?: number; log?: boolean } = {}): Promise<EdgeProcess> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  // `log: true` keeps the JSON log lines (stderr, in output()) for tests that read them.
  const child = spawn(process.execPath, [BIN, 'edge', '--port', '0', ...(opts.log ? [] : ['--no-log']), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = exitOf(child);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`cleave edge ${why}:\n${out}`));
    };
    const timer = setTimeout(() => {
      fail(`not ready within ${timeoutMs} ms`);
      void stop();
    }, timeoutMs);
    // Listeners added after the collectors above, so `out` already holds this chunk.
    child.stdout?.on('data', () => {
      const m = /(?:^|\n)ready: (http:\/\/\S+)/.exec(out);
      if (!m || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ url: m[1]!, pid: child.pid!, output: () => out, stop });
    });
    void exited.then((code) => fail(`exited (${code}) before it was ready`));
    child.once('error', (e) => fail(`could not start: ${e.message}`));
  });
}

/**
 * Starts the Worker (wrangler.toml at the repository root) in workerd with `wrangler dev`, each
 * of `vars` passed as `--var K:V`. Resolves when `Ready on` was printed and `GET /v2/health/live`
 * answers 200, within `timeoutMs` (default 60000). wrangler starts workerd as its own child, so
 * the whole process group is signalled on stop. Local state (Durable Objects) goes to a fresh
 * temporary folder, removed on stop, so runs beside each other do not share it.
 */
export async function startWorkerd(vars: Readonly<Record<string, string>> = {}, opts: { timeoutMs?: number } = {}): Promise<WorkerdProcess> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  // The Worker bundles the zoo's edge models from models/: make sure they are current first.
  await zooDir();
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const state = await mkdtemp(path.join(tmpdir(), 'cleave-wrangler-'));
  const args = [
    WRANGLER, 'dev', '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
    '--persist-to', path.join(state, 'state'), '--show-interactive-dev-session=false',
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG_PATH: path.join(state, 'logs'), NO_COLOR: '1', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = exitOf(child);
  const pid = child.pid!;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      signalGroup('SIGTERM');
      const t = setTimeout(() => signalGroup('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(t);
      // wrangler may exit before its workerd child: make sure nothing of the group is left.
      signalGroup('SIGKILL');
      await rm(state, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = performance.now() + timeoutMs;
  let dead: string | undefined;
  void exited.then((code) => { dead = code; });
  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`wrangler dev ${why}:\n${plain(out)}`);
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  let startedMs: number | undefined;
  while (startedMs === undefined) {
    if (dead !== undefined) return fail(`exited (${dead}) before it was ready`);
    if (performance.now() > deadline) return fail(`printed no "Ready on" within ${timeoutMs} ms`);
    if (/Ready on http:\/\//.test(plain(out))) startedMs = performance.now();
    else await sleep(20);
  }
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (dead !== undefined) return fail(`exited (${dead}) before /v2/health/live answered`);
    if (performance.now() > deadline) return fail(`/v2/health/live did not answer 200 within ${timeoutMs} ms`);
    try {
      const res = await fetch(`${url}/v2/health/live`, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  return { url, pid, startedMs, output: () => plain(out), stop };
}
