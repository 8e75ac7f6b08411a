/**
 * One-way sync from one model store to another (a bucket into a local cache folder): fetch what
 * is new or changed, remove what the source no longer has, leave the rest. "Changed" is judged
 * from the listing alone (size, then ETag, or the modification time when the source has no ETag)
 * against the state recorded by the previous sync, so an unchanged multi-GB repository costs one
 * listing, not a download. Objects are fetched one at a time: memory holds one model, not all.
 * Runtime-neutral.
 */
import type { ModelObject, ModelStore } from './model-store.js';

/** What the last sync copied, by object name. */
export type SyncState = Readonly<Record<string, { readonly bytes: number; readonly etag?: string; readonly modified?: number }>>;

export interface SyncOptions {
  /** State returned by the previous sync into the same target. Default {} (copy everything). */
  readonly previous?: SyncState;
  /** Only objects for which this is true are synced. Default all. */
  readonly filter?: (name: string) => boolean;
  /**
   * Called with the state after each object, so a caller can persist progress: a sync that fails
   * halfway need not fetch again what it already copied.
   */
  readonly onProgress?: (state: SyncState) => void | Promise<void>;
}

export interface SyncResult {
  readonly state: SyncState;
  /** Names copied, in order. */
  readonly fetched: readonly string[];
  /** Names removed from the target because the source no longer has them. */
  readonly removed: readonly string[];
  /** Names already current. */
  readonly unchanged: readonly string[];
}

function same(remote: ModelObject, prev: SyncState[string] | undefined, local: ModelObject | undefined): boolean {
  if (!prev || !local || local.bytes !== remote.bytes || prev.bytes !== remote.bytes) return false;
  if (remote.etag !== undefined || prev.etag !== undefined) return remote.etag === prev.etag;
  return remote.modified !== undefined && remote.modified === prev.modified;
}

/**
 * Copies `from` into `to`. Only objects a previous sync recorded are ever removed from `to`, so
 * files put there by hand survive. Errors from either store propagate (after onProgress saw the
 * state so far).
 */
export async function syncModelStore(from: ModelStore, to: ModelStore, opts: SyncOptions = {}): Promise<SyncResult> {
  const filter = opts.filter ?? (() => true);
  // A Map, not an object indexed by name: `__proto__` is a valid object name.
  const state = new Map(Object.entries(opts.previous ?? {}));
  const snapshot = (): SyncState => Object.fromEntries(state);
  const remote = (await from.list()).filter((o) => filter(o.name));
  const local = new Map((await to.list()).map((o) => [o.name, o]));
  const fetched: string[] = [];
  const removed: string[] = [];
  const unchanged: string[] = [];
  const wanted = new Set(remote.map((o) => o.name));
  for (const name of [...state.keys()]) {
    if (wanted.has(name)) continue;
    await to.delete?.(name);
    state.delete(name);
    removed.push(name);
    await opts.onProgress?.(snapshot());
  }
  for (const o of remote) {
    if (same(o, state.get(o.name), local.get(o.name))) {
      unchanged.push(o.name);
      continue;
    }
    const bytes = await from.get(o.name);
    await to.put(o.name, bytes);
    // The object may have changed between the listing and the read: record the size really
    // copied, so the next sync sees the mismatch and fetches it again.
    state.set(o.name, { bytes: bytes.byteLength, ...(o.etag !== undefined ? { etag: o.etag } : {}), ...(o.modified !== undefined ? { modified: o.modified } : {}) });
    fetched.push(o.name);
    await opts.onProgress?.(snapshot());
  }
  return { state: snapshot(), fetched, removed, unchanged };
}
