// The tensor extensions: every numeric dtype round-trips bit-exact, payloads land 8-byte aligned
// and decode as views when the frame is aligned (copies when not), int8 stays within scale/2,
// and malformed tensor headers fail with the right code before anything is allocated.
import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { createRng } from '../../../shared/rng.js';
import type { DType, NumericArray } from '../../../shared/onnx/dtype.js';
import type { HostTensor } from '../../../shared/tensor.js';
import {
  DEFAULT_LIMITS, FrameDecoder, FrameType, PAYLOAD_ALIGNMENT, decodeFrame, decodeTensor, decodeTensorInt8,
  dequantizeInt8, encodeFrame, encodeTensor, quantizeInt8, type ResultFrame,
} from '../../../shared/protocol/index.js';

function make(dtype: DType, dims: number[]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const fill = (i: number): number => ((i * 37 + 11) % 251) - 100;
  let data: NumericArray;
  switch (dtype) {
    case 'float32': data = Float32Array.from({ length: n }, (_, i) => fill(i) / 7); break;
    case 'float64': data = Float64Array.from({ length: n }, (_, i) => fill(i) / 7 + 1e-12); break;
    // float16 / bfloat16 travel as raw bits: 0x3c00 is 1.0 in float16, 0x7e00 a NaN, 0xfc00 -Inf.
    case 'float16': data = Uint16Array.from({ length: n }, (_, i) => [0x3c00, 0x7e00, 0xfc00, 0x0001][i % 4]!); break;
    case 'bfloat16': data = Uint16Array.from({ length: n }, (_, i) => [0x3f80, 0x7fc1, 0xff80][i % 3]!); break;
    case 'int8': data = Int8Array.from({ length: n }, (_, i) => fill(i)); break;
    case 'uint8': data = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff); break;
    case 'bool': data = Uint8Array.from({ length: n }, (_, i) => i % 2); break;
    case 'int16': data = Int16Array.from({ length: n }, (_, i) => fill(i) * 300); break;
    case 'uint16': data = Uint16Array.from({ length: n }, (_, i) => 65535 - i); break;
    case 'int32': data = Int32Array.from({ length: n }, (_, i) => fill(i) * 2 ** 24); break;
    case 'uint32': data = Uint32Array.from({ length: n }, (_, i) => 0xffff_ffff - i); break;
    // int64 / uint64 past 2^53: exactness matters for token ids and hashes.
    case 'int64': data = BigInt64Array.from({ length: n }, (_, i) => -(2n ** 62n) + BigInt(i)); break;
    case 'uint64': data = BigUint64Array.from({ length: n }, (_, i) => 2n ** 64n - 1n - BigInt(i)); break;
    case 'string': throw new Error('no string tensors');
  }
  return { dtype, dims, data };
}

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'bool', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];
const SHAPES: number[][] = [[], [0], [3], [2, 3], [1, 0, 4], [2, 1, 2, 1, 2]];

function result(outputs: Record<string, HostTensor>): ResultFrame {
  return { t: FrameType.RESULT, id: 1, outputs, timing: { queueMs: 0, computeMs: 1, batchSize: 1 } };
}

function outputsOf(bytes: Uint8Array, decoder = new FrameDecoder()): Record<string, HostTensor> {
  const f = decoder.decode(bytes);
  if (f.t !== FrameType.RESULT) throw new Error('expected RESULT');
  return f.outputs;
}

/** Element values as strings, so bigint and NaN bits compare exactly. */
function values(a: NumericArray): string[] {
  return Array.from(a as ArrayLike<number | bigint>, (v) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : String(v)));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CleaveError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('TENSOR round trip', () => {
  for (const dtype of DTYPES) {
    it(`${dtype}: every shape (scalar, empty, ranks 1-5) comes back with equal dtype, dims and bits`, () => {
      for (const dims of SHAPES) {
        const t = make(dtype, dims);
        const back = outputsOf(encodeFrame(result({ y: t }))).y!;
        expect(back.dtype).toBe(dtype);
        expect(back.dims).toEqual(dims);
        expect(back.data.constructor).toBe(t.data.constructor);
        expect(values(back.data)).toEqual(values(t.data));
      }
    });
  }

  it('keeps a typed array that is itself a view into a bigger buffer (encodes only its own bytes)', () => {
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const t: HostTensor = { dtype: 'float32', dims: [3], data: big.subarray(1, 4) };
    expect(Array.from(outputsOf(encodeFrame(result({ y: t }))).y!.data as Float32Array)).toEqual([1, 2, 3]);
  });

  it('refuses on encode a string tensor, data of the wrong width, and data that does not match the dims', () => {
    const bad = (t: HostTensor): string => codeOf(() => encodeFrame(result({ y: t })));
    expect(bad({ dtype: 'string', dims: [1], data: new Uint8Array(1) })).toBe('CLEAVE_E_DTYPE');
    expect(bad({ dtype: 'float32', dims: [2], data: new Float64Array(2) })).toBe('CLEAVE_E_DTYPE');
    expect(bad({ dtype: 'float32', dims: [2, 2], data: new Float32Array(3) })).toBe('CLEAVE_E_SHAPE');
    expect(bad({ dtype: 'float32', dims: [-1], data: new Float32Array(0) })).toBe('CLEAVE_E_SHAPE');
  });
});

describe('alignment', () => {
  const mixed = result({
    a: make('uint8', [3]), b: make('float64', [5]), c: make('int16', [3]), d: make('int64', [2, 2]),
    e: make('float32', [7]), f: make('bool', [1]), g: make('uint64', [1]),
  });

  it('puts every payload at a multiple of 8 bytes from the start of the frame', () => {
    const bytes = encodeFrame(mixed);
    expect(bytes.byteOffset).toBe(0);
    for (const t of Object.values(outputsOf(bytes))) {
      expect(t.data.buffer).toBe(bytes.buffer);
      expect(t.data.byteOffset % PAYLOAD_ALIGNMENT).toBe(0);
    }
  });

  it('decodes a frame at byteOffset 0 as views sharing its buffer, at byteOffset 3 as copies with equal values', () => {
    const bytes = encodeFrame(mixed);
    const aligned = new Uint8Array(new ArrayBuffer(bytes.length + 16), 0, bytes.length);
    aligned.set(bytes);
    const shifted = new Uint8Array(new ArrayBuffer(bytes.length + 16), 3, bytes.length);
    shifted.set(bytes);

    const views = outputsOf(aligned);
    const copies = outputsOf(shifted);
    for (const [name, t] of Object.entries(mixed.outputs)) {
      const v = views[name]!;
      const c = copies[name]!;
      expect(v.data.buffer, name).toBe(aligned.buffer);
      expect(values(v.data)).toEqual(values(t.data));
      expect(values(c.data)).toEqual(values(t.data));
      // One-byte elements are never misaligned, so they stay views even at offset 3.
      if (t.data.BYTES_PER_ELEMENT > 1) expect(c.data.buffer, name).not.toBe(shifted.buffer);
      else expect(c.data.buffer, name).toBe(shifted.buffer);
    }
  });

  it('pads by the absolute position: the same tensor after different prefixes always starts aligned', () => {
    for (let pos = 0; pos < 16; pos++) {
      const ext = encodeTensor(make('float64', [2]), pos);
      const payloadAt = 4 + 4 * 1 + ext[2]!;
      expect(ext[2]).toBeLessThan(8);
      expect((pos + payloadAt) % 8).toBe(0);
    }
  });
});

describe('TENSOR_INT8', () => {
  const rng = createRng(7);
  const x = Float32Array.from({ length: 4096 }, () => rng.normal() * 3 + 0.5);
  const t: HostTensor = { dtype: 'float32', dims: [64, 64], data: x };

  it('round-trips within scale/2 per element, at about a quarter of the bytes', () => {
    const plain = encodeFrame(result({ y: t }));
    const small = encodeFrame(result({ y: t }), { int8Floats: true });
    expect(small.length / plain.length).toBeLessThan(0.26);
    expect(small.length / plain.length).toBeGreaterThan(0.24);

    const back = outputsOf(small).y!;
    expect(back.dtype).toBe('float32');
    expect(back.dims).toEqual([64, 64]);
    const { scale } = quantizeInt8(t);
    const y = back.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      // scale/2 from rounding, plus float32 rounding of the scale and of the result.
      expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(scale / 2 + scale * 1e-5 + Math.abs(x[i]!) * 2 ** -23);
    }
  });

  it('keeps zeros exact, handles an all-zero, a constant and an empty tensor', () => {
    const cases: Float32Array[] = [new Float32Array([0, 0, 0]), new Float32Array([2.5, 2.5]), new Float32Array([-1, 0, 3]), new Float32Array(0)];
    for (const data of cases) {
      const q = quantizeInt8({ dtype: 'float32', dims: [data.length], data });
      expect(q.scale).toBeGreaterThan(0);
      const back = dequantizeInt8(q).data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (data[i] === 0) expect(back[i]).toBe(0);
        expect(Math.abs(back[i]! - data[i]!)).toBeLessThanOrEqual(q.scale / 2 + 1e-6);
      }
    }
  });

  it('sends only float32 tensors as int8; other dtypes go as TENSOR, unchanged', () => {
    const i64 = make('int64', [3]);
    const f64 = make('float64', [3]);
    const out = outputsOf(encodeFrame(result({ i64, f64 }), { int8Floats: true }));
    expect(values(out.i64!.data)).toEqual(values(i64.data));
    expect(values(out.f64!.data)).toEqual(values(f64.data));
  });

  it('sends a float32 tensor holding NaN or Infinity as float32 (lossless), and quantizeInt8 refuses it', () => {
    const data = new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY, -2]);
    const bytes = encodeFrame(result({ y: { dtype: 'float32', dims: [4], data } }), { int8Floats: true });
    const y = outputsOf(bytes).y!;
    expect(values(y.data)).toEqual(['1', 'NaN', 'Infinity', '-2']);
    // A view of the frame: TENSOR float32. A TENSOR_INT8 would have been dequantized into a new buffer.
    expect(y.data.buffer).toBe(bytes.buffer);
    expect(codeOf(() => quantizeInt8({ dtype: 'float32', dims: [4], data }))).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(codeOf(() => quantizeInt8(make('int32', [2])))).toBe('CLEAVE_E_DTYPE');
  });

  it('checks the dequantized size (4 bytes per element) against maxTensorBytes before allocating', () => {
    const bytes = encodeFrame(result({ y: { dtype: 'float32', dims: [30], data: new Float32Array(30).fill(1) } }), { int8Floats: true });
    // 30 int8 bytes on the wire, but 120 bytes once dequantized.
    const e = catchErr(() => new FrameDecoder({ maxTensorBytes: 100 }).decode(bytes));
    expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
    expect(e.message).toContain('maxTensorBytes (100)');
    expect(e.message).toContain('120');
  });
});

describe('hostile tensor headers', () => {
  const limits = DEFAULT_LIMITS;
  const hdr = (bytes: number[]): Uint8Array => new Uint8Array(bytes);

  it('refuses string and unknown dtype codes with CLEAVE_E_DTYPE', () => {
    expect(codeOf(() => decodeTensor(hdr([8, 1, 0, 0, 1, 0, 0, 0, 0]), limits))).toBe('CLEAVE_E_DTYPE');
    expect(codeOf(() => decodeTensor(hdr([99, 0, 0, 0]), limits))).toBe('CLEAVE_E_DTYPE');
    expect(codeOf(() => decodeTensorInt8(hdr([7, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 0, 1]), limits))).toBe('CLEAVE_E_DTYPE');
  });

  it('requires the payload to be exactly product(dims) * size, naming dims and actual bytes', () => {
    // float32 [2,3] needs 24 bytes; give 20.
    const bad = new Uint8Array(4 + 8 + 20);
    bad.set([1, 2, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    const e = catchErr(() => decodeTensor(bad, limits));
    expect(e.code).toBe('CLEAVE_E_SHAPE');
    expect(e.message).toBe('tensor dims [2,3] of float32 need 24 payload bytes, got 20');
  });

  it('refuses rank past maxRank, pad of 8 or more, a non-zero reserved byte, a short header', () => {
    expect(codeOf(() => decodeTensor(hdr([1, 9, 0, 0]), limits))).toBe('CLEAVE_E_TOO_LARGE');
    expect(codeOf(() => decodeTensor(hdr([1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), limits))).toBe('CLEAVE_E_PROTOCOL');
    expect(codeOf(() => decodeTensor(hdr([1, 0, 0, 1, 0, 0, 0, 0]), limits))).toBe('CLEAVE_E_PROTOCOL');
    expect(codeOf(() => decodeTensor(hdr([1, 2, 0, 0, 1, 0]), limits))).toBe('CLEAVE_E_PROTOCOL');
    expect(codeOf(() => decodeTensor(hdr([1, 0]), limits))).toBe('CLEAVE_E_PROTOCOL');
  });

  it('refuses dims whose byte count passes maxTensorBytes before allocating, even past 2^53', () => {
    const huge = new Uint8Array(4 + 4 * 8);
    huge.set([7, 8, 0, 0]);
    new DataView(huge.buffer).setUint32(4, 0xffff_ffff, true);
    for (let i = 1; i < 8; i++) new DataView(huge.buffer).setUint32(4 + 4 * i, 0xffff_ffff, true);
    const e = catchErr(() => decodeTensor(huge, limits));
    expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
    expect(e.message).toContain('maxTensorBytes (67108864)');
    // A zero dim makes an empty tensor whatever the other dims are.
    new DataView(huge.buffer).setUint32(4 + 4 * 7, 0, true);
    expect(decodeTensor(huge, limits).data.length).toBe(0);
  });

  it('refuses an int8 scale that is not finite and > 0, and a zero point outside -128..127', () => {
    const int8 = (scale: number, zp: number): Uint8Array => {
      const b = new Uint8Array(12 + 4 + 1);
      const v = new DataView(b.buffer);
      b.set([1, 1, 0, 0]);
      v.setFloat32(4, scale, true);
      v.setInt32(8, zp, true);
      v.setUint32(12, 1, true);
      return b;
    };
    expect(decodeTensorInt8(int8(0.5, 0), limits).dims).toEqual([1]);
    for (const s of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(codeOf(() => decodeTensorInt8(int8(s, 0), limits))).toBe('CLEAVE_E_PROTOCOL');
    for (const zp of [128, -129, 2 ** 30]) expect(codeOf(() => decodeTensorInt8(int8(1, zp), limits))).toBe('CLEAVE_E_PROTOCOL');
  });

  it('frames decode with the default decoder too (decodeFrame)', () => {
    const f = decodeFrame(encodeFrame(result({ y: make('float32', [2]) })));
    expect(f.t).toBe(FrameType.RESULT);
  });
});

function catchErr(fn: () => unknown): CleaveError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CleaveError) return e;
    throw e;
  }
  throw new Error('expected a CleaveError');
}
