/**
 * Sample inputs for a workflow's declared inputs, for the dashboard's templates and its dry run
 * with `sample: true`. Where a zoo model reads the input (a model or split-model node fed from
 * `input`, through the edge's `map`), the input is that model's zoo sample (shared/zoo/samples:
 * tokenized sentences, preprocessed photos, log-mel clips), so a cascade sees realistic data and
 * its exits behave as they would. Otherwise a zoo model with an input of the same name, dtype and
 * shape is used; failing that, seeded uniform values in [-1, 1) for floats and zeros for other
 * numeric types. Deterministic in (document, rows, seed). Runtime-neutral.
 */
import { CleaveError } from '../../shared/errors.js';
import { dtypeSize, typedArrayFor } from '../../shared/onnx/dtype.js';
import type { TensorMap, TensorSpec } from '../../shared/protocol/frames.js';
import { createRng } from '../../shared/rng.js';
import { hostTensor, type HostTensor } from '../../shared/tensor.js';
import { INPUT_NODE, type WorkflowDefinition } from '../../shared/workflow/definition.js';
import { ZOO_MODELS, zooModel, type ZooModelSpec, type ZooTensorSpec } from '../../shared/zoo/catalogue.js';
import { zooSampleInputs } from '../../shared/zoo/samples/index.js';

/** The seed of the samples the dashboard offers (any fixed number: the same document gets the same samples). */
export const DASHBOARD_SAMPLE_SEED = 7;

/** Most elements of one synthetic sample tensor (16 MiB of float32): a declared shape beyond this gets no sample. */
export const MAX_SAMPLE_ELEMENTS = 4 * 1024 * 1024;

/** A zoo dim ('N' symbolic) against a workflow dim (-1 dynamic): both dynamic, or equal. */
function sameShape(zoo: ZooTensorSpec['shape'], declared: readonly number[]): boolean {
  return zoo.length === declared.length && zoo.every((d, i) => (typeof d === 'string' ? declared[i] === -1 : d === declared[i] || (i === 0 && declared[i] === -1)));
}

function reads(spec: ZooModelSpec, input: string, declared: TensorSpec): boolean {
  const z = spec.inputs.find((s) => s.name === input);
  return z !== undefined && z.dtype === declared.dtype && sameShape(z.shape, declared.shape);
}

/** The zoo model whose input `name` the workflow input `declared` feeds, and that input's name in the model. */
function feedingModel(def: WorkflowDefinition, declared: TensorSpec): { model: string; input: string } | undefined {
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  for (const e of def.edges) {
    if (e.source !== INPUT_NODE) continue;
    const n = byId.get(e.target);
    if (!n || (n.type !== 'model' && n.type !== 'split-model')) continue;
    const spec = zooModel(n.params.model);
    if (!spec) continue;
    for (const zi of spec.inputs) {
      // `map` is target input -> source output; unmapped inputs read the same name.
      if ((e.map?.[zi.name] ?? zi.name) === declared.name && reads(spec, zi.name, declared)) return { model: spec.name, input: zi.name };
    }
  }
  const any = ZOO_MODELS.find((m) => m.arch.family !== 'exit' && reads(m, declared.name, declared));
  return any ? { model: any.name, input: declared.name } : undefined;
}

function synthetic(declared: TensorSpec, rows: number, seed: number): HostTensor {
  if (declared.dtype === 'string') {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow input "${declared.name}" is a string tensor, which has no sample; send inputs instead of sample: true`, { input: declared.name });
  }
  const dims = declared.shape.map((d, i) => (d >= 0 ? d : i === 0 ? rows : 1));
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > MAX_SAMPLE_ELEMENTS) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `workflow input "${declared.name}" of shape [${dims.join(',')}] has ${count} elements, more than the ${MAX_SAMPLE_ELEMENTS} a sample may have; send inputs instead of sample: true`, { input: declared.name, limit: MAX_SAMPLE_ELEMENTS });
  }
  const data = typedArrayFor(declared.dtype, new ArrayBuffer(count * dtypeSize(declared.dtype)), 0, count);
  if (data instanceof Float32Array || data instanceof Float64Array) {
    const rng = createRng(seed);
    for (let i = 0; i < count; i++) data[i] = rng.next() * 2 - 1;
  }
  return hostTensor(declared.dtype, dims, data);
}

/** `rows` sample rows for every declared input of `def` (see the file comment). */
export function workflowSampleInputs(def: WorkflowDefinition, rows = 1, seed = DASHBOARD_SAMPLE_SEED): TensorMap {
  const out: Record<string, HostTensor> = {};
  for (const declared of def.inputs) {
    const from = feedingModel(def, declared);
    const t = from ? zooSampleInputs(from.model, rows, seed)?.[from.input] : undefined;
    out[declared.name] = t ?? synthetic(declared, rows, seed);
  }
  return out;
}
