/** The tabular MLPs' body: Gemm + ReLU layers up to the last hidden layer, [N, hidden]. */
import type { GraphBuilder, Value } from '../../onnx/builder.js';
import type { MlpArch } from '../catalogue.js';
import { heNormal, smallBias } from '../init.js';
import type { ZooRng } from '../prng.js';
import { gemmWith } from './layers.js';

/** Builds input `x` [N, widths[0]] through the last hidden ReLU [N, widths[-2]]. */
export function mlpBody(b: GraphBuilder, arch: MlpArch, rng: ZooRng): Value {
  const w = arch.widths;
  let x = b.input('x', 'float32', ['N', w[0]!]);
  for (let i = 1; i < w.length - 1; i++) {
    const inDim = w[i - 1]!;
    const outDim = w[i]!;
    x = gemmWith(b, x, heNormal(rng, inDim * outDim, inDim), smallBias(rng, outDim), inDim, outDim, `fc${i}`);
    x = b.op('Relu', [x], {}, { name: `fc${i}.relu` });
  }
  return x;
}
