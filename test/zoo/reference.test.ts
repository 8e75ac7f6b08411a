/**
 * The MLPs against a float64 forward pass written here from the initializers: checks that what
 * the runtime computes is the network the zoo meant to write (layout, transB, bias, ReLU).
 */
import { describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { attrInt } from '../../shared/onnx/attributes.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { tensorValues } from '../../shared/onnx/tensor-data.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import type { HostTensor } from '../../shared/tensor.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';
import { zooModelBytes } from '../helpers/zoo.js';

/** Float64 forward pass of a Gemm/Relu/Identity chain; returns [rows, out] values. */
function referenceMlp(model: ModelProto, x: HostTensor): { values: Float64Array; cols: number } {
  const inits = new Map(model.graph.initializer.map((t) => [t.name, { dims: t.dims, values: tensorValues(t) }]));
  let cur = Float64Array.from(x.data as Float32Array);
  let cols = x.dims[1]!;
  const rows = x.dims[0]!;
  for (const node of model.graph.node) {
    if (node.opType === 'Relu') {
      cur = cur.map((v) => Math.max(0, v));
    } else if (node.opType === 'Gemm') {
      const w = inits.get(node.input[1]!)!;
      const b = inits.get(node.input[2]!)!;
      const transB = attrInt(node, 'transB', 0) === 1;
      const out = transB ? w.dims[0]! : w.dims[1]!;
      const next = new Float64Array(rows * out);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < out; o++) {
          let s = Number(b.values[o]);
          for (let k = 0; k < cols; k++) s += cur[r * cols + k]! * Number(w.values[transB ? o * cols + k : k * out + o]);
          next[r * out + o] = s;
        }
      }
      cur = next;
      cols = out;
    } else if (node.opType !== 'Identity') {
      throw new Error(`reference MLP does not implement ${node.opType}`);
    }
  }
  return { values: cur, cols };
}

describe('zoo MLPs against a float64 reference', () => {
  for (const [name, batch] of [['mlp-small', 16], ['mlp-large', 4]] as const) {
    it(`${name} at batch ${batch} matches within 1e-4 (relative above 1)`, async () => {
      const bytes = await zooModelBytes(name);
      const x = zooSampleInputs(name, batch, 5)!.x!;
      const ref = referenceMlp(decodeModel(bytes), x);
      const model = await (await nodeBackends()).get('onnxruntime-node').load(bytes, { intraOpThreads: 1 });
      const got = (await model.run({ x })).logits!;
      await model.dispose();
      expect(got.dims).toEqual([batch, ref.cols]);
      let worst = 0;
      for (let i = 0; i < ref.values.length; i++) {
        worst = Math.max(worst, Math.abs(Number(got.data[i]) - ref.values[i]!) / Math.max(1, Math.abs(ref.values[i]!)));
      }
      expect(worst).toBeLessThan(1e-4);
    });
  }
});
