/**
 * Per-tensor asymmetric int8 quantization of float32 activations: the arithmetic behind the
 * TENSOR_INT8 extension (tensor-codec.ts). One scale and one zero point per tensor are cheap to
 * compute on an edge device and send a quarter of the bytes over a slow link; the price is an
 * absolute error of at most scale/2 per element, where scale = (max(x, 0) - min(x, 0)) / 255.
 *
 * The range always includes 0 (as ONNX DynamicQuantizeLinear does), so 0.0 and ReLU zeros come
 * back exact. NaN and ±Infinity have no int8 form: quantizeInt8 rejects them, and the frame
 * encoder sends such a tensor as a plain float32 TENSOR instead (lossless, never silently wrong).
 */
import { CleaveError } from '../errors.js';
import type { HostTensor } from '../tensor.js';

/** A float32 tensor in int8 form: value = (q - zeroPoint) * scale. */
export interface Int8Tensor {
  readonly dims: readonly number[];
  /** Step between adjacent int8 levels, in the tensor's own units; a finite float32 > 0. */
  readonly scale: number;
  /** The int8 level that stands for 0.0, -128..127. */
  readonly zeroPoint: number;
  /** One int8 level per element, row-major. */
  readonly data: Int8Array;
}

/**
 * Quantizes a float32 tensor to int8. Throws CLEAVE_E_DTYPE for other dtypes and
 * CLEAVE_E_BAD_ARGUMENT for a NaN or infinite element (the message gives its index).
 */
export function quantizeInt8(t: HostTensor): Int8Tensor {
  const q = tryQuantizeInt8(t);
  if (q === undefined) {
    const x = t.data as Float32Array;
    let i = 0;
    while (i < x.length && Number.isFinite(x[i])) i++;
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `element ${i} of a float32 tensor [${t.dims.join(',')}] is ${x[i]}; int8 encoding needs finite values`, { index: i });
  }
  return q;
}

/** Like quantizeInt8, but undefined when an element is NaN or infinite (the encoder then sends float32). */
export function tryQuantizeInt8(t: HostTensor): Int8Tensor | undefined {
  if (t.dtype !== 'float32' || !(t.data instanceof Float32Array)) {
    throw new CleaveError('CLEAVE_E_DTYPE', `int8 encoding takes float32 tensors, got ${t.dtype}`, { dtype: t.dtype });
  }
  const x = t.data;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // NaN fails both comparisons below, so test finiteness explicitly.
    if (!Number.isFinite(v)) return undefined;
    if (v < lo) lo = v;
    else if (v > hi) hi = v;
  }
  // The scale travels as float32, so quantize with exactly the value the receiver will use.
  // All zeros (or a range that underflows float32) gets scale 1: every element maps to the zero point.
  let scale = Math.fround((hi - lo) / 255);
  if (!(scale > 0)) scale = 1;
  const zeroPoint = clampInt8(Math.round(-128 - lo / scale));
  const data = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = clampInt8(Math.round(x[i]! / scale) + zeroPoint);
  return { dims: [...t.dims], scale, zeroPoint, data };
}

/** Float32 tensor of `(q - zeroPoint) * scale`; always a fresh buffer. */
export function dequantizeInt8(q: Int8Tensor): HostTensor {
  const out = new Float32Array(q.data.length);
  const { scale, zeroPoint, data } = q;
  for (let i = 0; i < data.length; i++) out[i] = (data[i]! - zeroPoint) * scale;
  return { dtype: 'float32', dims: [...q.dims], data: out };
}

function clampInt8(v: number): number {
  return v < -128 ? -128 : v > 127 ? 127 : v;
}
