import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../../shared/errors.js';
import { GraphBuilder } from '../../../../shared/onnx/builder.js';
import { randomInputs } from '../../../../shared/onnx/eval-inputs.js';
import { createRng } from '../../../../shared/rng.js';
import { embeddingBag, mlp } from './models.js';

describe('createRng', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(sa);
  });

  it('keeps next() in [0, 1) and int() in its half-open range', () => {
    const r = createRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
      const k = r.int(3, 7);
      seen.add(k);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
    expect(r.int(5, 5)).toBe(5);
  });

  it('draws normals with mean 0 and variance 1', () => {
    const r = createRng(9);
    const n = 20_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});

describe('randomInputs', () => {
  it('fills a symbolic batch with n samples, the same for the same seed', () => {
    const m = mlp([16, 8]);
    const a = randomInputs(m, 10, 1);
    expect(a.x!.dims).toEqual([10, 16]);
    expect(a.x!.dtype).toBe('float32');
    expect([...a.x!.data]).toEqual([...randomInputs(m, 10, 1).x!.data]);
    expect([...a.x!.data]).not.toEqual([...randomInputs(m, 10, 2).x!.data]);
  });

  it('gives the first k of n samples when asked for k', () => {
    const m = mlp([16, 8]);
    const ten = randomInputs(m, 10, 3).x!.data;
    const four = randomInputs(m, 4, 3).x!.data;
    expect([...ten.subarray(0, four.length)]).toEqual([...four]);
  });

  it('keeps token ids inside the embedding table and sizes other symbolic dims', () => {
    const ids = randomInputs(embeddingBag(37), 50, 1, { dims: { T: 5 } }).ids!;
    expect(ids.dims).toEqual([50, 5]);
    expect(ids.dtype).toBe('int64');
    const values = [...(ids.data as BigInt64Array)].map(Number);
    expect(Math.max(...values)).toBe(36);
    expect(Math.min(...values)).toBe(0);
  });

  it('follows ids through a Cast to their Gather, and bounds other integers by 100', () => {
    const b = new GraphBuilder('ints');
    const ids = b.input('ids', 'int32', ['N', 4]);
    const other = b.input('count', 'int32', ['N']);
    const table = b.weight('table', 'float32', [7, 2], new Float32Array(14));
    b.output(b.op('Gather', [table, b.op('Cast', [ids], { to: 7 })]), 'y');
    b.output(b.op('Add', [other, other]), 'z');
    const got = randomInputs(b.build(), 200, 5);
    expect(Math.max(...got.ids!.data as Int32Array)).toBe(6);
    const counts = [...(got.count!.data as Int32Array)];
    expect(Math.max(...counts)).toBeLessThan(100);
    expect(Math.max(...counts)).toBeGreaterThan(90);
    expect(got.ids!.dims).toEqual([200, 4]);
  });

  it('stacks n samples of a fixed first dimension', () => {
    const b = new GraphBuilder('fixed');
    const x = b.input('x', 'float32', [2, 3]);
    b.output(b.op('Relu', [x]), 'y');
    expect(randomInputs(b.build(), 5, 1).x!.dims).toEqual([10, 3]);
  });

  it('rejects bad counts and inputs it cannot fill with coded errors', () => {
    const b = new GraphBuilder('strings');
    const s = b.input('s', 'string', ['N']);
    b.output(b.op('Identity', [s]), 'y');
    const codes = [() => randomInputs(mlp([4, 2]), 0, 1), () => randomInputs(b.build(), 2, 1)].map((f) => {
      try {
        f();
        return undefined;
      } catch (e) {
        return isCleaveError(e) ? e.code : 'uncoded';
      }
    });
    expect(codes).toEqual(['CLEAVE_E_BAD_ARGUMENT', 'CLEAVE_E_DTYPE']);
  });
});
