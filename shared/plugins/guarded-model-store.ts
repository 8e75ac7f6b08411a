/**
 * A plugin's store behind the same checks as the built-in ones: names are validated before the
 * plugin sees them, what it lists or returns is checked before Cleave uses it, and anything it
 * throws that is not a CleaveError becomes CLEAVE_E_UNAVAILABLE naming the plugin and the call.
 * Plugin code is trusted to run (it is imported), not to be right. Runtime-neutral.
 */
import { CleaveError } from '../errors.js';
import {
  checkListPrefix, checkObjectName, isObjectName, type ModelObject, type ModelStore, type ModelStoreDescription,
} from './model-store.js';

function wrapError(origin: string, call: string, e: unknown): CleaveError {
  if (e instanceof CleaveError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CleaveError('CLEAVE_E_UNAVAILABLE', `plugin ${origin}: model store ${call} failed: ${message}`, { plugin: origin }, { cause: e });
}

function checkedObject(origin: string, o: unknown): ModelObject | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (typeof r.name !== 'string' || !isObjectName(r.name)) return undefined;
  if (typeof r.bytes !== 'number' || !Number.isSafeInteger(r.bytes) || r.bytes < 0) {
    throw new CleaveError('CLEAVE_E_UNAVAILABLE', `plugin ${origin}: model store list gave "${r.name}" a size of ${String(r.bytes)}; expected a byte count`, { plugin: origin });
  }
  return {
    name: r.name, bytes: r.bytes,
    ...(typeof r.etag === 'string' ? { etag: r.etag } : {}),
    ...(typeof r.modified === 'number' && Number.isFinite(r.modified) ? { modified: r.modified } : {}),
  };
}

/** Wraps `store`, made by plugin `origin` (`name@version`). */
export function guardModelStore(store: ModelStore, origin: string): ModelStore {
  const guarded: ModelStore = {
    async list(prefix = '') {
      checkListPrefix(prefix);
      let raw: unknown;
      try {
        raw = await store.list(prefix);
      } catch (e) {
        throw wrapError(origin, `list(${JSON.stringify(prefix)})`, e);
      }
      if (!Array.isArray(raw)) throw new CleaveError('CLEAVE_E_UNAVAILABLE', `plugin ${origin}: model store list returned ${typeof raw}; expected an array`, { plugin: origin });
      const out: ModelObject[] = [];
      for (const o of raw) {
        const c = checkedObject(origin, o);
        if (c && c.name.startsWith(prefix)) out.push(c);
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async get(name) {
      checkObjectName(name);
      let b: unknown;
      try {
        b = await store.get(name);
      } catch (e) {
        throw wrapError(origin, `get(${JSON.stringify(name)})`, e);
      }
      if (!(b instanceof Uint8Array)) throw new CleaveError('CLEAVE_E_UNAVAILABLE', `plugin ${origin}: model store get("${name}") returned ${typeof b}; expected a Uint8Array`, { plugin: origin });
      return b;
    },
    async put(name, bytes) {
      checkObjectName(name);
      try {
        await store.put(name, bytes);
      } catch (e) {
        throw wrapError(origin, `put(${JSON.stringify(name)})`, e);
      }
    },
    describe(): ModelStoreDescription {
      const d = store.describe();
      return { protocol: String(d?.protocol ?? '?'), location: String(d?.location ?? '?'), readOnly: Boolean(d?.readOnly) };
    },
  };
  if (typeof store.delete === 'function') {
    const del = store.delete.bind(store);
    guarded.delete = async (name) => {
      checkObjectName(name);
      try {
        await del(name);
      } catch (e) {
        throw wrapError(origin, `delete(${JSON.stringify(name)})`, e);
      }
    };
  }
  return guarded;
}
