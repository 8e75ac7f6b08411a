import { describe, expect, it } from 'vitest';
import { CleaveError, isCleaveError } from '../../../../shared/errors.js';
import { GraphBuilder } from '../../../../shared/onnx/builder.js';
import { decodeModel } from '../../../../shared/onnx/decode.js';
import { encodeModel } from '../../../../shared/onnx/encode.js';
import { indexGraph } from '../../../../shared/onnx/graph.js';
import {
  isWeightOnlyQdq, quantizeModel, quantizeSymmetric, roundHalfEven, QUANTIZATION_METADATA_KEY,
  type QuantizeOptions,
} from '../../../../shared/onnx/quantize/index.js';
import { inferTypes } from '../../../../shared/onnx/shape/infer.js';
import { valueTypeOf } from '../../../../shared/onnx/shape/value-type.js';
import { tensorValues } from '../../../../shared/onnx/tensor-data.js';
import type { ModelProto } from '../../../../shared/onnx/types.js';
import { cnn, embeddingBag, mlp } from './models.js';

/** A 2x3 MatMul weight whose int8 form can be worked out by hand (see the first test). */
const TINY_W = [127, 5, 0, 2.5, -254, 0];

function tiny(opset = 17): ModelProto {
  const b = new GraphBuilder('tiny', opset);
  const x = b.input('x', 'float32', ['N', 2]);
  b.output(b.op('MatMul', [x, b.weight('w', 'float32', [2, 3], TINY_W)], {}, { name: 'mm' }), 'y');
  return b.build();
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isCleaveError(e) ? e.code : `uncoded: ${String(e)}`;
  }
  return undefined;
}

function init(m: ModelProto, name: string) {
  const t = m.graph.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}; have ${m.graph.initializer.map((i) => i.name).join(', ')}`);
  return t;
}

describe('symmetric int8 quantization', () => {
  it('gives per-column scales and values worked out by hand for a 2x3 weight', () => {
    // Column 0: max |w| 127 -> scale 1; 2.5 is a tie and rounds to even 2.
    // Column 1: max 254 -> scale 2; 5 / 2 = 2.5 -> 2, -254 / 2 = -127.
    // Column 2: all zero -> scale 1 (not 0), values 0.
    const q = quantizeSymmetric(Float32Array.from(TINY_W), [2, 3], 1);
    expect([...q.values]).toEqual([127, 2, 0, 2, -127, 0]);
    expect([...q.scales]).toEqual([1, 2, 1]);
    expect(q.zeroPoint).toBe(0);
  });

  it('uses one scale for the whole tensor when no axis is given', () => {
    const q = quantizeSymmetric(Float32Array.from(TINY_W), [2, 3], undefined);
    expect([...q.scales]).toEqual([2]);
    expect([...q.values]).toEqual([64, 2, 0, 1, -127, 0]);
  });

  it('scales per output channel along axis 0 for conv-shaped weights', () => {
    const w = Float32Array.from([1, -2, 0.5, 0.25, /* channel 1 */ 10, 20, -40, 5]);
    const q = quantizeSymmetric(w, [2, 1, 2, 2], 0);
    expect([...q.scales].map((s) => s * 127)).toEqual([expect.closeTo(2, 5), expect.closeTo(40, 5)]);
    expect(q.values[1]).toBe(-127);
    expect(q.values[6]).toBe(-127);
  });

  it('shifts values by 128 on the uint8 grid', () => {
    const q = quantizeSymmetric(Float32Array.from(TINY_W), [2, 3], 1, { type: 'uint8', qmax: 127 });
    expect([...q.values]).toEqual([255, 130, 128, 130, 1, 128]);
    expect(q.zeroPoint).toBe(128);
  });

  it('rounds halves to even like ONNX QuantizeLinear', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });
});

describe('quantizeModel qdq-weight', () => {
  it('replaces the weight by int8 + per-column DequantizeLinear with the hand-checked values', () => {
    const { model, report } = quantizeModel(tiny(), { mode: 'qdq-weight', minElements: 0 });
    const dq = model.graph.node.find((n) => n.opType === 'DequantizeLinear')!;
    expect(dq.attribute.find((a) => a.name === 'axis')?.i).toBe(1n);
    expect([...tensorValues(init(model, 'w_quantized'))]).toEqual([127, 2, 0, 2, -127, 0]);
    expect([...tensorValues(init(model, 'w_scale'))]).toEqual([1, 2, 1]);
    expect([...tensorValues(init(model, 'w_zero_point'))]).toEqual([0, 0, 0]);
    expect(init(model, 'w_quantized').dims).toEqual([2, 3]);
    expect(model.graph.initializer.some((t) => t.name === 'w')).toBe(false);
    const mm = model.graph.node.find((n) => n.opType === 'MatMul')!;
    expect(mm.input).toEqual(['x', dq.output[0]]);
    expect(report.quantized).toEqual([{ node: 'mm', op: 'MatMul', weight: 'w', elements: 6, kernel: 'DequantizeLinear' }]);
  });

  it('quantizes every MLP layer, keeps biases fp32, and reports it', () => {
    const { model, report } = quantizeModel(mlp([256, 512, 512, 10]), { mode: 'qdq-weight' });
    expect(report.mode).toBe('qdq-weight');
    expect(report.quantized.map((q) => [q.node, q.weight, q.elements])).toEqual([
      ['fc0', 'fc0.weight', 256 * 512], ['fc1', 'fc1.weight', 512 * 512], ['fc2', 'fc2.weight', 5120],
    ]);
    expect(report.skipped).toEqual([]);
    for (const i of [0, 1, 2]) expect(init(model, `fc${i}.bias`).dataType).toBe(1);
    expect(isWeightOnlyQdq(model)).toBe(true);
  });

  it('uses the right channel axis for Conv (0), Gemm with transB (0) and Gather rows (0)', () => {
    const { model, report } = quantizeModel(cnn(), { mode: 'qdq-weight' });
    const axisOf = (weight: string) => model.graph.node.find((n) => n.opType === 'DequantizeLinear' && n.input[0] === `${weight}_quantized`)!.attribute[0]!.i;
    expect(axisOf('conv1.weight')).toBe(0n);
    expect(axisOf('fc.weight')).toBe(0n);
    expect(init(model, 'fc.weight_scale').dims).toEqual([10]);
    expect(init(model, 'conv2.weight_scale').dims).toEqual([64]);
    expect(report.skipped).toEqual([{ node: 'conv0', op: 'Conv', reason: 'weight "conv0.weight" has 432 elements, fewer than minElements 1024' }]);

    const bag = quantizeModel(embeddingBag(), { mode: 'qdq-weight' }).model;
    expect(init(bag, 'embed.weight_scale').dims).toEqual([500]);
    const gather = bag.graph.node.find((n) => n.opType === 'Gather')!;
    expect(gather.input[0]).toBe('embed.weight_dequantized');
  });

  it('honours perChannel: false with scalar scales and no axis', () => {
    const { model } = quantizeModel(tiny(), { mode: 'qdq-weight', minElements: 0, perChannel: false });
    expect(init(model, 'w_scale').dims).toEqual([]);
    expect(model.graph.node.find((n) => n.opType === 'DequantizeLinear')!.attribute).toEqual([]);
  });

  it('sets cleave.quantization and keeps the rest of the metadata and model fields', () => {
    const src = mlp([256, 512, 10]);
    src.metadataProps.push({ key: QUANTIZATION_METADATA_KEY, value: 'stale' });
    const { model } = quantizeModel(src, { mode: 'dynamic-int8' });
    expect(model.metadataProps).toEqual([{ key: 'cleave.test', value: 'mlp' }, { key: QUANTIZATION_METADATA_KEY, value: 'dynamic-int8' }]);
    expect(model.docString).toBe('test MLP');
    expect(model.opsetImport).toEqual(src.opsetImport);
  });

  it('does not modify the model it is given', () => {
    const src = mlp([256, 512, 10]);
    const before = encodeModel(src);
    quantizeModel(src, { mode: 'qdq-weight' });
    quantizeModel(src, { mode: 'dynamic-int8' });
    expect(Buffer.compare(Buffer.from(encodeModel(src)), Buffer.from(before))).toBe(0);
  });

  it('writes value_info that agrees with inference and survives an encode/decode round trip', () => {
    for (const mode of ['qdq-weight', 'dynamic-int8'] as const) {
      const { model } = quantizeModel(cnn(), { mode });
      const back = decodeModel(encodeModel(model));
      indexGraph(back.graph);
      const inferred = inferTypes({ ...back, graph: { ...back.graph, valueInfo: [] } });
      const produced = new Set(back.graph.node.flatMap((n) => n.output));
      for (const v of back.graph.valueInfo) {
        expect(produced.has(v.name), `${v.name} is produced`).toBe(true);
        expect(valueTypeOf(v), v.name).toEqual(inferred.get(v.name));
      }
      const outputs = new Set(back.graph.output.map((o) => o.name));
      const covered = new Set(back.graph.valueInfo.map((v) => v.name));
      for (const n of back.graph.node) for (const o of n.output) if (!outputs.has(o)) expect(covered.has(o), `${o} has value_info`).toBe(true);
    }
  });
});

describe('quantizeModel dynamic-int8', () => {
  it('rewrites MatMul to DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul, keeping the output name', () => {
    const { model, report } = quantizeModel(tiny(), { mode: 'dynamic-int8', minElements: 0 });
    expect(model.graph.node.map((n) => n.opType)).toEqual(['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Identity']);
    const mmi = model.graph.node.find((n) => n.opType === 'MatMulInteger')!;
    expect(mmi.input[0]).toBe('x_quantized');
    // uint8 weights around 128: see integer-matmul.ts for why not int8.
    expect([...tensorValues(init(model, 'w_quantized'))]).toEqual([255, 130, 128, 130, 1, 128]);
    expect([...tensorValues(init(model, 'w_scale'))]).toEqual([1, 2, 1]);
    expect(model.graph.node.at(-2)!.output).toEqual(['mm_out']);
    expect(report.quantized[0]!.kernel).toBe('MatMulInteger');
    expect(isWeightOnlyQdq(model)).toBe(false);
  });

  it('keeps batched (rank-3) MatMul weights on DequantizeLinear with the last axis', () => {
    const b = new GraphBuilder('batched');
    const x = b.input('x', 'float32', [4, 'N', 32]);
    b.output(b.op('MatMul', [x, b.weight('w', 'float32', [4, 32, 16], new Float32Array(2048).fill(0.25))], {}, { name: 'bmm' }), 'y');
    const { model, report } = quantizeModel(b.build(), { mode: 'dynamic-int8' });
    expect(report.quantized[0]!.kernel).toBe('DequantizeLinear');
    expect(init(model, 'w_scale').dims).toEqual([16]);
    expect(model.graph.node.find((n) => n.opType === 'DequantizeLinear')!.attribute[0]!.i).toBe(2n);
  });

  it('quantizes a shared activation once for several MatMuls', () => {
    const b = new GraphBuilder('qkv');
    const x = b.input('x', 'float32', ['N', 64]);
    const outs = ['q', 'k', 'v'].map((n) => b.op('MatMul', [x, b.weight(`${n}.w`, 'float32', [64, 32], new Float32Array(2048).fill(0.5))], {}, { name: n }));
    b.output(b.op('Sum', outs), 'y');
    const { model } = quantizeModel(b.build(), { mode: 'dynamic-int8' });
    expect(model.graph.node.filter((n) => n.opType === 'DynamicQuantizeLinear')).toHaveLength(1);
    expect(model.graph.node.filter((n) => n.opType === 'MatMulInteger')).toHaveLength(3);
  });

  it('rewrites Gemm with its bias and falls back to weight-only QDQ for Conv', () => {
    const { model, report } = quantizeModel(cnn(), { mode: 'dynamic-int8' });
    expect(report.quantized.map((q) => `${q.node}:${q.kernel}`)).toEqual(['conv1:DequantizeLinear', 'conv2:DequantizeLinear', 'fc:MatMulInteger']);
    expect(model.graph.node.some((n) => n.opType === 'Gemm')).toBe(false);
    expect(model.graph.node.find((n) => n.opType === 'Add')!.input[1]).toBe('fc.bias');
    // transB was applied to the stored weight: [K, N].
    expect(init(model, 'fc.weight_quantized').dims).toEqual([1024, 10]);
    expect(isWeightOnlyQdq(model)).toBe(true);
  });
});

describe('what stays fp32, and why', () => {
  it('skips shared, non-float, computed, graph-input and excluded weights with reasons', () => {
    const b = new GraphBuilder('mixed');
    const x = b.input('x', 'float32', ['N', 64]);
    const shared = b.weight('shared', 'float32', [64, 64], new Float32Array(4096).fill(0.1));
    const h1 = b.op('MatMul', [x, shared], {}, { name: 'a' });
    const h2 = b.op('MatMul', [h1, shared], {}, { name: 'b' });
    const dyn = b.op('MatMul', [h2, b.op('Transpose', [h2])], {}, { name: 'gram' });
    const ids = b.input('ids', 'int32', ['N']);
    const ints = b.op('Gather', [b.weight('codes', 'int32', [2000], new Int32Array(2000)), ids], {}, { name: 'lookup' });
    const keep = b.op('MatMul', [x, b.weight('keep', 'float32', [64, 64], new Float32Array(4096).fill(0.2))], {}, { name: 'keepme' });
    const big = b.op('MatMul', [x, b.weight('big', 'float32', [64, 64], new Float32Array(4096).fill(0.3))], {}, { name: 'big' });
    b.output(dyn, 'y');
    b.output(ints, 'z');
    b.output(b.op('Add', [keep, big]), 'w');
    const { report } = quantizeModel(b.build(), { mode: 'qdq-weight', exclude: ['keepme'] });
    expect(report.quantized.map((q) => q.node)).toEqual(['big']);
    const why = Object.fromEntries(report.skipped.map((s) => [s.node, s.reason]));
    expect(why).toEqual({
      a: 'weight "shared" is shared by 2 readers (a, b)',
      b: 'weight "shared" is shared by 2 readers (a, b)',
      gram: 'input "Transpose_0_out" is computed at run time, not an initializer',
      lookup: 'weight "codes" is int32, not float32',
      keepme: 'excluded by options',
    });
  });

  it('excludes unnamed nodes by their first output, as the report labels them', () => {
    const m = mlp([256, 512, 10]);
    delete m.graph.node[0]!.name;
    const { report } = quantizeModel(m, { mode: 'qdq-weight', exclude: ['fc0_out'] });
    expect(report.skipped).toEqual([{ node: 'fc0_out', op: 'MatMul', reason: 'excluded by options' }]);
  });

  it('leaves ops of other domains alone without failing', () => {
    const b = new GraphBuilder('custom');
    const x = b.input('x', 'float32', ['N', 64]);
    const w = b.weight('w', 'float32', [64, 64], new Float32Array(4096).fill(0.1));
    const h = b.op('MatMul', [x, w], {}, { name: 'mm' });
    const c = b.op('FancyNorm', [h, b.weight('gamma', 'float32', [64, 64], new Float32Array(4096).fill(1))], {}, { domain: 'com.example', name: 'fancy' });
    const m = b.build({ extraOpsets: [{ domain: 'com.example', version: 1 }] });
    m.graph.output.push({ name: c.name, type: { tensorType: { elemType: 1 } } });
    const { model, report } = quantizeModel(m, { mode: 'dynamic-int8' });
    expect(report.quantized.map((q) => q.node)).toEqual(['mm']);
    expect(model.graph.node.find((n) => n.opType === 'FancyNorm')!.input[1]).toBe('gamma');
  });
});

describe('bad input', () => {
  const cases: [string, () => unknown, string][] = [
    ['a model without quantizable weights', () => quantizeModel(mlp([8, 4]), { mode: 'qdq-weight' }), 'CLEAVE_E_QUANTIZE'],
    ['an unknown mode', () => quantizeModel(tiny(), { mode: 'int4' } as unknown as QuantizeOptions), 'CLEAVE_E_BAD_ARGUMENT'],
    ['a negative minElements', () => quantizeModel(tiny(), { mode: 'qdq-weight', minElements: -1 }), 'CLEAVE_E_BAD_ARGUMENT'],
    ['an exclude naming no node', () => quantizeModel(tiny(), { mode: 'qdq-weight', exclude: ['nope'] }), 'CLEAVE_E_BAD_ARGUMENT'],
    ['per-channel at opset 11', () => quantizeModel(tiny(11), { mode: 'qdq-weight', minElements: 0 }), 'CLEAVE_E_QUANTIZE'],
    ['dynamic at opset 10', () => quantizeModel(tiny(10), { mode: 'dynamic-int8', minElements: 0, perChannel: false }), 'CLEAVE_E_QUANTIZE'],
  ];
  it.each(cases)('rejects %s with a coded error', (_name, f, code) => {
    expect(codeOf(f)).toBe(code);
  });

  it('says why there is nothing to quantize', () => {
    try {
      quantizeModel(mlp([8, 4]), { mode: 'qdq-weight' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CleaveError);
      expect((e as Error).message).toBe('model "mlp" has no quantizable weights; 1 candidate skipped: fc0: weight "fc0.weight" has 32 elements, fewer than minElements 1024');
    }
  });

  it('accepts per-tensor QDQ at opset 11, and per-channel MatMulInteger (no DequantizeLinear needed)', () => {
    const qdq = quantizeModel(tiny(11), { mode: 'qdq-weight', minElements: 0, perChannel: false }).model;
    expect(init(qdq, 'w_scale').dims).toEqual([]);
    const dyn = quantizeModel(tiny(11), { mode: 'dynamic-int8', minElements: 0 }).model;
    expect(init(dyn, 'w_scale').dims).toEqual([3]);
  });

  it('skips weights holding NaN instead of writing a NaN scale', () => {
    const b = new GraphBuilder('nan');
    const x = b.input('x', 'float32', ['N', 64]);
    const w = new Float32Array(4096).fill(1);
    w[7] = NaN;
    b.output(b.op('MatMul', [x, b.weight('w', 'float32', [64, 64], w)], {}, { name: 'mm' }), 'y');
    expect(codeOf(() => quantizeModel(b.build(), { mode: 'qdq-weight' }))).toBe('CLEAVE_E_QUANTIZE');
  });
});
