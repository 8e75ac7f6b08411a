import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../../../shared/errors.js';
import { GraphBuilder } from '../../../../shared/onnx/builder.js';
import { AttributeType, type ModelProto } from '../../../../shared/onnx/types.js';
import { formatType, valueInfoOf } from '../../../../shared/onnx/shape/value-type.js';
import { listCutPoints, splitModel, type CutPoint } from '../../../../shared/onnx/split/index.js';
import { expectWellFormedSplit } from '../../../helpers/split-check.js';
import { auxOutputModel, cnnModel, inputSkipModel, residualModel, textModel } from './fixtures.js';

const names = (cps: readonly CutPoint[]): string[] => cps.map((cp) => cp.tensors.map((t) => t.name).join('+'));

/** Every listed cut splits, and the split has the sizes the list promised. */
function expectListMatchesSplits(m: ModelProto, cps: readonly CutPoint[]): void {
  for (const cp of cps) {
    const cut = cp.tensors.map((t) => t.name);
    expectWellFormedSplit(m, cut, splitModel(m, cut), cp);
  }
}

describe('listCutPoints on a CNN chain', () => {
  const m = cnnModel();
  const cps = listCutPoints(m);

  it('lists every position of a chain, in topological order', () => {
    expect(names(cps)).toEqual([
      'conv0_out', 'relu0_out', 'pool0_out', 'conv1_out', 'relu1_out', 'pool1_out',
      'conv2_out', 'relu2_out', 'pool2_out', 'gap_out', 'flat', 'fc_out',
    ]);
    expect(cps.map((cp) => cp.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(cps.map((cp) => cp.afterNode).slice(0, 3)).toEqual(['conv0', 'relu0', 'pool0']);
  });

  it('sizes activations per sample with the symbolic batch kept', () => {
    const pool0 = cps[2]!;
    expect(formatType(pool0.tensors[0]!.type)).toBe('float32[N,16,32,32]');
    expect(pool0.bytesPerSample).toBe(16 * 32 * 32 * 4);
    expect(pool0.transferBytesPerSample).toBe(16 * 32 * 32 * 4);
    expect(cps[0]!.bytesPerSample).toBe(16 * 64 * 64 * 4);
    expect(cps.at(-1)!.bytesPerSample).toBe(10 * 4);
  });

  it('counts nodes and weight bytes on each side', () => {
    const total = m.graph.initializer.reduce((s, t) => s + t.rawData!.length, 0);
    for (const cp of cps) {
      expect(cp.headNodes + cp.tailNodes).toBe(m.graph.node.length);
      expect(cp.headParamBytes + cp.tailParamBytes).toBe(total);
      expect(cp.passthroughInputs).toEqual([]);
      expect(cp.passthroughOutputs).toEqual([]);
    }
    expect(cps[2]!.headParamBytes).toBe((16 * 3 * 9 + 16) * 4);
    expectListMatchesSplits(m, cps);
  });
});

describe('listCutPoints on a transformer encoder', () => {
  const m = textModel();
  const cps = listCutPoints(m);

  it('cuts only between residual spans, never inside attention or the MLP', () => {
    expect(names(cps)).toEqual(['emb', 'x0', 'l0_res1', 'l0_res2', 'l1_res1', 'l1_res2', 'lnf', 'pooled', 'cls_mm_out', 'cls']);
    // Positions are right after the node that produced the crossing tensor.
    const at = new Map(m.graph.node.map((n, i) => [n.output[0]!, i + 1]));
    expect(cps.map((cp) => cp.position)).toEqual(cps.map((cp) => at.get(cp.tensors[0]!.name)));
  });

  it('never sends the attention mask: the tail re-derives it from input_ids while it still needs it', () => {
    for (const cp of cps) expect(cp.tensors.map((t) => t.name)).not.toContain('mask');
    const passthrough = Object.fromEntries(cps.map((cp) => [cp.tensors[0]!.name, cp.passthroughInputs.map((t) => t.name)]));
    expect(passthrough).toMatchObject({ emb: ['input_ids'], x0: ['input_ids'], l0_res1: ['input_ids'], l0_res2: ['input_ids'], l1_res1: [], lnf: [] });
    const x0 = cps[1]!;
    expect(x0.bytesPerSample).toBe(16 * 32 * 4);
    expect(x0.transferBytesPerSample).toBe(16 * 32 * 4 + 16 * 8);
    // The embedding lookup alone is the head; the mask nodes go to the tail that reads them.
    expect(cps[0]!.headNodes).toBe(1);
    expect(cps[0]!.headParamBytes).toBe(50 * 32 * 4);
    expectListMatchesSplits(m, cps);
  });

  it('treats weights written as Constant nodes like initializers', () => {
    const c = textModel();
    const big = c.graph.initializer.filter((t) => t.dims.reduce((p, d) => p * d, 1) > 64);
    c.graph.initializer = c.graph.initializer.filter((t) => !big.includes(t));
    c.graph.node.unshift(...big.map((t) => ({ name: `const_${t.name}`, opType: 'Constant', input: [], output: [t.name], attribute: [{ name: 'value', type: AttributeType.TENSOR, t }] })));
    const withConstants = listCutPoints(c);
    expect(names(withConstants)).toEqual(names(cps));
    expect(withConstants.map((cp) => [cp.headParamBytes, cp.tailParamBytes])).toEqual(cps.map((cp) => [cp.headParamBytes, cp.tailParamBytes]));
    expectListMatchesSplits(c, withConstants);
  });

  it('with maxTensors 2 also lists cuts inside residual spans, carrying the skip tensor', () => {
    const two = listCutPoints(m, { maxTensors: 2 });
    expect(two.length).toBeGreaterThan(cps.length);
    const inside = two.filter((cp) => cp.tensors.length === 2);
    expect(inside.length).toBeGreaterThan(10);
    expect(inside.every((cp) => ['x0', 'l0_res1', 'l0_res2', 'l1_res1'].includes(cp.tensors[0]!.name))).toBe(true);
    expect(names(two)).toContain('l0_res1+l0_ln2');
    expectListMatchesSplits(m, two);
  });
});

describe('listCutPoints on residual blocks and branches', () => {
  it('skips positions inside a residual block', () => {
    const m = residualModel();
    expect(names(listCutPoints(m))).toEqual(['stem', 's', 'blk_add', 'blk_out', 'gap', 'flat', 'fc']);
    const two = listCutPoints(m, { maxTensors: 2 });
    expect(names(two)).toEqual(['stem', 's', 's+blk_conv_a', 's+blk_relu_a', 's+blk_conv_b', 'blk_add', 'blk_out', 'gap', 'flat', 'fc']);
    expect(two[2]!.bytesPerSample).toBe(2 * 8 * 16 * 16 * 4);
    expectListMatchesSplits(m, two);
  });

  it('keeps an early graph output in the head of later cuts (a pass-through output)', () => {
    const m = auxOutputModel();
    const cps = listCutPoints(m);
    expect(names(cps)).toEqual(['c1', 'r1', 'c2', 'r2', 'gap', 'flat', 'fc']);
    expect(cps.map((cp) => cp.passthroughOutputs)).toEqual([[], [], ['aux'], ['aux'], ['aux'], ['aux'], ['aux']]);
    expectListMatchesSplits(m, cps);
  });

  it('passes a graph input through to the tail when a skip starts at it', () => {
    const m = inputSkipModel();
    const cps = listCutPoints(m);
    expect(names(cps)).toEqual(['mm1', 'relu', 'mm2', 'add']);
    expect(cps.map((cp) => cp.passthroughInputs.map((t) => t.name))).toEqual([['x'], ['x'], ['x'], []]);
    expect(cps[0]!.transferBytesPerSample).toBe(32 * 4 + 16 * 4);
    expectListMatchesSplits(m, cps);
  });

  it('checks candidates the prefix rule cannot vouch for with the partition itself', () => {
    // A second output computed straight from the input: it lands in the tail, not the head.
    const b = new GraphBuilder('branch');
    const x = b.input('x', 'float32', ['N', 4]);
    const a = b.op('Relu', [x], {}, { name: 'a', outputs: ['a'] });
    const c = b.op('Sigmoid', [a], {}, { name: 'c', outputs: ['c'] });
    b.output(b.op('Neg', [x], {}, { name: 'side', outputs: ['side'] }), 'side_out');
    b.output(b.op('Tanh', [c], {}, { name: 'd', outputs: ['d'] }), 'y');
    const m = b.build();
    const cps = listCutPoints(m);
    expect(names(cps)).toEqual(['a', 'c', 'd']);
    expect(cps.every((cp) => cp.passthroughInputs.map((t) => t.name).join() === 'x')).toBe(true);
    expectListMatchesSplits(m, cps);
  });

  it('treats values a subgraph captures as read by the node that owns it', () => {
    // d = If(cond) { then: a + c } { else: c }: `a` stays live until the If, so only `a` is a cut.
    const b = new GraphBuilder('captures');
    const x = b.input('x', 'float32', ['N', 4]);
    const cond = b.input('cond', 'bool', []);
    const a = b.op('Relu', [x], {}, { name: 'a', outputs: ['a'] });
    const bb = b.op('Sigmoid', [a], {}, { name: 'b', outputs: ['b'] });
    const c = b.op('Tanh', [bb], {}, { name: 'c', outputs: ['c'] });
    const t = { N: 'N' } as const;
    const branch = (name: string, out: string, nodes: ModelProto['graph']['node']) => ({
      name, node: nodes, initializer: [], input: [], valueInfo: [],
      output: [valueInfoOf(out, { dtype: 'float32', shape: [t.N, 4] })],
    });
    const m = b.build();
    m.graph.node.push({
      name: 'choose', opType: 'If', input: [cond.name], output: ['d'],
      attribute: [
        { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then', 'sum', [{ name: 'add', opType: 'Add', input: [a.name, c.name], output: ['sum'], attribute: [] }]) },
        { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else', 'c_copy', [{ name: 'copy', opType: 'Identity', input: [c.name], output: ['c_copy'], attribute: [] }]) },
      ],
    });
    m.graph.output.push(valueInfoOf('d', { dtype: 'float32', shape: ['N', 4] }));
    expect(names(listCutPoints(m))).toEqual(['a']);
    const split = splitModel(m, ['a']);
    expect(split.tail.graph.input.map((i) => i.name)).toEqual(['a', 'cond']);
    expect(split.tail.graph.node.map((n) => n.name)).toEqual(['b', 'c', 'choose']);
  });

  it('ignores nodes that feed no graph output', () => {
    const b = new GraphBuilder('dead');
    const x = b.input('x', 'float32', ['N', 4]);
    const a = b.op('Relu', [x], {}, { name: 'a', outputs: ['a'] });
    b.op('Neg', [x], {}, { name: 'unused', outputs: ['unused'] });
    b.output(b.op('Tanh', [a], {}, { name: 't', outputs: ['t'] }), 'y');
    const m = b.build();
    expect(names(listCutPoints(m))).toEqual(['a', 't']);
    expect(splitModel(m, ['a']).head.graph.node.map((n) => n.name)).toEqual(['a']);
  });

  it('rejects a maxTensors that is not a positive integer', () => {
    for (const maxTensors of [0, 1.5, -1]) {
      try {
        listCutPoints(cnnModel(), { maxTensors });
        expect.unreachable();
      } catch (e) {
        expect(isCleaveError(e, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
      }
    }
  });

  it('sweeps a deep residual stack in linear time', () => {
    const b = new GraphBuilder('deep');
    let x = b.input('x', 'float32', ['N', 8]);
    for (let i = 0; i < 2000; i++) x = b.op('Add', [x, b.op('Relu', [x])]);
    b.output(x, 'y');
    const m = b.build();
    const t0 = performance.now();
    const cps = listCutPoints(m);
    const ms = performance.now() - t0;
    // One cut after each block's Add (a Relu inside is spanned by the skip), plus one inside the
    // first block, whose skip starts at the graph input (which the tail then takes too).
    expect(cps.length).toBe(2001);
    expect(cps[0]!.passthroughInputs.map((t) => t.name)).toEqual(['x']);
    expect(cps.slice(1).every((cp, k) => cp.position === 2 * (k + 1) && cp.passthroughInputs.length === 0)).toBe(true);
    // Generous: about 30 ms here; quadratic re-splitting of 4000 nodes takes seconds.
    expect(ms).toBeLessThan(1500);
  });
});
