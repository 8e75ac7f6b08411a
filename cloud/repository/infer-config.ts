/**
 * A model's tensor contract read from its ONNX graph, for model folders without a config.json
 * (Triton's "auto-complete config"). Pure: ModelProto in, specs out.
 */
import { CleaveError } from '../../shared/errors.js';
import { valueTypeOf } from '../../shared/onnx/shape/value-type.js';
import type { ModelProto, ValueInfo } from '../../shared/onnx/types.js';
import type { TensorSpec } from '../../shared/protocol/frames.js';

/** What the graph says about a model's contract. */
export interface InferredContract {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** `defaultMaxBatchSize` when every input and output has a symbolic or unknown dim 0; else 0. */
  readonly maxBatchSize: number;
}

function specOf(v: ValueInfo, kind: 'input' | 'output', where: string): TensorSpec & { batchable: boolean } {
  const t = valueTypeOf(v);
  if (!t?.shape) {
    throw new CleaveError(
      'CLEAVE_E_SHAPE',
      `${where}: graph ${kind} "${v.name}" has no known element type and rank; write a config.json with its dtype and shape`,
      { where, tensor: v.name },
    );
  }
  return {
    name: v.name,
    dtype: t.dtype,
    shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)),
    batchable: t.shape.length > 0 && typeof t.shape[0] !== 'number',
  };
}

/**
 * Inputs (initializers excluded) and outputs of a graph as TensorSpecs, symbolic and unknown dims
 * as -1. The model counts as batched only when every input and output has a non-fixed dim 0:
 * a fixed dim 0 anywhere means the batcher could not stack requests along it.
 * `where` names the file for messages. Throws CLEAVE_E_SHAPE for a tensor of unknown rank.
 */
export function inferContract(model: ModelProto, defaultMaxBatchSize: number, where: string): InferredContract {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  const inputs = model.graph.input.filter((v) => !inits.has(v.name)).map((v) => specOf(v, 'input', where));
  const outputs = model.graph.output.map((v) => specOf(v, 'output', where));
  const batched = [...inputs, ...outputs].every((s) => s.batchable);
  const strip = (s: TensorSpec & { batchable: boolean }): TensorSpec => ({ name: s.name, dtype: s.dtype, shape: s.shape });
  return { inputs: inputs.map(strip), outputs: outputs.map(strip), maxBatchSize: batched ? defaultMaxBatchSize : 0 };
}
