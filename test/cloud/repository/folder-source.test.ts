import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../../cli/backends.js';
import { FolderSource } from '../../../cloud/repository/folder-source.js';
import { ModelRepository, type ModelEvent } from '../../../cloud/repository/model-lifecycle.js';
import type { InferenceBackend } from '../../../shared/backend/backend.js';
import { CleaveError } from '../../../shared/errors.js';
import { zooModelBytes } from '../../helpers/zoo.js';

const roots: string[] = [];
let mlp: Uint8Array;
let cnn: Uint8Array;
let text: Uint8Array;
let backend: InferenceBackend;

async function tempRoot(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cleave-repo-'));
  roots.push(d);
  return d;
}

async function put(root: string, rel: string, data: Uint8Array | string): Promise<void> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
}

const mlpConfig = {
  maxBatchSize: 8,
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
  warmup: { batchSizes: [1, 8] },
  priority: 2,
};

/** mymlp (config.json, versions 1 and 2), cnn (no config.json), text (partial config.json), and folders to skip. */
async function sampleRepo(): Promise<string> {
  const root = await tempRoot();
  await put(root, 'mymlp/config.json', JSON.stringify(mlpConfig));
  await put(root, 'mymlp/1/model.onnx', mlp);
  await put(root, 'mymlp/2/model.onnx', mlp);
  await put(root, 'mymlp/README.md', 'not a version');
  await put(root, 'cnn/1/model.onnx', cnn);
  await put(root, 'text/config.json', JSON.stringify({ maxBatchSize: 4 }));
  await put(root, 'text/1/model.onnx', text);
  await mkdir(path.join(root, 'empty'));
  await mkdir(path.join(root, 'partial/1'), { recursive: true });
  await put(root, 'Bad Name/1/model.onnx', mlp);
  await put(root, '.cache/1/model.onnx', mlp);
  return root;
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

beforeAll(async () => {
  [mlp, cnn, text] = await Promise.all([zooModelBytes('mlp-small'), zooModelBytes('cnn-small'), zooModelBytes('text-tiny')]);
  backend = (await nodeBackends()).get('onnxruntime-node');
});

afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

describe('FolderSource', () => {
  it('lists models in name order with their versions, and reports folders it skips', async () => {
    const root = await sampleRepo();
    const warnings: string[] = [];
    const src = new FolderSource(root, { defaultMaxBatchSize: 16, warn: (m) => warnings.push(m) });
    const list = await src.list();
    expect(list.map((c) => c.name)).toEqual(['cnn', 'mymlp', 'text']);
    const my = list.find((c) => c.name === 'mymlp')!;
    expect(my).toEqual({
      name: 'mymlp', versions: [1, 2], maxBatchSize: 8, priority: 2,
      inputs: mlpConfig.inputs, outputs: mlpConfig.outputs, warmup: { enabled: true, batchSizes: [1, 8] },
    });
    expect(warnings.some((w) => w.includes(path.join(root, 'empty')) && w.includes('no version folder'))).toBe(true);
    expect(warnings.some((w) => w.includes(path.join(root, 'partial', '1')) && w.includes('has no model.onnx'))).toBe(true);
    expect(warnings.some((w) => w.includes('"Bad Name" is not a valid model name'))).toBe(true);
    expect(warnings.some((w) => w.includes('.cache'))).toBe(false);
    expect(warnings).toHaveLength(4);
  });

  it('infers the contract from the graph when there is no config.json: dim 0 symbolic -> batched', async () => {
    const src = new FolderSource(await sampleRepo(), { defaultMaxBatchSize: 16, warn: () => {} });
    const c = (await src.list()).find((x) => x.name === 'cnn')!;
    expect(c.inputs).toEqual([{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }]);
    expect(c.outputs).toEqual([{ name: 'logits', dtype: 'float32', shape: [-1, 10] }]);
    expect(c.maxBatchSize).toBe(16);
    expect(c.warmup).toEqual({ enabled: true, batchSizes: [1] });
  });

  it('fills the fields a config.json leaves out from the graph', async () => {
    const src = new FolderSource(await sampleRepo(), { warn: () => {} });
    const c = (await src.list()).find((x) => x.name === 'text')!;
    expect(c.maxBatchSize).toBe(4);
    expect(c.inputs).toEqual([{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }]);
  });

  it('re-reads the folder on each list, so added models appear', async () => {
    const root = await tempRoot();
    await put(root, 'a/1/model.onnx', mlp);
    const src = new FolderSource(root, { warn: () => {} });
    expect((await src.list()).map((c) => c.name)).toEqual(['a']);
    await put(root, 'b/3/model.onnx', mlp);
    const again = await src.list();
    expect(again.map((c) => [c.name, c.versions])).toEqual([['a', [1]], ['b', [3]]]);
  });

  it('reads a version\'s bytes, and refuses names that could leave the root', async () => {
    const root = await sampleRepo();
    const src = new FolderSource(root, { warn: () => {} });
    expect(Buffer.from(await src.read('mymlp', 2)).equals(Buffer.from(mlp))).toBe(true);
    const traversal = await rejection(src.read('../mymlp', 1));
    expect(traversal.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect((await rejection(src.read('mymlp', 0.5))).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    const missing = await rejection(src.read('mymlp', 3));
    expect(missing.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(missing.message).toContain(path.join(root, 'mymlp', '3', 'model.onnx'));
  });

  it('a missing root is CLEAVE_E_NOT_FOUND naming it', async () => {
    const root = path.join(await tempRoot(), 'nope');
    const e = await rejection(new FolderSource(root).list());
    expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(e.message).toContain(root);
  });

  const badConfigs: [string, string, string][] = [
    ['not JSON', '{"maxBatchSize": 4,', 'not valid JSON'],
    ['a bad dim', JSON.stringify({ ...mlpConfig, inputs: [{ name: 'x', dtype: 'float32', shape: [-1, -2] }] }), 'inputs[0].shape[1]: expected -1 (dynamic) or a positive size'],
    ['a Triton snake_case key', JSON.stringify({ max_batch_size: 4 }), 'Unrecognized key: "max_batch_size"'],
    ['a name that is not its folder', JSON.stringify({ name: 'other' }), 'name: "other" does not match its folder "m"'],
    ['maxBatchSize on a model whose graph has a fixed batch', JSON.stringify({ maxBatchSize: 4, inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64] }], outputs: mlpConfig.outputs }), 'inputs[0].shape: maxBatchSize 4 means dim 0 is the batch'],
  ];
  for (const [what, body, message] of badConfigs) {
    it(`a config.json with ${what} is CLEAVE_E_BAD_ARGUMENT naming the file`, async () => {
      const root = await tempRoot();
      await put(root, 'm/config.json', body);
      await put(root, 'm/1/model.onnx', mlp);
      const e = await rejection(new FolderSource(root, { warn: () => {} }).list());
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.message).toContain(path.join(root, 'm', 'config.json'));
      expect(e.message).toContain(message);
    });
  }
});

describe('ModelRepository over a folder', () => {
  it('serves the highest version by default and older ones on request', async () => {
    const root = await sampleRepo();
    const events: ModelEvent[] = [];
    const repo = new ModelRepository({ source: new FolderSource(root, { warn: () => {} }), backend, loadOptions: { intraOpThreads: 1 }, onEvent: (e) => events.push(e) });
    try {
      await repo.load('mymlp');
      const v1 = await repo.acquire('mymlp', 1);
      expect(v1.version).toBe(1);
      expect(v1.config.priority).toBe(2);
      v1.release();
      expect(repo.index().filter((r) => r.name === 'mymlp').map((r) => [r.version, r.state])).toEqual([[1, 'READY'], [2, 'READY']]);
      expect(events.filter((e) => e.type === 'load').map((e) => `${e.model}@${e.version}`)).toEqual(['mymlp@2', 'mymlp@1']);
      const e = await rejection(repo.acquire('mymlp', 3));
      expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
      expect(e.message).toBe('model "mymlp" has no version 3; have: 1, 2');
    } finally {
      await repo.close();
    }
  });

  it('refresh unloads versions removed from the folder and finds models added to it', async () => {
    const root = await sampleRepo();
    const repo = new ModelRepository({ source: new FolderSource(root, { warn: () => {} }), backend, loadOptions: { intraOpThreads: 1 } });
    try {
      await repo.load('mymlp', 2);
      await rm(path.join(root, 'mymlp', '2'), { recursive: true });
      await put(root, 'late/1/model.onnx', mlp);
      await repo.refresh();
      expect(repo.index().filter((r) => r.name === 'mymlp').map((r) => r.version)).toEqual([1]);
      expect(repo.memoryInUse()).toBe(0);
      expect(repo.offers().map((o) => `${o.name}@${o.version}`)).toEqual(['cnn@1', 'late@1', 'mymlp@1', 'text@1']);
    } finally {
      await repo.close();
    }
  });

  it('load() finds a model copied in since the last refresh', async () => {
    const root = await tempRoot();
    await put(root, 'a/1/model.onnx', mlp);
    const repo = new ModelRepository({ source: new FolderSource(root), backend, loadOptions: { intraOpThreads: 1 } });
    try {
      await repo.refresh();
      await put(root, 'b/1/model.onnx', mlp);
      await repo.load('b');
      expect(repo.isReady('b')).toBe(true);
    } finally {
      await repo.close();
    }
  });

  it('a config.json that does not describe the graph fails the load, naming the tensor', async () => {
    const root = await tempRoot();
    await put(root, 'm/config.json', JSON.stringify({ ...mlpConfig, inputs: [{ name: 'y', dtype: 'float32', shape: [-1, 64] }] }));
    await put(root, 'm/1/model.onnx', mlp);
    const events: ModelEvent[] = [];
    const repo = new ModelRepository({ source: new FolderSource(root), backend, onEvent: (e) => events.push(e) });
    try {
      const e = await rejection(repo.load('m'));
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.message).toBe('model "m" version 1: the model has input "x" that the config does not list');
      expect(repo.index()).toEqual([{ name: 'm', version: 1, state: 'UNAVAILABLE', reason: e.message }]);
      expect(events.map((x) => x.type)).toEqual(['load-failed']);
      // A failed model is not retried on every request, and is not offered.
      const again = await rejection(repo.acquire('m'));
      expect(again.code).toBe('CLEAVE_E_UNAVAILABLE');
      expect(again.message).toContain('failed to load');
      expect(repo.offers()).toEqual([]);
      expect(repo.memoryInUse()).toBe(0);
    } finally {
      await repo.close();
    }
  });
});
