// A workflow's cloud stages as one subgraph request: stage ids keep two `logits` apart, input
// mappings read pool keys with dots, and a missing key is a coded error that says what exists.
// The cloud's real InferenceService and repository, over zoo models in onnxruntime-node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { InferenceService, type StagesRequest } from '../../cloud/inference-service.js';
import { CloudMetrics } from '../../cloud/metrics.js';
import { ModelRepository } from '../../cloud/repository/model-lifecycle.js';
import { ZooSource } from '../../cloud/repository/zoo-source.js';
import { isCleaveError, type CleaveError } from '../../shared/errors.js';
import type { TensorMap } from '../../shared/protocol/frames.js';
import { systemClock, systemTimers } from '../../shared/time.js';
import { maxAbsDiff, type HostTensor } from '../../shared/tensor.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';
import { zooDir } from '../helpers/zoo.js';

let repository: ModelRepository;
let service: InferenceService;

beforeAll(async () => {
  const backend = (await nodeBackends()).get('onnxruntime-node');
  repository = new ModelRepository({
    source: new ZooSource(await zooDir(), { only: ['cnn-small', 'mlp-small'] }),
    backend, loadOptions: { intraOpThreads: 1 }, warn: () => undefined,
  });
  service = new InferenceService({ repository, metrics: new CloudMetrics({ processMetrics: false }), clock: systemClock, timers: systemTimers });
});
afterAll(async () => {
  service?.close();
  await repository?.close();
});

const image = (): HostTensor => zooSampleInputs('cnn-small', 2, 7)!.image!;
const features = (): HostTensor => zooSampleInputs('mlp-small', 2, 3)!.x!;

function stages(req: Omit<StagesRequest, 'protocol' | 'name'>): Promise<TensorMap> {
  return service.runStages({ name: 'wf', protocol: 'test', ...req }).promise.then((r) => r.outputs);
}

async function single(model: string, inputs: TensorMap): Promise<TensorMap> {
  return (await service.infer({ model, inputs, protocol: 'test' }).promise).outputs;
}

async function failure(p: Promise<unknown>): Promise<CleaveError> {
  try {
    await p;
  } catch (e) {
    if (isCleaveError(e)) return e;
    throw e;
  }
  throw new Error('expected the run to fail');
}

describe('subgraph stage I/O', () => {
  it('keeps two stages\' "logits" apart under their ids, reading mapped pool keys with dots', async () => {
    const inputs = { 'input.image': image(), 'input.features': features() };
    const partials: [number, string, string[]][] = [];
    const out = await stages({
      stages: [
        { model: 'cnn-small', id: 'a', inputs: { image: 'input.image' } },
        { model: 'mlp-small', id: 'b', inputs: { x: 'input.features' } },
      ],
      inputs,
      outputs: ['a.logits', 'b.logits', 'input.image'],
      onStage: (i, model, o) => partials.push([i, model, Object.keys(o)]),
    });
    expect(Object.keys(out)).toEqual(['a.logits', 'b.logits', 'input.image']);
    const a = (await single('cnn-small', { image: inputs['input.image'] })).logits!;
    const b = (await single('mlp-small', { x: inputs['input.features'] })).logits!;
    expect(out['a.logits']!.dims).toEqual([2, 10]);
    expect(maxAbsDiff(out['a.logits']!, a)).toBeLessThan(1e-6);
    expect(maxAbsDiff(out['b.logits']!, b)).toBeLessThan(1e-6);
    expect(out['input.image']).toBe(inputs['input.image']);
    // PARTIALs carry each stage's outputs under their own names; the index and model say whose.
    expect(partials).toEqual([[0, 'cnn-small', ['logits']], [1, 'mlp-small', ['logits']]]);
  });

  it('runs the same model twice under two ids without one overwriting the other', async () => {
    const x = features();
    const out = await stages({
      stages: [
        { model: 'mlp-small', id: 'first' },
        { model: 'mlp-small', id: 'second', inputs: { x: 'x' } },
      ],
      inputs: { x },
      outputs: ['first.logits', 'second.logits'],
    });
    expect(maxAbsDiff(out['first.logits']!, out['second.logits']!)).toBe(0);
  });

  it('without ids or mappings behaves as before: by name, last stage\'s outputs by default', async () => {
    const out = await stages({ stages: [{ model: 'mlp-small' }, { model: 'mlp-small', version: 1 }], inputs: { x: features() } });
    expect(Object.keys(out)).toEqual(['logits']);
  });

  it('a missing mapped key fails with CLEAVE_E_BAD_ARGUMENT naming the stage, the input, the key and the pool keys', async () => {
    const e = await failure(stages({
      stages: [{ model: 'mlp-small', id: 'm' }, { model: 'cnn-small', id: 'c', inputs: { image: 'input.imagee' } }],
      inputs: { x: features(), 'input.image': image() },
    }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toBe('stage 1 ("c", model "cnn-small") of subgraph "wf" reads input "image" from pool key "input.imagee", which neither the request nor an earlier stage provides; pool keys: input.image, m.logits, x');
    expect(e.detail).toMatchObject({ stage: 1, model: 'cnn-small', input: 'image', key: 'input.imagee', have: ['input.image', 'm.logits', 'x'] });
  });

  it('an unmapped input missing from the pool says it was read by its own name', async () => {
    const e = await failure(stages({ stages: [{ model: 'cnn-small' }], inputs: { x: features() } }));
    expect(e.message).toBe('stage 0 (model "cnn-small") of subgraph "wf" reads input "image" by its own name, which neither the request nor an earlier stage provides; pool keys: x');
  });

  it('refuses a mapping for an input the model does not have, and repeated ids', async () => {
    const e = await failure(stages({ stages: [{ model: 'mlp-small', inputs: { image: 'x' } }], inputs: { x: features() } }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toBe('stage 0 (model "mlp-small") of subgraph "wf" maps input "image", which the model does not have; its inputs: x');
    const dup = await failure(stages({ stages: [{ model: 'mlp-small', id: 's' }, { model: 'mlp-small', id: 's' }], inputs: { x: features() } }));
    expect(dup.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(dup.message).toContain('stages 0 and 1 both have the id "s"');
  });

  it('an output name that is not a pool key is CLEAVE_E_NOT_FOUND listing the keys', async () => {
    const e = await failure(stages({ stages: [{ model: 'mlp-small', id: 'm' }], inputs: { x: features() }, outputs: ['logits'] }));
    expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(e.message).toContain('produced no tensor "logits"; have: x, m.logits');
  });
});
