// Edge settings: defaults < CLEAVE_* environment < flags, each value validated with a message
// that names the setting and the value.
import { describe, expect, it } from 'vitest';
import { DEFAULT_EDGE_CONFIG, edgeSettingsFromEnv, resolveEdgeConfig, type RawEdgeSettings } from '../../edge/config.js';
import { cleaveErrorOf } from '../helpers/errors.js';

describe('resolveEdgeConfig', () => {
  it('with nothing set is the documented defaults', () => {
    const c = resolveEdgeConfig({});
    expect(c).toEqual(DEFAULT_EDGE_CONFIG);
    expect(c).toEqual({
      port: 8787, host: '127.0.0.1', backend: 'auto',
      cacheBytes: 64 * 1024 * 1024, cacheTtlMs: 60_000, maxBodyBytes: 16 * 1024 * 1024,
      defaultDeadlineMs: 30_000, maxDeadlineMs: 300_000, warm: true, log: true, emulateSlowdown: 1, corsOrigins: [],
    });
    expect('cloudUrl' in c).toBe(false);
    expect('cloudToken' in c).toBe(false);
    expect('models' in c).toBe(false);
  });

  it('reads every setting', () => {
    const c = resolveEdgeConfig({
      port: '0', host: '0.0.0.0', cloudUrl: 'wss://cloud.example:9000/v1/ws', cloudToken: 's3cret', models: '/srv/models',
      backend: 'onnxruntime-web', cacheBytes: '8MiB', cacheTtlMs: '0', maxBodyBytes: '1048576',
      defaultDeadlineMs: '500', maxDeadlineMs: '2000', warm: 'off', log: 'no', workflowsDir: '/srv/workflows', emulateSlowdown: '4', corsOrigins: 'https://a.example.com, http://localhost:5173',
    });
    expect(c).toEqual({
      port: 0, host: '0.0.0.0', cloudUrl: 'wss://cloud.example:9000/v1/ws', cloudToken: 's3cret', models: '/srv/models',
      backend: 'onnxruntime-web', cacheBytes: 8 * 1024 * 1024, cacheTtlMs: 0, maxBodyBytes: 1_048_576,
      defaultDeadlineMs: 500, maxDeadlineMs: 2000, warm: false, log: false, workflowsDir: '/srv/workflows', emulateSlowdown: 4, corsOrigins: ['https://a.example.com', 'http://localhost:5173'],
    });
  });

  it('refuses an emulated slowdown below 1, naming the setting', () => {
    expect(() => resolveEdgeConfig({ emulateSlowdown: '0' })).toThrow(/emulateSlowdown/);
    expect(() => resolveEdgeConfig({ corsOrigins: 'https://a.example.com/' })).toThrow(/corsOrigins.*"https:\/\/a.example.com\/" is not an origin/);
    expect(() => resolveEdgeConfig({ corsOrigins: '*,https://a.example.com' })).toThrow(/cannot be mixed/);
  });

  it('flags win over the environment; unset flags leave the environment alone', () => {
    const env: RawEdgeSettings = { port: '9000', host: '10.0.0.1', cacheBytes: '1MB', warm: 'on' };
    const c = resolveEdgeConfig(env, { port: '9100', cacheBytes: '2MB', host: undefined, warm: false });
    expect(c).toMatchObject({ port: 9100, host: '10.0.0.1', cacheBytes: 2_000_000, warm: false });
    // The inputs are not modified.
    expect(env).toEqual({ port: '9000', host: '10.0.0.1', cacheBytes: '1MB', warm: 'on' });
  });

  it('byte settings take units', () => {
    expect(resolveEdgeConfig({ cacheBytes: '64MiB', maxBodyBytes: '2 kb' })).toMatchObject({ cacheBytes: 64 * 1024 ** 2, maxBodyBytes: 2000 });
    expect(resolveEdgeConfig({ cacheBytes: '1.5GiB' }).cacheBytes).toBe(1.5 * 1024 ** 3);
  });

  it('a lower maxDeadlineMs pulls the default budget down with it', () => {
    expect(resolveEdgeConfig({ maxDeadlineMs: '10000' })).toMatchObject({ maxDeadlineMs: 10_000, defaultDeadlineMs: 10_000 });
  });

  const invalid: { name: string; raw: RawEdgeSettings; setting: string; value: string }[] = [
    { name: 'port 70000', raw: { port: '70000' }, setting: 'port', value: '70000' },
    { name: 'port -1', raw: { port: '-1' }, setting: 'port', value: '-1' },
    { name: 'port eighty', raw: { port: 'eighty' }, setting: 'port', value: 'eighty' },
    { name: "backend 'gpu'", raw: { backend: 'gpu' }, setting: 'backend', value: 'gpu' },
    { name: "cloudUrl 'http://x'", raw: { cloudUrl: 'http://x' }, setting: 'cloudUrl', value: 'http://x' },
    { name: "cloudUrl 'ws://'", raw: { cloudUrl: 'ws://' }, setting: 'cloudUrl', value: 'ws://' },
    { name: "cacheBytes '12 parsecs'", raw: { cacheBytes: '12 parsecs' }, setting: 'cacheBytes', value: '12 parsecs' },
    { name: "maxBodyBytes '-5'", raw: { maxBodyBytes: '-5' }, setting: 'maxBodyBytes', value: '-5' },
    { name: "maxBodyBytes '0'", raw: { maxBodyBytes: '0' }, setting: 'maxBodyBytes', value: '0' },
    { name: "cacheBytes '0'", raw: { cacheBytes: '0' }, setting: 'cacheBytes', value: '0' },
    { name: "cacheBytes '0.1'", raw: { cacheBytes: '0.1' }, setting: 'cacheBytes', value: '0.1' },
    { name: 'cacheTtlMs 1.5', raw: { cacheTtlMs: '1.5' }, setting: 'cacheTtlMs', value: '1.5' },
    { name: 'maxDeadlineMs 0', raw: { maxDeadlineMs: '0' }, setting: 'maxDeadlineMs', value: '0' },
    { name: 'defaultDeadlineMs > maxDeadlineMs', raw: { defaultDeadlineMs: '5000', maxDeadlineMs: '1000' }, setting: 'defaultDeadlineMs', value: '5000' },
    { name: 'warm maybe', raw: { warm: 'maybe' }, setting: 'warm', value: 'maybe' },
    { name: 'log sometimes', raw: { log: 'sometimes' }, setting: 'log', value: 'sometimes' },
  ];
  for (const c of invalid) {
    it(`${c.name} is CLEAVE_E_BAD_ARGUMENT naming the setting and the value`, () => {
      const e = cleaveErrorOf(() => resolveEdgeConfig(c.raw));
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.message).toContain(`setting ${c.setting} = `);
      expect(e.message).toContain(c.value);
      expect(e.detail).toEqual({ setting: c.setting });
    });
  }

  it('an invalid flag is reported even when the environment is valid', () => {
    const e = cleaveErrorOf(() => resolveEdgeConfig({ port: '8000' }, { port: '99999' }));
    expect(e.message).toContain('99999');
    expect(e.message).toContain('port');
  });

  it('defaultDeadlineMs > maxDeadlineMs names the limit it broke', () => {
    const e = cleaveErrorOf(() => resolveEdgeConfig({ defaultDeadlineMs: '5000' }, { maxDeadlineMs: '1000' }));
    expect(e.message).toContain('maxDeadlineMs (1000)');
  });
});

describe('edgeSettingsFromEnv', () => {
  it('maps CLEAVE_* variables to settings', () => {
    const raw = edgeSettingsFromEnv({
      CLEAVE_PORT: '9001', CLEAVE_HOST: '::1', CLEAVE_CLOUD_URL: 'ws://c:1/v1/ws', CLEAVE_CLOUD_TOKEN: 't', CLEAVE_MODELS: './m',
      CLEAVE_BACKEND: 'onnxruntime-node', CLEAVE_CACHE_BYTES: '1MiB', CLEAVE_CACHE_TTL_MS: '5', CLEAVE_MAX_BODY_BYTES: '9',
      CLEAVE_DEFAULT_DEADLINE_MS: '7', CLEAVE_MAX_DEADLINE_MS: '8', CLEAVE_WARM: 'off', CLEAVE_LOG: 'off',
      PATH: '/usr/bin', CLEAVE_UNKNOWN: 'x',
    });
    expect(raw).toEqual({
      port: '9001', host: '::1', cloudUrl: 'ws://c:1/v1/ws', cloudToken: 't', models: './m', backend: 'onnxruntime-node',
      cacheBytes: '1MiB', cacheTtlMs: '5', maxBodyBytes: '9', defaultDeadlineMs: '7', maxDeadlineMs: '8', warm: 'off', log: 'off',
    });
    expect(resolveEdgeConfig(raw)).toMatchObject({ port: 9001, cacheBytes: 1024 * 1024, warm: false, log: false });
  });

  it('ignores values that are not strings, and empty strings', () => {
    // A Worker's env also holds bindings (Durable Object namespaces, KV) and numbers from [vars].
    const raw = edgeSettingsFromEnv({
      CLEAVE_PORT: 9001, CLEAVE_HOST: '', CLEAVE_WARM: true, CLEAVE_CLOUD_URL: { idFromName: () => 1 }, CLEAVE_LOG: undefined, CLEAVE_MODELS: null,
      CLEAVE_BACKEND: 'auto',
    });
    expect(raw).toEqual({ backend: 'auto' });
    expect(resolveEdgeConfig(raw)).toEqual(DEFAULT_EDGE_CONFIG);
  });
});
