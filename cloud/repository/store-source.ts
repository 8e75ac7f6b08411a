/**
 * Models from a model store (an S3 bucket, a plugin's store): on every list, the store's
 * Triton-style objects are synced into a local cache folder, which a FolderSource then serves.
 *
 *   <store>/<model>/config.json            optional, as in folder-source.ts
 *   <store>/<model>/<version>/model.onnx
 *
 * onnxruntime loads from bytes, but the cache keeps restarts cheap (only changed objects are
 * fetched again, judged by the listing: store-sync.ts) and lets the server keep serving what it
 * has when the store is briefly unreachable: a sync that fails with CLEAVE_E_UNAVAILABLE after an
 * earlier one succeeded is reported through `warn` and the cached copy is served. Any other
 * failure (wrong credentials, no such bucket) is an error. Objects outside the layout are ignored.
 *
 * The sync state lives in `<cacheDir>/.cleave-sync.json` (hidden, so the folder source skips it);
 * only objects it records are ever deleted from the cache folder.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isCleaveError } from '../../shared/errors.js';
import type { ModelStore } from '../../shared/plugins/model-store.js';
import { syncModelStore, type SyncResult, type SyncState } from '../../shared/plugins/store-sync.js';
import { FsModelStore } from '../plugins/fs-model-store.js';
import { CONFIG_FILE_NAME, FolderSource, MODEL_FILE_NAME } from './folder-source.js';
import type { ModelConfig } from './model-config.js';
import type { ModelSource } from './model-source.js';

/** Hidden file in the cache folder recording what the last sync copied. */
export const SYNC_STATE_FILE = '.cleave-sync.json';

/** Object names of the Triton layout: model names as MODEL_NAME_PATTERN, versions as folder-source's version folders. */
const LAYOUT = new RegExp(`^[a-z0-9][a-z0-9._-]{0,63}/(?:${CONFIG_FILE_NAME.replace('.', '\\.')}|[1-9][0-9]{0,8}/${MODEL_FILE_NAME.replace('.', '\\.')})$`);

/** True for the object names a StoreSource copies. */
export function isRepositoryObject(name: string): boolean {
  return LAYOUT.test(name);
}

export interface StoreSourceOptions {
  /** Local folder the store is synced into; created when missing. */
  readonly cacheDir: string;
  /** As FolderSourceOptions.defaultMaxBatchSize. Default 32. */
  readonly defaultMaxBatchSize?: number;
  /** Reports skipped folders and syncs that fell back to the cache. Default `process.emitWarning`. */
  readonly warn?: (msg: string) => void;
  /** Receives each successful sync's result (for logs). */
  readonly onSync?: (result: SyncResult) => void;
}

interface StateFile {
  readonly format: 1;
  readonly store: string;
  readonly objects: SyncState;
}

export class StoreSource implements ModelSource {
  readonly description: string;
  private readonly store: ModelStore;
  private readonly cache: FsModelStore;
  private readonly folder: FolderSource;
  private readonly stateFile: string;
  private readonly location: string;
  private readonly warn: (msg: string) => void;
  private readonly onSync: ((result: SyncResult) => void) | undefined;
  private state: SyncState | undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(store: ModelStore, opts: StoreSourceOptions) {
    this.store = store;
    this.location = store.describe().location;
    const cacheDir = path.resolve(opts.cacheDir);
    this.description = `store ${this.location} (cached in ${cacheDir})`;
    this.cache = new FsModelStore(cacheDir);
    this.warn = opts.warn ?? ((m) => process.emitWarning(m, 'CleaveRepositoryWarning'));
    this.onSync = opts.onSync;
    this.folder = new FolderSource(cacheDir, {
      warn: this.warn,
      ...(opts.defaultMaxBatchSize !== undefined ? { defaultMaxBatchSize: opts.defaultMaxBatchSize } : {}),
    });
    this.stateFile = path.join(cacheDir, SYNC_STATE_FILE);
  }

  async list(): Promise<ModelConfig[]> {
    await this.sync();
    return this.folder.list();
  }

  read(name: string, version: number): Promise<Uint8Array> {
    return this.folder.read(name, version);
  }

  /** Syncs the store into the cache folder now; concurrent calls run one after the other. */
  sync(): Promise<void> {
    const next = this.syncing.then(() => this.doSync());
    this.syncing = next.catch(() => undefined);
    return next;
  }

  private async doSync(): Promise<void> {
    await mkdir(this.cache.root, { recursive: true });
    this.state ??= await this.readState();
    const hadCache = Object.keys(this.state).length > 0;
    try {
      const result = await syncModelStore(this.store, this.cache, {
        previous: this.state,
        filter: isRepositoryObject,
        onProgress: async (s) => {
          this.state = s;
          await this.writeState(s);
        },
      });
      this.state = result.state;
      await this.writeState(result.state);
      this.onSync?.(result);
    } catch (e) {
      if (hadCache && isCleaveError(e, 'CLEAVE_E_UNAVAILABLE')) {
        this.warn(`model store ${this.location} could not be synced (${e.message}); serving the cached copy in ${this.cache.root}`);
        return;
      }
      throw e;
    }
  }

  private async readState(): Promise<SyncState> {
    try {
      const s = JSON.parse(await readFile(this.stateFile, 'utf8')) as Partial<StateFile>;
      // A cache filled from another store says nothing about this one.
      if (s.format === 1 && s.store === this.location && s.objects && typeof s.objects === 'object') return s.objects;
    } catch {
      // Missing or unreadable: start over, every object is fetched again.
    }
    return {};
  }

  private async writeState(objects: SyncState): Promise<void> {
    const file: StateFile = { format: 1, store: this.location, objects };
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(file));
    await rename(tmp, this.stateFile);
  }
}

/**
 * Default cache folder for a store location: `<os temp>/cleave-model-store/<hash of location>`,
 * so two stores never share a cache and a restart finds its previous copy.
 */
export function defaultStoreCacheDir(location: string): string {
  return path.join(tmpdir(), 'cleave-model-store', createHash('sha256').update(location).digest('hex').slice(0, 16));
}
