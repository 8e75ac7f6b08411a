import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../shared/onnx/builder.js';
import { inspectModel } from '../../../shared/onnx/inspect.js';
import { assertKnownOps, unknownOps } from '../../../shared/onnx/ops.js';
import { inferTypes } from '../../../shared/onnx/shape/infer.js';
import { formatType } from '../../../shared/onnx/shape/value-type.js';
import { indexGraph } from '../../../shared/onnx/graph.js';
import { isCleaveError } from '../../../shared/errors.js';

const zeros = (n: number) => new Array<number>(n).fill(0);

describe('GraphBuilder shape checks', () => {
  it('infers symbolic shapes through conv, pool, reshape and attention-style matmuls', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['N', 3, 64, 64]);
    const c = b.op('Conv', [x, b.weight('w', 'float32', [16, 3, 3, 3], zeros(432))], { pads: [1, 1, 1, 1] });
    const p = b.op('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(formatType(p.type)).toBe('float32[N,16,32,32]');
    const r = b.op('Reshape', [p, b.int64s([0, 16, -1])]);
    expect(formatType(r.type)).toBe('float32[N,16,1024]');
    const t = b.op('Transpose', [r], { perm: [0, 2, 1] });
    const s = b.op('MatMul', [r, t]);
    expect(formatType(s.type)).toBe('float32[N,16,16]');
  });

  it('fails where a mismatch is written, naming the node and both shapes', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['N', 8]);
    try {
      b.op('MatMul', [x, b.weight('w', 'float32', [4, 2], zeros(8))], {}, { name: 'fc1' });
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_SHAPE')).toBe(true);
      expect((e as Error).message).toBe('MatMul node "fc1": inner dimensions differ: [N,8] x [4,2]');
    }
  });

  it('refuses duplicate value names', () => {
    const b = new GraphBuilder('g');
    b.input('x', 'float32', [1]);
    expect(() => b.input('x', 'float32', [1])).toThrowError(/already has a value named "x"/);
  });
});

describe('inspect and operator checks', () => {
  it('summarises inputs, outputs, op histogram and parameters', () => {
    const b = new GraphBuilder('mlp');
    const x = b.input('x', 'float32', ['N', 4]);
    const h = b.op('Relu', [b.op('MatMul', [x, b.weight('w1', 'float32', [4, 8], zeros(32))])]);
    const y = b.op('MatMul', [h, b.weight('w2', 'float32', [8, 2], zeros(16))]);
    b.output(b.op('Relu', [y]), 'y');
    const s = inspectModel(b.build({ metadata: { k: 'v' } }));
    expect(s.inputs).toEqual([{ name: 'x', type: { dtype: 'float32', shape: ['N', 4] }, display: 'float32[N,4]' }]);
    expect(s.outputs[0]!.display).toBe('float32[N,2]');
    expect(s.ops).toEqual([{ op: 'MatMul', count: 2 }, { op: 'Relu', count: 2 }, { op: 'Identity', count: 1 }]);
    expect(s.parameters).toBe(48);
    expect(s.parameterBytes).toBe(192);
    expect(s.metadata).toEqual({ k: 'v' });
    expect(s.opsets).toEqual([{ domain: 'ai.onnx', version: 17 }]);
  });

  it('names unknown operators with a coded error, accepts standard and onnxruntime-domain ops', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 4]);
    const y = b.op('Relu', [x]);
    b.op('FancyActivation', [y], {}, { name: 'mystery' });
    b.op('FusedGemm', [y], {}, { domain: 'com.microsoft' });
    b.output(y);
    const m = b.build();
    expect(unknownOps(m)).toEqual([{ opType: 'FancyActivation', domain: '', node: 'mystery' }]);
    try {
      assertKnownOps(m, 'split');
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_UNSUPPORTED_OP')).toBe(true);
      expect((e as Error).message).toMatch(/split: unknown operator FancyActivation \(node "mystery"\)/);
    }
  });

  it('graph validation catches dangling inputs, double producers and cycles', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Relu', [x]), 'y');
    const m = b.build();
    const dangling = structuredClone(m);
    dangling.graph.node[0]!.input[0] = 'nope';
    expect(() => indexGraph(dangling.graph)).toThrowError(/reads "nope", which no node, input or initializer provides/);
    const twice = structuredClone(m);
    twice.graph.node[1]!.output[0] = 'Relu_0_out';
    expect(() => indexGraph(twice.graph)).toThrowError(/produced twice/);
    const cyc = structuredClone(m);
    cyc.graph.node[0]!.input[0] = 'y';
    expect(() => indexGraph(cyc.graph)).toThrowError(/cycle/);
    expect(inferTypes(m).get('y')).toEqual({ dtype: 'float32', shape: [2] });
  });
});
