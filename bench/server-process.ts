/**
 * Starts a server as a child process and waits for the line that says it is ready, so a bench
 * measures a real separate server (its own event loop, its own CPU) and never its own process.
 * Used by `cleave bench edge` for the edge node, its hand-written baselines and `wrangler dev`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface ServerProcess {
  readonly child: ChildProcess;
  /** The URL captured by the ready pattern. */
  readonly url: string;
  /** From spawn to the ready line, ms. */
  readonly readyMs: number;
  /** `performance.now()` in this process when the ready line arrived, ms. */
  readonly readyAt: number;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM (to the whole group when started with `group`), SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string | null>;
}

export interface StartServerOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Matched against everything printed, ANSI colour codes removed; group 1 is the server's URL. */
  readonly ready: RegExp;
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Not ready by then: killed and rejected, ms. Default 60000. */
  readonly timeoutMs?: number;
  /**
   * Start it in its own process group and signal the group on stop: for launchers such as
   * wrangler, whose server (workerd) is a grandchild that would outlive a plain kill.
   */
  readonly group?: boolean;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** SIGKILLs of the servers still running. */
const live = new Set<() => void>();
let cleanupInstalled = false;

/**
 * A bench that throws, exits or is interrupted must not leave servers behind: a server in its
 * own process group (wrangler's workerd) does not get the terminal's Ctrl-C, and none gets a
 * SIGTERM sent to the bench alone. On SIGINT/SIGTERM the servers are killed and the signal is
 * raised again with the default action, so the bench still dies of it.
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = (): void => {
    for (const k of live) k();
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** Spawns the server; resolves once its output matches `ready`. */
export function startServerProcess(opts: StartServerOptions): Promise<ServerProcess> {
  const t0 = performance.now();
  const child = spawn(opts.command, [...opts.args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group ?? false,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  const pid = child.pid;
  const signal = (s: NodeJS.Signals): void => {
    try {
      if (opts.group && pid !== undefined) process.kill(-pid, s);
      else child.kill(s);
    } catch {
      // Already gone.
    }
  };
  const kill = (): void => signal('SIGKILL');
  live.add(kill);
  installCleanup();
  let out = '';
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, sig) => {
    live.delete(kill);
    resolve(code ?? sig);
  }));
  const stop = async (graceMs = 10_000): Promise<number | string | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      signal('SIGTERM');
      const t = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    }
    // The launcher may exit before its children do; whatever is left of the group goes too.
    if (opts.group) signal('SIGKILL');
    return exited;
  };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      void stop(0);
      reject(new Error(`${opts.command} ${opts.args.join(' ')}: not ready within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      // wrangler colours its output even into a pipe at times.
      const m = opts.ready.exec(out.replace(ANSI, ''));
      if (!m || settled) return;
      settled = true;
      clearTimeout(timer);
      const readyAt = performance.now();
      resolve({ child, url: m[1] ?? '', readyMs: readyAt - t0, readyAt, output: () => out, stop });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${opts.command} ${opts.args.join(' ')}: exited (${code}) before ready:\n${out}`));
    });
  });
}

/** A TCP port free on 127.0.0.1 right now (wrangler dev does not take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
