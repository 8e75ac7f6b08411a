// Real plugin folders on disk (manifest + .mjs entry), loaded with the real loader.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodePluginRegistry } from '../../../cloud/plugins/node-model-stores.js';
import { findPluginFolders, loadPlugin, loadPlugins } from '../../../cloud/plugins/plugin-loader.js';
import type { CleaveError } from '../../../shared/errors.js';
import { PluginRegistry } from '../../../shared/plugins/registry.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cleave-plugins-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A working in-memory model store plugin: `mem://<name>` locations. */
const MEM_STORE = `
const stores = new Map();
export function createModelStore(location, context) {
  const objects = stores.get(location) ?? new Map();
  stores.set(location, objects);
  return {
    async list(prefix = '') {
      return [...objects].filter(([n]) => n.startsWith(prefix)).map(([name, b]) => ({ name, bytes: b.byteLength }));
    },
    async get(name) {
      const b = objects.get(name);
      if (!b) throw new Error('no such object ' + name);
      return b;
    },
    async put(name, bytes) { objects.set(name, bytes); },
    describe() { return { protocol: 'mem', location, readOnly: false, region: context.env.MEM_REGION }; },
  };
}
export const notAFunction = 1;
`;

async function writePlugin(dir: string, manifest: unknown, files: Record<string, string> = { 'index.mjs': MEM_STORE }): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'cleave-plugin.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

const memManifest = { name: 'cleave-store-mem', version: '1.0.0', entry: 'index.mjs', implements: [{ interface: 'model-store', protocols: ['mem'] }] };

async function loadError(dir: string, registry = new PluginRegistry()): Promise<CleaveError> {
  return loadPlugin(dir, registry).then(() => { throw new Error('loaded'); }, (e: CleaveError) => e);
}

describe('plugin loader', () => {
  it('loads a plugin folder, registers its protocols, and the store it makes works behind the guard', async () => {
    const dir = await writePlugin(path.join(await tempDir(), 'mem'), memManifest);
    const { registry, plugins } = await nodePluginRegistry({ pluginDirs: [dir], env: {} });
    expect(plugins.map((p) => `${p.manifest.name}@${p.manifest.version}`)).toEqual(['cleave-store-mem@1.0.0']);
    expect(registry.modelStores().map((r) => `${r.protocol}:${r.origin}`)).toEqual(['fs:built-in', 'mem:cleave-store-mem@1.0.0', 's3:built-in']);
    const store = await registry.modelStoreFor('mem://one', { env: {} });
    await store.put('m/1/model.onnx', new Uint8Array([1, 2, 3]));
    expect(await store.list()).toEqual([{ name: 'm/1/model.onnx', bytes: 3 }]);
    expect([...await store.get('m/1/model.onnx')]).toEqual([1, 2, 3]);
    // Names are checked before plugin code sees them; plugin errors come back coded.
    await expect(store.get('../x')).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await expect(store.get('absent')).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringMatching(/plugin cleave-store-mem@1\.0\.0: model store get\("absent"\) failed: no such object absent/) });
  });

  it('finds plugins one level down in a folder of plugins, in name order', async () => {
    const root = await tempDir();
    await writePlugin(path.join(root, 'b-plugin'), { ...memManifest, name: 'b', implements: [{ interface: 'model-store', protocols: ['memb'] }] });
    await writePlugin(path.join(root, 'a-plugin'), { ...memManifest, name: 'a', implements: [{ interface: 'model-store', protocols: ['mema'] }] });
    await mkdir(path.join(root, 'not-a-plugin'));
    expect((await findPluginFolders(root)).map((d) => path.basename(d))).toEqual(['a-plugin', 'b-plugin']);
    const registry = new PluginRegistry();
    expect((await loadPlugins([root], registry)).map((p) => p.manifest.name)).toEqual(['a', 'b']);
    expect(registry.hasModelStore('mema') && registry.hasModelStore('memb')).toBe(true);
  });

  it('a bad manifest is refused naming the file, the key and the value, and registers nothing', async () => {
    const dir = await writePlugin(path.join(await tempDir(), 'bad'), { ...memManifest, version: 'latest', implements: [{ interface: 'model-store', protocols: ['Mem!'] }] });
    const registry = new PluginRegistry();
    const e = await loadError(dir, registry);
    expect(e.code).toBe('CLEAVE_E_PLUGIN_INVALID');
    expect(e.message).toContain(path.join(dir, 'cleave-plugin.json'));
    expect(e.message).toMatch(/version = "latest": expected a semantic version/);
    expect(e.message).toMatch(/implements\[0\]\.protocols\[0\] = "Mem!": expected a lowercase URL scheme/);
    expect(registry.modelStores()).toEqual([]);
  });

  it('refuses manifests that are not JSON', async () => {
    const e = await loadError(await writePlugin(path.join(await tempDir(), 'p'), '{ name: cleave }'));
    expect(e.code).toBe('CLEAVE_E_PLUGIN_INVALID');
    expect(e.message).toMatch(/expected JSON/);
  });

  it('refuses an entry that is missing, or that a symlink leads out of the plugin folder', async () => {
    const base = await tempDir();
    const missing = await loadError(await writePlugin(path.join(base, 'missing'), { ...memManifest, entry: 'dist/index.mjs' }));
    expect(missing.message).toMatch(/entry = "dist\/index\.mjs": expected a module file in .*does not exist/);
    await writeFile(path.join(base, 'outside.mjs'), MEM_STORE);
    const escaping = await writePlugin(path.join(base, 'escaping'), { ...memManifest, entry: 'index.mjs' }, {});
    await symlink(path.join(base, 'outside.mjs'), path.join(escaping, 'index.mjs'));
    const e = await loadError(escaping);
    expect(e.code).toBe('CLEAVE_E_PLUGIN_INVALID');
    expect(e.message).toMatch(/entry = "index\.mjs": expected a file inside the plugin folder .*outside\.mjs/);
  });

  it('refuses a module that does not export the factory the manifest claims, listing what it does export', async () => {
    const dir = await writePlugin(path.join(await tempDir(), 'p'), { ...memManifest, implements: [{ interface: 'model-store', protocols: ['mem'], export: 'notAFunction' }] });
    const e = await loadError(dir);
    expect(e.message).toMatch(/implements\[0\]\.export = "notAFunction": expected .*index\.mjs to export a function "notAFunction" for interface model-store; its exported functions: createModelStore/);
  });

  it('refuses a module that throws on import, naming the entry and the error', async () => {
    const dir = await writePlugin(path.join(await tempDir(), 'p'), memManifest, { 'index.mjs': 'throw new Error("plugin exploded");' });
    const e = await loadError(dir);
    expect(e.message).toMatch(/entry = "index\.mjs": cannot import .*plugin exploded/);
  });

  it('a plugin cannot take a built-in protocol, and two plugins cannot share a name', async () => {
    const base = await tempDir();
    const s3 = await writePlugin(path.join(base, 's3'), { ...memManifest, implements: [{ interface: 'model-store', protocols: ['mem2', 's3'] }] });
    const e = await nodePluginRegistry({ pluginDirs: [s3], env: {} }).catch((x: CleaveError) => x) as CleaveError;
    expect(e.code).toBe('CLEAVE_E_PLUGIN_INVALID');
    expect(e.message).toMatch(/implements\[0\]\.protocols\[1\] = "s3": protocol "s3" is already served by built-in/);
    const one = await writePlugin(path.join(base, 'one'), memManifest);
    const two = await writePlugin(path.join(base, 'two'), { ...memManifest, implements: [{ interface: 'model-store', protocols: ['other'] }] });
    const twin = await loadPlugins([one, two], new PluginRegistry()).catch((x: CleaveError) => x) as CleaveError;
    expect(twin.message).toMatch(/name = "cleave-store-mem": a plugin of that name is already loaded from/);
  });

  it('a pluginDirs entry that is not a folder, or holds no plugin, names the setting', async () => {
    const base = await tempDir();
    await expect(loadPlugins([path.join(base, 'nope')], new PluginRegistry())).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', detail: { setting: 'pluginDirs' } });
    await expect(loadPlugins([base], new PluginRegistry())).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringMatching(/holds a cleave-plugin\.json/) });
  });
});
