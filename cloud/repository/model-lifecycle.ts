/**
 * The cloud's model lifecycle (Triton's ModelLifecycle, plus the memory-bounded LRU that Triton
 * issue #3583 asks for): models load from a ModelSource into an InferenceBackend, warm up, serve
 * under leases, and are evicted least-recently-used first when a load needs room in the memory
 * budget. An evicted model comes back on its next acquire; a leased model is never evicted.
 *
 * Each (model, version) is one unit with a Triton state: UNAVAILABLE -> LOADING -> READY ->
 * UNLOADING -> UNAVAILABLE. Memory is accounted in estimated resident bytes
 * (resident-memory.ts), reserved when a load has read its file, released when a dispose ends.
 *
 * No file system here: bytes come from the source, so the same lifecycle serves a folder, the
 * zoo, or a test's in-memory models.
 *
 * Why not lru-cache: its eviction cannot be refused (a leased model must stay), and here eviction
 * is asynchronous (a session's dispose is awaited before the next load takes its memory). A Map
 * kept in recency order (delete + set on use) is all the LRU this needs.
 */
import type { InferenceBackend, LoadedModel, LoadOptions } from '../../shared/backend/backend.js';
import { CleaveError, isCleaveError, toCleaveError } from '../../shared/errors.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { isWeightOnlyQdq } from '../../shared/onnx/quantize/index.js';
import type { ModelOffer } from '../../shared/protocol/frames.js';
import { systemClock, type Clock } from '../../shared/time.js';
import type { ModelConfig } from './model-config.js';
import type { ModelSource } from './model-source.js';
import { DEFAULT_MEMORY_FACTOR, estimateResidentBytes } from './resident-memory.js';
import { checkContract, runWarmup } from './warmup.js';

/** Triton's model states. */
export type ModelState = 'UNAVAILABLE' | 'LOADING' | 'READY' | 'UNLOADING';

/** One row of the repository index (Triton's `POST /v2/repository/index` shape). */
export interface ModelIndexEntry {
  readonly name: string;
  readonly version: number;
  readonly state: ModelState;
  /** Why it is UNAVAILABLE (evicted, unloaded, a load error), when it was loaded or tried. */
  readonly reason?: string;
  /** Estimated resident bytes, while it holds or reserves memory. */
  readonly bytes?: number;
}

/** A lifecycle event, for metrics and logs. */
export interface ModelEvent {
  readonly type: 'load' | 'unload' | 'evict' | 'load-failed';
  readonly model: string;
  readonly version: number;
  /** Estimated resident bytes taken (load) or given back (unload, evict); 0 for load-failed. */
  readonly bytes: number;
  /** Duration: read + load + warmup for load and load-failed; lease wait + dispose for unload; dispose for evict. ms. */
  readonly ms: number;
  /** For evict: which load needed the room; for load-failed: the error message. */
  readonly reason?: string;
}

/** A model held for one use. Release it when the run ends; until then it cannot be evicted or unloaded. */
export interface ModelLease {
  readonly model: LoadedModel;
  /** The config the model was loaded with. */
  readonly config: ModelConfig;
  readonly version: number;
  /** Ends the lease. Idempotent. */
  release(): void;
}

export interface ModelRepositoryOptions {
  readonly source: ModelSource;
  readonly backend: InferenceBackend;
  /**
   * Passed to every backend.load: execution providers (from resolveDevice), threads, graph
   * optimization. `weightOnlyQdq` is decided per model from its graph unless set here.
   */
  readonly loadOptions?: LoadOptions;
  /** Estimated resident bytes all loaded models may hold together. 0 = unlimited. Default 0. */
  readonly memoryBudgetBytes?: number;
  /** Resident bytes per file byte (resident-memory.ts explains why an estimate). Default 1.5. */
  readonly memoryFactor?: number;
  /** Times the events. Default systemClock. */
  readonly clock?: Clock;
  /** Reports models skipped at startup, failed disposals, skipped warmups. Default console.warn. */
  readonly warn?: (msg: string) => void;
  readonly onEvent?: (e: ModelEvent) => void;
}

/** Tries of acquire when the model it loaded is evicted again before it can lease it (thrashing). */
const MAX_ACQUIRE_TRIES = 8;

interface Slot {
  readonly name: string;
  readonly version: number;
  /** The config the model was (or is being) loaded with. */
  config: ModelConfig | undefined;
  state: ModelState;
  reason: string | undefined;
  /** Estimated resident bytes reserved or held; 0 when none. */
  estimate: number;
  model: LoadedModel | undefined;
  loading: Promise<void> | undefined;
  /** Whether the load in flight may evict (loadAll's loads may not). */
  loadingEvicts: boolean;
  unloading: Promise<void> | undefined;
  /** UNLOADING because evicted: it has no leases and its memory is already promised to a load. */
  evicting: boolean;
  leases: number;
  drained: (() => void) | undefined;
  /** The last load failed in a way retrying will not fix; acquire refuses until an explicit load(). */
  failed: boolean;
  /** Unloaded by unload() or close(); acquire refuses until an explicit load(). */
  userUnloaded: boolean;
  /** Has been READY at least once: later evictions do not make the server unready. */
  everReady: boolean;
}

function key(name: string, version: number): string {
  return `${name}@${version}`;
}

function list(names: readonly (string | number)[]): string {
  const shown = names.slice(0, 20).map(String).join(', ');
  return names.length > 20 ? `${shown}, ... (${names.length} in all)` : shown || 'none';
}

/** A memory error: a model that does not fit now (OVERLOADED) or ever (UNAVAILABLE). */
function isMemoryError(e: unknown): boolean {
  return (isCleaveError(e, 'CLEAVE_E_OVERLOADED') || isCleaveError(e, 'CLEAVE_E_UNAVAILABLE')) && 'budget' in e.detail;
}

/** The cloud's loaded models: see the file comment. */
export class ModelRepository {
  private readonly source: ModelSource;
  private readonly backend: InferenceBackend;
  private readonly loadOptions: LoadOptions;
  private readonly budget: number;
  private readonly factor: number;
  private readonly clock: Clock;
  private readonly warn: (msg: string) => void;
  private readonly emit: (e: ModelEvent) => void;

  /** Source view from the last refresh, in source order. */
  private configs = new Map<string, ModelConfig>();
  private listed = false;
  private refreshChain: Promise<void> = Promise.resolve();
  private readonly slots = new Map<string, Slot>();
  /** READY slots, least recently used first. */
  private readonly recency = new Map<string, Slot>();
  /** Slots loadAll loaded (or tried to and failed for a reason other than memory). */
  private readonly chosen = new Set<Slot>();
  private loadAllDone = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: ModelRepositoryOptions) {
    const budget = opts.memoryBudgetBytes ?? 0;
    const factor = opts.memoryFactor ?? DEFAULT_MEMORY_FACTOR;
    if (!Number.isSafeInteger(budget) || budget < 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `memoryBudgetBytes ${budget} is not a non-negative integer (0 = unlimited)`, { memoryBudgetBytes: budget });
    }
    if (!Number.isFinite(factor) || factor <= 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `memoryFactor ${factor} is not a positive number`, { memoryFactor: factor });
    }
    this.source = opts.source;
    this.backend = opts.backend;
    this.loadOptions = opts.loadOptions ?? {};
    this.budget = budget;
    this.factor = factor;
    this.clock = opts.clock ?? systemClock;
    this.warn = opts.warn ?? ((m) => console.warn(m));
    const onEvent = opts.onEvent;
    this.emit = (e) => {
      try {
        onEvent?.(e);
      } catch (err) {
        this.warn(`model event listener threw: ${(err as Error).message}`);
      }
    };
  }

  /** The memory budget, bytes; 0 = unlimited. */
  get memoryBudgetBytes(): number {
    return this.budget;
  }

  /**
   * Lists the source again. New models and versions become loadable; versions gone from the
   * source are unloaded (after their leases end) and forgotten. A model loaded from files that
   * changed keeps serving the old session until it is loaded again (explicitly or after an
   * eviction). Calls run one after another.
   */
  refresh(): Promise<void> {
    const next = this.refreshChain.then(() => this.doRefresh());
    this.refreshChain = next.catch(() => {});
    return next;
  }

  private async doRefresh(): Promise<void> {
    const configs = new Map<string, ModelConfig>();
    for (const c of await this.source.list()) {
      if (configs.has(c.name)) this.warn(`${this.source.description} lists model "${c.name}" twice; using the first`);
      else configs.set(c.name, c);
    }
    this.configs = configs;
    this.listed = true;
    const gone = [...this.slots.values()].filter((s) => !configs.get(s.name)?.versions.includes(s.version));
    await Promise.all(gone.map(async (s) => {
      await this.unloadSlot(s, 'removed from the repository');
      if (!this.configs.get(s.name)?.versions.includes(s.version) && s.state === 'UNAVAILABLE') {
        this.slots.delete(key(s.name, s.version));
        this.chosen.delete(s);
      } else if (s.state === 'UNAVAILABLE') {
        // A later refresh brought it back while it unloaded: it is a new model, loadable again.
        s.userUnloaded = false;
        s.failed = false;
      }
    }));
  }

  private async ensureListed(): Promise<void> {
    if (!this.listed) await this.refresh();
  }

  /** Config and version for a request; CLEAVE_E_NOT_FOUND listing what exists. Default version = the highest. */
  private resolve(name: string, version: number | undefined): { config: ModelConfig; version: number } {
    const config = this.configs.get(name);
    if (!config) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `no model "${name}" in ${this.source.description}; have: ${list([...this.configs.keys()])}`, { model: name });
    }
    const v = version ?? config.versions[config.versions.length - 1]!;
    if (!config.versions.includes(v)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `model "${name}" has no version ${v}; have: ${list(config.versions)}`, { model: name, version: v });
    }
    return { config, version: v };
  }

  private slot(name: string, version: number): Slot {
    const k = key(name, version);
    let s = this.slots.get(k);
    if (!s) {
      s = {
        name, version, config: undefined, state: 'UNAVAILABLE', reason: undefined, estimate: 0, model: undefined,
        loading: undefined, loadingEvicts: true, unloading: undefined, evicting: false, leases: 0, drained: undefined,
        failed: false, userUnloaded: false, everReady: false,
      };
      this.slots.set(k, s);
    }
    return s;
  }

  private checkOpen(): void {
    if (this.closed) throw new CleaveError('CLEAVE_E_UNAVAILABLE', 'the model repository is shutting down', {});
  }

  /**
   * Triton's repository index as of the last refresh: every version of every model, in source
   * order, then any version removed from the source that is still unloading. Empty before the
   * first refresh (or load, acquire, loadAll, which list the source when it was never listed).
   */
  index(): ModelIndexEntry[] {
    const seen = new Set<string>();
    const row = (name: string, version: number): ModelIndexEntry => {
      seen.add(key(name, version));
      const s = this.slots.get(key(name, version));
      if (!s) return { name, version, state: 'UNAVAILABLE' };
      return {
        name, version, state: s.state,
        ...(s.reason !== undefined && s.state === 'UNAVAILABLE' ? { reason: s.reason } : {}),
        ...(s.estimate > 0 ? { bytes: s.estimate } : {}),
      };
    };
    const out: ModelIndexEntry[] = [];
    for (const c of this.configs.values()) for (const v of c.versions) out.push(row(c.name, v));
    for (const s of this.slots.values()) if (!seen.has(key(s.name, s.version))) out.push(row(s.name, s.version));
    return out;
  }

  /**
   * Loads a model version (default the highest) and warms it up. Idempotent: a READY model is left
   * as it is, and concurrent calls share one load. Evicts least-recently-used idle models when
   * the budget needs room. Clears an earlier unload() or failure. Lists the source again once
   * when the name or version is unknown (a model copied in since the last refresh).
   * Throws CLEAVE_E_NOT_FOUND (unknown model or version), CLEAVE_E_OVERLOADED (cannot make room:
   * the rest is leased), CLEAVE_E_UNAVAILABLE (larger than the whole budget), CLEAVE_E_BACKEND
   * and friends from the load itself.
   */
  async load(name: string, version?: number): Promise<void> {
    this.checkOpen();
    await this.ensureListed();
    let r: { config: ModelConfig; version: number };
    try {
      r = this.resolve(name, version);
    } catch (e) {
      if (!isCleaveError(e, 'CLEAVE_E_NOT_FOUND')) throw e;
      await this.refresh();
      r = this.resolve(name, version);
    }
    const s = this.slot(name, r.version);
    s.userUnloaded = false;
    s.failed = false;
    await this.ensureLoaded(s, true);
  }

  /** Waits until `s` is READY, starting a load when it is not loaded. */
  private async ensureLoaded(s: Slot, evict: boolean): Promise<void> {
    for (;;) {
      this.checkOpen();
      if (s.userUnloaded) {
        throw new CleaveError('CLEAVE_E_UNAVAILABLE', `model "${s.name}" version ${s.version} is unloaded; load it to serve it again`, { model: s.name, version: s.version });
      }
      switch (s.state) {
        case 'READY':
          return;
        case 'LOADING': {
          const evicts = s.loadingEvicts;
          try {
            await s.loading;
          } catch (e) {
            // loadAll's load gave up for lack of room without evicting; this caller may evict.
            if (evict && !evicts && isCleaveError(e, 'CLEAVE_E_OVERLOADED')) continue;
            throw e;
          }
          continue;
        }
        case 'UNLOADING':
          await s.unloading;
          continue;
        case 'UNAVAILABLE':
          if (s.failed) {
            throw new CleaveError('CLEAVE_E_UNAVAILABLE', `model "${s.name}" version ${s.version} failed to load: ${s.reason ?? 'unknown error'}; load it again to retry`, { model: s.name, version: s.version });
          }
          await this.startLoad(s, evict);
          return;
      }
    }
  }

  private startLoad(s: Slot, evict: boolean): Promise<void> {
    s.state = 'LOADING';
    s.reason = undefined;
    s.loadingEvicts = evict;
    const p = this.doLoad(s, evict).finally(() => {
      if (s.loading === p) s.loading = undefined;
    });
    s.loading = p;
    return p;
  }

  private async doLoad(s: Slot, evict: boolean): Promise<void> {
    const t0 = this.clock.now();
    let loaded: LoadedModel | undefined;
    try {
      const { config } = this.resolve(s.name, s.version);
      s.config = config;
      const bytes = await this.source.read(s.name, s.version);
      const proto = decodeModel(bytes);
      const weightOnlyQdq = this.loadOptions.weightOnlyQdq ?? isWeightOnlyQdq(proto);
      const estimate = estimateResidentBytes(bytes.length, proto, weightOnlyQdq, this.factor);
      this.checkOpen();
      // From here to the reservation nothing awaits, so concurrent loads see each other's.
      const victims = this.makeRoom(s, estimate, evict);
      s.estimate = estimate;
      await Promise.all(victims.map((v) => v.unloading));
      loaded = await this.backend.load(bytes, { ...this.loadOptions, weightOnlyQdq });
      checkContract(config, s.version, proto, loaded);
      await runWarmup(config, s.version, proto, loaded, this.warn);
      this.checkOpen();
      s.model = loaded;
      s.state = 'READY';
      s.everReady = true;
      this.touch(s);
      this.emit({ type: 'load', model: s.name, version: s.version, bytes: estimate, ms: this.clock.now() - t0 });
    } catch (e) {
      if (loaded) {
        await loaded.dispose().catch((err: unknown) => this.warn(`model "${s.name}" version ${s.version}: dispose after a failed load: ${(err as Error).message}`));
      }
      const err = toCleaveError(e, 'CLEAVE_E_BACKEND');
      s.state = 'UNAVAILABLE';
      s.estimate = 0;
      s.model = undefined;
      s.reason = err.message;
      // Not fitting now is not a fault of the model; closing is not either.
      s.failed = !isCleaveError(err, 'CLEAVE_E_OVERLOADED') && !this.closed;
      // A startup load that does not fit is a skip, reported by loadAll's warning, not a failure.
      if (evict || !isMemoryError(err)) {
        this.emit({ type: 'load-failed', model: s.name, version: s.version, bytes: 0, ms: this.clock.now() - t0, reason: err.message });
      }
      throw err;
    }
  }

  /** Bytes reserved or held by models that will not give them back soon (evictions in flight excluded). */
  private committed(): number {
    let n = 0;
    for (const s of this.slots.values()) if (!s.evicting) n += s.estimate;
    return n;
  }

  /**
   * Chooses and starts evictions so `need` more bytes fit, or throws without evicting anything.
   * Synchronous, so the choice and the caller's reservation happen with no other load between.
   */
  private makeRoom(s: Slot, need: number, evict: boolean): Slot[] {
    if (this.budget === 0) return [];
    const what = `model "${s.name}" version ${s.version}`;
    const detail = { model: s.name, version: s.version, need, budget: this.budget, inUse: this.committed() };
    if (need > this.budget) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `${what} needs an estimated ${need} bytes, more than the whole memory budget of ${this.budget} bytes (raise the budget or lower the memory factor ${this.factor})`, detail);
    }
    let free = this.budget - detail.inUse;
    if (need <= free) return [];
    if (!evict) {
      throw new CleaveError('CLEAVE_E_OVERLOADED', `${what} needs an estimated ${need} bytes; the memory budget is ${this.budget} bytes with ${detail.inUse} in use`, detail);
    }
    const victims: Slot[] = [];
    for (const v of this.recency.values()) {
      if (need <= free) break;
      if (v.leases > 0 || v === s) continue;
      victims.push(v);
      free += v.estimate;
    }
    if (need > free) {
      const busy = [...this.slots.values()].filter((v) => v.estimate > 0 && v !== s && !victims.includes(v));
      const held = busy.map((v) => `"${v.name}" v${v.version} ${v.state === 'READY' ? `${v.leases} lease${v.leases === 1 ? '' : 's'}` : v.state} ${v.estimate} bytes`);
      throw new CleaveError(
        'CLEAVE_E_OVERLOADED',
        `${what} needs an estimated ${need} bytes; the memory budget is ${this.budget} bytes with ${detail.inUse} in use, and evicting every idle model frees only ${free - (this.budget - detail.inUse)}; held by: ${list(held)}`,
        detail,
      );
    }
    for (const v of victims) this.evict(v, s);
    return victims;
  }

  private evict(v: Slot, forSlot: Slot): void {
    const model = v.model!;
    const bytes = v.estimate;
    const reason = `evicted to make room for "${forSlot.name}" version ${forSlot.version}; loads again on first use`;
    v.state = 'UNLOADING';
    v.evicting = true;
    this.recency.delete(key(v.name, v.version));
    const t0 = this.clock.now();
    v.unloading = (async () => {
      await model.dispose().catch((err: unknown) => this.warn(`model "${v.name}" version ${v.version}: dispose on eviction: ${(err as Error).message}`));
      v.model = undefined;
      v.estimate = 0;
      v.evicting = false;
      v.state = 'UNAVAILABLE';
      v.reason = reason;
      v.unloading = undefined;
      this.emit({ type: 'evict', model: v.name, version: v.version, bytes, ms: this.clock.now() - t0, reason: `room for "${forSlot.name}" version ${forSlot.version}` });
    })();
  }

  private touch(s: Slot): void {
    const k = key(s.name, s.version);
    this.recency.delete(k);
    this.recency.set(k, s);
  }

  /**
   * Holds a model version (default the highest) for one use, loading it first when it is not
   * loaded (so an evicted model comes back on demand). Marks it most recently used.
   * Throws CLEAVE_E_NOT_FOUND for an unknown model or version, CLEAVE_E_UNAVAILABLE while it is
   * being unloaded, after unload(), after a failed load, or when shutting down, and what load()
   * throws when it has to load.
   */
  async acquire(name: string, version?: number): Promise<ModelLease> {
    this.checkOpen();
    await this.ensureListed();
    const { version: v } = this.resolve(name, version);
    const s = this.slot(name, v);
    for (let tries = 0; tries < MAX_ACQUIRE_TRIES; tries++) {
      await this.ensureLoaded(s, true);
      // Leased in the same turn that saw READY: nothing can evict it in between.
      if (s.state === 'READY' && !s.userUnloaded) return this.lease(s);
    }
    throw new CleaveError('CLEAVE_E_OVERLOADED', `model "${name}" version ${v} was evicted ${MAX_ACQUIRE_TRIES} times before it could be used; the memory budget is too small for the models in use`, { model: name, version: v });
  }

  private lease(s: Slot): ModelLease {
    s.leases++;
    this.touch(s);
    let released = false;
    return {
      model: s.model!,
      config: s.config!,
      version: s.version,
      release: () => {
        if (released) return;
        released = true;
        s.leases--;
        if (s.leases === 0 && s.drained) {
          const d = s.drained;
          s.drained = undefined;
          d();
        }
      },
    };
  }

  /**
   * Unloads every loaded version of a model (or the one given) once its leases end; acquires
   * meanwhile and afterwards get CLEAVE_E_UNAVAILABLE until load() is called again (Triton's
   * explicit model control: an unloaded model does not come back by itself). Waits as long as
   * leases are held: the caller bounds the wait with its own deadline if it needs one.
   * Throws CLEAVE_E_NOT_FOUND for an unknown model or version.
   */
  async unload(name: string, version?: number): Promise<void> {
    await this.ensureListed();
    const config = this.configs.get(name);
    const known = [...this.slots.values()].filter((s) => s.name === name);
    if (!config && known.length === 0) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `no model "${name}" in ${this.source.description}; have: ${list([...this.configs.keys()])}`, { model: name });
    }
    const versions = new Set([...(config?.versions ?? []), ...known.map((s) => s.version)]);
    if (version !== undefined && !versions.has(version)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `model "${name}" has no version ${version}; have: ${list([...versions].sort((a, b) => a - b))}`, { model: name, version });
    }
    const targets = version === undefined ? [...versions] : [version];
    await Promise.all(targets.map((v) => this.unloadSlot(this.slot(name, v), 'unloaded')));
  }

  private async unloadSlot(s: Slot, reason: string): Promise<void> {
    s.userUnloaded = true;
    for (;;) {
      if (s.state === 'LOADING') {
        await s.loading?.catch(() => {});
      } else if (s.state === 'UNLOADING') {
        await s.unloading;
      } else if (s.state === 'READY') {
        this.beginUnload(s, reason);
        await s.unloading;
      } else {
        if (!s.failed) s.reason = reason;
        return;
      }
      // An explicit load() between here and there wins: leave its model alone.
      if (!s.userUnloaded) return;
    }
  }

  private beginUnload(s: Slot, reason: string): void {
    const model = s.model!;
    s.state = 'UNLOADING';
    s.evicting = false;
    this.recency.delete(key(s.name, s.version));
    const t0 = this.clock.now();
    s.unloading = (async () => {
      if (s.leases > 0) await new Promise<void>((resolve) => { s.drained = resolve; });
      await model.dispose().catch((err: unknown) => this.warn(`model "${s.name}" version ${s.version}: dispose on unload: ${(err as Error).message}`));
      const bytes = s.estimate;
      s.model = undefined;
      s.estimate = 0;
      s.state = 'UNAVAILABLE';
      s.reason = reason;
      s.unloading = undefined;
      this.emit({ type: 'unload', model: s.name, version: s.version, bytes, ms: this.clock.now() - t0 });
    })();
  }

  /**
   * Startup: lists the source and loads each model's default version in source order, without
   * evicting. A model that does not fit in what is left of the budget is skipped with a warning
   * (later, smaller ones may still fit) and loads on first use; a model that fails to load is
   * reported and counts against ready(). Loads run one at a time so what fits does not depend on
   * timing. Models marked `onDemand` are left for their first use. Throws only when the source
   * cannot be listed.
   */
  async loadAll(): Promise<void> {
    this.checkOpen();
    await this.refresh();
    for (const c of this.configs.values()) {
      if (c.onDemand === true) continue;
      const s = this.slot(c.name, c.versions[c.versions.length - 1]!);
      try {
        await this.ensureLoaded(s, false);
        this.chosen.add(s);
      } catch (e) {
        if (this.closed) return;
        if (isMemoryError(e)) {
          this.warn(`model "${s.name}" version ${s.version} not loaded at startup: ${(e as Error).message}; it loads on first use`);
        } else {
          this.chosen.add(s);
          this.warn(`model "${s.name}" version ${s.version} failed to load at startup: ${(e as Error).message}`);
        }
      }
    }
    this.loadAllDone = true;
  }

  /**
   * True once loadAll has finished and every model it chose has loaded: READY now, or loaded
   * once and since evicted or unloaded on purpose (it is servable, or meant to be off). A chosen
   * model whose load failed keeps it false until a load succeeds (Triton's strict readiness).
   */
  ready(): boolean {
    if (!this.loadAllDone || this.closed) return false;
    for (const s of this.chosen) if (s.state !== 'READY' && (s.failed || !s.everReady)) return false;
    return true;
  }

  /**
   * The models a client may run, for WELCOME and /v2/models: each model's default version, READY
   * or loadable on demand; models unloaded on purpose or whose default version failed to load
   * are left out, and so are `onDemand` models (clients name those themselves).
   */
  offers(): ModelOffer[] {
    const out: ModelOffer[] = [];
    for (const c of this.configs.values()) {
      if (c.onDemand === true) continue;
      const version = c.versions[c.versions.length - 1]!;
      const s = this.slots.get(key(c.name, version));
      if (s && (s.userUnloaded || s.failed)) continue;
      const cfg = s?.state === 'READY' && s.config ? s.config : c;
      out.push({ name: c.name, version, inputs: cfg.inputs, outputs: cfg.outputs, maxBatchSize: cfg.maxBatchSize });
    }
    return out;
  }

  /**
   * A model's config as of the last refresh (listing the source first if it never was). With a
   * version, checks that the version exists. CLEAVE_E_NOT_FOUND when the model or version is unknown.
   */
  async config(name: string, version?: number): Promise<ModelConfig> {
    await this.ensureListed();
    return this.resolve(name, version).config;
  }

  /** True when the model version (default the highest) is READY: loaded, warmed up, not unloading. Triton's model readiness. */
  isReady(name: string, version?: number): boolean {
    const config = this.configs.get(name);
    const v = version ?? config?.versions[config.versions.length - 1];
    return v !== undefined && this.slots.get(key(name, v))?.state === 'READY';
  }

  /** Estimated resident bytes of every model loaded, loading or unloading. */
  memoryInUse(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.estimate;
    return n;
  }

  /**
   * Refuses new acquires and loads, lets loads in flight finish, then unloads every model once its
   * leases end (drain the server first). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      const all = [...this.slots.values()];
      await Promise.all(all.map((s) => s.loading?.catch(() => {})));
      await Promise.all(all.map((s) => this.unloadSlot(s, 'repository closed')));
    })();
    return this.closing;
  }
}
