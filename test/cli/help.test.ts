// `cleave <command> --help` for every command, as real processes of bin/cleave.mjs (what
// `npx cleave` runs), a few at a time: each must exit 0 and print its usage line and examples.
// Nested subcommands (deploy workflow, bench <suite>) are checked in this process.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin/cleave.mjs');

interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

function cleave(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs every job, at most `limit` at once, keeping the order of the results. */
async function pooled<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Every command path the program defines, e.g. ['deploy', 'workflow']. */
function commandPaths(): string[][] {
  const out: string[][] = [];
  const walk = (cmd: ReturnType<typeof buildProgram>, prefix: string[]): void => {
    for (const c of cmd.commands) {
      out.push([...prefix, c.name()]);
      walk(c, [...prefix, c.name()]);
    }
  };
  walk(buildProgram(), []);
  return out;
}

describe('cleave --help everywhere (real processes)', () => {
  it('has the subcommands the issue names', () => {
    const top = commandPaths().filter((p) => p.length === 1).map((p) => p[0]);
    for (const name of ['edge', 'cloud', 'demo', 'models', 'inspect', 'quantize', 'split', 'deploy', 'bench', 'profile']) expect(top).toContain(name);
    expect(commandPaths()).toContainEqual(['deploy', 'workflow']);
  });

  it('every command exits 0 with its usage line and an example', async () => {
    const paths = [[], ...commandPaths().filter((p) => p.length === 1)];
    const runs = await pooled(paths, 4, (p) => cleave([...p, '--help']));
    runs.forEach((r, i) => {
      const p = paths[i]!;
      const what = `cleave ${p.join(' ')} --help:\n${r.stdout}${r.stderr}`;
      expect(r.code, what).toBe(0);
      expect(r.stdout, what).toContain(`Usage: cleave${p.length ? ` ${p.join(' ')}` : ''}`);
      expect(r.stdout, what).toMatch(/Examples?:\n {2}(cleave|CLEAVE_)/);
    });
  }, 120_000);

  it('every subcommand\'s help has its usage line and an example too', () => {
    // In this process: the same help text commander prints, without a process per suite.
    for (const p of commandPaths().filter((x) => x.length > 1)) {
      let cmd = buildProgram();
      for (const name of p) cmd = cmd.commands.find((c) => c.name() === name)!;
      let text = '';
      cmd.configureOutput({ writeOut: (s) => { text += s; } });
      cmd.outputHelp();
      expect(text, p.join(' ')).toContain(`Usage: cleave ${p.join(' ')}`);
      expect(text, p.join(' ')).toMatch(/Examples?:\n {2}cleave/);
    }
  });

  it('--version prints the package version; unknown commands and options suggest the closest and exit 2', async () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const [v, cmd, opt] = await Promise.all([cleave(['--version']), cleave(['modles']), cleave(['deploy', 'workflow', 'x.json', '--dry-rnu'])]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(version);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("unknown command 'modles'");
    expect(cmd.stderr).toContain('Did you mean models?');
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("unknown option '--dry-rnu'");
    expect(opt.stderr).toContain('Did you mean --dry-run?');
  }, 60_000);
});
