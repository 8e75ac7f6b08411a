/**
 * The lifecycle on the real onnxruntime-node backend and real zoo files. Budgets are sums of
 * the models' real file sizes with memoryFactor 1, so every fit and eviction below is exact.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../../cli/backends.js';
import type { ModelConfig } from '../../../cloud/repository/model-config.js';
import { ModelRepository, type ModelEvent, type ModelRepositoryOptions } from '../../../cloud/repository/model-lifecycle.js';
import type { ModelSource } from '../../../cloud/repository/model-source.js';
import { DEFAULT_MEMORY_FACTOR, estimateResidentBytes } from '../../../cloud/repository/resident-memory.js';
import { ZooSource } from '../../../cloud/repository/zoo-source.js';
import type { InferenceBackend, LoadedModel } from '../../../shared/backend/backend.js';
import { CleaveError } from '../../../shared/errors.js';
import { decodeModel } from '../../../shared/onnx/decode.js';
import { isWeightOnlyQdq } from '../../../shared/onnx/quantize/index.js';
import { zooDir, zooManifest, zooModelBytes } from '../../helpers/zoo.js';

let backend: InferenceBackend;
let dir: string;
/** File bytes of the zoo models used here. */
const size: Record<string, number> = {};
const A = 'mlp-small';
const B = 'cnn-small';
const C = 'audio-small';

beforeAll(async () => {
  backend = (await nodeBackends()).get('onnxruntime-node');
  dir = await zooDir();
  for (const m of (await zooManifest()).models) size[m.name] = m.bytes;
});

const open: ModelRepository[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

interface Harness {
  repo: ModelRepository;
  events: ModelEvent[];
  warnings: string[];
  /** Backend calls in order: `load`, `run <model>@<dim0>`, `dispose`. */
  calls: string[];
}

/** The real backend, recording what the repository asks of it. */
function recording(inner: InferenceBackend, calls: string[]): InferenceBackend {
  return {
    name: inner.name,
    priority: inner.priority,
    describe: () => inner.describe(),
    async load(bytes, opts) {
      calls.push('load');
      const m = await inner.load(bytes, opts);
      const wrapped: LoadedModel = {
        inputNames: m.inputNames,
        outputNames: m.outputNames,
        run: (feeds, outputs) => {
          calls.push(`run ${Object.values(feeds)[0]?.dims[0]}`);
          return m.run(feeds, outputs);
        },
        dispose: () => {
          calls.push('dispose');
          return m.dispose();
        },
      };
      return wrapped;
    },
  };
}

function harness(models: readonly string[], opts: Partial<ModelRepositoryOptions> = {}, source?: ModelSource): Harness {
  const events: ModelEvent[] = [];
  const warnings: string[] = [];
  const calls: string[] = [];
  const repo = new ModelRepository({
    source: source ?? new ZooSource(dir, { only: models }),
    backend: recording(backend, calls),
    loadOptions: { intraOpThreads: 1 },
    memoryFactor: 1,
    warn: (m) => warnings.push(m),
    onEvent: (e) => events.push(e),
    ...opts,
  });
  open.push(repo);
  return { repo, events, warnings, calls };
}

function states(repo: ModelRepository): Record<string, string> {
  return Object.fromEntries(repo.index().map((r) => [r.name, r.state]));
}

function eventLog(events: readonly ModelEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.model}`);
}

async function rejection(p: Promise<unknown>): Promise<CleaveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CleaveError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** Lets pending promise callbacks run (no timers involved). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ModelRepository', () => {
  it('loadAll loads in source order what fits the budget, skips the rest with a warning, and is ready', async () => {
    // C first, then A; B would not fit in what is left, but it is smaller than the whole budget.
    const h = harness([C, B, A], { memoryBudgetBytes: size[C]! + size[A]! });
    expect(h.repo.ready()).toBe(false);
    await h.repo.loadAll();
    expect(states(h.repo)).toEqual({ [C]: 'READY', [B]: 'UNAVAILABLE', [A]: 'READY' });
    expect(h.repo.memoryInUse()).toBe(size[C]! + size[A]!);
    expect(h.warnings).toHaveLength(1);
    expect(h.warnings[0]).toContain(`model "${B}" version 1 not loaded at startup`);
    expect(h.warnings[0]).toContain('loads on first use');
    expect(h.repo.ready()).toBe(true);
    // Skipped for room, not broken: still offered, and it comes in on first use.
    expect(h.repo.offers().map((o) => o.name)).toEqual([C, B, A]);
    const lease = await h.repo.acquire(B);
    lease.release();
    expect(eventLog(h.events)).toEqual([`load ${C}`, `load ${A}`, `evict ${C}`, `load ${B}`]);
    expect(h.repo.ready()).toBe(true);
  });

  it('evicts the least recently used idle model, not the one just used', async () => {
    const h = harness([A, B, C], { memoryBudgetBytes: size[B]! + size[C]! });
    await h.repo.load(A);
    await h.repo.load(B);
    (await h.repo.acquire(A)).release();
    await h.repo.load(C);
    expect(states(h.repo)).toEqual({ [A]: 'READY', [B]: 'UNAVAILABLE', [C]: 'READY' });
    expect(eventLog(h.events)).toEqual([`load ${A}`, `load ${B}`, `evict ${B}`, `load ${C}`]);
    const evicted = h.repo.index().find((r) => r.name === B)!;
    expect(evicted.reason).toBe(`evicted to make room for "${C}" version 1; loads again on first use`);
    expect(h.events[2]).toMatchObject({ type: 'evict', model: B, version: 1, bytes: size[B] });
    expect(h.repo.memoryInUse()).toBe(size[A]! + size[C]!);
  });

  it('without that use, the oldest load goes first (and only as many as needed)', async () => {
    // Freeing A alone makes exactly enough room for C.
    const h = harness([A, B, C], { memoryBudgetBytes: size[B]! + size[C]! });
    await h.repo.load(A);
    await h.repo.load(B);
    await h.repo.load(C);
    expect(states(h.repo)).toEqual({ [A]: 'UNAVAILABLE', [B]: 'READY', [C]: 'READY' });
    expect(h.repo.memoryInUse()).toBe(size[B]! + size[C]!);
  });

  it('an evicted model loads again on acquire, evicting the next least recently used', async () => {
    const h = harness([A, B, C], { memoryBudgetBytes: size[B]! + size[C]! });
    await h.repo.load(A);
    await h.repo.load(B);
    (await h.repo.acquire(A)).release();
    await h.repo.load(C); // evicts B
    const lease = await h.repo.acquire(B); // A is now the least recently used idle model
    try {
      expect(lease.version).toBe(1);
      expect(lease.config.name).toBe(B);
      const out = await lease.model.run({ image: { dtype: 'float32', dims: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) } });
      expect(out.logits?.dims).toEqual([1, 10]);
    } finally {
      lease.release();
    }
    expect(states(h.repo)).toEqual({ [A]: 'UNAVAILABLE', [B]: 'READY', [C]: 'READY' });
    expect(h.events.filter((e) => e.type === 'load' && e.model === B)).toHaveLength(2);
  });

  it('never evicts a leased model: OVERLOADED naming need, budget and use, until a lease ends', async () => {
    const h = harness([A, B, C], { memoryBudgetBytes: size[B]! + size[C]! });
    const a = await h.repo.acquire(A);
    const b = await h.repo.acquire(B);
    const e = await rejection(h.repo.load(C));
    expect(e.code).toBe('CLEAVE_E_OVERLOADED');
    const inUse = size[A]! + size[B]!;
    expect(e.message).toContain(`needs an estimated ${size[C]} bytes; the memory budget is ${size[B]! + size[C]!} bytes with ${inUse} in use`);
    expect(e.message).toContain(`"${A}" v1 1 lease ${size[A]} bytes`);
    expect(e.detail).toMatchObject({ need: size[C], budget: size[B]! + size[C]!, inUse });
    expect(states(h.repo)).toEqual({ [A]: 'READY', [B]: 'READY', [C]: 'UNAVAILABLE' });
    expect(h.calls.filter((c) => c === 'dispose')).toHaveLength(0);
    // Not fitting now is not a broken model: C is still offered, and loads once B is free.
    expect(h.repo.offers().map((o) => o.name)).toContain(C);
    b.release();
    await h.repo.load(C);
    expect(states(h.repo)).toEqual({ [A]: 'READY', [B]: 'UNAVAILABLE', [C]: 'READY' });
    a.release();
  });

  it('a model larger than the whole budget is UNAVAILABLE', async () => {
    const h = harness([A, B], { memoryBudgetBytes: size[B]! - 1 });
    await h.repo.load(A);
    const e = await rejection(h.repo.load(B));
    expect(e.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(e.message).toContain(`needs an estimated ${size[B]} bytes, more than the whole memory budget of ${size[B]! - 1} bytes`);
    expect(states(h.repo)[A]).toBe('READY');
  });

  it('concurrent loads and acquires of one model share one load', async () => {
    const h = harness([A]);
    const [, , lease] = await Promise.all([h.repo.load(A), h.repo.load(A), h.repo.acquire(A), h.repo.load(A)]);
    lease.release();
    await h.repo.load(A); // already READY: nothing to do
    expect(h.calls.filter((c) => c === 'load')).toHaveLength(1);
    expect(eventLog(h.events)).toEqual([`load ${A}`]);
  });

  it('warms up at each configured batch size before the model is READY', async () => {
    const zoo = new ZooSource(dir, { only: [A] });
    const seen: string[] = [];
    let repo: ModelRepository | undefined;
    const source: ModelSource = {
      description: 'zoo with warmup',
      list: async () => (await zoo.list()).map((c): ModelConfig => ({ ...c, warmup: { enabled: true, batchSizes: [1, 4, 32] } })),
      read: (n, v) => zoo.read(n, v),
    };
    const h = harness([A], {
      onEvent: (e) => seen.push(`${e.type} (${repo?.index()[0]?.state})`),
    }, source);
    repo = h.repo;
    const inner = h.calls;
    await h.repo.load(A);
    expect(inner).toEqual(['load', 'run 1', 'run 4', 'run 32']);
    expect(seen).toEqual(['load (READY)']);
    expect(h.repo.isReady(A)).toBe(true);
  });

  it('warmup runs while LOADING, and a disabled warmup runs nothing', async () => {
    const zoo = new ZooSource(dir, { only: [A, B] });
    const source: ModelSource = {
      description: 'zoo',
      list: async () => (await zoo.list()).map((c): ModelConfig => (c.name === B ? { ...c, warmup: { enabled: false, batchSizes: [1] } } : c)),
      read: (n, v) => zoo.read(n, v),
    };
    const calls: string[] = [];
    let repo!: ModelRepository;
    const watching: InferenceBackend = {
      name: backend.name,
      priority: backend.priority,
      describe: () => backend.describe(),
      async load(bytes, opts) {
        const m = await backend.load(bytes, opts);
        return { ...m, inputNames: m.inputNames, outputNames: m.outputNames, run: (f, o) => { calls.push(`run in ${repo.index().map((r) => r.state).join('/')}`); return m.run(f, o); }, dispose: () => m.dispose() };
      },
    };
    repo = new ModelRepository({ source, backend: watching, loadOptions: { intraOpThreads: 1 } });
    open.push(repo);
    await repo.load(A);
    await repo.load(B);
    expect(calls).toEqual(['run in LOADING/UNAVAILABLE']);
  });

  it('unload waits for the lease to end and refuses new acquires meanwhile and after', async () => {
    const h = harness([A, B]);
    await h.repo.load(B);
    const lease = await h.repo.acquire(A);
    let done = false;
    const unloading = h.repo.unload(A).then(() => { done = true; });
    await settle();
    expect(done).toBe(false);
    expect(states(h.repo)[A]).toBe('UNLOADING');
    expect(h.calls.filter((c) => c === 'dispose')).toHaveLength(0);
    const meanwhile = await rejection(h.repo.acquire(A));
    expect(meanwhile.code).toBe('CLEAVE_E_UNAVAILABLE');
    // The leased session still runs to the end of its use.
    await lease.model.run({ x: { dtype: 'float32', dims: [1, 64], data: new Float32Array(64) } });
    lease.release();
    lease.release(); // idempotent
    await unloading;
    expect(done).toBe(true);
    expect(h.repo.index().find((r) => r.name === A)).toEqual({ name: A, version: 1, state: 'UNAVAILABLE', reason: 'unloaded' });
    expect(eventLog(h.events)).toEqual([`load ${B}`, `load ${A}`, `unload ${A}`]);
    expect((await rejection(h.repo.acquire(A))).message).toContain('is unloaded; load it to serve it again');
    expect(h.repo.offers().map((o) => o.name)).toEqual([B]);
    await h.repo.load(A);
    expect(h.repo.isReady(A)).toBe(true);
  });

  it('unknown models and versions are NOT_FOUND listing what exists', async () => {
    const h = harness([A, B]);
    const e = await rejection(h.repo.acquire('nope'));
    expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(e.message).toBe(`no model "nope" in zoo ${dir.replace(/\/$/, '')}; have: ${A}, ${B}`);
    const v = await rejection(h.repo.acquire(A, 7));
    expect(v.message).toBe(`model "${A}" has no version 7; have: 1`);
    expect((await rejection(h.repo.unload('nope'))).code).toBe('CLEAVE_E_NOT_FOUND');
    expect((await rejection(h.repo.config(A, 7))).code).toBe('CLEAVE_E_NOT_FOUND');
  });

  it('offers each model\'s default version with its contract', async () => {
    const h = harness([A]);
    await h.repo.refresh();
    expect(h.repo.offers()).toEqual([{
      name: A, version: 1, maxBatchSize: 32,
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
    }]);
    expect(h.repo.index()).toEqual([{ name: A, version: 1, state: 'UNAVAILABLE' }]);
  });

  it('a model whose bytes do not decode fails its load once and is reported', async () => {
    const zoo = new ZooSource(dir, { only: [A] });
    const source: ModelSource = {
      description: 'broken',
      list: () => zoo.list(),
      read: async () => new Uint8Array([0xff, 0xff, 0xff]),
    };
    const h = harness([A], {}, source);
    await h.repo.loadAll();
    expect(h.repo.ready()).toBe(false);
    expect(h.warnings[0]).toContain(`model "${A}" version 1 failed to load at startup`);
    expect(h.events.map((e) => e.type)).toEqual(['load-failed']);
    expect(h.repo.index()[0]?.state).toBe('UNAVAILABLE');
    expect(h.repo.index()[0]?.reason).toBe(h.events[0]?.reason);
    expect((await rejection(h.repo.acquire(A))).code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(h.calls).toEqual([]);
  });

  it('estimates int8 weight-only QDQ models at their fp32 size (onnxruntime folds the weights at load)', async () => {
    const name = 'cnn-small-int8';
    const bytes = await zooModelBytes(name);
    const model = decodeModel(bytes);
    expect(isWeightOnlyQdq(model)).toBe(true);
    const h = harness([name], { memoryFactor: DEFAULT_MEMORY_FACTOR });
    await h.repo.load(name);
    const estimate = estimateResidentBytes(bytes.length, model, true);
    expect(h.repo.memoryInUse()).toBe(estimate);
    expect(estimate).toBeGreaterThan(bytes.length * DEFAULT_MEMORY_FACTOR * 2);
  });

  it('close disposes every model and refuses what comes after', async () => {
    const h = harness([A, B]);
    await h.repo.loadAll();
    expect(h.repo.ready()).toBe(true);
    await h.repo.close();
    expect(h.calls.filter((c) => c === 'dispose')).toHaveLength(2);
    expect(h.repo.memoryInUse()).toBe(0);
    expect(h.repo.ready()).toBe(false);
    expect((await rejection(h.repo.acquire(A))).code).toBe('CLEAVE_E_UNAVAILABLE');
    await h.repo.close(); // idempotent
  });

  it('rejects a bad budget or factor', () => {
    const source = new ZooSource(dir);
    expect(() => new ModelRepository({ source, backend, memoryBudgetBytes: -1 })).toThrow(/memoryBudgetBytes -1/);
    expect(() => new ModelRepository({ source, backend, memoryFactor: 0 })).toThrow(/memoryFactor 0/);
  });
});
