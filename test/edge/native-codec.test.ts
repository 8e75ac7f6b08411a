// The native endpoint's bodies: the same request and response round-trip in msgpack and JSON,
// msgpack tensors land 8-byte aligned and decode as views, content negotiation picks the right
// format, and hostile or mistaken bodies fail fast with a coded error that names the field.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Encoder, ExtData, encode as plainEncode } from '@msgpack/msgpack';
import { CleaveError, type ErrorCode } from '../../shared/errors.js';
import { OutgoingTensor, TensorExtensionCodec } from '../../shared/protocol/extension-codec.js';
import { quantizeInt8 } from '../../shared/protocol/tensor-codec.js';
import type { TensorMap } from '../../shared/protocol/frames.js';
import type { HostTensor } from '../../shared/tensor.js';
import {
  MSGPACK_CONTENT_TYPE, decodeNativeResponse, encodeNativeRequest, encodeNativeResponse, parseNativeRequest,
  requestFormat, responseFormat, type NativeFormat, type NativeRequest, type NativeResponse,
} from '../../edge/native-codec.js';
import { cleaveErrorOf } from '../helpers/errors.js';

const FORMATS: NativeFormat[] = ['msgpack', 'json'];
const UTF8 = new TextEncoder();

function image(): HostTensor {
  const n = 3 * 64 * 64;
  return { dtype: 'float32', dims: [1, 3, 64, 64], data: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3 - 0.5) };
}

function sampleInputs(): TensorMap {
  return {
    image: image(),
    // Past 2^53 and negative: JSON carries these as decimal strings, msgpack as raw bytes.
    tokens: { dtype: 'int64', dims: [2, 3], data: BigInt64Array.from([1n, -2n, 2n ** 60n + 7n, -(2n ** 62n), 0n, 9007199254740993n]) },
    mask: { dtype: 'bool', dims: [4], data: Uint8Array.from([1, 0, 0, 1]) },
    pixels: { dtype: 'uint8', dims: [2, 2], data: Uint8Array.from([0, 127, 128, 255]) },
  };
}

function sampleResponse(outputs: TensorMap = sampleInputs()): NativeResponse {
  return {
    model: 'resnet-tiny',
    version: 3,
    outputs,
    servedBy: 'edge',
    cache: 'miss',
    degraded: { fallback: 'resnet-edge', reason: 'CLEAVE_E_UNAVAILABLE' },
    timing: { cacheMs: 0.25, edgeMs: 4.5, totalMs: 5.125 },
    requestId: 'req-42',
    id: 'client-7',
  };
}

function expectSameTensors(got: TensorMap, want: TensorMap): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [name, t] of Object.entries(want)) {
    const g = got[name]!;
    expect(g.dtype, name).toBe(t.dtype);
    expect([...g.dims], name).toEqual([...t.dims]);
    expect(g.data.constructor, name).toBe(t.data.constructor);
    expect(Array.from(g.data as ArrayLike<number | bigint>), name).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
  }
}

function json(v: unknown): Uint8Array {
  return UTF8.encode(JSON.stringify(v));
}

const tensorCodec = new TensorExtensionCodec();
/** msgpack bytes of `v` with tensors wrapped as OutgoingTensor, bypassing the codec's own checks. */
function msgpack(v: unknown): Uint8Array {
  return new Encoder({ extensionCodec: tensorCodec }).encode(v);
}

const JSON_TENSOR = { dtype: 'float32', dims: [2], data: [1, 2] };

describe('round trips', () => {
  it.each(FORMATS)('a request with float32, int64, bool and uint8 inputs and every option (%s)', (format) => {
    const req: NativeRequest = {
      inputs: sampleInputs(), outputs: ['logits', 'probs'], cache: 'refresh', deadlineMs: 250.5, priority: 2, id: 'abc', int8Outputs: true,
    };
    const { body, contentType } = encodeNativeRequest(req, format);
    expect(contentType).toBe(format === 'json' ? 'application/json' : MSGPACK_CONTENT_TYPE);
    const got = parseNativeRequest(body, format);
    expectSameTensors(got.inputs, req.inputs);
    expect(Object.getPrototypeOf(got.inputs)).toBeNull();
    expect({ ...got, inputs: undefined }).toEqual({ ...req, inputs: undefined });
  });

  it.each(FORMATS)('a request with only inputs has no optional fields (%s)', (format) => {
    const got = parseNativeRequest(encodeNativeRequest({ inputs: { x: image() } }, format).body, format);
    expect(Object.keys(got)).toEqual(['inputs']);
  });

  it.each(FORMATS)('an empty outputs list reads as every output (%s)', (format) => {
    const got = parseNativeRequest(encodeNativeRequest({ inputs: {}, outputs: [] }, format).body, format);
    expect(got.outputs).toBeUndefined();
  });

  it.each(FORMATS)('a response with every field (%s)', (format) => {
    const res = sampleResponse();
    const got = decodeNativeResponse(encodeNativeResponse(res, format).body, format);
    expectSameTensors(got.outputs, res.outputs);
    expect({ ...got, outputs: undefined }).toEqual({ ...res, outputs: undefined });
  });

  it.each(FORMATS)('a cloud response without degraded or id, with every timing segment (%s)', (format) => {
    const res: NativeResponse = {
      model: 'm', version: 1, outputs: {}, servedBy: 'cloud', cache: 'coalesced',
      timing: { cacheMs: 1, linkMs: 2, cloudQueueMs: 3, cloudComputeMs: 4, totalMs: 10 }, requestId: 'r',
    };
    expect(decodeNativeResponse(encodeNativeResponse(res, format).body, format)).toEqual(res);
  });

  it('JSON writes int64 as numbers while safe and decimal strings beyond, bool as true/false', () => {
    const { body } = encodeNativeResponse(sampleResponse({
      tokens: { dtype: 'int64', dims: [3], data: BigInt64Array.from([5n, -(2n ** 53n) + 1n, 2n ** 60n]) },
      mask: { dtype: 'bool', dims: [2], data: Uint8Array.from([1, 0]) },
      nan: { dtype: 'float32', dims: [2], data: Float32Array.from([NaN, -Infinity]) },
    }), 'json');
    const outputs = (JSON.parse(new TextDecoder().decode(body)) as { outputs: Record<string, { data: unknown[] }> }).outputs;
    expect(outputs.tokens!.data).toEqual([5, -(2 ** 53) + 1, '1152921504606846976']);
    expect(outputs.mask!.data).toEqual([true, false]);
    expect(outputs.nan!.data).toEqual(['NaN', '-Infinity']);
  });

  it('JSON reads nested data and int64 given as decimal strings', () => {
    const req = parseNativeRequest(json({ inputs: { t: { dtype: 'int64', dims: [2, 2], data: [[1, '-9223372036854775808'], ['9223372036854775807', 4]] } } }), 'json');
    expect(Array.from(req.inputs.t!.data as BigInt64Array)).toEqual([1n, -(2n ** 63n), 2n ** 63n - 1n, 4n]);
  });
});

describe('msgpack alignment', () => {
  it.each([[[1, 3, 64, 64]], [[1, 3, 128, 128]], [[5]]])('float32 %j decodes as a view of the body, 8-byte aligned', (dims) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const t: HostTensor = { dtype: 'float32', dims, data: Float32Array.from({ length: n }, (_, i) => i / 3) };
    const { body } = encodeNativeResponse(sampleResponse({ a: { dtype: 'uint8', dims: [3], data: Uint8Array.from([1, 2, 3]) }, t }), 'msgpack');
    expect(body.byteOffset).toBe(0);
    const got = decodeNativeResponse(body, 'msgpack').outputs.t!;
    expect(got.data.buffer).toBe(body.buffer);
    expect(got.data.byteOffset % 8).toBe(0);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));

    const req = encodeNativeRequest({ inputs: { t } }, 'msgpack').body;
    const gotIn = parseNativeRequest(req, 'msgpack').inputs.t!;
    expect(gotIn.data.buffer).toBe(req.buffer);
    expect(gotIn.data.byteOffset % 8).toBe(0);
  });

  it('a body at an odd offset still decodes (as a copy)', () => {
    const { body } = encodeNativeRequest({ inputs: { x: image() } }, 'msgpack');
    const shifted = new Uint8Array(body.length + 1).subarray(1);
    shifted.set(body);
    const got = parseNativeRequest(shifted, 'msgpack').inputs.x!;
    expect(got.data.buffer).not.toBe(shifted.buffer);
    expectSameTensors({ x: got }, { x: image() });
  });
});

describe('int8 tensors', () => {
  it('int8Outputs sends float32 outputs as TENSOR_INT8 within scale/2 and leaves other dtypes exact', () => {
    const outputs = sampleInputs();
    const plain = encodeNativeResponse(sampleResponse(outputs), 'msgpack').body;
    const small = encodeNativeResponse(sampleResponse(outputs), 'msgpack', { int8Outputs: true }).body;
    expect(small.length).toBeLessThan(plain.length / 3);
    const got = decodeNativeResponse(small, 'msgpack').outputs;
    const { scale } = quantizeInt8(outputs.image!);
    const want = outputs.image!.data as Float32Array;
    const g = got.image!.data as Float32Array;
    expect(got.image!.dtype).toBe('float32');
    for (let i = 0; i < want.length; i++) expect(Math.abs(g[i]! - want[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
    expectSameTensors({ tokens: got.tokens!, mask: got.mask! }, { tokens: outputs.tokens!, mask: outputs.mask! });
  });

  it('int8Inputs does the same for a request; JSON ignores it', () => {
    const req = { inputs: { image: image() } };
    const got = parseNativeRequest(encodeNativeRequest(req, 'msgpack', { int8Inputs: true }).body, 'msgpack').inputs.image!;
    const { scale } = quantizeInt8(image());
    const want = image().data as Float32Array;
    (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6));
    const exact = parseNativeRequest(encodeNativeRequest(req, 'json', { int8Inputs: true }).body, 'json').inputs;
    expectSameTensors(exact, req.inputs);
  });
});

describe('content negotiation', () => {
  it.each([
    ['application/msgpack', 'msgpack'],
    ['application/x-msgpack', 'msgpack'],
    ['application/vnd.msgpack', 'msgpack'],
    ['Application/MsgPack; charset=binary', 'msgpack'],
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['application/json;charset="UTF-8"', 'json'],
  ] as const)('request Content-Type %j is %s', (ct, want) => {
    expect(requestFormat(ct)).toBe(want);
  });

  it.each([['text/plain'], ['application/octet-stream'], ['application/json; charset=latin1'], [''], [null], [undefined]])('request Content-Type %j is refused with 415', (ct) => {
    const e = cleaveErrorOf(() => requestFormat(ct));
    expect(e.code).toBe('CLEAVE_E_MEDIA_TYPE');
    expect(e.httpStatus).toBe(415);
    expect(e.message).toContain('application/json');
    if (ct !== 'application/json; charset=latin1') expect(e.message).toContain('application/msgpack');
    else expect(e.message).toContain('must be UTF-8, got charset "latin1"');
    if (ct === 'text/plain') expect(e.message).toContain('"text/plain"');
  });

  it.each([
    [null, 'json', 'json'],
    [undefined, 'msgpack', 'msgpack'],
    ['', 'msgpack', 'msgpack'],
    ['*/*', 'json', 'json'],
    ['*/*', 'msgpack', 'msgpack'],
    ['application/*', 'json', 'json'],
    ['application/msgpack', 'json', 'msgpack'],
    ['application/x-msgpack', 'json', 'msgpack'],
    ['application/vnd.msgpack;q=0.5', 'json', 'msgpack'],
    ['application/json', 'msgpack', 'json'],
    ['application/json;q=0.9, application/msgpack', 'json', 'msgpack'],
    ['application/json, application/msgpack;q=0.9', 'msgpack', 'json'],
    ['application/json, application/msgpack', 'msgpack', 'msgpack'],
    ['application/json, application/msgpack', 'json', 'json'],
    ['application/json, */*;q=0.1', 'msgpack', 'json'],
    ['application/json, */*', 'msgpack', 'json'],
    ['*/*, application/json;q=0', 'json', 'msgpack'],
    ['application/msgpack;q=0, application/json;q=0', 'msgpack', 'msgpack'],
    ['text/html, image/png', 'json', 'json'],
    ['text/html, image/png', 'msgpack', 'msgpack'],
    ['application/json;q=abc, application/msgpack;q=0.2', 'json', 'msgpack'],
    ['garbage,,; q=1', 'msgpack', 'msgpack'],
  ] as const)('Accept %j with a %s request answers %s', (accept, req, want) => {
    expect(responseFormat(accept, req)).toBe(want);
  });
});

describe('field errors', () => {
  it.each(FORMATS)('an empty body is a bad argument (%s)', (format) => {
    expect(cleaveErrorOf(() => parseNativeRequest(new Uint8Array(0), format)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(cleaveErrorOf(() => decodeNativeResponse(new Uint8Array(0), format)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });

  it.each(FORMATS)('a body that is not a map is a bad argument (%s)', (format) => {
    const body = format === 'json' ? json([1, 2]) : msgpack([1, 2]);
    const e = cleaveErrorOf(() => parseNativeRequest(body, format));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toMatch(/must be a (JSON object|msgpack map), got an array of 2/);
  });

  it.each(FORMATS)('an unknown field is refused, named, with the known ones and a hint (%s)', (format) => {
    const v = { input: { x: format === 'json' ? JSON_TENSOR : new OutgoingTensor(image(), false) } };
    const e = cleaveErrorOf(() => parseNativeRequest(format === 'json' ? json(v) : msgpack(v), format));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.detail.field).toBe('input');
    expect(e.message).toContain('unknown field "input"');
    expect(e.message).toContain('did you mean inputs?');
    expect(e.message).toContain('known fields: inputs, outputs, cache, deadlineMs, priority, id, int8Outputs');
  });

  it('a missing inputs map is named', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(json({ cache: 'default' }), 'json'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.detail.field).toBe('inputs');
  });

  it.each([
    [{ cache: 'sometimes' }, 'cache', 'cache must be one of default, bypass, refresh, got "sometimes"'],
    [{ deadlineMs: 0 }, 'deadlineMs', 'deadlineMs must be a number of milliseconds > 0, got 0'],
    [{ deadlineMs: -5 }, 'deadlineMs', 'got -5'],
    [{ deadlineMs: '100' }, 'deadlineMs', 'got "100"'],
    [{ priority: 0 }, 'priority', 'priority must be an integer >= 1, got 0'],
    [{ priority: 1.5 }, 'priority', 'got 1.5'],
    [{ id: 7 }, 'id', 'id must be a string, got 7'],
    [{ int8Outputs: 'yes' }, 'int8Outputs', 'int8Outputs must be true or false'],
    [{ outputs: 'logits' }, 'outputs', 'outputs must be an array of output names'],
    [{ outputs: ['a', ''] }, 'outputs[1]', 'outputs[1] must be a non-empty string'],
    [{ outputs: ['a', 'a'] }, 'outputs[1]', 'output "a" is listed twice'],
  ] as const)('%j is refused naming %s', (extra, field, text) => {
    for (const format of FORMATS) {
      const v = { inputs: {}, ...extra };
      const e = cleaveErrorOf(() => parseNativeRequest(format === 'json' ? json(v) : msgpack(v), format));
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.detail.field).toBe(field);
      expect(e.message).toContain(text);
    }
  });

  it.each(FORMATS)('null reads as absent for optional fields (%s)', (format) => {
    const v = { inputs: {}, cache: null, id: null, outputs: null };
    expect(parseNativeRequest(format === 'json' ? json(v) : msgpack(v), format)).toEqual({ inputs: {} });
  });

  it('JSON tensor fields are named by path', () => {
    const cases: [unknown, ErrorCode, string][] = [
      [{ image: { dtype: 'float32', dims: [1, -3], data: [] } }, 'CLEAVE_E_BAD_ARGUMENT', 'inputs.image.dims[1]'],
      [{ 'input:0': { dtype: 'float32', dims: [1, 'x'], data: [] } }, 'CLEAVE_E_BAD_ARGUMENT', 'inputs["input:0"].dims[1]'],
      [{ image: { dtype: 'float32', dims: [2], data: [1, 'a'] } }, 'CLEAVE_E_BAD_ARGUMENT', 'inputs.image.data[1]'],
      [{ image: { dtype: 'float32', dims: [2] } }, 'CLEAVE_E_BAD_ARGUMENT', 'inputs.image.data'],
      [{ image: { dtype: 'float32', dims: [2], data: [1, 2], layout: 'nchw' } }, 'CLEAVE_E_BAD_ARGUMENT', 'inputs.image.layout'],
      [{ image: { dtype: 'float8', dims: [2], data: [1, 2] } }, 'CLEAVE_E_DTYPE', 'inputs.image.dtype'],
      [{ image: { dtype: 'string', dims: [1], data: ['a'] } }, 'CLEAVE_E_DTYPE', 'inputs.image.dtype'],
      [{ image: { dtype: 'float32', dims: [2, 2], data: [1, 2, 3] } }, 'CLEAVE_E_SHAPE', 'inputs.image'],
      [{ image: [1, 2, 3] }, 'CLEAVE_E_BAD_ARGUMENT', 'inputs.image'],
    ];
    for (const [inputs, code, field] of cases) {
      const e = cleaveErrorOf(() => parseNativeRequest(json({ inputs }), 'json'));
      expect([e.code, e.detail.field], e.message).toEqual([code, field]);
      // The message names the field, or for a shape error the tensor (`input "image": shape [2,2] needs 4 elements`).
      expect(e.message.includes(field) || e.message.startsWith('input "image"'), e.message).toBe(true);
    }
  });

  it('an unknown dtype names the accepted ones', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(json({ inputs: { x: { dtype: 'float8', dims: [1], data: [1] } } }), 'json'));
    expect(e.message).toBe('inputs.x.dtype must be one of float32, float64, float16, bfloat16, int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool, got "float8"');
  });

  it.each(FORMATS)('data count not matching dims is a shape error (%s)', (format) => {
    let body: Uint8Array;
    if (format === 'json') {
      body = json({ inputs: { x: { dtype: 'float32', dims: [2, 3], data: [1, 2, 3, 4, 5] } } });
    } else {
      // A TENSOR whose header says [2,3] float32 but carries 5 elements.
      const ext = new Uint8Array(4 + 8 + 20);
      const v = new DataView(ext.buffer);
      ext.set([1, 2, 0, 0]);
      v.setUint32(4, 2, true);
      v.setUint32(8, 3, true);
      body = plainEncode({ inputs: { x: new ExtData(1, ext) } });
    }
    const e = cleaveErrorOf(() => parseNativeRequest(body, format));
    expect(e.code).toBe('CLEAVE_E_SHAPE');
    expect(e.message).toContain('input "x"');
    expect(e.detail.field).toBe('inputs.x');
  });

  it('an unknown dtype code in a msgpack tensor is a dtype error naming the input', () => {
    const body = plainEncode({ inputs: { x: new ExtData(1, Uint8Array.from([99, 1, 0, 0, 1, 0, 0, 0, 7])) } });
    const e = cleaveErrorOf(() => parseNativeRequest(body, 'msgpack'));
    expect(e.code).toBe('CLEAVE_E_DTYPE');
    expect(e.message).toMatch(/^input "x" \(inputs\.x\): tensor dtype code 99/);
  });

  it('a JSON-style tensor map in a msgpack body is refused with a hint', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(msgpack({ inputs: { x: JSON_TENSOR } }), 'msgpack'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.detail.field).toBe('inputs.x');
    expect(e.message).toContain('application/json form');
  });

  it('a JSON syntax error names its position', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(UTF8.encode('{"inputs": {"x": [1, 2,, 3]}}'), 'json'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.detail.position).toBe(23);
    expect(e.message).toBe('request is not valid JSON: unexpected character "," at position 23');
  });

  it('JSON that is not UTF-8 is refused', () => {
    expect(cleaveErrorOf(() => parseNativeRequest(Uint8Array.from([0x7b, 0xff, 0x7d]), 'json')).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });

  it('"__proto__" as an input name is refused in both formats', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(UTF8.encode(`{"inputs": {"__proto__": ${JSON.stringify(JSON_TENSOR)}}}`), 'json'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('"__proto__" is not allowed');

    const inputs = Object.create(null) as Record<string, unknown>;
    inputs.__proto__ = new OutgoingTensor(image(), false);
    const m = cleaveErrorOf(() => parseNativeRequest(msgpack({ inputs }), 'msgpack'));
    expect(m.code).toBe('CLEAVE_E_PROTOCOL');
    expect(m.message).toContain('"__proto__"');
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
  });

  it('a response missing timing, or with a bad cache status, names the field; unknown fields are ignored', () => {
    const base = { model: 'm', version: 1, outputs: {}, servedBy: 'edge', cache: 'hit', timing: { cacheMs: 0, totalMs: 1 }, requestId: 'r' };
    expect(decodeNativeResponse(json({ ...base, extra: { any: 1 } }), 'json')).toEqual(base);
    const noTiming: Record<string, unknown> = { ...base };
    delete noTiming.timing;
    expect(cleaveErrorOf(() => decodeNativeResponse(json(noTiming), 'json')).detail.field).toBe('timing');
    expect(cleaveErrorOf(() => decodeNativeResponse(json({ ...base, timing: { cacheMs: 0 } }), 'json')).detail.field).toBe('timing.totalMs');
    const e = cleaveErrorOf(() => decodeNativeResponse(msgpack({ ...base, cache: 'maybe' }), 'msgpack'));
    expect(e.message).toBe('cache must be one of hit, miss, coalesced, bypass, refresh, got "maybe"');
  });

  it('encoding names the output whose tensor is wrong', () => {
    const shape = cleaveErrorOf(() => encodeNativeResponse(sampleResponse({ y: { dtype: 'float32', dims: [2, 2], data: new Float32Array(3) } }), 'msgpack'));
    expect([shape.code, shape.detail.field]).toEqual(['CLEAVE_E_SHAPE', 'outputs.y']);
    const dtype = cleaveErrorOf(() => encodeNativeResponse(sampleResponse({ y: { dtype: 'float32', dims: [2], data: new Float64Array(2) } }), 'json'));
    expect(dtype.code).toBe('CLEAVE_E_DTYPE');
    expect(dtype.message).toContain('output "y"');
  });
});

describe('limits and hostile input', () => {
  it('every truncation of a msgpack body fails with a coded error', () => {
    const { body } = encodeNativeRequest({ inputs: { a: { dtype: 'float32', dims: [3], data: Float32Array.from([1, 2, 3]) } }, cache: 'bypass', id: 'x' }, 'msgpack');
    for (let n = 1; n < body.length; n++) {
      const e = cleaveErrorOf(() => parseNativeRequest(body.slice(0, n), 'msgpack'));
      expect(['CLEAVE_E_PROTOCOL', 'CLEAVE_E_SHAPE']).toContain(e.code);
    }
  });

  it.each([
    ['100k nested fixarray headers', new Uint8Array(100_000).fill(0x91), 'CLEAVE_E_PROTOCOL'],
    ['100k array16 headers of 65535 items', Uint8Array.from({ length: 300_000 }, (_, i) => [0xdc, 0xff, 0xff][i % 3]!), 'CLEAVE_E_TOO_LARGE'],
    ['a map declaring 4 Gi entries', Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61]), 'CLEAVE_E_TOO_LARGE'],
    ['an ext declaring 4 GiB', Uint8Array.from([0x81, 0xa1, 0x61, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]), 'CLEAVE_E_TOO_LARGE'],
  ] as const)('%s is refused fast, before allocating', (_name, bytes, code) => {
    const heap = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const e = cleaveErrorOf(() => parseNativeRequest(bytes, 'msgpack'));
    expect(performance.now() - t0).toBeLessThan(250);
    expect(e.code).toBe(code);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 1024 * 1024);
  });

  it('deeply nested JSON fails with a coded error', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(cleaveErrorOf(() => parseNativeRequest(UTF8.encode(deep), 'json')).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    const inData = UTF8.encode(`{"inputs":{"x":{"dtype":"float32","dims":[1],"data":${deep}}}}`);
    const e = cleaveErrorOf(() => parseNativeRequest(inData, 'json'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('nests deeper');
  });

  it('an extension type other than the tensor ones is a protocol error', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(plainEncode({ inputs: { x: new ExtData(5, new Uint8Array(8)) } }), 'msgpack'));
    expect(e.code).toBe('CLEAVE_E_PROTOCOL');
    expect(e.message).toContain('extension type 5');
  });

  it.each(FORMATS)('a tensor over maxTensorBytes is too large (%s)', (format) => {
    // 4100 bytes: just over the limit, so the msgpack pre-scan (which bounds the whole extension,
    // header and pad included) lets it through and the tensor decoder refuses it by its dims.
    const over: HostTensor = { dtype: 'uint8', dims: [4100], data: new Uint8Array(4100) };
    const e = cleaveErrorOf(() => parseNativeRequest(encodeNativeRequest({ inputs: { over } }, format).body, format, { maxTensorBytes: 4096 }));
    expect([e.code, e.detail.limit, e.detail.field]).toEqual(['CLEAVE_E_TOO_LARGE', 'maxTensorBytes', format === 'json' ? 'inputs.over.dims' : 'inputs.over']);
    expect(e.message).toContain('input "over"');
    expect(e.message).toContain('exceeds maxTensorBytes (4096)');
    // Far over: the pre-scan refuses the extension itself, before decoding anything.
    const big: HostTensor = { dtype: 'float32', dims: [2, 1024], data: new Float32Array(2048) };
    const { body } = encodeNativeRequest({ inputs: { big } }, format);
    const f = cleaveErrorOf(() => parseNativeRequest(body, format, { maxTensorBytes: 4096 }));
    expect([f.code, f.detail.limit]).toEqual(['CLEAVE_E_TOO_LARGE', 'maxTensorBytes']);
    expect(parseNativeRequest(body, format, { maxTensorBytes: 8192 }).inputs.big!.dims).toEqual([2, 1024]);
  });

  it('JSON dims asking for petabytes are refused by arithmetic, not allocation', () => {
    const e = cleaveErrorOf(() => parseNativeRequest(json({ inputs: { x: { dtype: 'float64', dims: [4294967295, 4294967295, 1000], data: [] } } }), 'json'));
    expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
    expect(e.detail.field).toBe('inputs.x.dims');
  });

  it.each(FORMATS)('body size, tensor count, rank and name length are limited (%s)', (format) => {
    const t = (): HostTensor => ({ dtype: 'uint8', dims: [1], data: Uint8Array.from([1]) });
    const enc = (req: NativeRequest): Uint8Array => encodeNativeRequest(req, format).body;
    expect(cleaveErrorOf(() => parseNativeRequest(enc({ inputs: { x: image() } }), format, { maxFrameBytes: 1000 })).detail.limit).toBe('maxFrameBytes');
    expect(cleaveErrorOf(() => parseNativeRequest(enc({ inputs: { a: t(), b: t(), c: t() } }), format, { maxTensors: 2 })).code).toBe('CLEAVE_E_TOO_LARGE');
    const rank: HostTensor = { dtype: 'uint8', dims: [1, 1, 1], data: Uint8Array.from([1]) };
    expect(cleaveErrorOf(() => parseNativeRequest(enc({ inputs: { r: rank } }), format, { maxRank: 2 })).code).toBe('CLEAVE_E_TOO_LARGE');
    expect(cleaveErrorOf(() => parseNativeRequest(enc({ inputs: { ['n'.repeat(100)]: t() } }), format, { maxStringBytes: 50 })).code).toBe('CLEAVE_E_TOO_LARGE');
    expect(cleaveErrorOf(() => parseNativeRequest(enc({ inputs: {}, id: 'é'.repeat(30) }), format, { maxStringBytes: 50 })).code).toBe('CLEAVE_E_TOO_LARGE');
  });

  it('a limit that is not a positive integer is a bad argument', () => {
    expect(cleaveErrorOf(() => parseNativeRequest(json({ inputs: {} }), 'json', { maxTensors: 0 })).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });

  it('random bytes give a request or a CleaveError, never another error', () => {
    const attempt = (bytes: Uint8Array, format: NativeFormat): boolean => {
      try {
        parseNativeRequest(bytes, format);
      } catch (e) {
        if (!(e instanceof CleaveError)) throw e;
      }
      return true;
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => attempt(b, 'msgpack')), { numRuns: 1500 });
    // Random bytes after a plausible start ({"inputs": ...) reach the field checks, not just the scanner.
    const start = msgpack({ inputs: {} }).subarray(0, 8);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (rest) => attempt(Uint8Array.from([...start, ...rest]), 'msgpack')), { numRuns: 1500 });
    const valid = encodeNativeRequest({ inputs: sampleInputs(), cache: 'bypass', priority: 3 }, 'msgpack').body;
    const flips = fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(flips, (fl) => {
      const b = valid.slice();
      for (const [at, v] of fl) b[at] = v;
      return attempt(b, 'msgpack');
    }), { numRuns: 500 });
    fc.assert(fc.property(fc.json(), (text) => attempt(UTF8.encode(text), 'json')), { numRuns: 500 });
  });
});
