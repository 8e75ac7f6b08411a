import { describe, expect, it } from 'vitest';
import { checkListPrefix, checkObjectName, isObjectName, type ModelStore } from '../../../shared/plugins/model-store.js';
import { PluginRegistry, storeProtocolOf, type ModelStoreFactory } from '../../../shared/plugins/registry.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

function fakeStore(protocol: string, location: string): ModelStore {
  return {
    list: async () => [],
    get: async () => new Uint8Array(0),
    put: async () => undefined,
    describe: () => ({ protocol, location, readOnly: false }),
  };
}

const factory = (protocol: string): ModelStoreFactory => (location) => fakeStore(protocol, location);

describe('model store object names', () => {
  it.each([
    'mlp-small/1/model.onnx', 'config.json', 'a/b', 'A_b-c.9', `${'a'.repeat(255)}`,
  ])('accepts %s', (name) => {
    expect(isObjectName(name)).toBe(true);
    expect(() => checkObjectName(name)).not.toThrow();
  });

  it.each([
    ['', /empty/], ['../etc/passwd', /"\.\." segment/], ['a/../../b', /"\.\." segment/], ['/etc/passwd', /absolute/],
    ['a//b', /empty segment/], ['a/./b', /"\." segment/], ['.hidden', /starts with "\."/], ['a\\b', /character outside/],
    ['C:/x', /character outside/], ['a\u0000b', /character outside/], ['caf\u00e9', /character outside/], ['a b', /character outside/],
    ['x'.repeat(256), /a segment has 256 characters/], [Array.from({ length: 33 }, () => 'a').join('/'), /33 segments/],
    [`${'abcdefgh/'.repeat(120)}x`, /characters/],
  ])('refuses %j with CLEAVE_E_BAD_ARGUMENT naming the value and the rule', (name, why) => {
    const e = cleaveErrorOf(() => checkObjectName(name));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain(JSON.stringify(name).slice(0, 40));
    expect(e.message).toMatch(why);
    expect(e.message).toMatch(/expected 1 to 32 "\/"-separated segments/);
  });

  it('list prefixes may be partial names or end in /', () => {
    for (const p of ['', 'mlp', 'mlp-small/', 'mlp-small/1/']) expect(() => checkListPrefix(p)).not.toThrow();
    for (const p of ['../', '/abs', 'a//']) expect(cleaveErrorOf(() => checkListPrefix(p)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });
});

describe('PluginRegistry', () => {
  it.each([
    ['/srv/models', 'fs'], ['./models', 'fs'], ['models', 'fs'], ['C:\\models', 'fs'], ['D:/models', 'fs'],
    ['file:///srv/models', 'fs'], ['s3://bucket/prefix', 's3'], ['S3://bucket', 's3'], ['https://host/m', 'http'],
    ['http://host/m', 'http'], ['gs://bucket', 'gs'], ['my+proto://x', 'my+proto'],
  ])('location %s selects protocol %s', (location, protocol) => {
    expect(storeProtocolOf(location)).toBe(protocol);
  });

  it('picks the factory by scheme and hands it the location and context', async () => {
    const r = new PluginRegistry();
    const seen: unknown[] = [];
    r.registerModelStore('fs', factory('fs'));
    r.registerModelStore('s3', (location, ctx) => {
      seen.push([location, ctx.env.AWS_REGION]);
      return fakeStore('s3', location);
    });
    expect((await r.modelStoreFor('./models')).describe().protocol).toBe('fs');
    expect((await r.modelStoreFor('s3://b/p', { env: { AWS_REGION: 'eu-west-1' } })).describe().location).toBe('s3://b/p');
    expect(seen).toEqual([['s3://b/p', 'eu-west-1']]);
    expect(r.modelStores().map((x) => `${x.protocol}:${x.origin}`)).toEqual(['fs:built-in', 's3:built-in']);
  });

  it('an unknown protocol names the setting, the value and the protocols known', async () => {
    const r = new PluginRegistry();
    r.registerModelStore('fs', factory('fs'));
    r.registerModelStore('s3', factory('s3'));
    const e = await r.modelStoreFor('gs://bucket/x').catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', detail: { setting: 'modelStore', protocol: 'gs' } });
    expect((e as Error).message).toMatch(/modelStore = "gs:\/\/bucket\/x".*protocol "gs".*expected one of: fs, s3/);
    const blank = await r.modelStoreFor('  ').catch((x: unknown) => x);
    expect(blank).toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
  });

  it('a protocol has one owner: a second registration names both origins', () => {
    const r = new PluginRegistry();
    r.registerModelStore('s3', factory('s3'));
    const e = cleaveErrorOf(() => r.registerModelStore('S3', factory('s3'), 'evil-store@1.0.0'));
    expect(e.code).toBe('CLEAVE_E_PLUGIN_INVALID');
    expect(e.message).toMatch(/evil-store@1\.0\.0.*"s3" is already served by built-in/);
  });

  it('a factory that returns something other than a store is refused naming the plugin and the missing methods', async () => {
    const r = new PluginRegistry();
    r.registerModelStore('odd', (() => ({ list: async () => [] })) as unknown as ModelStoreFactory, 'odd-store@0.1.0');
    const e = await r.modelStoreFor('odd://x').catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CLEAVE_E_PLUGIN_INVALID' });
    expect((e as Error).message).toMatch(/odd-store@0\.1\.0.*lacks get, put, describe/);
  });
});
