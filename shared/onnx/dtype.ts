/**
 * Element types by name (the names onnxruntime's Tensor uses), their ONNX codes, byte sizes
 * and typed-array constructors. Hosts are little-endian (x64, arm64, wasm), as ONNX raw_data is.
 */
import { CleaveError } from '../errors.js';
import { DataType } from './types.js';

/** Element type names shared with onnxruntime-common's `Tensor.Type`. */
export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool' | 'string';

interface DTypeInfo {
  readonly code: DataType;
  /** Bytes per element; 0 for string. */
  readonly size: number;
}

const INFO: Readonly<Record<DType, DTypeInfo>> = {
  float32: { code: DataType.FLOAT, size: 4 },
  float64: { code: DataType.DOUBLE, size: 8 },
  float16: { code: DataType.FLOAT16, size: 2 },
  bfloat16: { code: DataType.BFLOAT16, size: 2 },
  int8: { code: DataType.INT8, size: 1 },
  uint8: { code: DataType.UINT8, size: 1 },
  int16: { code: DataType.INT16, size: 2 },
  uint16: { code: DataType.UINT16, size: 2 },
  int32: { code: DataType.INT32, size: 4 },
  uint32: { code: DataType.UINT32, size: 4 },
  int64: { code: DataType.INT64, size: 8 },
  uint64: { code: DataType.UINT64, size: 8 },
  bool: { code: DataType.BOOL, size: 1 },
  string: { code: DataType.STRING, size: 0 },
};

const BY_CODE = new Map<number, DType>(Object.entries(INFO).map(([k, v]) => [v.code, k as DType]));

/** All known element type names. */
export const DTYPES = Object.keys(INFO) as readonly DType[];

export function isDType(s: string): s is DType {
  return Object.hasOwn(INFO, s);
}

/** ONNX DataType code of a dtype name. */
export function dtypeCode(d: DType): DataType {
  return INFO[d].code;
}

/** dtype name of an ONNX DataType code; throws CLEAVE_E_DTYPE for codes Cleave cannot handle. */
export function dtypeFromCode(code: number): DType {
  const d = BY_CODE.get(code);
  if (d === undefined) {
    throw new CleaveError('CLEAVE_E_DTYPE', `ONNX data type ${code} is not supported; expected one of ${DTYPES.join(', ')}`, { code });
  }
  return d;
}

/** dtype name, or undefined, for a code (no throw). */
export function maybeDTypeFromCode(code: number): DType | undefined {
  return BY_CODE.get(code);
}

/** Bytes per element (0 for string). */
export function dtypeSize(d: DType): number {
  return INFO[d].size;
}

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** Typed array holding elements of `d`; float16/bfloat16 come as raw Uint16Array bits. */
export function typedArrayFor(d: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray {
  switch (d) {
    case 'float32': return new Float32Array(buffer, byteOffset, length);
    case 'float64': return new Float64Array(buffer, byteOffset, length);
    case 'int8': return new Int8Array(buffer, byteOffset, length);
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, length);
    case 'int16': return new Int16Array(buffer, byteOffset, length);
    case 'uint16':
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, byteOffset, length);
    case 'int32': return new Int32Array(buffer, byteOffset, length);
    case 'uint32': return new Uint32Array(buffer, byteOffset, length);
    case 'int64': return new BigInt64Array(buffer, byteOffset, length);
    case 'uint64': return new BigUint64Array(buffer, byteOffset, length);
    case 'string':
      throw new CleaveError('CLEAVE_E_DTYPE', 'string tensors have no typed-array form');
  }
}

/** Elements as plain numbers (int64 values past 2^53 lose precision; fine for shapes and axes). */
export function toNumbers(a: NumericArray): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}
