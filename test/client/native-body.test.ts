// The client's native bodies against the edge's own codec (edge/native-codec.ts), in both
// encodings and across dtypes: what the client writes the edge reads unchanged, what the edge
// writes the client reads into the right typed arrays; hostile answers fail with a coded error.
import { describe, expect, it } from 'vitest';
import { encode as plainEncode } from '@msgpack/msgpack';
import { encodeNativeResponse, parseNativeRequest } from '../../edge/native-codec.js';
import { decodeNativeAnswer, encodeNativeBody, type WireFormat } from '../../shared/client/native-body.js';
import { dtypeOfArray, expectDType, tensor, toTypedTensor, type TypedTensor } from '../../shared/client/typed-tensor.js';
import { CleaveError } from '../../shared/errors.js';
import { cleaveErrorOf } from '../helpers/errors.js';

const FORMATS: WireFormat[] = ['msgpack', 'json'];

const TENSORS: Record<string, TypedTensor> = {
  f32: tensor(Float32Array.from([1.5, -2.25, NaN, Infinity]), [2, 2]),
  f64: tensor(Float64Array.from([Math.PI, -0.1]), [2]),
  i8: tensor(Int8Array.from([-128, 127, 0]), [3]),
  u8: tensor(Uint8Array.from([0, 200, 255]), [1, 3]),
  bool: tensor(Uint8Array.from([1, 0]), [2], 'bool'),
  i16: tensor(Int16Array.from([-32768, 5]), [2]),
  u16: tensor(Uint16Array.from([65535, 1]), [2]),
  f16: tensor(Uint16Array.from([0x3c00, 0xc000]), [2], 'float16'),
  i32: tensor(Int32Array.from([-(2 ** 31), 2 ** 31 - 1]), [2]),
  u32: tensor(Uint32Array.from([2 ** 32 - 1, 0]), [2]),
  i64: tensor(BigInt64Array.from([-(2n ** 62n), 9007199254740993n, 3n]), [3]),
  u64: tensor(BigUint64Array.from([2n ** 64n - 1n]), [1]),
  scalar: tensor(Float32Array.from([7]), []),
};

function same(a: TypedTensor, b: { dtype: string; dims: readonly number[]; data: ArrayLike<number | bigint> }): void {
  expect(b.dtype).toBe(a.dtype);
  expect([...b.dims]).toEqual([...a.dims]);
  expect(b.data.constructor).toBe(a.data.constructor);
  expect(Array.from(b.data as ArrayLike<number>)).toEqual(Array.from(a.data as ArrayLike<number>));
}

describe('client native bodies vs the edge codec', () => {
  it.each(FORMATS)('%s: the edge reads every dtype the client writes, with the request fields', (format) => {
    const body = encodeNativeBody(TENSORS, { outputs: ['y'], cache: 'refresh', priority: 2, id: 'abc' }, format);
    const req = parseNativeRequest(body, format);
    for (const [name, t] of Object.entries(TENSORS)) same(t, req.inputs[name]!);
    expect(req).toMatchObject({ outputs: ['y'], cache: 'refresh', priority: 2, id: 'abc' });
  });

  it.each(FORMATS)('%s: the client reads every dtype the edge writes, with the answer fields', (format) => {
    const out = encodeNativeResponse({
      model: 'm', version: 4, outputs: TENSORS, servedBy: 'cloud', cache: 'coalesced', degraded: { fallback: 'text-tiny', reason: 'CLEAVE_E_UNAVAILABLE' },
      timing: { cacheMs: 0.2, linkMs: 3, cloudQueueMs: 1, cloudComputeMs: 2, totalMs: 7 }, requestId: 'rid', id: 'abc',
    }, format);
    const a = decodeNativeAnswer(out.body, format);
    for (const [name, t] of Object.entries(TENSORS)) same(t, a.outputs[name]!);
    expect(a).toMatchObject({ model: 'm', version: 4, servedBy: 'cloud', cache: 'coalesced', requestId: 'rid', id: 'abc', degraded: { fallback: 'text-tiny', reason: 'CLEAVE_E_UNAVAILABLE' } });
    expect(a.timing).toEqual({ cacheMs: 0.2, linkMs: 3, cloudQueueMs: 1, cloudComputeMs: 2, totalMs: 7 });
  });

  it('reads int8-encoded float outputs back as float32 within scale/2', () => {
    const big = tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)), [8, 8]);
    const out = encodeNativeResponse({ model: 'm', version: 1, outputs: { y: big }, servedBy: 'edge', cache: 'miss', timing: { cacheMs: 0, totalMs: 1 }, requestId: 'r' }, 'msgpack', { int8Outputs: true });
    const y = expectDType(decodeNativeAnswer(out.body, 'msgpack').outputs.y!, 'float32');
    const err = Math.max(...Array.from(y.data, (v, i) => Math.abs(v - big.data[i]!)));
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(2 / 255);
  });

  it('ignores fields a newer edge adds, and refuses answers missing what it needs', () => {
    const extra = plainEncode({ model: 'm', version: 1, servedBy: 'edge', cache: 'miss', timing: { cacheMs: 0, totalMs: 1, gpuMs: 3 }, requestId: 'r', outputs: {}, shard: 'eu-1' });
    expect(decodeNativeAnswer(extra, 'msgpack').outputs).toEqual({});
    const missing = cleaveErrorOf(() => decodeNativeAnswer(plainEncode({ model: 'm', version: 1, cache: 'miss', timing: { cacheMs: 0, totalMs: 1 }, requestId: 'r', outputs: {} }), 'msgpack'));
    expect(missing.code).toBe('CLEAVE_E_PROTOCOL');
    expect(missing.message).toBe('response field servedBy must be a string, got nothing');
    const plainMap = cleaveErrorOf(() => decodeNativeAnswer(plainEncode({ model: 'm', version: 1, servedBy: 'edge', cache: 'miss', timing: { cacheMs: 0, totalMs: 1 }, requestId: 'r', outputs: { y: { dtype: 'float32' } } }), 'msgpack'));
    expect(plainMap.message).toMatch(/outputs\.y must be a tensor extension/);
  });

  it('refuses hostile msgpack before allocating: truncated bodies and huge declared lengths', () => {
    const good = encodeNativeResponse({ model: 'm', version: 1, outputs: { y: TENSORS.f32! }, servedBy: 'edge', cache: 'miss', timing: { cacheMs: 0, totalMs: 1 }, requestId: 'r' }, 'msgpack').body;
    expect(cleaveErrorOf(() => decodeNativeAnswer(good.subarray(0, good.length - 3), 'msgpack')).code).toBe('CLEAVE_E_PROTOCOL');
    // A map32 header declaring 2^32-1 entries in a 5-byte body.
    const huge = Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff]);
    expect(['CLEAVE_E_TOO_LARGE', 'CLEAVE_E_PROTOCOL']).toContain(cleaveErrorOf(() => decodeNativeAnswer(huge, 'msgpack')).code);
    expect(cleaveErrorOf(() => decodeNativeAnswer(new TextEncoder().encode('{"model":'), 'json')).code).toBe('CLEAVE_E_PROTOCOL');
    expect(cleaveErrorOf(() => decodeNativeAnswer(new TextEncoder().encode('[1,2]'), 'json')).message).toMatch(/must be a map/);
  });
});

describe('typed tensors', () => {
  it.each([
    [new Float32Array(1), 'float32'], [new Float64Array(1), 'float64'], [new Int8Array(1), 'int8'], [new Uint8Array(1), 'uint8'],
    [new Int16Array(1), 'int16'], [new Uint16Array(1), 'uint16'], [new Int32Array(1), 'int32'], [new Uint32Array(1), 'uint32'],
    [new BigInt64Array(1), 'int64'], [new BigUint64Array(1), 'uint64'],
  ] as const)('%o holds %s by default', (arr, dtype) => {
    expect(dtypeOfArray(arr)).toBe(dtype);
    expect(toTypedTensor({ data: arr, dims: [1] }, 't').dtype).toBe(dtype);
  });

  it('takes bool and the 16-bit floats only from the array that holds them', () => {
    expect(tensor(new Uint8Array(2), [2], 'bool').dtype).toBe('bool');
    expect(tensor(new Uint16Array(2), [2], 'bfloat16').dtype).toBe('bfloat16');
    const e = cleaveErrorOf(() => toTypedTensor({ data: new Int8Array(2), dims: [2], dtype: 'bool' }, 'input "m"'));
    expect(e.code).toBe('CLEAVE_E_DTYPE');
    expect(e.message).toBe('input "m": a bool tensor needs a Uint8Array, its data is a Int8Array');
    expect(cleaveErrorOf(() => toTypedTensor({ data: new Float32Array(2), dims: [2], dtype: 'string' as never }, 't')).code).toBe('CLEAVE_E_DTYPE');
    expect(cleaveErrorOf(() => tensor(new Float32Array(2), [1, -2])).code).toBe('CLEAVE_E_SHAPE');
  });

  it('narrows outputs by dtype, and says when the dtype is another', () => {
    const t = tensor(new Int32Array([1, 2]), [2]);
    expect(expectDType(t, 'int32').data).toBeInstanceOf(Int32Array);
    const e = cleaveErrorOf(() => expectDType(t, 'float32', 'output "logits"'));
    expect(e).toBeInstanceOf(CleaveError);
    expect(e.message).toBe('output "logits" has dtype int32, expected float32');
  });
});
