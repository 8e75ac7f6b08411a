/**
 * Which code serves which interface for which protocol. Built-in stores and loaded plugins
 * register the same way (by interface and protocol, never by an `if` chain on a scheme), and a
 * store location picks its factory by URL scheme:
 *
 *   /srv/models, ./models, C:\models, file:///srv/models   -> fs
 *   s3://bucket/prefix                                       -> s3
 *   http://host/path, https://host/path                      -> http
 *   gs://bucket/prefix                                       -> gs (a plugin's)
 *
 * Runtime-neutral: the Node entry (cloud/plugins/node-model-stores.ts) registers the fs store
 * and the plugins it loads; a Worker would register only what runs there.
 */
import { CleaveError } from '../errors.js';
import { pluginInvalid } from './manifest.js';
import { missingModelStoreMethods, type ModelStore } from './model-store.js';

/** What a factory is handed besides the location. */
export interface ModelStoreContext {
  /**
   * Settings from the runtime entry (the Node entry passes `process.env`); shared code never
   * reads the environment itself. Default {}.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Makes a store for a location string as the user wrote it (`s3://bucket/prefix?region=...`).
 * Throws CLEAVE_E_BAD_ARGUMENT naming the location and what it expected.
 */
export type ModelStoreFactory = (location: string, context: ModelStoreContext) => ModelStore | Promise<ModelStore>;

/** One registration, for listings and messages. */
export interface ModelStoreRegistration {
  readonly protocol: string;
  /** `built-in`, or `<plugin name>@<version>`. */
  readonly origin: string;
  readonly factory: ModelStoreFactory;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const WINDOWS_DRIVE = /^[A-Za-z]:[\\/]/;
/** Schemes that are another name for a registered protocol. */
const ALIASES: Readonly<Record<string, string>> = { file: 'fs', https: 'http' };

/** The protocol a location selects: its URL scheme (lowercase, aliased), or `fs` for a plain path. */
export function storeProtocolOf(location: string): string {
  if (WINDOWS_DRIVE.test(location)) return 'fs';
  const m = SCHEME.exec(location);
  if (!m) return 'fs';
  const scheme = m[1]!.toLowerCase();
  return ALIASES[scheme] ?? scheme;
}

/** Stores and plugins by interface and protocol. */
export class PluginRegistry {
  private readonly stores = new Map<string, ModelStoreRegistration>();

  /**
   * Registers `factory` for `protocol`. A protocol has one owner: registering it twice throws
   * CLEAVE_E_PLUGIN_INVALID naming both origins (a plugin cannot silently replace a built-in).
   */
  registerModelStore(protocol: string, factory: ModelStoreFactory, origin = 'built-in'): void {
    const p = protocol.toLowerCase();
    const had = this.stores.get(p);
    if (had) {
      throw pluginInvalid(origin, [{
        at: 'implements.protocols', value: JSON.stringify(p),
        message: `protocol "${p}" is already served by ${had.origin}; expected a protocol no other store serves`,
      }]);
    }
    this.stores.set(p, { protocol: p, origin, factory });
  }

  /** Registered model-store protocols, sorted, with their origins. */
  modelStores(): ModelStoreRegistration[] {
    return [...this.stores.values()].sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  }

  /** True when some store serves `protocol`. */
  hasModelStore(protocol: string): boolean {
    return this.stores.has(protocol.toLowerCase());
  }

  /**
   * The store for `location`, made by the factory its protocol selects. Throws
   * CLEAVE_E_BAD_ARGUMENT for an unknown protocol (listing those known) and CLEAVE_E_PLUGIN_INVALID
   * when a factory returns something that is not a ModelStore.
   */
  async modelStoreFor(location: string, context: ModelStoreContext = { env: {} }): Promise<ModelStore> {
    if (typeof location !== 'string' || location.trim() === '') {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `setting modelStore = ${JSON.stringify(location)} is not valid; expected a folder path or a URL such as s3://bucket/prefix`, { setting: 'modelStore' });
    }
    const protocol = storeProtocolOf(location);
    const reg = this.stores.get(protocol);
    if (!reg) {
      const known = this.modelStores().map((r) => r.protocol).join(', ') || '(none)';
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `setting modelStore = ${JSON.stringify(location)} is not valid: no model store serves protocol "${protocol}"; expected one of: ${known} (a plugin in pluginDirs can add more)`, { setting: 'modelStore', protocol });
    }
    const store = await reg.factory(location, context);
    const missing = missingModelStoreMethods(store);
    if (missing.length > 0) {
      throw pluginInvalid(reg.origin, [{
        at: 'model-store factory', value: typeof store,
        message: `the store made for protocol "${protocol}" lacks ${missing.join(', ')}; expected an object with list, get, put and describe`,
      }]);
    }
    return store;
  }
}
