import { describe, expect, it } from 'vitest';
import { nodeBackends } from '../../../../cli/backends.js';
import { isCleaveError, type ErrorCode } from '../../../../shared/errors.js';
import { GraphBuilder } from '../../../../shared/onnx/builder.js';
import { decodeModel } from '../../../../shared/onnx/decode.js';
import { encodeModel } from '../../../../shared/onnx/encode.js';
import { formatType, valueTypeOf } from '../../../../shared/onnx/shape/value-type.js';
import { createSplitVerifier, listCutPoints, splitModel } from '../../../../shared/onnx/split/index.js';
import type { ModelProto } from '../../../../shared/onnx/types.js';
import { expectSplitEquivalent } from '../../../helpers/split-check.js';
import { auxOutputModel, cnnModel, floatInput, inputSkipModel, residualModel, textModel, tokenInput } from './fixtures.js';

function expectCode(fn: () => unknown, code: ErrorCode, message?: string | RegExp): void {
  try {
    fn();
    expect.unreachable(`expected ${code}`);
  } catch (e) {
    expect(isCleaveError(e, code), String(e)).toBe(true);
    if (message !== undefined) expect((e as Error).message).toMatch(message);
  }
}

describe('splitModel: head -> tail equals the full model in onnxruntime-node', () => {
  it('at every cut point of the CNN, on a batch of 4', async () => {
    const { cutPoints, checks } = await expectSplitEquivalent(encodeModel(cnnModel()), floatInput('image', [4, 3, 64, 64], 1));
    expect(checks).toHaveLength(cutPoints.length);
    expect(checks).toHaveLength(12);
    expect(Math.max(...checks.map((c) => c.check.maxAbsDiff))).toBeLessThanOrEqual(1e-5);
  });

  it('at every cut point of the transformer encoder, single and two-tensor, on a batch of 4', async () => {
    const { checks } = await expectSplitEquivalent(encodeModel(textModel()), tokenInput(4, 2), { maxTensors: 2 });
    expect(checks.length).toBeGreaterThan(20);
    expect(Math.max(...checks.map((c) => c.check.maxAbsDiff))).toBeLessThanOrEqual(1e-5);
  });

  it('at every cut point of a residual block, an early-output model and an input skip', async () => {
    await expectSplitEquivalent(encodeModel(residualModel()), floatInput('x', [4, 3, 16, 16], 3), { maxTensors: 2 });
    await expectSplitEquivalent(encodeModel(auxOutputModel()), floatInput('x', [4, 3, 16, 16], 4));
    await expectSplitEquivalent(encodeModel(inputSkipModel()), floatInput('x', [4, 16], 5));
  });

  it('keeps the symbolic batch dim: one split runs at batch 1 and batch 7', async () => {
    const m = cnnModel();
    const split = splitModel(m, ['pool0_out']);
    const headOut = split.head.graph.output[0]!;
    const tailIn = split.tail.graph.input[0]!;
    expect(formatType(valueTypeOf(headOut))).toBe('float32[N,16,32,32]');
    expect(formatType(valueTypeOf(tailIn))).toBe('float32[N,16,32,32]');
    const backend = (await nodeBackends()).get('onnxruntime-node');
    for (const batch of [1, 7]) {
      const v = await createSplitVerifier(backend, m, floatInput('image', [batch, 3, 64, 64], batch));
      expect((await v.check(split)).maxAbsDiff).toBeLessThanOrEqual(1e-5);
      await v.dispose();
    }
  });
});

describe('splitModel after an op without a shape rule', () => {
  it('declares the cut tensor with its element type only, and still runs', async () => {
    // Built with an Identity where the Resize goes, then patched, with value_info dropped: a
    // foreign model whose exporter recorded no intermediate types.
    const b = new GraphBuilder('upsample');
    const x = b.input('x', 'float32', ['N', 3, 8, 8]);
    const c1 = b.op('Conv', [x, b.weight('c1.w', 'float32', [4, 3, 3, 3], Array.from({ length: 108 }, (_, i) => Math.sin(i) / 3))], { pads: [1, 1, 1, 1] }, { name: 'c1', outputs: ['c1'] });
    const up = b.op('Identity', [c1], {}, { name: 'up', outputs: ['up'] });
    const c2 = b.op('Conv', [up, b.weight('c2.w', 'float32', [2, 4, 3, 3], Array.from({ length: 72 }, (_, i) => Math.cos(i) / 4))], {}, { name: 'c2', outputs: ['c2'] });
    b.output(b.op('Flatten', [b.op('GlobalAveragePool', [c2], {}, { name: 'gap', outputs: ['gap'] })], {}, { name: 'flat', outputs: ['flat'] }), 'y');
    b.weight('scales', 'float32', [4], [1, 1, 2, 2]);
    const m = b.build();
    const resize = m.graph.node.find((n) => n.name === 'up')!;
    resize.opType = 'Resize';
    resize.input = ['c1', '', 'scales'];
    m.graph.valueInfo = [];
    const cps = listCutPoints(m);
    expect(cps.map((cp) => cp.tensors[0]!.name)).toEqual(['c1', 'up', 'c2', 'gap', 'flat']);
    expect(cps.map((cp) => formatType(cp.tensors[0]!.type))).toEqual(['float32[N,4,8,8]', 'float32[...]', 'float32[...]', 'float32[...]', 'float32[...]']);
    expect(cps[1]!.bytesPerSample).toBeUndefined();
    await expectSplitEquivalent(encodeModel(m), floatInput('x', [3, 3, 8, 8], 8));
  });
});

describe('splitModel in onnxruntime-web', () => {
  it('head and tail load and match the full model in the wasm build', async () => {
    await expectSplitEquivalent(encodeModel(textModel()), tokenInput(4, 6), { backend: 'onnxruntime-web', cuts: [['l0_res1']] });
    await expectSplitEquivalent(encodeModel(cnnModel()), floatInput('image', [2, 3, 64, 64], 7), { backend: 'onnxruntime-web', cuts: [['pool1_out']] });
  });
});

describe('splitModel parts', () => {
  it('carry metadata, value_info, opsets and only the weights each side uses', () => {
    const m = cnnModel();
    const { head, tail } = splitModel(m, ['pool0_out']);
    const meta = (x: ModelProto) => Object.fromEntries(x.metadataProps.map((e) => [e.key, e.value]));
    expect(meta(head)).toEqual({ 'cleave.name': 'split-cnn', 'cleave.split.part': 'head', 'cleave.split.cut': 'pool0_out' });
    expect(meta(tail)).toMatchObject({ 'cleave.split.part': 'tail' });
    expect(head.graph.initializer.map((t) => t.name)).toEqual(['conv0.w', 'conv0.b']);
    expect(tail.graph.initializer.map((t) => t.name)).not.toContain('conv0.w');
    expect(head.graph.valueInfo.map((v) => v.name)).toEqual(['conv0_out', 'relu0_out']);
    expect(tail.graph.valueInfo.map((v) => v.name)).toContain('conv1_out');
    expect(head.graph.input.map((v) => v.name)).toEqual(['image']);
    expect(tail.graph.output.map((v) => v.name)).toEqual(['logits']);
    expect(head.opsetImport).toEqual(m.opsetImport);
    expect(head.graph.name).toBe('cnn_head');
  });

  it('copies a weight both sides read to both, and recomputes the mask on both sides', () => {
    const b = new GraphBuilder('tied');
    const x = b.input('x', 'float32', ['N', 8]);
    const wt = b.weight('shared.w', 'float32', [8, 8], Array.from({ length: 64 }, (_, i) => Math.cos(i) / 4));
    const h = b.op('MatMul', [x, wt], {}, { name: 'h', outputs: ['h'] });
    b.output(b.op('MatMul', [b.op('Tanh', [h], {}, { name: 't', outputs: ['t'] }), wt], {}, { name: 'o', outputs: ['o'] }), 'y');
    const split = splitModel(b.build(), ['t']);
    expect(split.head.graph.initializer.map((t) => t.name)).toEqual(['shared.w']);
    expect(split.tail.graph.initializer.map((t) => t.name)).toEqual(['shared.w']);

    const text = splitModel(textModel(), ['l0_res1']);
    const maskNodes = ['pad_eq', 'pad_cast', 'mask_mul', 'mask_unsqueeze'];
    expect(text.head.graph.node.map((n) => n.name).filter((n) => maskNodes.includes(n!))).toEqual(maskNodes);
    expect(text.tail.graph.node.map((n) => n.name).filter((n) => maskNodes.includes(n!))).toEqual(maskNodes);
    expect(text.tail.graph.input.map((v) => v.name)).toEqual(['l0_res1', 'input_ids']);
    expect(text.passthroughInputs).toEqual(['input_ids']);
  });

  it('exposes a graph output computed before the cut as a head output', () => {
    const split = splitModel(auxOutputModel(), ['c2']);
    expect(split.passthroughOutputs).toEqual(['aux']);
    expect(split.head.graph.output.map((o) => o.name)).toEqual(['c2', 'aux']);
    expect(split.tail.graph.output.map((o) => o.name)).toEqual(['y']);
  });

  it('splits a head again, replacing the split metadata', () => {
    const { head } = splitModel(cnnModel(), ['pool1_out']);
    const again = splitModel(decodeModel(encodeModel(head)), ['pool0_out']);
    const meta = Object.fromEntries(again.tail.metadataProps.map((e) => [e.key, e.value]));
    expect(meta['cleave.split.cut']).toBe('pool0_out');
    expect(again.tail.graph.output.map((o) => o.name)).toEqual(['pool1_out']);
    expect(again.tail.metadataProps.filter((e) => e.key === 'cleave.split.part')).toHaveLength(1);
  });
});

describe('splitModel errors', () => {
  const cnn = cnnModel();

  it('names close and valid tensors for an unknown one (CLEAVE_E_NOT_FOUND)', () => {
    expectCode(() => splitModel(cnn, ['pool0_ot']), 'CLEAVE_E_NOT_FOUND',
      'no tensor named "pool0_ot" in graph "cnn" (did you mean "pool0_out"?); valid cut tensors include "conv0_out", "relu0_out", "pool0_out", "conv1_out", "relu1_out"');
    expectCode(() => splitModel(cnn, ['zzz']), 'CLEAVE_E_NOT_FOUND', /^no tensor named "zzz" in graph "cnn"; valid cut tensors include "conv0_out"/);
  });

  it('refuses a cut inside a residual span, naming the node and the value that leaks', () => {
    expectCode(() => splitModel(residualModel(), ['blk_relu_a']), 'CLEAVE_E_SPLIT',
      'cut at "blk_relu_a" does not separate the graph: tail node "blk_add" (Add) also needs "s" from the head (computed by Relu node "s"); a skip connection spans the cut: cut outside it or add "s" to the cut');
    expectCode(() => splitModel(textModel(), ['l0_ln1']), 'CLEAVE_E_SPLIT', /tail node "l0_res1" \(Add\) also needs "x0" from the head/);
    // With the skip tensor added the same place is a valid two-tensor cut.
    expect(splitModel(residualModel(), ['s', 'blk_relu_a']).crossing.map((c) => c.name)).toEqual(['s', 'blk_relu_a']);
  });

  it('refuses cuts at a graph input, an initializer, a graph output, or nothing', () => {
    expectCode(() => splitModel(cnn, ['image']), 'CLEAVE_E_SPLIT', 'cannot cut at "image": it is a graph input, so the head would compute nothing; cut at a tensor a node computes');
    expectCode(() => splitModel(cnn, ['conv0.w']), 'CLEAVE_E_SPLIT', /"conv0.w": it is an initializer/);
    expectCode(() => splitModel(cnn, ['logits']), 'CLEAVE_E_SPLIT', /"logits": it is a graph output/);
    expectCode(() => splitModel(auxOutputModel(), ['aux']), 'CLEAVE_E_SPLIT', /graph output/);
    expectCode(() => splitModel(cnn, []), 'CLEAVE_E_SPLIT', /no cut tensors given/);
  });

  it('refuses a cut tensor the tail would not read', () => {
    // relu0_out is only read by pool0, which computes the other cut tensor inside the head.
    expectCode(() => splitModel(cnn, ['relu0_out', 'pool0_out']), 'CLEAVE_E_SPLIT', 'cut tensor "relu0_out" is only read inside the head (by MaxPool node "pool0"); drop it from the cut');
    const b = new GraphBuilder('dead');
    const x = b.input('x', 'float32', ['N', 4]);
    b.op('Neg', [x], {}, { name: 'unused', outputs: ['unused'] });
    b.output(b.op('Relu', [x]), 'y');
    expectCode(() => splitModel(b.build(), ['unused']), 'CLEAVE_E_SPLIT', /no graph output depends on it/);
  });

  it('refuses to cut at a tensor of unknown type, and does not list it', () => {
    const b = new GraphBuilder('custom');
    const x = b.input('x', 'float32', ['N', 4]);
    const a = b.op('Relu', [x], {}, { name: 'a', outputs: ['a'] });
    const foo = b.op('Identity', [a], {}, { name: 'foo', outputs: ['foo'] });
    b.output(b.op('Tanh', [foo], {}, { name: 't', outputs: ['t'] }), 'y');
    const m = b.build();
    Object.assign(m.graph.node[1]!, { opType: 'Foo', domain: 'com.example' });
    m.opsetImport.push({ domain: 'com.example', version: 1 });
    m.graph.valueInfo = [];
    // Nothing is known of com.example::Foo, nor then of the Tanh after it.
    expect(listCutPoints(m).map((cp) => cp.tensors[0]!.name)).toEqual(['a']);
    expectCode(() => splitModel(m, ['foo']), 'CLEAVE_E_SPLIT', 'cannot declare cut tensor "foo" as a tail input: its type is unknown (Foo node "foo" has no shape rule and the model records no value_info for it)');
  });

  it('reports malformed bytes and malformed graphs with their own codes', async () => {
    const bytes = encodeModel(cnn);
    expectCode(() => listCutPoints(decodeModel(bytes.subarray(0, 100))), 'CLEAVE_E_ONNX_DECODE');
    await expect(expectSplitEquivalent(new Uint8Array([0x0a, 0xff, 0xff]), {})).rejects.toMatchObject({ code: 'CLEAVE_E_ONNX_DECODE' });
    const broken = cnnModel();
    broken.graph.node[3]!.input[0] = 'nowhere';
    expectCode(() => listCutPoints(broken), 'CLEAVE_E_ONNX_INVALID', /reads "nowhere"/);
    expectCode(() => splitModel(broken, ['pool0_out']), 'CLEAVE_E_ONNX_INVALID');
  });
});
