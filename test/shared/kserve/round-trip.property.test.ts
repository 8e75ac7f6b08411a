// Property: any valid tensor survives encode -> parse, as a response (buildInferResponse ->
// parseInferResponse) and as a request (parseInferRequest), in JSON and in binary.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensorPayload } from '../../../shared/kserve/binary-tail.js';
import { kserveFromDType } from '../../../shared/kserve/datatype.js';
import { fromBFloat16Bits, fromFloat16Bits } from '../../../shared/kserve/half-float.js';
import { parseInferRequest } from '../../../shared/kserve/infer-request.js';
import { buildInferResponse, parseInferResponse } from '../../../shared/kserve/infer-response.js';
import { writeJsonData } from '../../../shared/kserve/tensor-values.js';
import type { DType } from '../../../shared/onnx/dtype.js';
import type { TensorMap } from '../../../shared/protocol/frames.js';
import type { HostTensor } from '../../../shared/tensor.js';
import { binaryBody, bytesOf } from './body-helpers.js';

const ints = (min: number, max: number) => fc.integer({ min, max });

/** A tensor of any supported dtype, rank 0..4, dims 0..3, any element values (NaN, -0, infinities included). */
function tensorArb(): fc.Arbitrary<HostTensor> {
  const dims = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 });
  const of = <T>(dtype: DType, el: fc.Arbitrary<T>, make: (xs: T[]) => HostTensor['data']) =>
    dims.chain((d) => {
      const n = d.reduce((a, b) => a * b, 1);
      return fc.array(el, { minLength: n, maxLength: n }).map((xs): HostTensor => ({ dtype, dims: d, data: make(xs) }));
    });
  return fc.oneof(
    of('bool', fc.boolean(), (xs) => Uint8Array.from(xs, (b) => (b ? 1 : 0))),
    of('uint8', ints(0, 255), (xs) => Uint8Array.from(xs)),
    of('uint16', ints(0, 65535), (xs) => Uint16Array.from(xs)),
    of('uint32', fc.nat({ max: 4294967295 }), (xs) => Uint32Array.from(xs)),
    of('uint64', fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (xs) => BigUint64Array.from(xs)),
    of('int8', ints(-128, 127), (xs) => Int8Array.from(xs)),
    of('int16', ints(-32768, 32767), (xs) => Int16Array.from(xs)),
    of('int32', fc.integer(), (xs) => Int32Array.from(xs)),
    of('int64', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (xs) => BigInt64Array.from(xs)),
    of('float16', ints(0, 0xffff), (xs) => Uint16Array.from(xs)),
    of('bfloat16', ints(0, 0xffff), (xs) => Uint16Array.from(xs)),
    of('float32', fc.float(), (xs) => Float32Array.from(xs)),
    of('float64', fc.double(), (xs) => Float64Array.from(xs)),
  );
}
const mapArb = fc
  .uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), tensorArb()), { minLength: 1, maxLength: 4, selector: ([name]) => name })
  .map((entries) => {
    const m = Object.create(null) as TensorMap;
    for (const [name, t] of entries) m[name] = t;
    return m;
  });

/** Values as JSON can carry them: -0 becomes 0 (JSON.stringify writes "0"), NaN payloads become one NaN. */
function jsonView(t: HostTensor): unknown[] {
  const decode = t.dtype === 'float16' ? fromFloat16Bits : t.dtype === 'bfloat16' ? fromBFloat16Bits : undefined;
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => {
    const x = decode ? decode(Number(v)) : v;
    if (typeof x === 'number' && (x === 0 || Number.isNaN(x))) return Number.isNaN(x) ? 'NaN' : 0;
    return x;
  });
}

function expectSame(a: TensorMap, b: TensorMap, exact: boolean): void {
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const name of Object.keys(a)) {
    const x = a[name]!;
    const y = b[name]!;
    expect(y.dtype).toBe(x.dtype);
    expect(y.dims).toEqual(x.dims);
    if (exact) expect(bytesOf(y.data)).toEqual(bytesOf(x.data));
    else expect(jsonView(y)).toEqual(jsonView(x));
  }
}

/** A request body written from the wire rules, each tensor binary or not as `binary` says. */
function requestBody(m: TensorMap, binary: boolean[]): { body: Uint8Array; headerLength?: number } {
  const tails: Uint8Array[] = [];
  const inputs = Object.keys(m).map((name, i) => {
    const t = m[name]!;
    const head = { name, datatype: kserveFromDType(t.dtype, name), shape: t.dims };
    if (!binary[i]) return { ...head, data: writeJsonData(t.dtype, t.data) };
    const p = tensorPayload(t, name);
    tails.push(p);
    return { ...head, parameters: { binary_data_size: p.length } };
  });
  return binary.some(Boolean) ? binaryBody({ inputs }, tails) : { body: new TextEncoder().encode(JSON.stringify({ inputs })) };
}

describe('KServe codec round trip (property)', () => {
  it('responses survive build -> parse in JSON and in binary', () => {
    fc.assert(
      fc.property(mapArb, (m) => {
        const json = buildInferResponse({ modelName: 'm', binary: false, outputs: m });
        expectSame(m, parseInferResponse(json.body).outputs, false);
        const bin = buildInferResponse({ modelName: 'm', binary: true, outputs: m });
        expectSame(m, parseInferResponse(bin.body, bin.headerLength).outputs, true);
      }),
      { numRuns: 150 },
    );
  });

  it('requests survive encode -> parse with any mix of JSON and binary inputs', () => {
    fc.assert(
      fc.property(mapArb, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (m, binary) => {
        const { body, headerLength } = requestBody(m, binary);
        const parsed = parseInferRequest(body, headerLength === undefined ? {} : { headerLength });
        const names = Object.keys(m);
        for (let i = 0; i < names.length; i++) {
          const one = Object.create(null) as TensorMap;
          one[names[i]!] = m[names[i]!]!;
          const got = Object.create(null) as TensorMap;
          got[names[i]!] = parsed.inputs[names[i]!]!;
          expectSame(one, got, binary[i]!);
        }
      }),
      { numRuns: 150 },
    );
  });
});
