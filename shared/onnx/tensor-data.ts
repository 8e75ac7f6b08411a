/**
 * Converting between ONNX TensorProto (weights, constants) and typed arrays.
 */
import { CleaveError } from '../errors.js';
import { dtypeCode, dtypeFromCode, dtypeSize, typedArrayFor, type DType, type NumericArray } from './dtype.js';
import type { TensorProto } from './types.js';

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Makes an initializer with little-endian raw_data, copying `data` once. */
export function makeTensor(name: string, dtype: DType, dims: readonly number[], data: NumericArray | readonly number[] | readonly bigint[]): TensorProto {
  const n = elementCount(dims);
  if (data.length !== n) {
    throw new CleaveError('CLEAVE_E_SHAPE', `tensor "${name}" has ${data.length} elements, shape [${dims.join(',')}] needs ${n}`, { name });
  }
  const size = dtypeSize(dtype);
  const raw = new Uint8Array(n * size);
  const view = typedArrayFor(dtype, raw.buffer, 0, n);
  if (view instanceof BigInt64Array || view instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      view[i] = typeof v === 'bigint' ? v : BigInt(v);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      view[i] = typeof v === 'bigint' ? Number(v) : v;
    }
  }
  return { name, dims: [...dims], dataType: dtypeCode(dtype), rawData: raw };
}

/**
 * Elements of an initializer as a typed array. raw_data is copied into an aligned buffer
 * (protobuf gives it at any byte offset); the typed *_data fields are converted.
 */
export function tensorValues(t: TensorProto): NumericArray {
  if (t.dataLocation === 1 || t.externalData?.length) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `tensor "${t.name}" keeps its data in an external file, which Cleave does not read; re-save the model with weights inline`, { name: t.name });
  }
  const dtype = dtypeFromCode(t.dataType);
  const n = elementCount(t.dims);
  const size = dtypeSize(dtype);
  if (t.rawData !== undefined) {
    if (t.rawData.length !== n * size) {
      throw new CleaveError('CLEAVE_E_ONNX_INVALID', `tensor "${t.name}" has ${t.rawData.length} bytes of raw_data, shape [${t.dims.join(',')}] of ${dtype} needs ${n * size}`, { name: t.name });
    }
    const copy = t.rawData.slice();
    return typedArrayFor(dtype, copy.buffer, 0, n);
  }
  const out = typedArrayFor(dtype, new ArrayBuffer(n * size), 0, n);
  const src: readonly (number | bigint)[] | undefined =
    t.floatData?.length ? t.floatData
    : t.int32Data?.length ? t.int32Data
    : t.int64Data?.length ? t.int64Data
    : t.doubleData?.length ? t.doubleData
    : t.uint64Data?.length ? t.uint64Data
    : n === 0 ? [] : undefined;
  if (src === undefined || src.length !== n) {
    throw new CleaveError('CLEAVE_E_ONNX_INVALID', `tensor "${t.name}" has ${src?.length ?? 0} values, shape [${t.dims.join(',')}] needs ${n}`, { name: t.name });
  }
  if (dtype === 'float16' || dtype === 'bfloat16' || dtype === 'bool' || dtype === 'uint8' || dtype === 'int8' || dtype === 'int16' || dtype === 'uint16') {
    // ONNX stores these small types widened in int32_data.
    for (let i = 0; i < n; i++) (out as Uint16Array)[i] = Number(src[i]);
  } else if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = BigInt(src[i]!);
  } else {
    for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  }
  return out;
}

/** Size of a tensor's payload in bytes (0 for string tensors). */
export function tensorByteSize(t: TensorProto): number {
  const dtype = dtypeFromCode(t.dataType);
  return elementCount(t.dims) * dtypeSize(dtype);
}
