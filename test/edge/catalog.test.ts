// The edge's model catalog: entries from the zoo manifest (placement, fallbacks, load options),
// the checks the catalog makes of its entries, lookups, one load per model shared by concurrent
// callers, learning the cloud's offers, and the Worker's bundled model list.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelCatalog, sameSignature, type CatalogEntry } from '../../edge/model-catalog.js';
import { zooCatalogEntries } from '../../edge/zoo-catalog.js';
import type { InferenceBackend, LoadedModel, LoadOptions } from '../../shared/backend/backend.js';
import type { ModelOffer, TensorSpec } from '../../shared/protocol/frames.js';
import type { Manifest } from '../../shared/zoo/index.js';
import { cleaveErrorOf } from '../helpers/errors.js';
import { zooManifest } from '../helpers/zoo.js';

let manifest: Manifest;
beforeAll(async () => {
  manifest = await zooManifest();
});

const noBytes = (): Promise<Uint8Array> => Promise.reject(new Error('not read in this test'));

/** A backend that records each load, answers empty models, and can be held or made to fail. */
function fakeBackend() {
  const loads: { bytes: Uint8Array; opts: LoadOptions | undefined }[] = [];
  let disposed = 0;
  let release: () => void = () => {};
  let held: Promise<void> = Promise.resolve();
  const backend: InferenceBackend = {
    name: 'fake', priority: 1,
    describe: () => ({ name: 'fake', providers: ['cpu'] }),
    async load(bytes, opts) {
      loads.push({ bytes, opts });
      await held;
      const m: LoadedModel = {
        inputNames: ['x'], outputNames: ['y'],
        run: () => Promise.resolve({}),
        dispose: () => { disposed++; return Promise.resolve(); },
      };
      return m;
    },
  };
  return {
    backend, loads,
    get disposed() { return disposed; },
    /** Holds every load until the returned function is called. */
    hold(): () => void {
      held = new Promise<void>((r) => { release = r; });
      return () => release();
    },
  };
}

const X4: TensorSpec = { name: 'x', dtype: 'float32', shape: [-1, 4] };
const Y4: TensorSpec = { name: 'y', dtype: 'float32', shape: [-1, 4] };

function entry(name: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return { name, version: 1, placement: 'edge', inputs: [X4], outputs: [Y4], maxBatchSize: 8, bytes: () => Promise.resolve(new Uint8Array([1, 2, 3])), ...over };
}

/** Lets queued promise callbacks run. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('zooCatalogEntries', () => {
  it('places the edge tier here and forwards the cloud tier', () => {
    const entries = zooCatalogEntries(manifest, { bytesOf: noBytes, cloud: true });
    expect(entries.map((e) => e.name).sort()).toEqual(manifest.models.map((m) => m.name).sort());
    for (const m of manifest.models) {
      const e = entries.find((x) => x.name === m.name)!;
      expect(e.placement).toBe(m.tier);
      expect(e.version).toBe(m.version);
      expect(typeof e.bytes).toBe(m.tier === 'edge' ? 'function' : 'undefined');
    }
  });

  it('without a cloud lists only the edge tier; edgeModels narrows it', () => {
    const edgeOnly = zooCatalogEntries(manifest, { bytesOf: noBytes, cloud: false });
    expect(edgeOnly.map((e) => e.name).sort()).toEqual(manifest.models.filter((m) => m.tier === 'edge').map((m) => m.name).sort());
    const some = zooCatalogEntries(manifest, { bytesOf: noBytes, cloud: false, edgeModels: ['mlp-small', 'cnn-small'] });
    expect(some.map((e) => e.name).sort()).toEqual(['cnn-small', 'mlp-small']);
  });

  it('reads the file a manifest entry names, and writes the batch dim as -1', async () => {
    const asked: string[] = [];
    const entries = zooCatalogEntries(manifest, { bytesOf: (f) => { asked.push(f); return Promise.resolve(new Uint8Array([7])); }, cloud: true });
    const cnn = entries.find((e) => e.name === 'cnn-small')!;
    expect(await cnn.bytes!()).toEqual(new Uint8Array([7]));
    expect(asked).toEqual(['cnn-small.onnx']);
    expect(cnn.inputs).toEqual([{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }]);
    expect(cnn.outputs).toEqual([{ name: 'logits', dtype: 'float32', shape: [-1, 10] }]);
  });

  it('gives weight-only QDQ models their load option, and no other model one', () => {
    const entries = zooCatalogEntries(manifest, { bytesOf: noBytes, cloud: true });
    for (const m of manifest.models) {
      const e = entries.find((x) => x.name === m.name)!;
      if (m.tier === 'edge' && m.quantization === 'qdq-weight') expect(e.loadOptions).toEqual({ weightOnlyQdq: true });
      else expect(e.loadOptions).toBeUndefined();
    }
    expect(entries.find((e) => e.name === 'cnn-small-int8')!.loadOptions).toEqual({ weightOnlyQdq: true });
  });

  it('pairs each cloud model with the fp32 edge model of the same signature', () => {
    const entries = zooCatalogEntries(manifest, { bytesOf: noBytes, cloud: true });
    const fallbackOf = (name: string): string | undefined => entries.find((e) => e.name === name)!.fallback;
    expect(fallbackOf('text-base')).toBe('text-tiny');
    expect(fallbackOf('cnn-large')).toBe('cnn-small');
    expect(fallbackOf('audio-large')).toBe('audio-small');
    expect(fallbackOf('mlp-large')).toBeUndefined(); // 512 inputs, mlp-small takes 64
    for (const e of entries.filter((x) => x.placement === 'edge')) expect(e.fallback).toBeUndefined();
    // The pairs pass the catalog's own check.
    expect(() => new ModelCatalog(entries, { backend: fakeBackend().backend })).not.toThrow();
  });

  it('never picks an int8 model as a fallback', () => {
    const int8 = manifest.models.filter((m) => m.quantization !== 'none' && m.tier === 'edge');
    expect(int8.map((m) => m.name).sort()).toEqual(['cnn-small-int8', 'text-tiny-int8']);
    // Only the int8 variants at the edge: their cloud models get no fallback at all.
    const entries = zooCatalogEntries(manifest, { bytesOf: noBytes, cloud: true, edgeModels: int8.map((m) => m.name) });
    expect(entries.find((e) => e.name === 'text-base')!.fallback).toBeUndefined();
    expect(entries.find((e) => e.name === 'cnn-large')!.fallback).toBeUndefined();
    // Listed before their fp32 bases, they are still passed over.
    const reordered: Manifest = { ...manifest, models: [...manifest.models].sort((a, b) => Number(b.quantization !== 'none') - Number(a.quantization !== 'none')) };
    expect(reordered.models[0]!.quantization).not.toBe('none');
    const again = zooCatalogEntries(reordered, { bytesOf: noBytes, cloud: true });
    expect(again.find((e) => e.name === 'text-base')!.fallback).toBe('text-tiny');
    expect(again.find((e) => e.name === 'cnn-large')!.fallback).toBe('cnn-small');
  });
});

describe('ModelCatalog checks its entries', () => {
  const backend = fakeBackend().backend;

  it('a fallback that is a cloud model throws', () => {
    const e = cleaveErrorOf(() => new ModelCatalog([entry('big', { placement: 'cloud', fallback: 'other' }), entry('other', { placement: 'cloud' })], { backend }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('"big"');
    expect(e.message).toContain('"other"');
    expect(e.detail).toEqual({ model: 'big', fallback: 'other' });
  });

  it('a fallback that does not exist throws', () => {
    const e = cleaveErrorOf(() => new ModelCatalog([entry('big', { placement: 'cloud', fallback: 'ghost' })], { backend }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('"ghost"');
  });

  const differing: { name: string; over: Partial<CatalogEntry> }[] = [
    { name: 'input dtype', over: { inputs: [{ ...X4, dtype: 'float16' }] } },
    { name: 'input shape', over: { inputs: [{ ...X4, shape: [-1, 5] }] } },
    { name: 'input rank', over: { inputs: [{ ...X4, shape: [-1, 4, 1] }] } },
    { name: 'input name', over: { inputs: [{ ...X4, name: 'z' }] } },
    { name: 'an extra input', over: { inputs: [X4, { ...X4, name: 'mask' }] } },
    { name: 'output shape', over: { outputs: [{ ...Y4, shape: [-1, 3] }] } },
  ];
  for (const d of differing) {
    it(`a fallback whose ${d.name} differs throws`, () => {
      const e = cleaveErrorOf(() => new ModelCatalog([entry('big', { placement: 'cloud', fallback: 'small' }), entry('small', d.over)], { backend }));
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.message).toContain('same inputs and outputs');
    });
  }

  it('sameSignature ignores the order of tensors', () => {
    const a = { inputs: [X4, { ...X4, name: 'm' }], outputs: [Y4] };
    const b = { inputs: [{ ...X4, name: 'm' }, X4], outputs: [Y4] };
    expect(sameSignature(a, b)).toBe(true);
  });

  it('the same name and version twice throws; another version of a name is fine', () => {
    const e = cleaveErrorOf(() => new ModelCatalog([entry('m'), entry('m')], { backend }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('"m" version 1 is listed twice');
    expect(() => new ModelCatalog([entry('m'), entry('m', { version: 2 })], { backend })).not.toThrow();
  });
});

describe('ModelCatalog lookups', () => {
  const catalog = (): ModelCatalog => new ModelCatalog([
    entry('m', { version: 2 }), entry('m', { version: 10 }), entry('m', { version: 1 }), entry('alpha'), entry('zeta', { placement: 'cloud' }),
  ], { backend: fakeBackend().backend });

  it('versions are newest first, and find() without a version is the newest', () => {
    const c = catalog();
    expect(c.versions('m')).toEqual([10, 2, 1]);
    expect(c.versions('nope')).toEqual([]);
    expect(c.find('m')!.version).toBe(10);
    expect(c.find('m', 2)!.version).toBe(2);
    expect(c.find('m', 3)).toBeUndefined();
    expect(c.list().filter((e) => e.name === 'm').map((e) => e.version)).toEqual([10, 2, 1]);
  });

  it('get() of an unknown name is a 404 listing the models', () => {
    const e = cleaveErrorOf(() => catalog().get('nope'));
    expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(e.httpStatus).toBe(404);
    expect(e.message).toContain('"nope" is not served here; models: alpha, m, zeta');
    expect(e.detail).toEqual({ model: 'nope', expected: ['alpha', 'm', 'zeta'] });
  });

  it('get() of an unknown version is a 404 listing the versions', () => {
    const e = cleaveErrorOf(() => catalog().get('m', 3));
    expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(e.message).toContain('has no version 3; versions: 10, 2, 1');
  });

  it('an empty catalog says so', () => {
    const e = cleaveErrorOf(() => new ModelCatalog([], { backend: fakeBackend().backend }).get('x'));
    expect(e.message).toContain('models: none');
  });
});

describe('ModelCatalog sessions', () => {
  it('concurrent callers share one load', async () => {
    const fb = fakeBackend();
    let reads = 0;
    const e = entry('m', { bytes: () => { reads++; return Promise.resolve(new Uint8Array([9])); } });
    const c = new ModelCatalog([e], { backend: fb.backend });
    const release = fb.hold();
    const all = Promise.all([c.session(e), c.session(e), c.session(e)]);
    await flush();
    expect(c.isLoaded(e)).toBe(false); // still loading
    release();
    const [a, b, d] = await all;
    expect(a).toBe(b);
    expect(a).toBe(d);
    expect(reads).toBe(1);
    expect(fb.loads).toHaveLength(1);
    expect(fb.loads[0]!.bytes).toEqual(new Uint8Array([9]));
    expect(c.isLoaded(e)).toBe(true);
    expect(await c.session(e)).toBe(a);
    expect(fb.loads).toHaveLength(1);
  });

  it('a failed load is not remembered: the next call loads again', async () => {
    const fb = fakeBackend();
    let reads = 0;
    const e = entry('m', { bytes: () => (++reads === 1 ? Promise.reject(new Error('EIO: read failed')) : Promise.resolve(new Uint8Array([1]))) });
    const c = new ModelCatalog([e], { backend: fb.backend });
    const [first, second] = await Promise.allSettled([c.session(e), c.session(e)]);
    expect(first).toMatchObject({ status: 'rejected', reason: { message: 'EIO: read failed' } });
    expect(second.status).toBe('rejected'); // joined the same failed load
    expect(c.isLoaded(e)).toBe(false);
    await expect(c.session(e)).resolves.toBeDefined();
    expect(reads).toBe(2);
    expect(fb.loads).toHaveLength(1);
    expect(c.isLoaded(e)).toBe(true);
  });

  it('a backend that fails to load is retried too', async () => {
    let n = 0;
    const backend: InferenceBackend = {
      name: 'flaky', priority: 1, describe: () => ({ name: 'flaky', providers: [] }),
      load: () => (++n === 1 ? Promise.reject(new Error('bad model')) : Promise.resolve({ inputNames: [], outputNames: [], run: () => Promise.resolve({}), dispose: () => Promise.resolve() })),
    };
    const e = entry('m');
    const c = new ModelCatalog([e], { backend });
    await expect(c.session(e)).rejects.toThrow('bad model');
    await expect(c.session(e)).resolves.toBeDefined();
    expect(n).toBe(2);
  });

  it('load options: one intra-op thread by default, the catalog\'s defaults, then the entry\'s own', async () => {
    const fb = fakeBackend();
    const plain = entry('plain');
    const qdq = entry('qdq', { loadOptions: { weightOnlyQdq: true, intraOpThreads: 4 } });
    await new ModelCatalog([plain], { backend: fb.backend }).session(plain);
    await new ModelCatalog([plain, qdq], { backend: fb.backend, loadOptions: { intraOpThreads: 2, graphOptimization: 'basic' } }).session(qdq);
    expect(fb.loads.map((l) => l.opts)).toEqual([
      { intraOpThreads: 1 },
      { intraOpThreads: 4, graphOptimization: 'basic', weightOnlyQdq: true },
    ]);
  });

  it('a cloud model has no session', async () => {
    const e = entry('c', { placement: 'cloud' });
    const c = new ModelCatalog([e], { backend: fakeBackend().backend });
    await expect(c.session(e)).rejects.toMatchObject({ code: 'CLEAVE_E_INTERNAL', message: expect.stringContaining('"c"') });
  });

  it('warm() loads the newest version of every edge model; close() disposes them', async () => {
    const fb = fakeBackend();
    const v1 = entry('m', { bytes: () => Promise.resolve(new Uint8Array([1])) });
    const v2 = entry('m', { version: 2, bytes: () => Promise.resolve(new Uint8Array([2])) });
    const other = entry('o');
    const cloud: CatalogEntry = { name: 'c', version: 1, placement: 'cloud', inputs: [X4], outputs: [Y4], maxBatchSize: 8 };
    const c = new ModelCatalog([v1, v2, other, cloud], { backend: fb.backend });
    await c.warm();
    expect(fb.loads.map((l) => Array.from(l.bytes))).toEqual([[2], [1, 2, 3]]);
    expect(c.isLoaded(v2)).toBe(true);
    expect(c.isLoaded(v1)).toBe(false);
    await c.close();
    expect(fb.disposed).toBe(2);
    expect(c.isLoaded(v2)).toBe(false);
  });
});

describe('ModelCatalog.learnOffers', () => {
  const offer = (name: string, version: number): ModelOffer => ({ name, version, inputs: [X4], outputs: [Y4], maxBatchSize: 16 });

  it('adds unknown models as cloud models and leaves known ones as configured', () => {
    const edge = entry('m');
    const c = new ModelCatalog([edge, entry('big', { placement: 'cloud', fallback: 'm' })], { backend: fakeBackend().backend });
    c.learnOffers([offer('new', 3), offer('m', 1), offer('big', 1)]);
    expect(c.find('new')).toEqual({ name: 'new', version: 3, placement: 'cloud', inputs: [X4], outputs: [Y4], maxBatchSize: 16 });
    expect(c.find('m')).toBe(edge);
    expect(c.find('big')!.fallback).toBe('m');
    // Learning twice changes nothing.
    c.learnOffers([offer('new', 3)]);
    expect(c.versions('new')).toEqual([3]);
  });

  it('a newer version of a known name does not take the name over', () => {
    const edge = entry('m');
    const big = entry('big', { placement: 'cloud', fallback: 'm' });
    const c = new ModelCatalog([edge, big], { backend: fakeBackend().backend });
    // The cloud also serves m v2 and big v2: requests for "m" must still run at the edge,
    // and "big" must keep its fallback.
    c.learnOffers([offer('m', 2), offer('big', 2)]);
    expect(c.find('m')).toBe(edge);
    expect(c.find('big')).toBe(big);
    expect(c.versions('m')).toEqual([1]);
  });
});

describe('the Worker bundle', () => {
  it('edge/worker-models.ts bundles exactly the files of the manifest\'s edge tier', async () => {
    // Read as text: the module imports .onnx files, which only wrangler's bundler can import.
    const src = await readFile(new URL('../../edge/worker-models.ts', import.meta.url), 'utf8');
    const keys = [...src.matchAll(/^\s*'([^']+\.onnx)':/gm)].map((m) => m[1]!).sort();
    const imports = [...src.matchAll(/^import \w+ from '\.\.\/models\/([^']+\.onnx)';$/gm)].map((m) => m[1]!).sort();
    const edgeFiles = manifest.models.filter((m) => m.tier === 'edge').map((m) => m.file).sort();
    expect(edgeFiles.length).toBeGreaterThan(0);
    expect(keys).toEqual(edgeFiles);
    expect(imports).toEqual(edgeFiles);
  });
});
