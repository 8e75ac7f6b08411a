/**
 * Starts `cleave cloud` as a child process (a real separate server, as production runs it) and
 * waits until it is ready; used by the benches and the process-level tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CloudProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string | null>;
}

const BIN = fileURLToPath(new URL('../bin/cleave.mjs', import.meta.url));

/** Spawns `cleave cloud --port 0 <args>`; resolves when it prints `ready:`. */
export function startCloudProcess(args: readonly string[] = [], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CloudProcess> {
  const child = spawn(process.execPath, [BIN, 'cloud', '--port', '0', ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return new Promise((resolve, reject) => {
    let port = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cloud process not ready within ${opts.timeoutMs ?? 60_000} ms:\n${out}`));
    }, opts.timeoutMs ?? 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) port = Number(m[1]);
      if (port && /\nready: /.test(out)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (x: Buffer) => { out += x.toString(); });
        resolve({
          child, port,
          httpUrl: `http://127.0.0.1:${port}`,
          wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
          output: () => out,
          stop: async (graceMs = 10_000) => {
            if (child.exitCode !== null || child.signalCode !== null) return exited;
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
            const r = await exited;
            clearTimeout(t);
            return r;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`cloud process exited (${code}) before ready:\n${out}`));
    });
  });
}
