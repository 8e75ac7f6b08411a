import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../shared/errors.js';
import type { DType, NumericArray } from '../../shared/onnx/dtype.js';
import type { TensorMap } from '../../shared/protocol/frames.js';
import { batchRows, batchSignature, concatBatch, concatTensorMaps, splitBatch, splitTensorMap } from '../../shared/tensor-batch.js';
import type { HostTensor } from '../../shared/tensor.js';

/** Expects `fn` to throw a CleaveError with `code` whose message contains every fragment. */
function expectCoded(fn: () => unknown, code: string, ...fragments: string[]): CleaveError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CleaveError);
  const err = caught as CleaveError;
  expect(err.code).toBe(code);
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}

const CASES: readonly { dtype: DType; make: (xs: number[]) => NumericArray }[] = [
  { dtype: 'float32', make: (xs) => Float32Array.from(xs) },
  { dtype: 'float64', make: (xs) => Float64Array.from(xs) },
  { dtype: 'float16', make: (xs) => Uint16Array.from(xs) },
  { dtype: 'int8', make: (xs) => Int8Array.from(xs) },
  { dtype: 'uint8', make: (xs) => Uint8Array.from(xs) },
  { dtype: 'bool', make: (xs) => Uint8Array.from(xs.map((x) => x & 1)) },
  { dtype: 'int16', make: (xs) => Int16Array.from(xs) },
  { dtype: 'int32', make: (xs) => Int32Array.from(xs) },
  { dtype: 'uint32', make: (xs) => Uint32Array.from(xs) },
  { dtype: 'int64', make: (xs) => BigInt64Array.from(xs.map((x) => BigInt(x))) },
  { dtype: 'uint64', make: (xs) => BigUint64Array.from(xs.map((x) => BigInt(x))) },
];

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('concatBatch / splitBatch', () => {
  for (const { dtype, make } of CASES) {
    it(`round-trips ${dtype} along dim 0, keeping the typed-array class`, () => {
      const a: HostTensor = { dtype, dims: [1, 2, 2], data: make(range(0, 4)) };
      const b: HostTensor = { dtype, dims: [2, 2, 2], data: make(range(4, 8)) };
      const joined = concatBatch([a, b], 'x');
      expect(joined.dtype).toBe(dtype);
      expect(joined.dims).toEqual([3, 2, 2]);
      expect(joined.data.constructor).toBe(a.data.constructor);
      expect(Array.from(joined.data as ArrayLike<number | bigint>)).toEqual(Array.from(make(range(0, 12)) as ArrayLike<number | bigint>));

      const [a2, b2] = splitBatch(joined, [1, 2], 'x');
      expect(a2).toEqual(a);
      expect(b2).toEqual(b);
    });
  }

  it('keeps int64 values beyond 2^53 exact', () => {
    const big = 2n ** 62n + 1n;
    const a: HostTensor = { dtype: 'int64', dims: [1], data: BigInt64Array.of(big) };
    const b: HostTensor = { dtype: 'int64', dims: [1], data: BigInt64Array.of(-big) };
    expect(Array.from(concatBatch([a, b]).data as BigInt64Array)).toEqual([big, -big]);
  });

  it('returns a single part unchanged, without copying', () => {
    const a: HostTensor = { dtype: 'float32', dims: [2, 3], data: new Float32Array(6) };
    expect(concatBatch([a])).toBe(a);
    expect(splitBatch(a, [2])[0]).toBe(a);
  });

  it('splits into views of the same buffer, not copies', () => {
    const t: HostTensor = { dtype: 'float32', dims: [4, 2], data: Float32Array.from(range(0, 8)) };
    const parts = splitBatch(t, [1, 0, 3]);
    expect(parts.map((p) => p.dims)).toEqual([[1, 2], [0, 2], [3, 2]]);
    expect(parts[2]!.data.buffer).toBe(t.data.buffer);
    expect(Array.from(parts[2]!.data as Float32Array)).toEqual([2, 3, 4, 5, 6, 7]);
    (t.data as Float32Array)[7] = 99;
    expect((parts[2]!.data as Float32Array)[5]).toBe(99);
  });

  it('refuses dims after dim 0 that differ, naming the tensor and both shapes', () => {
    const a: HostTensor = { dtype: 'float32', dims: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) };
    const b: HostTensor = { dtype: 'float32', dims: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) };
    const err = expectCoded(() => concatBatch([a, b], 'image'), 'CLEAVE_E_SHAPE', 'tensor "image"', '[1,3,64,64]', '[1,3,32,32]');
    expect(err.detail).toMatchObject({ name: 'image', expected: [1, 3, 32, 32], actual: [1, 3, 64, 64] });
  });

  it('refuses a different rank', () => {
    const a: HostTensor = { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) };
    const b: HostTensor = { dtype: 'float32', dims: [1, 4, 1], data: new Float32Array(4) };
    expectCoded(() => concatBatch([a, b], 'x'), 'CLEAVE_E_SHAPE', '[1,4,1]', '[1,4]');
  });

  it('refuses mixed dtypes with CLEAVE_E_DTYPE', () => {
    const a: HostTensor = { dtype: 'float32', dims: [1], data: new Float32Array(1) };
    const b: HostTensor = { dtype: 'int64', dims: [1], data: new BigInt64Array(1) };
    expectCoded(() => concatBatch([a, b], 'x'), 'CLEAVE_E_DTYPE', 'tensor "x"', 'int64', 'float32');
  });

  it('refuses a scalar, no parts, and data that does not fill its shape', () => {
    const s: HostTensor = { dtype: 'float32', dims: [], data: new Float32Array(1) };
    expectCoded(() => concatBatch([s, s], 'x'), 'CLEAVE_E_SHAPE', 'scalar');
    expectCoded(() => concatBatch([], 'x'), 'CLEAVE_E_BAD_ARGUMENT', 'no parts');
    const short: HostTensor = { dtype: 'float32', dims: [2, 2], data: new Float32Array(3) };
    const ok: HostTensor = { dtype: 'float32', dims: [1, 2], data: new Float32Array(2) };
    expectCoded(() => concatBatch([ok, short], 'x'), 'CLEAVE_E_SHAPE', 'has 3 elements', '[2,2] needs 4');
  });

  it('refuses a split whose rows do not sum to dim 0', () => {
    const t: HostTensor = { dtype: 'float32', dims: [4, 2], data: new Float32Array(8) };
    expectCoded(() => splitBatch(t, [1, 2], 'logits'), 'CLEAVE_E_SHAPE', 'tensor "logits"', '[4,2]', 'dim 0 is 4', 'sum to 3');
    expectCoded(() => splitBatch(t, [5, -1], 'logits'), 'CLEAVE_E_BAD_ARGUMENT', '-1');
  });

  it('batchRows is dim 0', () => {
    expect(batchRows({ dtype: 'float32', dims: [7, 2], data: new Float32Array(14) })).toBe(7);
    expectCoded(() => batchRows({ dtype: 'float32', dims: [], data: new Float32Array(1) }), 'CLEAVE_E_SHAPE');
  });
});

describe('tensor maps', () => {
  const row = (v: number, c = 2): HostTensor => ({ dtype: 'float32', dims: [1, c], data: new Float32Array(c).fill(v) });
  const ids = (vs: number[]): HostTensor => ({ dtype: 'int64', dims: [vs.length], data: BigInt64Array.from(vs.map(BigInt)) });

  it('concatenates and splits every tensor of a map', () => {
    const m1: TensorMap = { x: row(1), ids: ids([10]) };
    const m2: TensorMap = { ids: ids([20, 30]), x: { dtype: 'float32', dims: [2, 2], data: Float32Array.of(2, 2, 3, 3) } };
    const joined = concatTensorMaps([m1, m2]);
    expect(joined.x!.dims).toEqual([3, 2]);
    expect(Array.from(joined.ids!.data as BigInt64Array)).toEqual([10n, 20n, 30n]);
    const [s1, s2] = splitTensorMap(joined, [1, 2]);
    expect(s1).toEqual(m1);
    expect(s2).toEqual(m2);
  });

  it('refuses maps with different names', () => {
    expectCoded(() => concatTensorMaps([{ x: row(1) }, { y: row(1) }]), 'CLEAVE_E_BAD_ARGUMENT', 'map 1 has tensors [y]', 'map 0 has [x]');
    expectCoded(() => concatTensorMaps([{ x: row(1) }, { x: row(1), y: row(1) }]), 'CLEAVE_E_BAD_ARGUMENT', '[x,y]');
    expectCoded(() => concatTensorMaps([]), 'CLEAVE_E_BAD_ARGUMENT');
  });

  it('keeps a tensor named __proto__ as a tensor', () => {
    const m = JSON.parse('{"__proto__": 0}') as Record<string, unknown>;
    m['__proto__'] = row(1);
    const joined = concatTensorMaps([m as TensorMap, m as TensorMap]);
    expect(Object.hasOwn(joined, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(joined)).toBe(Object.prototype);
  });

  it('batchSignature is equal exactly when maps can be concatenated', () => {
    const base = batchSignature({ a: row(1), b: ids([1]) });
    expect(batchSignature({ b: ids([1, 2, 3]), a: { dtype: 'float32', dims: [3, 2], data: new Float32Array(6) } })).toBe(base);
    expect(batchSignature({ a: row(1, 3), b: ids([1]) })).not.toBe(base);
    expect(batchSignature({ a: row(1), b: { dtype: 'int32', dims: [1], data: new Int32Array(1) } })).not.toBe(base);
    expect(batchSignature({ a: row(1) })).not.toBe(base);
    expect(batchSignature({ a: row(1), c: ids([1]) })).not.toBe(base);
    // Rank matters even when the dims after 0 print the same.
    expect(batchSignature({ v: { dtype: 'float32', dims: [], data: new Float32Array(1) } }))
      .not.toBe(batchSignature({ v: { dtype: 'float32', dims: [1], data: new Float32Array(1) } }));
  });
});
