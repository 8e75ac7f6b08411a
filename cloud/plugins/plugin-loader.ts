/**
 * Loads plugins from folders (setting `pluginDirs`). Each configured folder is either a plugin
 * itself (it holds `cleave-plugin.json`) or a folder of plugins (each subfolder that holds one;
 * others are ignored). For each plugin: the manifest is read (bounded) and validated, its entry
 * must resolve, symlinks included, to a file inside the plugin's folder, it is imported with
 * `import()` of a file URL (code runs as any dependency would; nothing is evaluated from text),
 * the module must export a function for every interface the manifest claims, and only then is
 * anything registered, all protocols or none. Errors are CLEAVE_E_PLUGIN_INVALID naming the
 * manifest file, the key and the value. Node only.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CleaveError } from '../../shared/errors.js';
import { guardModelStore } from '../../shared/plugins/guarded-model-store.js';
import {
  MAX_MANIFEST_BYTES, parsePluginManifestText, PLUGIN_MANIFEST_FILE, pluginInvalid, shortJson, type PluginManifest, type PluginProblem,
} from '../../shared/plugins/manifest.js';
import type { ModelStore } from '../../shared/plugins/model-store.js';
import type { ModelStoreContext, PluginRegistry } from '../../shared/plugins/registry.js';

/** A plugin that loaded and registered. */
export interface LoadedPlugin {
  readonly manifest: PluginManifest;
  /** The plugin's folder (absolute). */
  readonly dir: string;
  readonly manifestFile: string;
  /** Real path of the imported module. */
  readonly entryFile: string;
}

type Factory = (location: string, context: ModelStoreContext) => ModelStore | Promise<ModelStore>;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/**
 * The plugin folders under one configured folder, sorted by name. Throws CLEAVE_E_BAD_ARGUMENT
 * naming the setting when `dir` is not a folder or holds no plugin at all (a typo, most likely).
 */
export async function findPluginFolders(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const s = await stat(root).catch(() => undefined);
  if (!s?.isDirectory()) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `setting pluginDirs = ${JSON.stringify(dir)} is not valid: ${root} is not a folder; expected a plugin folder (with ${PLUGIN_MANIFEST_FILE}) or a folder of them`, { setting: 'pluginDirs' });
  }
  if (await isFile(path.join(root, PLUGIN_MANIFEST_FILE))) return [root];
  const out: string[] = [];
  const names = (await readdir(root)).filter((n) => !n.startsWith('.')).sort();
  for (const n of names) {
    if (await isFile(path.join(root, n, PLUGIN_MANIFEST_FILE))) out.push(path.join(root, n));
  }
  if (out.length === 0) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `setting pluginDirs = ${JSON.stringify(dir)} is not valid: neither ${root} nor any folder in it holds a ${PLUGIN_MANIFEST_FILE}`, { setting: 'pluginDirs' });
  }
  return out;
}

/** Reads and validates `<dir>/cleave-plugin.json`. */
export async function readPluginManifest(dir: string): Promise<{ manifest: PluginManifest; manifestFile: string }> {
  const manifestFile = path.join(path.resolve(dir), PLUGIN_MANIFEST_FILE);
  const s = await stat(manifestFile).catch((e: unknown) => {
    throw pluginInvalid(manifestFile, [{ at: '(file)', value: '(missing)', message: `cannot read it: ${errno(e) ?? (e as Error).message}` }]);
  });
  if (s.size > MAX_MANIFEST_BYTES) {
    throw pluginInvalid(manifestFile, [{ at: '(file)', value: `(${s.size} bytes)`, message: `expected at most ${MAX_MANIFEST_BYTES} bytes` }]);
  }
  return { manifest: parsePluginManifestText(await readFile(manifestFile, 'utf8'), manifestFile), manifestFile };
}

/** The entry's real path, checked to be a file inside the plugin folder. */
async function resolveEntry(dir: string, manifest: PluginManifest, manifestFile: string): Promise<string> {
  const realDir = await realpath(dir);
  const entry = path.join(realDir, ...manifest.entry.split('/'));
  const problem = (message: string): CleaveError => pluginInvalid(manifestFile, [{ at: 'entry', value: shortJson(manifest.entry), message }]);
  let real: string;
  try {
    real = await realpath(entry);
  } catch {
    throw problem(`expected a module file in ${realDir}; ${entry} does not exist`);
  }
  if (!real.startsWith(realDir + path.sep)) throw problem(`expected a file inside the plugin folder ${realDir}; it resolves to ${real}`);
  if (!(await isFile(real))) throw problem(`expected a module file; ${real} is not a file`);
  return real;
}

/**
 * Loads the plugin in `dir` and registers what it implements with `registry`. Throws
 * CLEAVE_E_PLUGIN_INVALID (manifest file, key, value) and registers nothing on any problem.
 */
export async function loadPlugin(dir: string, registry: PluginRegistry): Promise<LoadedPlugin> {
  const { manifest, manifestFile } = await readPluginManifest(dir);
  const entryFile = await resolveEntry(dir, manifest, manifestFile);
  let mod: Record<string, unknown>;
  try {
    // A file URL, so Windows drive letters and odd characters in the path import correctly.
    mod = await import(/* @vite-ignore */ pathToFileURL(entryFile).href) as Record<string, unknown>;
  } catch (e) {
    throw pluginInvalid(manifestFile, [{ at: 'entry', value: shortJson(manifest.entry), message: `cannot import ${entryFile}: ${(e as Error).message}` }]);
  }
  const origin = `${manifest.name}@${manifest.version}`;
  const problems: PluginProblem[] = [];
  const factories: { protocol: string; factory: Factory }[] = [];
  manifest.implements.forEach((impl, i) => {
    const fn = mod[impl.export];
    if (typeof fn !== 'function') {
      const exported = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
      problems.push({
        at: `implements[${i}].export`, value: shortJson(impl.export),
        message: `expected ${entryFile} to export a function "${impl.export}" for interface ${impl.interface}; its exported functions: ${exported.join(', ') || '(none)'}`,
      });
      return;
    }
    impl.protocols.forEach((p, j) => {
      if (registry.hasModelStore(p)) {
        const owner = registry.modelStores().find((r) => r.protocol === p)?.origin ?? '?';
        problems.push({ at: `implements[${i}].protocols[${j}]`, value: shortJson(p), message: `protocol "${p}" is already served by ${owner}; expected a protocol no other store serves` });
        return;
      }
      factories.push({ protocol: p, factory: fn as Factory });
    });
  });
  if (problems.length > 0) throw pluginInvalid(manifestFile, problems);
  for (const { protocol, factory } of factories) {
    registry.registerModelStore(protocol, async (location, context) => {
      try {
        return guardModelStore(await factory(location, context), origin);
      } catch (e) {
        if (e instanceof CleaveError) throw e;
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `plugin ${origin} cannot open model store ${JSON.stringify(location)}: ${(e as Error).message}`, { plugin: origin }, { cause: e });
      }
    }, origin);
  }
  return { manifest, dir: path.resolve(dir), manifestFile, entryFile };
}

/**
 * Loads every plugin found in `dirs` (setting `pluginDirs`), in order. Two plugins with one name
 * are an error naming both manifests.
 */
export async function loadPlugins(dirs: readonly string[], registry: PluginRegistry): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const dir of dirs) {
    for (const folder of await findPluginFolders(dir)) {
      const { manifest, manifestFile } = await readPluginManifest(folder);
      const twin = loaded.find((p) => p.manifest.name === manifest.name);
      if (twin) {
        throw pluginInvalid(manifestFile, [{ at: 'name', value: shortJson(manifest.name), message: `a plugin of that name is already loaded from ${twin.manifestFile}; expected each plugin once` }]);
      }
      loaded.push(await loadPlugin(folder, registry));
    }
  }
  return loaded;
}
