import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../shared/onnx/builder.js';
import { decodeModel } from '../../../shared/onnx/decode.js';
import { encodeModel } from '../../../shared/onnx/encode.js';
import { float } from '../../../shared/onnx/attributes.js';
import { isCleaveError } from '../../../shared/errors.js';

function sampleModel() {
  const b = new GraphBuilder('sample');
  const x = b.input('x', 'float32', ['N', 3, 8, 8]);
  const w = b.weight('conv.w', 'float32', [4, 3, 3, 3], Array.from({ length: 108 }, (_, i) => Math.sin(i)));
  const c = b.op('Conv', [x, w], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
  const r = b.op('LeakyRelu', [c], { alpha: float(0.1) });
  const p = b.op('GlobalAveragePool', [r]);
  const f = b.op('Flatten', [p]);
  b.output(f, 'y');
  return b.build({ metadata: { 'cleave.name': 'sample', a: 'b' }, docString: 'doc', modelVersion: 3 });
}

describe('ONNX codec', () => {
  it('re-encodes a model it wrote byte for byte', () => {
    const bytes = encodeModel(sampleModel());
    const again = encodeModel(decodeModel(bytes));
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(again))).toBe(0);
  });

  it('keeps graph structure, attributes and metadata through a round trip', () => {
    const m = decodeModel(encodeModel(sampleModel()));
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Conv', 'LeakyRelu', 'GlobalAveragePool', 'Flatten', 'Identity']);
    const leaky = m.graph.node[1]!.attribute[0]!;
    expect(leaky.name).toBe('alpha');
    expect(leaky.f).toBeCloseTo(0.1, 6);
    expect(m.metadataProps).toEqual([{ key: 'a', value: 'b' }, { key: 'cleave.name', value: 'sample' }]);
    expect(m.modelVersion).toBe(3);
    expect(m.graph.valueInfo.find((v) => v.name === 'Conv_0_out')?.type?.tensorType?.shape).toEqual([{ param: 'N' }, { value: 4 }, { value: 8 }, { value: 8 }]);
  });

  it('rejects truncated bytes with a coded error at every cut point', () => {
    const bytes = encodeModel(sampleModel());
    let failures = 0;
    for (let cut = 0; cut < bytes.length; cut += 7) {
      try {
        decodeModel(bytes.subarray(0, cut));
      } catch (e) {
        expect(isCleaveError(e)).toBe(true);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(bytes.length / 7 - 2);
  });
});
