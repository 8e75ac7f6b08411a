/**
 * The tensor type every Cleave module passes around: element type, dims, and a typed array in
 * row-major order. Runtime-neutral; backends and codecs convert at their edges.
 */
import { CleaveError } from './errors.js';
import { dtypeSize, type DType, type NumericArray } from './onnx/dtype.js';
import { elementCount } from './onnx/tensor-data.js';

export interface HostTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: NumericArray;
}

/** Makes a tensor, checking that the data length matches the dims. */
export function hostTensor(dtype: DType, dims: readonly number[], data: NumericArray): HostTensor {
  const n = elementCount(dims);
  if (data.length !== n) {
    throw new CleaveError('CLEAVE_E_SHAPE', `tensor data has ${data.length} elements, shape [${dims.join(',')}] needs ${n}`, { dims: [...dims] });
  }
  return { dtype, dims: [...dims], data };
}

/** Payload bytes of a tensor. */
export function tensorBytes(t: HostTensor): number {
  return elementCount(t.dims) * dtypeSize(t.dtype);
}

/** Index of the largest element in each row of a [N, C] (or [..., C]) float tensor. */
export function argmaxRows(t: HostTensor): number[] {
  const c = t.dims[t.dims.length - 1] ?? 1;
  const rows = t.data.length / c;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bv = -Infinity;
    for (let j = 0; j < c; j++) {
      const v = Number(t.data[r * c + j]);
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    out.push(best);
  }
  return out;
}

/** Largest absolute difference between two float tensors of the same shape. */
export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  if (a.data.length !== b.data.length) {
    throw new CleaveError('CLEAVE_E_SHAPE', `cannot compare tensors of [${a.dims.join(',')}] and [${b.dims.join(',')}]`);
  }
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}
