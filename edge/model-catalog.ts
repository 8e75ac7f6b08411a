/**
 * The models an edge node answers for, and where each one runs. An `edge` model has its bytes
 * here (bundled into the Worker, or read from the gateway's model folder) and is loaded into the
 * inference backend on first use; a `cloud` model is only a contract here and every request for
 * it goes over the link. A cloud model may name an edge `fallback` with the very same signature:
 * when the cloud is out, the fallback answers and the response says it was served degraded.
 * Runtime-neutral: entries get their bytes through a loader the entry file provides.
 */
import type { InferenceBackend, LoadedModel, LoadOptions } from '../shared/backend/backend.js';
import { CleaveError } from '../shared/errors.js';
import type { ModelOffer, TensorSpec } from '../shared/protocol/frames.js';

/** Where a model runs. */
export type Placement = 'edge' | 'cloud';

/** One model the edge knows: its contract as the protocol offers it, and where it runs. */
export interface CatalogEntry extends ModelOffer {
  readonly placement: Placement;
  /** For cloud models: an edge model with the same inputs and outputs that serves degraded answers. */
  readonly fallback?: string;
  /** For edge models: the ONNX bytes. Called once, on first use. */
  readonly bytes?: () => Promise<Uint8Array>;
  /** Backend load options (e.g. weight-only QDQ folding). */
  readonly loadOptions?: LoadOptions;
  readonly description?: string;
}

export interface ModelCatalogOptions {
  readonly backend: InferenceBackend;
  /** Defaults for every load; an entry's own loadOptions win. Default: one intra-op thread. */
  readonly loadOptions?: LoadOptions;
  /** Told when an edge model's session is loaded, fails to load, or is released (the audit log); default none. */
  readonly onEvent?: (e: CatalogEvent) => void;
}

/** A change of an edge model's session. */
export interface CatalogEvent {
  readonly type: 'load' | 'load-failed' | 'unload';
  readonly model: string;
  readonly version: number;
  /** Why a load failed. */
  readonly error?: string;
}

/** True when two contracts take and give the same tensors (names, dtypes, shapes). */
export function sameSignature(a: Pick<CatalogEntry, 'inputs' | 'outputs'>, b: Pick<CatalogEntry, 'inputs' | 'outputs'>): boolean {
  const eq = (x: readonly TensorSpec[], y: readonly TensorSpec[]): boolean =>
    x.length === y.length && x.every((s) => {
      const o = y.find((t) => t.name === s.name);
      return o !== undefined && o.dtype === s.dtype && o.shape.length === s.shape.length && o.shape.every((d, i) => d === s.shape[i]);
    });
  return eq(a.inputs, b.inputs) && eq(a.outputs, b.outputs);
}

export class ModelCatalog {
  private readonly entries = new Map<string, CatalogEntry[]>();
  private readonly sessions = new Map<string, Promise<LoadedModel>>();
  /** Keys of sessions whose load finished (a load in flight is in `sessions` only). */
  private readonly loaded = new Set<string>();

  constructor(entries: readonly CatalogEntry[], private readonly opts: ModelCatalogOptions) {
    for (const e of entries) this.add(e);
    for (const e of entries) {
      if (e.fallback === undefined) continue;
      const f = this.find(e.fallback);
      if (!f || f.placement !== 'edge' || !sameSignature(e, f)) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model ${JSON.stringify(e.name)} names fallback ${JSON.stringify(e.fallback)}, which is not an edge model with the same inputs and outputs`, { model: e.name, fallback: e.fallback });
      }
    }
  }

  /** Every entry, newest version first within a name. */
  list(): readonly CatalogEntry[] {
    return [...this.entries.values()].flat();
  }

  /** Versions known for a name, newest first. */
  versions(name: string): readonly number[] {
    return (this.entries.get(name) ?? []).map((e) => e.version);
  }

  /** The entry for name (and version, default newest), or undefined. */
  find(name: string, version?: number): CatalogEntry | undefined {
    const list = this.entries.get(name);
    if (!list) return undefined;
    return version === undefined ? list[0] : list.find((e) => e.version === version);
  }

  /** Like find, but a coded 404 that lists what exists. */
  get(name: string, version?: number): CatalogEntry {
    const e = this.find(name, version);
    if (e) return e;
    if (this.entries.has(name)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `model ${JSON.stringify(name)} has no version ${version}; versions: ${this.versions(name).join(', ')}`, { model: name, version: version ?? 0 });
    }
    const names = [...this.entries.keys()].sort();
    throw new CleaveError('CLEAVE_E_NOT_FOUND', `model ${JSON.stringify(name)} is not served here; models: ${names.join(', ') || 'none'}`, { model: name, expected: names });
  }

  /**
   * Adds the cloud's offers (from its WELCOME) that the edge did not know, as cloud models, so a
   * model added to the cloud is reachable through the edge without a redeploy. Known names are
   * left as configured: a newer version offered for one would become its default and send an
   * edge model's requests to the cloud, or drop a cloud model's fallback.
   */
  learnOffers(offers: readonly ModelOffer[]): void {
    for (const o of offers) {
      if (this.entries.has(o.name)) continue;
      this.add({ name: o.name, version: o.version, placement: 'cloud', inputs: o.inputs, outputs: o.outputs, maxBatchSize: o.maxBatchSize });
    }
  }

  /** The loaded session of an edge model, loading it once (concurrent callers share the load). */
  session(entry: CatalogEntry): Promise<LoadedModel> {
    if (entry.placement !== 'edge' || !entry.bytes) {
      return Promise.reject(new CleaveError('CLEAVE_E_INTERNAL', `model ${JSON.stringify(entry.name)} has no bytes at the edge`, { model: entry.name }));
    }
    const key = `${entry.name}@${entry.version}`;
    let s = this.sessions.get(key);
    if (!s) {
      const bytes = entry.bytes;
      const load = bytes().then((b) => this.opts.backend.load(b, { intraOpThreads: 1, ...this.opts.loadOptions, ...entry.loadOptions }));
      // A failed load is not remembered: the next request tries again (a transient read error should not stick).
      // The identity checks keep a load that close() already dropped from touching a newer one.
      const ev = { model: entry.name, version: entry.version };
      load.then(
        () => {
          if (this.sessions.get(key) === load) this.loaded.add(key);
          this.opts.onEvent?.({ type: 'load', ...ev });
        },
        (e: unknown) => {
          if (this.sessions.get(key) === load) this.sessions.delete(key);
          this.opts.onEvent?.({ type: 'load-failed', ...ev, error: e instanceof Error ? e.message : String(e) });
        },
      );
      this.sessions.set(key, load);
      s = load;
    }
    return s;
  }

  /** True once the edge model's session is loaded. */
  isLoaded(entry: CatalogEntry): boolean {
    return this.loaded.has(`${entry.name}@${entry.version}`);
  }

  /** Loads every edge model (newest versions); resolves when all are ready. */
  async warm(): Promise<void> {
    await Promise.all([...this.entries.values()].map((l) => l[0]!).filter((e) => e.placement === 'edge').map((e) => this.session(e)));
  }

  /** Releases every loaded session. */
  async close(): Promise<void> {
    const all = [...this.sessions.entries()];
    this.sessions.clear();
    this.loaded.clear();
    await Promise.all(all.map(async ([key, s]) => {
      const loaded = await s.catch(() => undefined);
      if (!loaded) return;
      await loaded.dispose();
      const at = key.lastIndexOf('@');
      this.opts.onEvent?.({ type: 'unload', model: key.slice(0, at), version: Number(key.slice(at + 1)) });
    }));
  }

  private add(e: CatalogEntry): void {
    const list = this.entries.get(e.name) ?? [];
    if (list.some((x) => x.version === e.version)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model ${JSON.stringify(e.name)} version ${e.version} is listed twice`, { model: e.name, version: e.version });
    }
    list.push(e);
    list.sort((a, b) => b.version - a.version);
    this.entries.set(e.name, list);
  }
}
