import { describe, expect, it } from 'vitest';
import type { TensorMap, TensorSpec } from '../../shared/protocol/frames.js';
import { checkInputs, checkOutputNames, formatSpecShape } from '../../shared/tensor-check.js';
import type { HostTensor } from '../../shared/tensor.js';
import { expectCleave } from './kserve/body-helpers.js';

const f32 = (...dims: number[]): HostTensor => ({ dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
const i64 = (...dims: number[]): HostTensor => ({ dtype: 'int64', dims, data: new BigInt64Array(dims.reduce((a, b) => a * b, 1)) });

const CNN: readonly TensorSpec[] = [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }];
const TEXT: readonly TensorSpec[] = [
  { name: 'input_ids', dtype: 'int64', shape: [-1, -1] },
  { name: 'attention_mask', dtype: 'int64', shape: [-1, -1] },
];

describe('checkInputs', () => {
  it('passes tensors that fit, with any batch and dynamic dims', () => {
    expect(() => checkInputs('cnn-small', { image: f32(5, 3, 64, 64) }, CNN)).not.toThrow();
    expect(() => checkInputs('text-tiny', { input_ids: i64(2, 7), attention_mask: i64(2, 9) }, TEXT)).not.toThrow();
  });

  it('names a shape mismatch with both shapes, dynamic dims as N and ?', () => {
    expectCleave(() => checkInputs('cnn-small', { image: f32(1, 3, 32, 32) }, CNN), 'CLEAVE_E_SHAPE', 'input "image" of model "cnn-small" has shape [1,3,32,32], model expects [N,3,64,64]');
    expectCleave(() => checkInputs('cnn-small', { image: f32(3, 64, 64) }, CNN), 'CLEAVE_E_SHAPE', 'input "image" of model "cnn-small" has shape [3,64,64], model expects [N,3,64,64]');
    expectCleave(() => checkInputs('text-tiny', { input_ids: i64(2), attention_mask: i64(2, 4) }, TEXT), 'CLEAVE_E_SHAPE', 'input "input_ids" of model "text-tiny" has shape [2], model expects [N,?]');
  });

  it('names a dtype mismatch', () => {
    expectCleave(
      () => checkInputs('text-tiny', { input_ids: f32(1, 4), attention_mask: i64(1, 4) }, TEXT),
      'CLEAVE_E_DTYPE',
      'input "input_ids" of model "text-tiny" is float32, model expects int64',
    );
  });

  it('lists the expected inputs when one is missing or one is extra', () => {
    expectCleave(
      () => checkInputs('text-tiny', { input_ids: i64(1, 4) }, TEXT),
      'CLEAVE_E_BAD_ARGUMENT',
      'input "attention_mask" of model "text-tiny" is missing; model expects inputs: input_ids, attention_mask',
    );
    expectCleave(
      () => checkInputs('cnn-small', { image: f32(1, 3, 64, 64), extra: f32(1) }, CNN),
      'CLEAVE_E_BAD_ARGUMENT',
      'input "extra" is not an input of model "cnn-small"; model expects inputs: image',
    );
  });

  it('requires batched inputs to agree on dim 0', () => {
    expectCleave(
      () => checkInputs('text-tiny', { input_ids: i64(2, 4), attention_mask: i64(3, 4) }, TEXT),
      'CLEAVE_E_SHAPE',
      'inputs of model "text-tiny" disagree on batch size (dim 0): "input_ids" has 2, "attention_mask" has 3',
    );
    // A fixed dim 0 is not a batch dim and does not take part.
    const mixed: TensorSpec[] = [{ name: 'a', dtype: 'float32', shape: [-1, 2] }, { name: 'table', dtype: 'float32', shape: [5, 2] }];
    expect(() => checkInputs('m', { a: f32(3, 2), table: f32(5, 2) }, mixed)).not.toThrow();
  });

  it('does not mistake inherited names for inputs', () => {
    const specs: TensorSpec[] = [{ name: 'constructor', dtype: 'float32', shape: [1] }];
    expectCleave(() => checkInputs('m', {}, specs), 'CLEAVE_E_BAD_ARGUMENT', /^input "constructor" of model "m" is missing/);
    const inputs = Object.create(null) as TensorMap;
    inputs['__proto__'] = f32(1);
    expectCleave(() => checkInputs('cnn-small', inputs, [...CNN, { name: '__proto__', dtype: 'float32', shape: [1] }]), 'CLEAVE_E_BAD_ARGUMENT', /^input "image" of model "cnn-small" is missing/);
    inputs['image'] = f32(1, 3, 64, 64);
    expect(() => checkInputs('cnn-small', inputs, [...CNN, { name: '__proto__', dtype: 'float32', shape: [1] }])).not.toThrow();
  });
});

describe('checkOutputNames', () => {
  const outs: TensorSpec[] = [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }, { name: 'embedding', dtype: 'float32', shape: [-1, 64] }];
  it('passes known names and no list', () => {
    expect(() => checkOutputNames('cnn-small', ['embedding'], outs)).not.toThrow();
    expect(() => checkOutputNames('cnn-small', undefined, outs)).not.toThrow();
  });
  it('lists the model outputs for an unknown one', () => {
    expectCleave(() => checkOutputNames('cnn-small', ['logits', 'probs'], outs), 'CLEAVE_E_NOT_FOUND', 'output "probs" is not an output of model "cnn-small"; model outputs: logits, embedding');
  });
});

describe('formatSpecShape', () => {
  it('writes dynamic dims as N at dim 0 and ? elsewhere', () => {
    expect(formatSpecShape([-1, 3, -1, 64])).toBe('[N,3,?,64]');
    expect(formatSpecShape([])).toBe('[]');
  });
});
