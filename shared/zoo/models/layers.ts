/**
 * Building blocks shared by the zoo's networks, written once so every model spells a linear
 * layer, a LayerNorm or a GELU the same way (which is what the quantizer and the split planner
 * will pattern-match on).
 */
import { CleaveError } from '../../errors.js';
import { float } from '../../onnx/attributes.js';
import type { GraphBuilder, Value } from '../../onnx/builder.js';
import { filled, smallBias, xavierNormal } from '../init.js';
import type { ZooRng } from '../prng.js';

/** Last dimension of a built value (its feature width). */
export function lastDim(b: GraphBuilder, v: Value): number {
  const shape = b.typeOf(v)?.shape;
  const d = shape?.[shape.length - 1];
  if (typeof d !== 'number') throw new CleaveError('CLEAVE_E_INTERNAL', `zoo network: value "${v.name}" has no fixed last dimension`);
  return d;
}

/** x @ W + b over the last axis (MatMul + Add, as transformer exporters write it); W is [in, out]. */
export function linearWith(b: GraphBuilder, x: Value, weight: Float32Array, bias: Float32Array, inDim: number, outDim: number, name: string): Value {
  const w = b.weight(`${name}.weight`, 'float32', [inDim, outDim], weight);
  const bv = b.weight(`${name}.bias`, 'float32', [outDim], bias);
  const mm = b.op('MatMul', [x, w], {}, { name: `${name}.matmul` });
  return b.op('Add', [mm, bv], {}, { name: `${name}.add` });
}

/** A linear layer with fresh weights (Xavier unless `weights` is given). */
export function linear(b: GraphBuilder, x: Value, inDim: number, outDim: number, name: string, rng: ZooRng, weights?: Float32Array): Value {
  return linearWith(b, x, weights ?? xavierNormal(rng, inDim * outDim, inDim, outDim), smallBias(rng, outDim), inDim, outDim, name);
}

/** Gemm(x, W^T) + b with W stored [out, in] (transB = 1), as PyTorch exports nn.Linear. */
export function gemmWith(b: GraphBuilder, x: Value, weightOutIn: Float32Array, bias: Float32Array, inDim: number, outDim: number, name: string): Value {
  const w = b.weight(`${name}.weight`, 'float32', [outDim, inDim], weightOutIn);
  const bv = b.weight(`${name}.bias`, 'float32', [outDim], bias);
  return b.op('Gemm', [x, w, bv], { transB: 1 }, { name });
}

/** LayerNormalization over the last axis with unit gain and zero shift (epsilon 1e-5). */
export function layerNorm(b: GraphBuilder, x: Value, dim: number, name: string): Value {
  const g = b.weight(`${name}.weight`, 'float32', [dim], filled(dim, 1));
  const s = b.weight(`${name}.bias`, 'float32', [dim], filled(dim, 0));
  return b.op('LayerNormalization', [x, g, s], { axis: -1, epsilon: float(1e-5) }, { name });
}

/** Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)): the Erf form BERT exporters emit at opset 17. */
export function gelu(b: GraphBuilder, x: Value, name: string): Value {
  const scaled = b.op('Mul', [x, b.scalar(Math.SQRT1_2, `${name}.inv_sqrt2`)], {}, { name: `${name}.scale` });
  const e = b.op('Erf', [scaled], {}, { name: `${name}.erf` });
  const onePlus = b.op('Add', [e, b.scalar(1, `${name}.one`)], {}, { name: `${name}.add` });
  const half = b.op('Mul', [x, b.scalar(0.5, `${name}.half`)], {}, { name: `${name}.half_x` });
  return b.op('Mul', [half, onePlus], {}, { name });
}
