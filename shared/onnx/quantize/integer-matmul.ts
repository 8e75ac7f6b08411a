/**
 * Dynamic int8: MatMul and Gemm rewritten to integer arithmetic. Activations are quantized per
 * call (DynamicQuantizeLinear: uint8, asymmetric, one scale per tensor); weights were quantized
 * offline, symmetric per column. The int32 product is rescaled to fp32:
 *
 *   a_q, a_scale, a_zp = DynamicQuantizeLinear(a)
 *   y_int = MatMulInteger(a_q, w_q, a_zp, w_zp)
 *   y     = Cast<float>(y_int) * (a_scale * w_scale)      [+ bias, for Gemm]
 *
 * This is the exact pattern onnxruntime's own `quantize_dynamic` writes, on purpose: its graph
 * optimizer fuses it into one DynamicQuantizeMatMul kernel (onnxruntime-node and -web alike),
 * so the Cast and Muls cost nothing extra.
 *
 * Weight storage type: uint8 with zero point 128, not int8. Both runtimes accept uint8 x int8
 * MatMulInteger, but onnxruntime-node's x86 kernel for it (vpmaddubsw, on AVX2/AVX-512 CPUs
 * without VNNI) adds pairs of u8*s8 products in saturating int16: measured on this project's
 * machines (AVX-512BW, no VNNI), 64 x (255 * 127) came back as 32 x 32767, and on a
 * 512-2048-2048-10 MLP the max error vs fp32 grew from 0.060 to 0.098. The wasm build was exact.
 * uint8 x uint8 is exact in both runtimes; the grid stays symmetric (levels 1..255 around 128),
 * so precision equals int8 [-127, 127] and the file is the same size. It costs speed in
 * onnxruntime-node at batch 32 (3.5 vs 2.6 ms on that MLP; fp32 4.6), none at batch 1 or in wasm.
 * The other way out, int8 weights limited to 7 bits (onnxruntime's `reduce_range`), doubles the
 * weight error everywhere to dodge one instruction set's saturation.
 */
import { attrFloat, attrInt, makeAttribute } from '../attributes.js';
import { makeTensor } from '../tensor-data.js';
import { DataType, type NodeProto, type TensorProto } from '../types.js';
import type { FreshName } from './names.js';
import { quantizeSymmetric, type IntGrid } from './symmetric.js';
import type { WeightSite } from './weight-sites.js';

/** The weight grid for MatMulInteger (see the file comment for why uint8). */
export const MATMUL_INTEGER_WEIGHT_GRID: IntGrid = Object.freeze({ type: 'uint8', qmax: 127 });

/** Outputs of one DynamicQuantizeLinear, shared by every MatMul that reads the same activation. */
export interface QuantizedActivation {
  readonly q: string;
  readonly scale: string;
  readonly zeroPoint: string;
}

/** Replacement for one MatMul or Gemm node. */
export interface IntegerMatMulRewrite {
  /** Nodes that replace the original node, in order (they write its output name). */
  readonly nodes: NodeProto[];
  readonly initializers: TensorProto[];
}

/** [rows, cols] row-major transpose, for Gemm weights stored with transB. */
function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

function node(name: string, opType: string, input: string[], output: string[], attribute: NodeProto['attribute'] = []): NodeProto {
  return { name, opType, input, output, attribute };
}

/**
 * Rewrites a MatMul (B = weight) or Gemm site. `activations` caches DynamicQuantizeLinear
 * outputs per activation name, so Q/K/V projections of one input quantize it once.
 */
export function integerMatMul(site: WeightSite, perChannel: boolean, fresh: FreshName, activations: Map<string, QuantizedActivation>): IntegerMatMulRewrite {
  const orig = site.node;
  const base = orig.name || orig.output[0] || 'matmul';
  const out = orig.output[0]!;
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const isGemm = orig.opType === 'Gemm';

  let a = orig.input[0]!;
  if (isGemm && attrInt(orig, 'transA', 0)) {
    const t = fresh(`${a}_transposed`);
    nodes.push(node(fresh(`${base}_Transpose`), 'Transpose', [a], [t], [makeAttribute('perm', [1, 0])]));
    a = t;
  }

  // Weight as [K, N]: Gemm with transB stores [N, K].
  let w = site.values;
  let dims = site.weight.dims;
  if (isGemm && attrInt(orig, 'transB', 0)) {
    const [n, k] = [dims[0]!, dims[1]!];
    w = transpose2d(w, n, k);
    dims = [k, n];
  }
  const axis = perChannel ? dims.length - 1 : undefined;
  const { values, scales, zeroPoint } = quantizeSymmetric(w, dims, axis, MATMUL_INTEGER_WEIGHT_GRID);
  // Gemm's alpha scales the product; folding it into the weight scales is free.
  const alpha = isGemm ? attrFloat(orig, 'alpha', 1) : 1;
  if (alpha !== 1) for (let i = 0; i < scales.length; i++) scales[i] = scales[i]! * alpha;
  const pdims = axis === undefined ? [] : [scales.length];
  const wName = site.weight.name;
  const wq = makeTensor(fresh(`${wName}_quantized`), MATMUL_INTEGER_WEIGHT_GRID.type, dims, values);
  const wScale = makeTensor(fresh(`${wName}_scale`), 'float32', pdims, scales);
  const wZero = makeTensor(fresh(`${wName}_zero_point`), MATMUL_INTEGER_WEIGHT_GRID.type, pdims, new Uint8Array(scales.length).fill(zeroPoint));
  initializers.push(wq, wScale, wZero);

  let qa = activations.get(a);
  if (!qa) {
    qa = { q: fresh(`${a}_quantized`), scale: fresh(`${a}_scale`), zeroPoint: fresh(`${a}_zero_point`) };
    nodes.push(node(fresh(`${a}_DynamicQuantizeLinear`), 'DynamicQuantizeLinear', [a], [qa.q, qa.scale, qa.zeroPoint]));
    activations.set(a, qa);
  }

  const yInt = fresh(`${base}_int32`);
  const yFloat = fresh(`${base}_float`);
  const multiplier = fresh(`${base}_output_scale`);
  const c = isGemm ? orig.input[2] : undefined;
  const beta = isGemm ? attrFloat(orig, 'beta', 1) : 1;
  const hasBias = c !== undefined && c !== '' && beta !== 0;
  const scaled = hasBias ? fresh(`${base}_matmul`) : out;
  nodes.push(
    node(fresh(`${base}_MatMulInteger`), 'MatMulInteger', [qa.q, wq.name, qa.zeroPoint, wZero.name], [yInt]),
    node(fresh(`${base}_Cast`), 'Cast', [yInt], [yFloat], [makeAttribute('to', DataType.FLOAT)]),
    node(fresh(`${base}_scale_Mul`), 'Mul', [qa.scale, wScale.name], [multiplier]),
    node(fresh(`${base}_output_Mul`), 'Mul', [yFloat, multiplier], [scaled]),
  );
  if (hasBias) {
    let bias = c;
    if (beta !== 1) {
      const betaName = fresh(`${base}_beta`);
      initializers.push(makeTensor(betaName, 'float32', [], [beta]));
      bias = fresh(`${base}_bias_scaled`);
      nodes.push(node(fresh(`${base}_beta_Mul`), 'Mul', [c, betaName], [bias]));
    }
    // Gemm broadcasts C one way onto [M, N]; Add's two-way broadcast gives the same [M, N].
    nodes.push(node(fresh(`${base}_bias_Add`), 'Add', [scaled, bias], [out]));
  }
  return { nodes, initializers };
}
