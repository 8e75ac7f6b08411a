/**
 * Checks request tensors against a model's contract (its TensorSpecs) before they reach a
 * batcher or a backend, so a wrong input fails with a message that names the input, the model
 * and both shapes, never with a backend error from deep inside a batch. Runtime-neutral: the
 * HTTP (KServe v2) path and the WebSocket path call the same functions.
 */
import { CleaveError } from './errors.js';
import type { TensorMap, TensorSpec } from './protocol/frames.js';

/** A spec shape for messages: dynamic dims (negative, -1 by convention) are N at dim 0, ? elsewhere. */
export function formatSpecShape(shape: readonly number[]): string {
  return `[${shape.map((d, i) => (d >= 0 ? String(d) : i === 0 ? 'N' : '?')).join(',')}]`;
}

function nameList(specs: readonly TensorSpec[]): string {
  return specs.map((s) => s.name).join(', ');
}

/**
 * Checks that `inputs` are exactly the model's inputs with the right dtypes and shapes.
 * Errors: a missing input or an unexpected extra one -> CLEAVE_E_BAD_ARGUMENT (listing the
 * expected names); a wrong dtype -> CLEAVE_E_DTYPE; a wrong rank or fixed dim, or batched inputs
 * (dynamic dim 0) whose dim 0 differ -> CLEAVE_E_SHAPE. Checks run in that order.
 */
export function checkInputs(model: string, inputs: TensorMap, specs: readonly TensorSpec[]): void {
  const m = JSON.stringify(model);
  const expected = specs.map((s) => s.name);
  for (const spec of specs) {
    if (!Object.hasOwn(inputs, spec.name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `input ${JSON.stringify(spec.name)} of model ${m} is missing; model expects inputs: ${nameList(specs)}`, {
        model,
        input: spec.name,
        expected,
      });
    }
  }
  for (const name of Object.keys(inputs)) {
    if (!specs.some((s) => s.name === name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `input ${JSON.stringify(name)} is not an input of model ${m}; model expects inputs: ${nameList(specs)}`, {
        model,
        input: name,
        expected,
      });
    }
  }
  let batch: { name: string; size: number } | undefined;
  for (const spec of specs) {
    const t = inputs[spec.name]!;
    const what = `input ${JSON.stringify(spec.name)} of model ${m}`;
    if (t.dtype !== spec.dtype) {
      throw new CleaveError('CLEAVE_E_DTYPE', `${what} is ${t.dtype}, model expects ${spec.dtype}`, { model, input: spec.name, dtype: t.dtype, expected: spec.dtype });
    }
    const fits = t.dims.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || d === t.dims[i]);
    if (!fits) {
      throw new CleaveError('CLEAVE_E_SHAPE', `${what} has shape [${t.dims.join(',')}], model expects ${formatSpecShape(spec.shape)}`, {
        model,
        input: spec.name,
        dims: [...t.dims],
        expected: [...spec.shape],
      });
    }
    const dim0 = spec.shape[0];
    if (dim0 !== undefined && dim0 < 0) {
      const size = t.dims[0]!;
      if (batch === undefined) {
        batch = { name: spec.name, size };
      } else if (batch.size !== size) {
        throw new CleaveError(
          'CLEAVE_E_SHAPE',
          `inputs of model ${m} disagree on batch size (dim 0): ${JSON.stringify(batch.name)} has ${batch.size}, ${JSON.stringify(spec.name)} has ${size}`,
          { model, input: spec.name, batch: size, expected: batch.size },
        );
      }
    }
  }
}

/**
 * Checks that every requested output name is an output of the model; `requested` undefined
 * means all outputs and always passes. CLEAVE_E_NOT_FOUND listing the model's outputs otherwise.
 */
export function checkOutputNames(model: string, requested: readonly string[] | undefined, specs: readonly TensorSpec[]): void {
  for (const name of requested ?? []) {
    if (!specs.some((s) => s.name === name)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `output ${JSON.stringify(name)} is not an output of model ${JSON.stringify(model)}; model outputs: ${nameList(specs)}`, {
        model,
        output: name,
        expected: specs.map((s) => s.name),
      });
    }
  }
}
