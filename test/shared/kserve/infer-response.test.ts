import { describe, expect, it } from 'vitest';
import { buildInferResponse, parseInferResponse } from '../../../shared/kserve/infer-response.js';
import type { TensorMap } from '../../../shared/protocol/frames.js';
import type { HostTensor } from '../../../shared/tensor.js';
import { binaryBody, bytesOf, expectCleave } from './body-helpers.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

const EVERY_DTYPE: TensorMap = {
  b: { dtype: 'bool', dims: [3], data: Uint8Array.of(1, 0, 1) },
  u8: { dtype: 'uint8', dims: [2], data: Uint8Array.of(0, 255) },
  u16: { dtype: 'uint16', dims: [2], data: Uint16Array.of(0, 65535) },
  u32: { dtype: 'uint32', dims: [2], data: Uint32Array.of(0, 4294967295) },
  u64: { dtype: 'uint64', dims: [2], data: BigUint64Array.of(7n, 2n ** 64n - 1n) },
  i8: { dtype: 'int8', dims: [2], data: Int8Array.of(-128, 127) },
  i16: { dtype: 'int16', dims: [2], data: Int16Array.of(-32768, 32767) },
  i32: { dtype: 'int32', dims: [2], data: Int32Array.of(-2147483648, 2147483647) },
  i64: { dtype: 'int64', dims: [2, 2], data: BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, 2n ** 53n - 1n, -5n) },
  f16: { dtype: 'float16', dims: [4], data: Uint16Array.of(0x3c00, 0x2e66, 0x7c00, 0x0001) },
  f32: { dtype: 'float32', dims: [1, 3], data: Float32Array.of(0.5, -Infinity, 0.1) },
  f64: { dtype: 'float64', dims: [2], data: Float64Array.of(1e300, -0.25) },
  bf16: { dtype: 'bfloat16', dims: [2], data: Uint16Array.of(0x3f80, 0x3eab) },
};

describe('buildInferResponse: JSON', () => {
  it('writes the v2 response shape, flat data, int64 past 2^53 as strings, bools and halves as JSON values', () => {
    const res = buildInferResponse({
      modelName: 'm',
      modelVersion: '1',
      id: 'r1',
      binary: false,
      outputs: {
        logits: { dtype: 'float32', dims: [1, 2, 2], data: Float32Array.of(0.5, -1, 2, NaN) },
        ids: EVERY_DTYPE['i64']!,
        mask: EVERY_DTYPE['b']!,
        half: { dtype: 'float16', dims: [2], data: Uint16Array.of(0x3c00, 0xc000) },
      },
    });
    expect(res.contentType).toBe('application/json');
    expect(res.headerLength).toBeUndefined();
    expect(text(res.body)).toBe(
      '{"model_name":"m","model_version":"1","id":"r1","outputs":[' +
        '{"name":"logits","datatype":"FP32","shape":[1,2,2],"data":[0.5,-1,2,"NaN"]},' +
        '{"name":"ids","datatype":"INT64","shape":[2,2],"data":["-9223372036854775808","9007199254740993",9007199254740991,-5]},' +
        '{"name":"mask","datatype":"BOOL","shape":[3],"data":[true,false,true]},' +
        '{"name":"half","datatype":"FP16","shape":[2],"data":[1,-2]}]}',
    );
  });

  it('round-trips every datatype through parseInferResponse', () => {
    const res = buildInferResponse({ modelName: 'm', binary: false, outputs: EVERY_DTYPE, parameters: { note: 'x' } });
    const back = parseInferResponse(res.body);
    expect(back.modelName).toBe('m');
    expect('modelVersion' in back).toBe(false);
    expect({ ...back.parameters }).toEqual({ note: 'x' });
    expect(Object.keys(back.outputs)).toEqual(Object.keys(EVERY_DTYPE));
    for (const [name, t] of Object.entries(EVERY_DTYPE)) expect(back.outputs[name], name).toEqual(t);
  });

  it('refuses tensors it cannot write', () => {
    expectCleave(() => buildInferResponse({ modelName: 'm', binary: false, outputs: { s: { dtype: 'string', dims: [1], data: new Uint8Array(0) } } }), 'CLEAVE_E_DTYPE');
    const short: HostTensor = { dtype: 'float32', dims: [2, 2], data: new Float32Array(3) };
    expectCleave(() => buildInferResponse({ modelName: 'm', binary: false, outputs: { y: short } }), 'CLEAVE_E_SHAPE', 'output "y": float32 tensor of shape [2,2] needs 16 bytes, its data has 12');
    const wide: HostTensor = { dtype: 'float32', dims: [2], data: new Float64Array(2) };
    expectCleave(() => buildInferResponse({ modelName: 'm', binary: true, outputs: { y: wide } }), 'CLEAVE_E_SHAPE');
  });
});

describe('buildInferResponse: binary', () => {
  it('sends the chosen outputs as a tail after the JSON header, in output order', () => {
    const a: HostTensor = { dtype: 'float32', dims: [2], data: Float32Array.of(1.5, -2) };
    const b: HostTensor = { dtype: 'int32', dims: [1], data: Int32Array.of(9) };
    const c: HostTensor = { dtype: 'bool', dims: [2], data: Uint8Array.of(0, 7) };
    const res = buildInferResponse({ modelName: 'm', id: 'q', binary: new Set(['a', 'c']), outputs: { a, b, c } });
    expect(res.contentType).toBe('application/octet-stream');
    const header = text(res.body.subarray(0, res.headerLength));
    expect(header).toBe(
      '{"model_name":"m","id":"q","outputs":[' +
        '{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},' +
        '{"name":"b","datatype":"INT32","shape":[1],"data":[9]},' +
        '{"name":"c","datatype":"BOOL","shape":[2],"parameters":{"binary_data_size":2}}]}',
    );
    // bool goes out normalised to 0/1, as the extension requires.
    expect([...res.body.subarray(res.headerLength!)]).toEqual([...bytesOf(a.data), 0, 1]);

    const back = parseInferResponse(res.body, res.headerLength);
    expect(back.id).toBe('q');
    expect(back.outputs['a']).toEqual(a);
    expect(back.outputs['b']).toEqual(b);
    expect(back.outputs['c']).toEqual({ ...c, data: Uint8Array.of(0, 1) });
  });

  it('round-trips every datatype with binary: true, bit for bit', () => {
    const res = buildInferResponse({ modelName: 'm', modelVersion: '3', binary: true, outputs: EVERY_DTYPE });
    expect(res.headerLength).toBeGreaterThan(0);
    const back = parseInferResponse(res.body, res.headerLength);
    expect(back.modelVersion).toBe('3');
    for (const [name, t] of Object.entries(EVERY_DTYPE)) expect(back.outputs[name], name).toEqual(t);
  });

  it('sets headerLength for empty binary outputs, and not when no output is binary', () => {
    const empty: HostTensor = { dtype: 'float32', dims: [0, 4], data: new Float32Array(0) };
    const res = buildInferResponse({ modelName: 'm', binary: true, outputs: { e: empty } });
    expect(res.headerLength).toBe(res.body.length);
    expect(parseInferResponse(res.body, res.headerLength).outputs['e']).toEqual(empty);
    const none = buildInferResponse({ modelName: 'm', binary: new Set(['other']), outputs: { e: empty } });
    expect(none.headerLength).toBeUndefined();
    expect(none.contentType).toBe('application/json');
  });

  it('copies tensors that are views into a larger buffer', () => {
    const big = Float32Array.of(9, 1, 2, 9);
    const view: HostTensor = { dtype: 'float32', dims: [2], data: big.subarray(1, 3) };
    const res = buildInferResponse({ modelName: 'm', binary: true, outputs: { v: view } });
    expect(parseInferResponse(res.body, res.headerLength).outputs['v']!.data).toEqual(Float32Array.of(1, 2));
  });
});

describe('parseInferResponse: bad responses', () => {
  it('needs model_name and outputs', () => {
    expectCleave(() => parseInferResponse(new TextEncoder().encode('{"outputs":[]}')), 'CLEAVE_E_BAD_ARGUMENT', 'model_name must be a non-empty string, got nothing');
    expectCleave(() => parseInferResponse(new TextEncoder().encode('{"model_name":"m"}')), 'CLEAVE_E_BAD_ARGUMENT', 'outputs must be an array, got nothing');
  });

  it('refuses tails that do not match the header', () => {
    const header = { model_name: 'm', outputs: [{ name: 'y', datatype: 'INT8', shape: [2], parameters: { binary_data_size: 2 } }] };
    const over = binaryBody(header, [Uint8Array.of(1, 2, 3)]);
    expectCleave(() => parseInferResponse(over.body, over.headerLength), 'CLEAVE_E_PROTOCOL', 'binary data has 1 bytes left over after the last binary output (used 2 of 3)');
    const short = binaryBody(header, [Uint8Array.of(1)]);
    expectCleave(() => parseInferResponse(short.body, short.headerLength), 'CLEAVE_E_PROTOCOL', 'output "y" needs 2 bytes of binary data at tail offset 0, only 1 remain');
    expectCleave(() => parseInferResponse(short.body, short.body.length + 10), 'CLEAVE_E_PROTOCOL');
  });

  it('refuses duplicate output names and applies limits', () => {
    const y = { name: 'y', datatype: 'INT8', shape: [1], data: [1] };
    const body = new TextEncoder().encode(JSON.stringify({ model_name: 'm', outputs: [y, y] }));
    expectCleave(() => parseInferResponse(body), 'CLEAVE_E_BAD_ARGUMENT', 'outputs[1].name: output "y" appears twice');
    expectCleave(() => parseInferResponse(body, undefined, { maxInputs: 1 }), 'CLEAVE_E_TOO_LARGE', 'outputs has 2 entries, the limit is 1');
  });
});
