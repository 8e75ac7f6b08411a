import { describe, expect, it } from 'vitest';
import { parseHeaderLength } from '../../../shared/kserve/framing.js';
import { parseInferRequest } from '../../../shared/kserve/infer-request.js';
import { resolveKServeLimits } from '../../../shared/kserve/limits.js';
import { binaryBody, bytesOf, expectCleave, jsonBody } from './body-helpers.js';

const one = (datatype: string, shape: number[], data: unknown, name = 'x') => jsonBody({ inputs: [{ name, datatype, shape, data }] });
const parseOne = (datatype: string, shape: number[], data: unknown) => parseInferRequest(one(datatype, shape, data)).inputs['x']!;

describe('parseInferRequest: JSON data for every datatype', () => {
  it.each([
    ['BOOL', [true, false, 1, 0], 'bool', Uint8Array.of(1, 0, 1, 0)],
    ['UINT8', [0, 255, 7, 1], 'uint8', Uint8Array.of(0, 255, 7, 1)],
    ['UINT16', [0, 65535, 7, 1], 'uint16', Uint16Array.of(0, 65535, 7, 1)],
    ['UINT32', [0, 4294967295, 7, 1], 'uint32', Uint32Array.of(0, 4294967295, 7, 1)],
    ['UINT64', [0, '18446744073709551615', 9007199254740991, 1], 'uint64', BigUint64Array.of(0n, 2n ** 64n - 1n, 2n ** 53n - 1n, 1n)],
    ['INT8', [-128, 127, 0, -1], 'int8', Int8Array.of(-128, 127, 0, -1)],
    ['INT16', [-32768, 32767, 0, -1], 'int16', Int16Array.of(-32768, 32767, 0, -1)],
    ['INT32', [-2147483648, 2147483647, 0, -1], 'int32', Int32Array.of(-2147483648, 2147483647, 0, -1)],
    ['INT64', ['-9223372036854775808', '9007199254740993', -9007199254740991, 5], 'int64', BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n - 1n), 5n)],
    ['FP16', [1, 0.1, -2, 65504], 'float16', Uint16Array.of(0x3c00, 0x2e66, 0xc000, 0x7bff)],
    ['FP32', [1.5, 0.1, -2, 'Infinity'], 'float32', Float32Array.of(1.5, 0.1, -2, Infinity)],
    ['FP64', [1.5, 0.1, -2, 1e300], 'float64', Float64Array.of(1.5, 0.1, -2, 1e300)],
    ['BF16', [1, 1 / 3, -2, '-Infinity'], 'bfloat16', Uint16Array.of(0x3f80, 0x3eab, 0xc000, 0xff80)],
  ] as const)('%s', (datatype, data, dtype, expected) => {
    const t = parseOne(datatype, [2, 2], data);
    expect(t.dtype).toBe(dtype);
    expect(t.dims).toEqual([2, 2]);
    expect(t.data).toEqual(expected);
  });

  it('reads "NaN" for floats', () => {
    expect(Number.isNaN(parseOne('FP32', [1], ['NaN']).data[0])).toBe(true);
    expect(parseOne('FP16', [1], ['NaN']).data[0]).toBe(0x7e00);
  });

  it('takes nested data in row-major order, fully or partly nested', () => {
    const expected = Float32Array.of(1, 2, 3, 4, 5, 6);
    expect(parseOne('FP32', [1, 2, 3], [[[1, 2, 3], [4, 5, 6]]]).data).toEqual(expected);
    expect(parseOne('FP32', [1, 2, 3], [[1, 2, 3], [4, 5, 6]]).data).toEqual(expected);
    expect(parseOne('FP32', [1, 2, 3], [1, 2, 3, 4, 5, 6]).data).toEqual(expected);
  });

  it('reads scalars and empty tensors', () => {
    expect(parseOne('INT32', [], [7])).toEqual({ dtype: 'int32', dims: [], data: Int32Array.of(7) });
    expect(parseOne('FP32', [0, 3], [])).toEqual({ dtype: 'float32', dims: [0, 3], data: new Float32Array(0) });
  });

  it('returns id, parameters, requested outputs and which go binary', () => {
    const base = { id: 'r1', inputs: [{ name: 'x', datatype: 'INT32', shape: [1], data: [1] }] };
    const r = parseInferRequest(jsonBody({ ...base, parameters: { priority: 2 }, outputs: [{ name: 'a' }, { name: 'b', parameters: { binary_data: true } }] }));
    expect(r.id).toBe('r1');
    expect({ ...r.parameters }).toEqual({ priority: 2 });
    expect(r.outputs).toEqual(['a', 'b']);
    expect(r.binaryOutputs).toEqual(new Set(['b']));

    const all = parseInferRequest(jsonBody({ ...base, parameters: { binary_data_output: true } }));
    expect(all.outputs).toBeUndefined();
    expect(all.binaryOutputs).toBe(true);

    const override = parseInferRequest(jsonBody({ ...base, parameters: { binary_data_output: true }, outputs: [{ name: 'a', parameters: { binary_data: false } }, { name: 'b' }] }));
    expect(override.binaryOutputs).toEqual(new Set(['b']));

    const none = parseInferRequest(jsonBody({ inputs: [], outputs: [{ name: 'a' }] }));
    expect(none.binaryOutputs).toBe(false);
    expect(none.id).toBeUndefined();
    expect('id' in none).toBe(false);

    expect(parseInferRequest(jsonBody({ ...base, outputs: [] })).outputs).toBeUndefined();
  });
});

describe('parseInferRequest: binary tensor data extension', () => {
  it('reads two binary inputs and one JSON input, taking the tail in input order', () => {
    const image = Float32Array.of(0.5, -1, 2, 3.25, 4, 5);
    const ids = BigInt64Array.of(101n, 2n ** 60n);
    const { body, headerLength } = binaryBody(
      {
        id: 'b1',
        inputs: [
          { name: 'image', datatype: 'FP32', shape: [1, 2, 3], parameters: { binary_data_size: 24 } },
          { name: 'mask', datatype: 'BOOL', shape: [2], data: [true, false] },
          { name: 'ids', datatype: 'INT64', shape: [1, 2], parameters: { binary_data_size: 16 } },
        ],
        outputs: [{ name: 'logits', parameters: { binary_data: true } }],
      },
      [bytesOf(image), bytesOf(ids)],
    );
    const r = parseInferRequest(body, { headerLength });
    expect(Object.keys(r.inputs)).toEqual(['image', 'mask', 'ids']);
    expect(r.inputs['image']).toEqual({ dtype: 'float32', dims: [1, 2, 3], data: image });
    expect(r.inputs['mask']).toEqual({ dtype: 'bool', dims: [2], data: Uint8Array.of(1, 0) });
    expect(r.inputs['ids']).toEqual({ dtype: 'int64', dims: [1, 2], data: ids });
    expect(r.binaryOutputs).toEqual(new Set(['logits']));
  });

  it('accepts a header length equal to the body (no tail)', () => {
    const body = one('INT8', [1], [3]);
    expect(parseInferRequest(body, { headerLength: body.length }).inputs['x']!.data).toEqual(Int8Array.of(3));
  });

  const header = { inputs: [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }] };

  it('refuses a header length past the end of the body', () => {
    const { body } = binaryBody(header, [new Uint8Array(8)]);
    expectCleave(() => parseInferRequest(body, { headerLength: body.length + 1 }), 'CLEAVE_E_PROTOCOL', `Inference-Header-Content-Length is ${body.length + 1} but the request body has only ${body.length} bytes`);
  });

  it('refuses tail bytes left over', () => {
    const { body, headerLength } = binaryBody(header, [new Uint8Array(8), Uint8Array.of(1, 2, 3)]);
    expectCleave(() => parseInferRequest(body, { headerLength }), 'CLEAVE_E_PROTOCOL', 'binary data has 3 bytes left over after the last binary input (used 8 of 11)');
  });

  it('refuses a tail too short', () => {
    const { body, headerLength } = binaryBody(header, [new Uint8Array(5)]);
    expectCleave(() => parseInferRequest(body, { headerLength }), 'CLEAVE_E_PROTOCOL', 'input "x" needs 8 bytes of binary data at tail offset 0, only 5 remain');
  });

  it('refuses a binary_data_size that disagrees with the shape', () => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 6 } }] }, [new Uint8Array(6)]);
    expectCleave(() => parseInferRequest(body, { headerLength }), 'CLEAVE_E_SHAPE', 'input "x": shape [2] of FP32 needs 8 bytes, binary_data_size is 6');
  });

  it('refuses binary_data_size without a header length, and with data', () => {
    expectCleave(() => parseInferRequest(jsonBody(header)), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].parameters.binary_data_size is set but the body came without Inference-Header-Content-Length');
    const both = { inputs: [{ ...header.inputs[0], data: [1, 2] }] };
    expectCleave(() => parseInferRequest(jsonBody(both), { headerLength: jsonBody(both).length }), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0] has both data and parameters.binary_data_size; give one');
  });

  it('refuses binary BOOL bytes other than 0 and 1', () => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'm', datatype: 'BOOL', shape: [3], parameters: { binary_data_size: 3 } }] }, [Uint8Array.of(1, 0, 2)]);
    expectCleave(() => parseInferRequest(body, { headerLength }), 'CLEAVE_E_BAD_ARGUMENT', 'input "m": binary BOOL element 2 is 2, must be 0 or 1');
  });

  it('parses the header value strictly', () => {
    expect(parseHeaderLength(undefined)).toBeUndefined();
    expect(parseHeaderLength(null)).toBeUndefined();
    expect(parseHeaderLength(' 42 ')).toBe(42);
    for (const bad of ['-1', '1e3', '0x10', 'abc', '1.5', '99999999999999999']) {
      expectCleave(() => parseHeaderLength(bad), 'CLEAVE_E_BAD_ARGUMENT', /^Inference-Header-Content-Length must be a non-negative integer/);
    }
    expectCleave(() => parseInferRequest(one('INT8', [1], [1]), { headerLength: -1 }), 'CLEAVE_E_BAD_ARGUMENT');
    expectCleave(() => parseInferRequest(one('INT8', [1], [1]), { headerLength: 1.5 }), 'CLEAVE_E_BAD_ARGUMENT');
  });
});

describe('parseInferRequest: bad requests', () => {
  it('reports malformed JSON with its position', () => {
    const body = new TextEncoder().encode('{"inputs": [}');
    expectCleave(() => parseInferRequest(body), 'CLEAVE_E_BAD_ARGUMENT', 'request is not valid JSON: unexpected character "}" at position 12');
    expectCleave(() => parseInferRequest(new TextEncoder().encode('{"inputs": [1, 2')), 'CLEAVE_E_BAD_ARGUMENT', 'request is not valid JSON: unexpected end of input at position 16');
    expectCleave(() => parseInferRequest(new TextEncoder().encode('{"a":1} x')), 'CLEAVE_E_BAD_ARGUMENT', 'request is not valid JSON: unexpected text after the JSON value at position 8');
    expectCleave(() => parseInferRequest(new TextEncoder().encode('{"a":"\\q"}')), 'CLEAVE_E_BAD_ARGUMENT', 'request is not valid JSON: bad escape in string at position 6');
  });

  it('refuses bad UTF-8 and non-object bodies', () => {
    expectCleave(() => parseInferRequest(Uint8Array.of(0x7b, 0xff, 0x7d)), 'CLEAVE_E_BAD_ARGUMENT', 'request JSON is not valid UTF-8');
    expectCleave(() => parseInferRequest(jsonBody([1])), 'CLEAVE_E_BAD_ARGUMENT', 'request JSON must be an object, got an array of 1');
    expectCleave(() => parseInferRequest(jsonBody({})), 'CLEAVE_E_BAD_ARGUMENT', 'inputs must be an array, got nothing');
  });

  it('names the field that is wrong', () => {
    const input = (over: object) => jsonBody({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }, { name: 'image', datatype: 'FP32', shape: [1, 3, 64, 64], data: [], ...over }] });
    expectCleave(() => parseInferRequest(input({ shape: [1, 3, -3, 64] })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].shape[2] must be a non-negative integer, got -3');
    expectCleave(() => parseInferRequest(input({ shape: [1, 2.5] })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].shape[1] must be a non-negative integer, got 2.5');
    expectCleave(() => parseInferRequest(input({ shape: '1,3' })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].shape must be an array of non-negative integers, got "1,3"');
    expectCleave(() => parseInferRequest(input({ name: '' })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].name must be a non-empty string, got ""');
    expectCleave(() => parseInferRequest(input({ datatype: 32 })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].datatype must be a string such as "FP32", got 32');
    expectCleave(() => parseInferRequest(input({ datatype: 'BYTES' })), 'CLEAVE_E_DTYPE', /^input "image": BYTES \(string\) tensors are not supported/);
    expectCleave(() => parseInferRequest(input({ data: undefined })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].data is missing: give data or parameters.binary_data_size');
    expectCleave(() => parseInferRequest(input({ data: { 0: 1 } })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].data must be an array, got an object');
    expectCleave(() => parseInferRequest(input({ parameters: [] })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].parameters must be an object, got an array of 0');
    expectCleave(() => parseInferRequest(jsonBody({ id: 7, inputs: [] })), 'CLEAVE_E_BAD_ARGUMENT', 'id must be a string, got 7');
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [], parameters: { binary_data_output: 'yes' } })), 'CLEAVE_E_BAD_ARGUMENT', 'parameters.binary_data_output must be true or false, got "yes"');
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [], outputs: [{ name: 'a', parameters: { binary_data: 1 } }] })), 'CLEAVE_E_BAD_ARGUMENT', 'outputs[0].parameters.binary_data must be true or false, got 1');
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [7] })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0] must be an object, got 7');
  });

  it('says how many elements the shape needs and the data has', () => {
    expectCleave(() => parseInferRequest(one('FP32', [1, 3, 64, 64], new Array(100).fill(0), 'image')), 'CLEAVE_E_SHAPE', 'input "image": shape [1,3,64,64] needs 12288 elements, data has 100');
    expectCleave(() => parseOne('FP32', [2, 2], [[1, 2], [3, 4], [5]]), 'CLEAVE_E_SHAPE', 'input "x": shape [2,2] needs 4 elements, data has 5');
  });

  it('refuses values that do not fit the datatype, naming the element', () => {
    expectCleave(() => parseOne('INT8', [2, 2], [[1, 2], [3, 300]]), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].data[1][1] must be an integer in [-128, 127] for INT8, got 300');
    expectCleave(() => parseOne('UINT8', [1], [-1]), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].data[0] must be an integer in [0, 255] for UINT8, got -1');
    expectCleave(() => parseOne('INT32', [1], [1.5]), 'CLEAVE_E_BAD_ARGUMENT', /got 1.5$/);
    expectCleave(() => parseOne('INT32', [1], ['7']), 'CLEAVE_E_BAD_ARGUMENT', /got "7"$/);
    expectCleave(() => parseOne('INT64', [1], [2 ** 53]), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].data[0] must be an integer in [-9223372036854775808, 9223372036854775807] for INT64 (a safe integer or a decimal string), got 9007199254740992');
    expectCleave(() => parseOne('INT64', [1], ['9223372036854775808']), 'CLEAVE_E_BAD_ARGUMENT');
    expectCleave(() => parseOne('INT64', [1], ['1e3']), 'CLEAVE_E_BAD_ARGUMENT');
    expectCleave(() => parseOne('UINT64', [1], ['-1']), 'CLEAVE_E_BAD_ARGUMENT');
    expectCleave(() => parseOne('BOOL', [1], [2]), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].data[0] must be true, false, 0 or 1 for BOOL, got 2');
    expectCleave(() => parseOne('BOOL', [1], ['true']), 'CLEAVE_E_BAD_ARGUMENT');
    expectCleave(() => parseOne('FP16', [1], [70000]), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].data[0] must be a number within the range of FP16, got 70000');
    expectCleave(() => parseOne('FP32', [1], [1e39]), 'CLEAVE_E_BAD_ARGUMENT');
    expectCleave(() => parseOne('FP64', [1], [null]), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].data[0] must be a number (or "NaN", "Infinity", "-Infinity") for FP64, got null');
    // JSON.parse reads 1e400 as Infinity: an overflow, not an infinity the client meant.
    expectCleave(() => parseInferRequest(new TextEncoder().encode('{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[1e400]}]}')), 'CLEAVE_E_BAD_ARGUMENT');
  });

  it('refuses duplicate input and output names', () => {
    const x = { name: 'x', datatype: 'INT8', shape: [1], data: [1] };
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [x, x] })), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[1].name: input "x" appears twice');
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [x], outputs: [{ name: 'y' }, { name: 'y' }] })), 'CLEAVE_E_BAD_ARGUMENT', 'outputs[1].name: output "y" is requested twice');
  });
});

describe('parseInferRequest: limits', () => {
  it('maxBodyBytes', () => {
    const body = one('INT8', [1], [1]);
    expectCleave(() => parseInferRequest(body, { limits: { maxBodyBytes: body.length - 1 } }), 'CLEAVE_E_TOO_LARGE', `request body is ${body.length} bytes, the limit is ${body.length - 1}`);
    expect(() => parseInferRequest(body, { limits: { maxBodyBytes: body.length } })).not.toThrow();
  });

  it('maxHeaderBytes applies to the JSON header of a binary body', () => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'INT8', shape: [4], parameters: { binary_data_size: 4 } }] }, [new Uint8Array(4)]);
    expectCleave(() => parseInferRequest(body, { headerLength, limits: { maxHeaderBytes: headerLength - 1 } }), 'CLEAVE_E_TOO_LARGE', `request JSON header is ${headerLength} bytes, the limit is ${headerLength - 1}`);
    expect(parseInferRequest(body, { headerLength, limits: { maxHeaderBytes: headerLength } }).inputs['x']!.dims).toEqual([4]);
  });

  it('maxInputs, also for requested outputs', () => {
    const inputs = Array.from({ length: 3 }, (_, i) => ({ name: `x${i}`, datatype: 'INT8', shape: [1], data: [i] }));
    expectCleave(() => parseInferRequest(jsonBody({ inputs }), { limits: { maxInputs: 2 } }), 'CLEAVE_E_TOO_LARGE', 'inputs has 3 entries, the limit is 2');
    expect(Object.keys(parseInferRequest(jsonBody({ inputs }), { limits: { maxInputs: 3 } }).inputs)).toHaveLength(3);
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [], outputs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }), { limits: { maxInputs: 2 } }), 'CLEAVE_E_TOO_LARGE', 'outputs has 3 entries, the limit is 2');
  });

  it('maxElements', () => {
    expectCleave(() => parseOneWith('FP32', [3, 4], { maxElements: 11 }), 'CLEAVE_E_TOO_LARGE', 'input "x": shape [3,4] has more than 11 elements, the limit');
    expect(parseOneWith('FP32', [3, 4], { maxElements: 12 }).data).toHaveLength(12);
  });

  it('maxRank', () => {
    expectCleave(() => parseOneWith('FP32', [1, 1, 1], { maxRank: 2 }), 'CLEAVE_E_TOO_LARGE', 'input "x": shape has rank 3, the limit is 2');
    expect(parseOneWith('FP32', [1, 1], { maxRank: 2 }).dims).toEqual([1, 1]);
    expectCleave(() => parseOneWith('FP32', [1, 1, 1, 1, 1, 1, 1, 1, 1], {}), 'CLEAVE_E_TOO_LARGE', 'input "x": shape has rank 9, the limit is 8');
  });

  it('has documented defaults and refuses nonsense limits', () => {
    expect(resolveKServeLimits()).toEqual({ maxBodyBytes: 67108864, maxHeaderBytes: 1048576, maxInputs: 64, maxElements: 16777216, maxRank: 8 });
    expectCleave(() => parseInferRequest(one('INT8', [1], [1]), { limits: { maxRank: 0 } }), 'CLEAVE_E_BAD_ARGUMENT', 'KServe limit maxRank must be a positive integer, got 0');
    expectCleave(() => resolveKServeLimits({ maxBodyBytes: Infinity }), 'CLEAVE_E_BAD_ARGUMENT');
  });
});

function parseOneWith(datatype: string, shape: number[], limits: object) {
  const n = shape.reduce((a, b) => a * b, 1);
  return parseInferRequest(one(datatype, shape, new Array(n).fill(0)), { limits }).inputs['x']!;
}

describe('parseInferRequest: hostile input', () => {
  it('refuses data nested deeper than the rank, whatever the depth', () => {
    expectCleave(() => parseOne('FP32', [2], [[1], [2]]), 'CLEAVE_E_BAD_ARGUMENT', "inputs[0].data[0] nests deeper than the shape's rank 1");
    expectCleave(() => parseOne('FP32', [], [[1]]), 'CLEAVE_E_BAD_ARGUMENT', "inputs[0].data[0] nests deeper than the shape's rank 0");
    const deep = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1],"data":${'['.repeat(50_000)}1${']'.repeat(50_000)}}]}`;
    expectCleave(() => parseInferRequest(new TextEncoder().encode(deep)), 'CLEAVE_E_BAD_ARGUMENT', "inputs[0].data[0][0] nests deeper than the shape's rank 2");
  });

  it('reports unterminated deep nesting without overflowing the stack', () => {
    const text = `{"a":${'['.repeat(200_000)}`;
    expectCleave(() => parseInferRequest(new TextEncoder().encode(text)), 'CLEAVE_E_BAD_ARGUMENT', `request is not valid JSON: unexpected end of input at position ${text.length}`);
  });

  it('refuses a huge shape product before allocating', () => {
    const t0 = performance.now();
    expectCleave(() => parseInferRequest(one('FP64', [1e9, 1e9], [])), 'CLEAVE_E_TOO_LARGE', 'input "x": shape [1000000000,1000000000] has more than 16777216 elements, the limit');
    expectCleave(() => parseInferRequest(one('FP64', [2 ** 52, 2 ** 52, 2 ** 52], [])), 'CLEAVE_E_TOO_LARGE');
    expectCleave(() => parseInferRequest(one('FP64', [2 ** 53], [])), 'CLEAVE_E_BAD_ARGUMENT', 'inputs[0].shape[0] must be a non-negative integer, got 9007199254740992');
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [65536, 65536], parameters: { binary_data_size: 2 ** 34 } }] }, []);
    expectCleave(() => parseInferRequest(body, { headerLength }), 'CLEAVE_E_TOO_LARGE');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('stores __proto__ and other Object.prototype names as plain own keys', () => {
    const body = jsonBody({
      inputs: [
        { name: '__proto__', datatype: 'INT8', shape: [1], data: [1] },
        { name: 'constructor', datatype: 'INT8', shape: [1], data: [2] },
        { name: 'hasOwnProperty', datatype: 'INT8', shape: [1], data: [3] },
      ],
      parameters: { __proto__: { polluted: true } },
    });
    // JSON.stringify drops a literal __proto__ key; write it into the text by hand.
    const text = new TextDecoder().decode(body).replace('"parameters":{}', '"parameters":{"__proto__":{"polluted":true}}');
    const r = parseInferRequest(new TextEncoder().encode(text));
    expect(Object.getPrototypeOf(r.inputs)).toBeNull();
    expect(Object.keys(r.inputs)).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
    expect(r.inputs['__proto__']!.data).toEqual(Int8Array.of(1));
    expect(Object.getPrototypeOf(r.parameters)).toBeNull();
    expect(Object.keys(r.parameters)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('does not read inherited keys as fields', () => {
    // A body without "inputs" must not find Object.prototype members, and "constructor" is no datatype.
    expectCleave(() => parseInferRequest(jsonBody({ inputs: [{ name: 'x', datatype: 'toString', shape: [1], data: [1] }] })), 'CLEAVE_E_DTYPE');
  });
});
