import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOUD_CONFIG_KEYS, EDGE_CONFIG_KEYS, configPath, loadConfigFile, loadConfigOption, parseConfigText } from '../../cli/config-file.js';
import { resolveCloudLayers, resolveEdgeLayers, settingSource } from '../../cli/config-layers.js';
import { CleaveError } from '../../shared/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The CleaveError `fn` throws (fails the test when it does not). */
function thrown(fn: () => unknown): CleaveError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CleaveError);
    return e as CleaveError;
  }
  throw new Error('expected a CleaveError');
}

function parseConfigTextError(text: string): string {
  return thrown(() => parseConfigText(text, 'c.yaml')).message;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cleave-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('config file: reading', () => {
  it('reads YAML sections, turning numbers and booleans into the settings\' string forms', () => {
    const f = parseConfigText('edge:\n  port: 9100\n  cacheBytes: 32MiB\n  warm: false\ncloud:\n  maxBatchSize: 16\n  tokens: [edge-a, edge-b]\n  batching: off\n', 'c.yaml');
    expect(f.edge).toEqual({ port: '9100', cacheBytes: '32MiB', warm: false });
    expect(f.cloud).toEqual({ maxBatchSize: '16', tokens: 'edge-a,edge-b', batching: 'off' });
  });

  it('reads JSON for a .json path, and an empty file as no settings', () => {
    expect(parseConfigText('{"edge":{"host":"0.0.0.0","cacheTtlMs":0}}', 'c.json').edge).toEqual({ host: '0.0.0.0', cacheTtlMs: '0' });
    expect(parseConfigText('', 'c.yaml')).toMatchObject({ edge: {}, cloud: {} });
  });

  it('names the file, the key path and every allowed key for an unknown key', () => {
    const e = thrown(() => parseConfigText('edge:\n  prot: 1\n', 'cleave.yaml'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('config file "cleave.yaml"');
    expect(e.message).toContain('unknown key edge.prot (did you mean edge.port?)');
    expect(parseConfigTextError('cloud:\n  maxbatchsize: 4\n')).toContain('(did you mean cloud.maxBatchSize?)');
    expect(parseConfigTextError('cloud:\n  zzz: 4\n')).not.toContain('did you mean');
    for (const k of Object.keys(EDGE_CONFIG_KEYS)) expect(e.message).toContain(k);
    // Object.prototype's names are not keys either.
    expect(thrown(() => parseConfigText('cloud:\n  toString: 1\n', 'c.yaml')).message).toContain('unknown key cloud.toString');
  });

  it('names the allowed sections for an unknown one', () => {
    const e = thrown(() => parseConfigText('edges:\n  port: 1\n', 'c.yaml'));
    expect(e.message).toMatch(/unknown section "edges" \(did you mean "edge"\?\); allowed sections: edge, cloud/);
  });

  it('names the key, the value and what is allowed for a value of the wrong type', () => {
    const e = thrown(() => parseConfigText('edge:\n  host: [a, b]\n', 'c.yaml'));
    expect(e.message).toBe('config file "c.yaml": edge.host = a list ["a","b"] is not valid; expected a string');
    expect(thrown(() => parseConfigText('cloud:\n  warm: 1\n', 'c.yaml')).message).toContain('unknown key cloud.warm');
    expect(thrown(() => parseConfigText('cloud:\n  batching: {a: 1}\n', 'c.yaml')).message).toContain('cloud.batching = a mapping {"a":1} is not valid; expected true or false');
    expect(thrown(() => parseConfigText('cloud:\n  tokens: [a, 3]\n', 'c.yaml')).message).toContain('cloud.tokens = a list ["a",3] is not valid');
    expect(thrown(() => parseConfigText('edge: 3\n', 'c.yaml')).message).toContain('edge = 3 is not valid; expected a mapping of settings');
  });

  it('reports a YAML syntax error with its line, and a missing file as NOT_FOUND', async () => {
    const e = thrown(() => parseConfigText('edge:\n  port: [1\n  host: x\n', 'bad.yaml'));
    expect(e.message).toMatch(/config file "bad.yaml" is not valid YAML: .*line \d+/s);
    const missing = path.join(dir, 'nope.yaml');
    await expect(loadConfigFile(missing)).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringContaining(missing) });
  });

  it('takes --config over CLEAVE_CONFIG, and neither means no file', async () => {
    expect(configPath('a.yaml', { CLEAVE_CONFIG: 'b.yaml' })).toBe('a.yaml');
    expect(configPath(undefined, { CLEAVE_CONFIG: 'b.yaml' })).toBe('b.yaml');
    expect(configPath(undefined, { CLEAVE_CONFIG: '' })).toBeUndefined();
    const file = path.join(dir, 'env.yaml');
    await writeFile(file, 'edge:\n  port: 7001\n');
    expect((await loadConfigOption(undefined, { CLEAVE_CONFIG: file }))?.edge).toEqual({ port: '7001' });
    expect(await loadConfigOption(undefined, {})).toBeUndefined();
  });

  it('lists every key of the settings interfaces (the type check holds the list complete)', () => {
    expect(Object.keys(EDGE_CONFIG_KEYS)).toContain('cloudUrl');
    expect(Object.keys(CLOUD_CONFIG_KEYS)).toContain('memoryBudgetBytes');
  });
});

describe('config layers: defaults < file < env < flags', () => {
  const file = parseConfigText('edge:\n  port: 9100\n  cacheBytes: 32MiB\n  cacheTtlMs: 5000\n  host: 0.0.0.0\ncloud:\n  maxBatchSize: 16\n  maxStreams: 64\n  drainTimeoutMs: 100\n', 'layers.yaml');

  it('edge: the file beats the defaults, env beats the file, a flag beats env', () => {
    // Only the file.
    let c = resolveEdgeLayers({ file, env: {}, flags: {} });
    expect([c.port, c.cacheBytes, c.cacheTtlMs, c.host]).toEqual([9100, 32 * 1024 * 1024, 5000, '0.0.0.0']);
    // env over file for port and cacheBytes; cacheTtlMs still from the file.
    const env = { CLEAVE_PORT: '9200', CLEAVE_CACHE_BYTES: '1MiB' };
    c = resolveEdgeLayers({ file, env, flags: {} });
    expect([c.port, c.cacheBytes, c.cacheTtlMs]).toEqual([9200, 1024 * 1024, 5000]);
    // Flags over env; an undefined flag is "not given".
    c = resolveEdgeLayers({ file, env, flags: { port: '9300', cacheBytes: undefined, cacheTtlMs: '7' } });
    expect([c.port, c.cacheBytes, c.cacheTtlMs]).toEqual([9300, 1024 * 1024, 7]);
    // No file: the defaults.
    c = resolveEdgeLayers({ env: {}, flags: {} });
    expect([c.port, c.host]).toEqual([8787, '127.0.0.1']);
  });

  it('cloud: the same order for maxBatchSize and maxStreams', () => {
    expect(resolveCloudLayers({ file, env: {}, flags: {} })).toMatchObject({ maxBatchSize: 16, maxStreams: 64, drainTimeoutMs: 100 });
    expect(resolveCloudLayers({ file, env: { CLEAVE_MAX_BATCH_SIZE: '8', CLEAVE_MAX_STREAMS: '32' }, flags: {} })).toMatchObject({ maxBatchSize: 8, maxStreams: 32, drainTimeoutMs: 100 });
    expect(resolveCloudLayers({ file, env: { CLEAVE_MAX_BATCH_SIZE: '8' }, flags: { maxBatchSize: '4', maxStreams: '2' } })).toMatchObject({ maxBatchSize: 4, maxStreams: 2 });
  });

  it('says which layer a value comes from', () => {
    expect(settingSource('port', { port: '1' }, { port: '2' }, { port: '3' })).toBe('flag');
    expect(settingSource('port', { port: '1' }, { port: '2' }, { port: undefined })).toBe('env');
    expect(settingSource('port', { port: '1' }, {}, {})).toBe('file');
    expect(settingSource('port', {}, {}, {})).toBe('default');
  });

  it('puts the file path and key in the validator\'s message when the file\'s value is wrong', () => {
    const bad = parseConfigText('edge:\n  port: 70000\n  backend: tensorflow\n', 'bad-values.yaml');
    const e = thrown(() => resolveEdgeLayers({ file: bad, env: {}, flags: {} }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toMatch(/^config file "bad-values.yaml": edge\.backend: setting backend = "tensorflow" is not valid; expected auto, onnxruntime-node or onnxruntime-web/);
    expect(e.detail).toMatchObject({ file: 'bad-values.yaml', key: 'edge.backend' });
    // Fixed by a flag: the file's bad value is not used, and the next one is reported.
    const e2 = thrown(() => resolveEdgeLayers({ file: bad, env: {}, flags: { backend: 'auto' } }));
    expect(e2.message).toContain('edge.port: setting port = "70000" is not valid; expected an integer from 0 to 65535');
    const cloudBad = parseConfigText('cloud:\n  memoryBudgetBytes: lots\n', 'c.yaml');
    expect(thrown(() => resolveCloudLayers({ file: cloudBad, env: {}, flags: {} })).message).toContain('config file "c.yaml": cloud.memoryBudgetBytes: setting memoryBudgetBytes = "lots"');
  });

  it('leaves the file out of the message when the bad value came from env', () => {
    const e = thrown(() => resolveEdgeLayers({ file, env: { CLEAVE_PORT: 'http' }, flags: {} }));
    expect(e.message).toBe('setting port = "http" is not valid; expected an integer from 0 to 65535');
  });
});

describe('cleave edge --config (a real process)', () => {
  it('exits 2 with the file, key, value and what is allowed, before starting anything', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'edge:\n  cacheTtlMs: soon\n');
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/cleave.mjs'), 'edge', '--config', bad, '--port', '0', '--no-log'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    expect(code, out).toBe(2);
    expect(out).toContain(`error CLEAVE_E_BAD_ARGUMENT: config file "${bad}": edge.cacheTtlMs: setting cacheTtlMs = "soon" is not valid; expected an integer from 0 to 86400000`);
    expect(out).not.toContain('listening');
  }, 40_000);
});
