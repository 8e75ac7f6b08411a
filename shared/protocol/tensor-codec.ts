/**
 * The two tensor encodings of the Cleave protocol, carried as msgpack extensions
 * (docs/protocol.md, "Tensors"). All multi-byte numbers are little-endian.
 *
 * TENSOR (ext type 1), offsets from the first byte of the ext data:
 *
 *   0        u8     dtype: ONNX TensorProto.DataType code (1 float32, 7 int64, 9 bool, 10 float16, ...)
 *   1        u8     rank r, 0..maxRank (0 is a scalar)
 *   2        u8     pad length p, 0..7
 *   3        u8     reserved, must be 0
 *   4        u32[r] dims, row-major order, each 0..2^32-1
 *   4+4r     p      zero bytes
 *   4+4r+p   ...    payload: product(dims) * size(dtype) bytes, row-major, little-endian
 *
 * TENSOR_INT8 (ext type 2), a float32 tensor quantized per tensor (int8-quant.ts):
 *
 *   0        u8     original dtype, always 1 (float32)
 *   1        u8     rank r
 *   2        u8     pad length p, 0..7
 *   3        u8     reserved, must be 0
 *   4        f32    scale, finite and > 0
 *   8        i32    zero point, -128..127 (a full i32 keeps the dims 4-byte aligned)
 *   12       u32[r] dims
 *   12+4r    p      zero bytes
 *   12+4r+p  ...    product(dims) int8 levels; value = (q - zeroPoint) * scale
 *
 * Alignment rule: the encoder picks p so that the payload starts at an offset that is a multiple
 * of 8 from the first byte of the encoded frame. A receiver holding the frame at an 8-aligned
 * address can then view the payload in place as a Float64Array or BigInt64Array, with no copy.
 */
import { CleaveError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { dtypeCode, dtypeSize, maybeDTypeFromCode, typedArrayFor, type DType } from '../onnx/dtype.js';
import { DataType } from '../onnx/types.js';
import type { ProtocolLimits } from './constants.js';
import { dequantizeInt8, type Int8Tensor } from './int8-quant.js';

export { dequantizeInt8, quantizeInt8, tryQuantizeInt8, type Int8Tensor } from './int8-quant.js';

/** Byte boundary every tensor payload starts on, counted from the start of the frame. */
export const PAYLOAD_ALIGNMENT = 8;
/** Fixed part of a TENSOR header before the dims, bytes. */
export const TENSOR_HEADER_BYTES = 4;
/** Fixed part of a TENSOR_INT8 header before the dims, bytes. */
export const TENSOR_INT8_HEADER_BYTES = 12;

/** The limits a tensor decoder enforces. */
export type TensorLimits = Pick<ProtocolLimits, 'maxTensorBytes' | 'maxRank'>;

/** Largest ext data a tensor can legally have under `limits`: header, dims, pad and payload, bytes. */
export function maxTensorExtBytes(limits: TensorLimits): number {
  return TENSOR_INT8_HEADER_BYTES + 4 * limits.maxRank + (PAYLOAD_ALIGNMENT - 1) + limits.maxTensorBytes;
}

/**
 * Ext data of a TENSOR. `dataPos` is the offset of the ext data in the frame being written,
 * so the pad can put the payload on an 8-byte boundary. Copies the payload once.
 */
export function encodeTensor(t: HostTensor, dataPos: number): Uint8Array {
  if (t.dtype === 'string') throw new CleaveError('CLEAVE_E_DTYPE', 'string tensors cannot be sent as TENSOR; only numeric dtypes and bool', { dtype: t.dtype });
  const size = dtypeSize(t.dtype);
  const count = checkedDims(t.dims);
  if (t.data.BYTES_PER_ELEMENT !== size) {
    throw new CleaveError('CLEAVE_E_DTYPE', `a ${t.dtype} tensor needs ${size}-byte elements, its data is a ${t.data.constructor.name}`, { dtype: t.dtype });
  }
  if (t.data.length !== count) {
    throw new CleaveError('CLEAVE_E_SHAPE', `tensor data has ${t.data.length} elements, dims [${t.dims.join(',')}] need ${count}`, { dims: [...t.dims] });
  }
  const head = TENSOR_HEADER_BYTES + 4 * t.dims.length;
  const pad = padFor(dataPos + head);
  const out = new Uint8Array(head + pad + count * size);
  const view = new DataView(out.buffer);
  out[0] = dtypeCode(t.dtype);
  writeHeaderTail(out, view, t.dims, pad, TENSOR_HEADER_BYTES);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, count * size), head + pad);
  return out;
}

/** Ext data of a TENSOR_INT8, padded like encodeTensor. */
export function encodeTensorInt8(q: Int8Tensor, dataPos: number): Uint8Array {
  const count = checkedDims(q.dims);
  if (q.data.length !== count) {
    throw new CleaveError('CLEAVE_E_SHAPE', `int8 tensor data has ${q.data.length} elements, dims [${q.dims.join(',')}] need ${count}`, { dims: [...q.dims] });
  }
  const head = TENSOR_INT8_HEADER_BYTES + 4 * q.dims.length;
  const pad = padFor(dataPos + head);
  const out = new Uint8Array(head + pad + count);
  const view = new DataView(out.buffer);
  out[0] = DataType.FLOAT;
  writeHeaderTail(out, view, q.dims, pad, TENSOR_INT8_HEADER_BYTES);
  view.setFloat32(4, q.scale, true);
  view.setInt32(8, q.zeroPoint, true);
  out.set(new Uint8Array(q.data.buffer, q.data.byteOffset, count), head + pad);
  return out;
}

/**
 * Reads a TENSOR. The result's data is a typed-array VIEW of `data`'s buffer when the payload's
 * absolute byte offset is a multiple of the element size (always true for a frame received at an
 * 8-aligned address), else a copy: typed arrays cannot start at unaligned offsets. A view shares
 * memory with the frame, so the caller must not reuse the frame's buffer while using the tensor.
 *
 * Throws CLEAVE_E_DTYPE (unknown or string dtype), CLEAVE_E_TOO_LARGE (rank or bytes past the
 * limits, checked before anything is allocated), CLEAVE_E_SHAPE (payload length is not exactly
 * what the dims need), CLEAVE_E_PROTOCOL (short header, bad pad or reserved byte).
 */
export function decodeTensor(data: Uint8Array, limits: TensorLimits): HostTensor {
  const h = readHeader(data, TENSOR_HEADER_BYTES, limits, 'TENSOR');
  const dtype = maybeDTypeFromCode(h.dtypeCode);
  if (dtype === undefined) {
    throw new CleaveError('CLEAVE_E_DTYPE', `tensor dtype code ${h.dtypeCode} is not a known ONNX data type`, { dtypeCode: h.dtypeCode });
  }
  if (dtype === 'string') {
    throw new CleaveError('CLEAVE_E_DTYPE', 'string tensors (ONNX dtype 8) cannot be sent as TENSOR; only numeric dtypes and bool', { dtypeCode: h.dtypeCode });
  }
  const size = dtypeSize(dtype);
  const count = checkedCount(h.dims, size, limits.maxTensorBytes, dtype);
  const byteLength = count * size;
  const got = data.byteLength - h.payloadAt;
  if (got !== byteLength) {
    throw new CleaveError('CLEAVE_E_SHAPE', `tensor dims [${h.dims.join(',')}] of ${dtype} need ${byteLength} payload bytes, got ${got}`, { dims: h.dims, dtype, bytes: got });
  }
  const at = data.byteOffset + h.payloadAt;
  if (at % size === 0) return { dtype, dims: h.dims, data: typedArrayFor(dtype, data.buffer, at, count) };
  const copy = data.slice(h.payloadAt);
  return { dtype, dims: h.dims, data: typedArrayFor(dtype, copy.buffer, 0, count) };
}

/** Reads a TENSOR_INT8 as its int8 form (data is a view of `data`); same checks as decodeTensor. */
export function decodeTensorInt8Raw(data: Uint8Array, limits: TensorLimits): Int8Tensor {
  const h = readHeader(data, TENSOR_INT8_HEADER_BYTES, limits, 'TENSOR_INT8');
  if (h.dtypeCode !== DataType.FLOAT) {
    throw new CleaveError('CLEAVE_E_DTYPE', `TENSOR_INT8 carries float32 tensors (dtype 1), got dtype code ${h.dtypeCode}`, { dtypeCode: h.dtypeCode });
  }
  // The limit applies to the float32 tensor the receiver will hold, 4 bytes per element.
  const count = checkedCount(h.dims, 4, limits.maxTensorBytes, 'float32');
  const got = data.byteLength - h.payloadAt;
  if (got !== count) {
    throw new CleaveError('CLEAVE_E_SHAPE', `int8 tensor dims [${h.dims.join(',')}] need ${count} payload bytes, got ${got}`, { dims: h.dims, bytes: got });
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const scale = view.getFloat32(4, true);
  const zeroPoint = view.getInt32(8, true);
  if (!(Number.isFinite(scale) && scale > 0)) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `TENSOR_INT8 scale must be a finite float32 > 0, got ${scale}`, { scale });
  }
  if (zeroPoint < -128 || zeroPoint > 127) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `TENSOR_INT8 zero point must be in -128..127, got ${zeroPoint}`, { zeroPoint });
  }
  return { dims: h.dims, scale, zeroPoint, data: new Int8Array(data.buffer, data.byteOffset + h.payloadAt, count) };
}

/** Reads a TENSOR_INT8 and dequantizes it to a fresh float32 tensor. */
export function decodeTensorInt8(data: Uint8Array, limits: TensorLimits): HostTensor {
  return dequantizeInt8(decodeTensorInt8Raw(data, limits));
}

interface Header {
  readonly dtypeCode: number;
  readonly dims: number[];
  /** Offset of the payload within the ext data. */
  readonly payloadAt: number;
}

function readHeader(data: Uint8Array, fixed: number, limits: TensorLimits, kind: string): Header {
  if (data.byteLength < fixed) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `${kind} extension has ${data.byteLength} bytes, its header needs at least ${fixed}`, { bytes: data.byteLength });
  }
  const rank = data[1]!;
  const pad = data[2]!;
  if (rank > limits.maxRank) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `tensor rank ${rank} exceeds maxRank (${limits.maxRank})`, { limit: 'maxRank', value: rank, max: limits.maxRank });
  }
  if (pad >= PAYLOAD_ALIGNMENT) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `${kind} pad length ${pad} is not in 0..${PAYLOAD_ALIGNMENT - 1}`, { pad });
  }
  if (data[3] !== 0) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `${kind} reserved byte is ${data[3]}, must be 0`, { reserved: data[3] ?? 0 });
  }
  const payloadAt = fixed + 4 * rank + pad;
  if (data.byteLength < payloadAt) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `${kind} extension has ${data.byteLength} bytes, rank ${rank} with pad ${pad} needs ${payloadAt} before the payload`, { bytes: data.byteLength });
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(fixed + 4 * i, true));
  return { dtypeCode: data[0]!, dims, payloadAt };
}

/**
 * Element count of `dims`, refusing before any allocation a tensor whose bytes would exceed
 * `maxBytes`. Dims are up to 2^32-1 each, so the product is formed step by step and abandoned as
 * soon as it passes the limit: it never leaves the range where doubles are exact.
 */
function checkedCount(dims: readonly number[], size: number, maxBytes: number, dtype: DType): number {
  if (dims.includes(0)) return 0;
  let bytes = size;
  for (const d of dims) {
    bytes *= d;
    if (bytes > maxBytes) {
      const total = dims.reduce((a, b) => a * b, size);
      throw new CleaveError('CLEAVE_E_TOO_LARGE', `tensor dims [${dims.join(',')}] of ${dtype} need ${total} bytes, exceeds maxTensorBytes (${maxBytes})`, { limit: 'maxTensorBytes', value: total, max: maxBytes, dims: [...dims] });
    }
  }
  return bytes / size;
}

/** Validates dims on the way out and returns their product. */
function checkedDims(dims: readonly number[]): number {
  if (dims.length > 255) throw new CleaveError('CLEAVE_E_SHAPE', `tensor rank ${dims.length} does not fit the wire format (at most 255)`, { rank: dims.length });
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffff_ffff) {
      throw new CleaveError('CLEAVE_E_SHAPE', `tensor dims [${dims.join(',')}] must be integers in 0..4294967295`, { dims: [...dims] });
    }
    n *= d;
  }
  return n;
}

function padFor(offset: number): number {
  return (PAYLOAD_ALIGNMENT - (offset % PAYLOAD_ALIGNMENT)) % PAYLOAD_ALIGNMENT;
}

/** Writes rank, pad, reserved and dims (the dims start at `dimsAt`); the pad bytes stay zero. */
function writeHeaderTail(out: Uint8Array, view: DataView, dims: readonly number[], pad: number, dimsAt: number): void {
  out[1] = dims.length;
  out[2] = pad;
  out[3] = 0;
  for (let i = 0; i < dims.length; i++) view.setUint32(dimsAt + 4 * i, dims[i]!, true);
}
