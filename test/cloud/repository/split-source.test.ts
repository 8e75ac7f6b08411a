// Split tails served next to their models: listed under splitPartName for every batch-major
// single-tensor cut of every float batched model, loaded only when a request names one, and equal
// (head on the edge, tail in the cloud) to the whole model.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeBackends } from '../../../cli/backends.js';
import { cloudSettingsFromEnv, resolveCloudConfig } from '../../../cloud/config.js';
import { InferenceService } from '../../../cloud/inference-service.js';
import { CloudMetrics } from '../../../cloud/metrics.js';
import type { ModelConfig } from '../../../cloud/repository/model-config.js';
import { ModelRepository } from '../../../cloud/repository/model-lifecycle.js';
import type { ModelSource } from '../../../cloud/repository/model-source.js';
import { SplitSource } from '../../../cloud/repository/split-source.js';
import { ZooSource } from '../../../cloud/repository/zoo-source.js';
import type { InferenceBackend } from '../../../shared/backend/backend.js';
import { CleaveError, isCleaveError } from '../../../shared/errors.js';
import { decodeModel } from '../../../shared/onnx/decode.js';
import { encodeModel } from '../../../shared/onnx/encode.js';
import { listCutPoints, splitModel, splitPartName, SPLIT_CUT_KEY, SPLIT_PART_KEY } from '../../../shared/onnx/split/index.js';
import { argmaxRows, maxAbsDiff } from '../../../shared/tensor.js';
import { systemClock, systemTimers } from '../../../shared/time.js';
import { zooSampleInputs } from '../../../shared/zoo/index.js';
import { zooDir, zooModelBytes } from '../../helpers/zoo.js';

// Counts decodes, to show a second listing reuses the first one's cut analysis.
const decodes = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../../shared/onnx/decode.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../../shared/onnx/decode.js')>();
  return { ...mod, decodeModel: (...args: Parameters<typeof mod.decodeModel>) => { decodes.n++; return mod.decodeModel(...args); } };
});

/** Models held in memory, whose bytes a test may swap. */
class MemorySource implements ModelSource {
  readonly description = 'memory';
  reads = 0;
  constructor(public models: { config: ModelConfig; bytes: Uint8Array }[]) {}
  async list(): Promise<ModelConfig[]> {
    return this.models.map((m) => m.config);
  }
  async read(name: string, version: number): Promise<Uint8Array> {
    this.reads++;
    const m = this.models.find((x) => x.config.name === name && x.config.versions.includes(version));
    if (!m) throw new CleaveError('CLEAVE_E_NOT_FOUND', `no model "${name}" version ${version} in memory`, { model: name });
    return m.bytes;
  }
}

const CUT = 'block3.pool_out';
const TAIL = splitPartName('cnn-large', 'tail', [CUT]);
let dir: string;
let backend: InferenceBackend;
let configs: Map<string, ModelConfig>;

beforeAll(async () => {
  dir = await zooDir();
  backend = (await nodeBackends()).get('onnxruntime-node');
  configs = new Map((await new ZooSource(dir, { only: ['cnn-large', 'cnn-small-int8', 'mlp-small', 'cnn-small'] }).list()).map((c) => [c.name, c]));
});

describe('SplitSource listing', () => {
  it('adds an on-demand tail per batch-major single-tensor cut of each float model, none for int8 ones', async () => {
    const source = new SplitSource(new ZooSource(dir, { only: ['cnn-large', 'cnn-small-int8', 'mlp-small'] }), { warn: () => undefined });
    const list = await source.list();
    expect(list.slice(0, 3).map((c) => c.name)).toEqual(['cnn-large', 'cnn-small-int8', 'mlp-small']);
    expect(list.slice(0, 3).every((c) => c.onDemand === undefined)).toBe(true);
    const tails = list.slice(3);
    expect(tails.every((c) => c.onDemand === true)).toBe(true);
    const model = decodeModel(await zooModelBytes('cnn-large'));
    const cnnCuts = listCutPoints(model).filter((c) => c.bytesPerSample !== undefined).map((c) => c.tensors[0]!.name);
    expect(cnnCuts.length).toBeGreaterThan(10);
    expect(tails.filter((c) => c.name.startsWith('cnn-large.')).map((c) => c.name)).toEqual(cnnCuts.map((t) => splitPartName('cnn-large', 'tail', [t])));
    expect(tails.some((c) => c.name.startsWith('cnn-small-int8.'))).toBe(false);
    expect(tails.filter((c) => c.name.startsWith('mlp-small.')).map((c) => c.name)).toEqual(['mlp-small.tail.fc1_out', 'mlp-small.tail.fc1.relu_out', 'mlp-small.tail.classifier_out']);
  });

  it('gives a tail the crossing tensor as input and the model\'s outputs, versions and batching', async () => {
    const source = new SplitSource(new ZooSource(dir, { only: ['cnn-large'] }));
    const tail = (await source.list()).find((c) => c.name === TAIL)!;
    const base = configs.get('cnn-large')!;
    expect(tail).toMatchObject({
      name: 'cnn-large.tail.block3.pool_out',
      versions: base.versions,
      inputs: [{ name: CUT, dtype: 'float32', shape: [-1, 128, 8, 8] }],
      outputs: base.outputs,
      maxBatchSize: base.maxBatchSize,
      warmup: base.warmup,
      onDemand: true,
    });
    expect(tail.description).toContain('split tail of "cnn-large" cut at "block3.pool_out" (32768 bytes per sample cross the cut)');
  });

  it('lists passthrough inputs too (a text tail re-reads input_ids for its mask)', async () => {
    const source = new SplitSource(new ZooSource(dir, { only: ['text-tiny'] }));
    const tail = (await source.list()).find((c) => c.name === 'text-tiny.tail.layer0.attn.ln_out')!;
    expect(tail.inputs).toEqual([
      { name: 'layer0.attn.ln_out', dtype: 'float32', shape: [-1, 32, 64] },
      { name: 'input_ids', dtype: 'int64', shape: [-1, 32] },
    ]);
  });

  it('lists no tails for a model without a batch dim, and lets a model of the same name in the source win', async () => {
    const mlp = configs.get('mlp-small')!;
    const bytes = await zooModelBytes('mlp-small');
    const unbatched = { ...mlp, name: 'flat', maxBatchSize: 0 };
    const squatter = { ...mlp, name: 'mlp-small.tail.fc1_out' };
    const source = new SplitSource(new MemorySource([{ config: unbatched, bytes }, { config: mlp, bytes }, { config: squatter, bytes }]));
    const names = (await source.list()).map((c) => c.name);
    expect(names.filter((n) => n.startsWith('flat.'))).toEqual([]);
    expect(names.filter((n) => n === 'mlp-small.tail.fc1_out')).toHaveLength(1);
    expect(names).toContain('mlp-small.tail.fc1.relu_out');
    // The squatter is the source's own model, served as it is.
    expect(await source.read('mlp-small.tail.fc1_out', 1)).toBe(bytes);
  });

  it('decodes each base model once across listings, and again only when its bytes change', async () => {
    const mlp = configs.get('mlp-small')!;
    const memory = new MemorySource([{ config: mlp, bytes: await zooModelBytes('mlp-small') }]);
    const source = new SplitSource(memory);
    decodes.n = 0;
    const first = await source.list();
    expect(decodes.n).toBe(1);
    expect(await source.list()).toEqual(first);
    expect(decodes.n).toBe(1);
    // Same name and version, other graph: the cut points follow the new bytes.
    const cnn = configs.get('cnn-small')!;
    memory.models = [{ config: { ...cnn, name: 'mlp-small' }, bytes: await zooModelBytes('cnn-small') }];
    const after = (await source.list()).map((c) => c.name);
    expect(decodes.n).toBe(2);
    expect(after).toContain('mlp-small.tail.block3.pool_out');
    expect(after).not.toContain('mlp-small.tail.fc1_out');
  });
});

describe('SplitSource read', () => {
  it('cuts the base model and keeps the encoded tail for the next read', async () => {
    const source = new SplitSource(new ZooSource(dir, { only: ['cnn-large'] }));
    const bytes = await source.read(TAIL, configs.get('cnn-large')!.versions.at(-1)!);
    const tail = decodeModel(bytes);
    expect(tail.metadataProps).toEqual(expect.arrayContaining([{ key: SPLIT_PART_KEY, value: 'tail' }, { key: SPLIT_CUT_KEY, value: CUT }]));
    expect(tail.graph.input.map((v) => v.name)).toEqual([CUT]);
    expect(await source.read(TAIL, configs.get('cnn-large')!.versions.at(-1)!)).toBe(bytes);
  });

  it('answers CLEAVE_E_NOT_FOUND for a version the base lacks and for names it does not know', async () => {
    const source = new SplitSource(new ZooSource(dir, { only: ['cnn-large'] }));
    const bad = await source.read(TAIL, 999).catch((e: unknown) => e);
    expect(isCleaveError(bad, 'CLEAVE_E_NOT_FOUND')).toBe(true);
    expect((bad as Error).message).toContain(`split tail "${TAIL}" has no version 999`);
    const unknown = await source.read('cnn-large.tail.nowhere', 1).catch((e: unknown) => e);
    expect(isCleaveError(unknown, 'CLEAVE_E_NOT_FOUND')).toBe(true);
  });
});

describe('split tails in the repository and the inference service', () => {
  let repository: ModelRepository;
  let service: InferenceService;

  beforeAll(async () => {
    repository = new ModelRepository({
      source: new SplitSource(new ZooSource(dir, { only: ['cnn-large', 'mlp-small'] })),
      backend, loadOptions: { intraOpThreads: 1 }, warn: () => undefined,
    });
    service = new InferenceService({ repository, metrics: new CloudMetrics({ processMetrics: false }), clock: systemClock, timers: systemTimers });
    await repository.loadAll();
  });
  afterAll(async () => {
    service?.close();
    await repository?.close();
  });

  it('warms only the base models and offers only them; tails stay listed, unloaded', () => {
    expect(repository.ready()).toBe(true);
    expect(repository.offers().map((o) => o.name)).toEqual(['cnn-large', 'mlp-small']);
    const index = repository.index();
    expect(index.length).toBeGreaterThan(20);
    const loaded = index.filter((r) => r.state === 'READY').map((r) => r.name);
    expect(loaded).toEqual(['cnn-large', 'mlp-small']);
    expect(index.find((r) => r.name === TAIL)?.state).toBe('UNAVAILABLE');
  });

  it('runs the edge head in onnxruntime-node and the tail by its part name: the full model\'s logits within 1e-4', async () => {
    const inputs = zooSampleInputs('cnn-large', 3, 11)!;
    const full = (await service.infer({ model: 'cnn-large', inputs, protocol: 'test' }).promise).outputs.logits!;
    const parts = splitModel(decodeModel(await zooModelBytes('cnn-large')), [CUT]);
    const head = await backend.load(encodeModel(parts.head), { intraOpThreads: 1 });
    let cut;
    try {
      cut = (await head.run(inputs))[CUT]!;
    } finally {
      await head.dispose();
    }
    expect(cut.dims).toEqual([3, 128, 8, 8]);
    const r = await service.infer({ model: TAIL, inputs: { [CUT]: cut }, protocol: 'test' }).promise;
    expect(r.outputs.logits!.dims).toEqual([3, 10]);
    expect(maxAbsDiff(r.outputs.logits!, full)).toBeLessThan(1e-4);
    expect(argmaxRows(r.outputs.logits!)).toEqual(argmaxRows(full));
    expect(repository.isReady(TAIL)).toBe(true);
    // Loading one tail on demand does not make it an offer.
    expect(repository.offers().map((o) => o.name)).toEqual(['cnn-large', 'mlp-small']);
  });

  it('runs a tail as a stage of a subgraph, reading the cut from a mapped pool key', async () => {
    const inputs = zooSampleInputs('cnn-large', 2, 5)!;
    const full = (await service.infer({ model: 'cnn-large', inputs, protocol: 'test' }).promise).outputs.logits!;
    const parts = splitModel(decodeModel(await zooModelBytes('cnn-large')), [CUT]);
    const head = await backend.load(encodeModel(parts.head), { intraOpThreads: 1 });
    const cut = (await head.run(inputs))[CUT]!;
    await head.dispose();
    const r = await service.runStages({
      name: 'edge-head-cloud-tail', protocol: 'test', inputs: { 'edge.cut': cut },
      stages: [{ model: TAIL, id: 'tail', inputs: { [CUT]: 'edge.cut' } }], outputs: ['tail.logits'],
    }).promise;
    expect(maxAbsDiff(r.outputs['tail.logits']!, full)).toBeLessThan(1e-4);
  });
});

describe('the split tails setting', () => {
  it('is on by default and turned off by CLEAVE_SPLIT_TAILS=off or --no-split-tails', () => {
    expect(resolveCloudConfig({}, {}).splitTails).toBe(true);
    expect(resolveCloudConfig(cloudSettingsFromEnv({ CLEAVE_SPLIT_TAILS: 'off' }), {}).splitTails).toBe(false);
    expect(resolveCloudConfig({}, { splitTails: false }).splitTails).toBe(false);
  });
});
