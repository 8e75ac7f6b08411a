/**
 * wrangler.toml environments, read by wrangler's own config reader: staging and production each
 * repeat the bindings the Worker entry reads (wrangler does not inherit bindings or vars), carry
 * CLEAVE_* vars the edge accepts and no secret, and leave the top level (`wrangler dev`, the
 * workerd tests) as it was.
 */
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { edgeSettingsFromEnv, resolveEdgeConfig } from '../../edge/config.js';
import { edgeReads, readText, ROOT } from './deploy-files.js';

/** The parts of wrangler's resolved config (wrangler's `Config`) these tests read. */
interface WranglerConfig {
  name?: string;
  main?: string;
  compatibility_date?: string;
  vars: Record<string, unknown>;
  durable_objects: { bindings: { name: string; class_name: string; script_name?: string }[] };
  kv_namespaces: { binding: string; id?: string }[];
  migrations: { tag: string; new_classes?: string[]; new_sqlite_classes?: string[] }[];
}
interface WranglerApi {
  unstable_readConfig(args: { config: string; env?: string }, options?: { hideWarnings?: boolean }): WranglerConfig;
  experimental_readRawConfig(args: { config: string }): { rawConfig: Record<string, unknown> };
}

const CONFIG = path.join(ROOT, 'wrangler.toml');
const ENVS = ['staging', 'production'] as const;
// wrangler's bundle is large (about 12 MB of JavaScript): load it once per file.
const wrangler = (await import('wrangler')) as unknown as WranglerApi;

/** Binding names of the Worker's env interface in edge/worker.ts. */
function workerBindings(): string[] {
  const src = readText('edge/worker.ts');
  const body = /interface WorkerEnv \{([\s\S]*?)\n\}/.exec(src)?.[1] ?? '';
  return [...body.matchAll(/readonly ([A-Z][A-Z0-9_]*)\??:/g)].map((m) => m[1]!);
}

/** Reads one environment, collecting what wrangler would warn about. */
function readEnv(env?: string): { config: WranglerConfig; warnings: string } {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const config = wrangler.unstable_readConfig({ config: CONFIG, ...(env ? { env } : {}) });
    return { config, warnings: [...warn.mock.calls, ...log.mock.calls].map((c) => c.map(String).join(' ')).join('\n') };
  } finally {
    warn.mockRestore();
    log.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('wrangler.toml', () => {
  const bindings = workerBindings();
  const top = readEnv().config;

  it('the Worker entry reads the Durable Object and KV bindings the top level declares (what wrangler dev runs)', () => {
    expect(bindings).toEqual(expect.arrayContaining(['CLOUD_LINK', 'WORKFLOWS']));
    // wrangler resolves main against the config's folder.
    expect(path.relative(ROOT, path.resolve(ROOT, top.main ?? ''))).toBe('edge/worker.ts');
    const declared = [...top.durable_objects.bindings.map((b) => b.name), ...top.kv_namespaces.map((k) => k.binding)];
    for (const b of bindings) expect(declared, b).toContain(b);
    const exported = [...readText('edge/worker.ts').matchAll(/export \{ (\w+) \}/g)].map((m) => m[1]);
    for (const d of top.durable_objects.bindings) expect(exported, `edge/worker.ts exports ${d.class_name}`).toContain(d.class_name);
  });

  for (const env of ENVS) {
    it(`env.${env} repeats every binding and var, and wrangler has nothing to warn about`, () => {
      const { config, warnings } = readEnv(env);
      expect(warnings).not.toMatch(/not inherited|unexpected field|invalid/i);
      const declared = [...config.durable_objects.bindings.map((b) => b.name), ...config.kv_namespaces.map((k) => k.binding)];
      for (const b of bindings) expect(declared, `${b} in env.${env}`).toContain(b);
      expect(config.durable_objects.bindings).toEqual(top.durable_objects.bindings);
      expect(config.kv_namespaces.map((k) => k.binding)).toEqual(top.kv_namespaces.map((k) => k.binding));
      expect(Object.keys(config.vars)).toEqual(expect.arrayContaining(Object.keys(top.vars)));
      // Inherited: the same Worker, the same Durable Object class migrations.
      expect(config.main).toBe(top.main);
      expect(config.compatibility_date).toBe(top.compatibility_date);
      const classes = config.migrations.flatMap((m) => [...(m.new_classes ?? []), ...(m.new_sqlite_classes ?? [])]);
      for (const d of config.durable_objects.bindings) expect(classes).toContain(d.class_name);
    });

    it(`env.${env} vars are edge settings the edge accepts, with a TLS cloud URL and no secret`, () => {
      const { config } = readEnv(env);
      const vars = Object.fromEntries(Object.entries(config.vars).map(([k, v]) => [k, String(v)]));
      for (const k of Object.keys(vars)) expect(edgeReads(k), `${k} is an edge setting`).toBe(true);
      // Tokens, link secrets and tenant keys are secrets (wrangler secret put), never vars.
      for (const k of Object.keys(vars)) expect(k).not.toMatch(/TOKEN|SECRET|API_KEYS/);
      const resolved = resolveEdgeConfig(edgeSettingsFromEnv(vars), {});
      expect(resolved.cloudUrl).toMatch(/^wss:\/\//);
    });
  }

  it('every environment deploys a Worker of its own name, none of them the top level\'s', () => {
    const names = [top.name, ...ENVS.map((e) => readEnv(e).config.name)];
    expect(new Set(names).size).toBe(names.length);
  });

  it('no token or secret value anywhere in the file, and the secret is documented', () => {
    const raw = wrangler.experimental_readRawConfig({ config: CONFIG }).rawConfig;
    const text = JSON.stringify(raw);
    expect(text).not.toMatch(/TOKEN"\s*:/);
    expect(readText('wrangler.toml')).toContain('wrangler secret put CLEAVE_CLOUD_TOKEN --env staging');
    expect(readText('docs/deploy.md')).toMatch(/wrangler secret put CLEAVE_CLOUD_TOKEN --env (staging|production)/);
  });
});
