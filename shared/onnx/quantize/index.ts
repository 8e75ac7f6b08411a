/**
 * The int8 quantizer: fp32 ModelProto in, int8 ModelProto and a per-weight report out. Pure
 * data to data (no runtime, no files), so it runs wherever `shared/` does.
 *
 *   const { model, report } = quantizeModel(fp32, { mode: 'qdq-weight' });
 *   backend.load(encodeModel(model), { weightOnlyQdq: isWeightOnlyQdq(model) });
 *
 * Both modes quantize weights symmetric int8, per output channel by default (see options.ts for
 * the modes); biases and normalization parameters stay fp32.
 */
import { CleaveError } from '../../errors.js';
import { indexGraph } from '../graph.js';
import { defaultOpset } from '../shape/infer.js';
import type { ModelProto, NodeProto, TensorProto } from '../types.js';
import { integerMatMul, type QuantizedActivation } from './integer-matmul.js';
import { nameAllocator } from './names.js';
import { resolveQuantizeOptions, type QuantizeOptions, type QuantizeReport } from './options.js';
import { dequantizedWeight } from './qdq-weight.js';
import { rebuildValueInfo } from './value-info.js';
import { findWeightSites, nodeLabel, type WeightSite } from './weight-sites.js';

export {
  DEFAULT_MIN_ELEMENTS, QUANTIZE_MODES, isQuantizeMode, resolveQuantizeOptions,
  type QuantizeMode, type QuantizeOptions, type QuantizeReport, type QuantizedWeight, type SkippedWeight, type QuantizedKernel,
} from './options.js';
export { quantizeSymmetric, roundHalfEven, INT8_SYMMETRIC, type IntGrid, type SymmetricQuantized } from './symmetric.js';
export { MATMUL_INTEGER_WEIGHT_GRID } from './integer-matmul.js';
export { isWeightOnlyQdq } from './qdq-weight.js';
export { evaluateQuantization, DEFAULT_EVAL_CHUNK, type EvaluateOptions, type QuantizationEvaluation } from './evaluate.js';

/** Metadata key the quantizer sets to the mode it used. */
export const QUANTIZATION_METADATA_KEY = 'cleave.quantization';

/** Opset that first has DequantizeLinear (per tensor). */
const OPSET_DEQUANTIZE = 10;
/** Opset that first has DynamicQuantizeLinear. */
const OPSET_DYNAMIC_QUANTIZE = 11;
/** Opset that first has per-axis DequantizeLinear (the `axis` attribute). */
const OPSET_PER_AXIS = 13;

/**
 * Rejects models whose opset lacks the ops this run would write. Raising the opset is not ours
 * to do: other ops (Squeeze, Reduce*, Split) changed meaning between opsets.
 */
function checkOpset(m: ModelProto, what: string, need: number, hint: string): void {
  const opset = defaultOpset(m);
  if (opset < need) {
    throw new CleaveError('CLEAVE_E_QUANTIZE', `model uses ONNX opset ${opset}; ${what} needs opset >= ${need}; ${hint}`, { opset, need });
  }
}

/** True when the site becomes integer compute (MatMulInteger) rather than DequantizeLinear. */
function usesIntegerMatMul(mode: string, site: WeightSite): boolean {
  // Batched (rank > 2) weights stay on DequantizeLinear: MatMulInteger's per-column zero
  // point is specified for 2-D B only.
  return mode === 'dynamic-int8' && (site.node.opType === 'Gemm' || (site.node.opType === 'MatMul' && site.weight.dims.length === 2));
}

/**
 * Quantizes a model's weights to int8. Does not modify `model`. Throws CLEAVE_E_QUANTIZE when
 * no weight qualifies (the message lists why each candidate was skipped) or the opset is too
 * old, CLEAVE_E_BAD_ARGUMENT for bad options, CLEAVE_E_ONNX_INVALID for a broken graph.
 */
export function quantizeModel(model: ModelProto, opts: QuantizeOptions): { model: ModelProto; report: QuantizeReport } {
  const o = resolveQuantizeOptions(opts);
  const g = model.graph;
  const names = new Set(g.node.map(nodeLabel));
  const unknownExcludes = [...o.exclude].filter((n) => !names.has(n));
  if (unknownExcludes.length) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `exclude names ${unknownExcludes.map((n) => `"${n}"`).join(', ')}, which the model has no node called`, { exclude: unknownExcludes });
  }
  const reexport = 're-export the model at a newer opset';
  checkOpset(model, o.mode, o.mode === 'dynamic-int8' ? OPSET_DYNAMIC_QUANTIZE : OPSET_DEQUANTIZE, reexport);
  const index = indexGraph(g);
  const { sites, skipped } = findWeightSites(g, index, o);
  if (sites.length === 0) {
    const why = skipped.length
      ? `; ${skipped.length} candidate${skipped.length === 1 ? '' : 's'} skipped: ${skipped.slice(0, 5).map((s) => `${s.node}: ${s.reason}`).join('; ')}${skipped.length > 5 ? '; ...' : ''}`
      : ': it has no MatMul, Gemm, Conv or Gather reading an fp32 initializer';
    throw new CleaveError('CLEAVE_E_QUANTIZE', `model "${g.name}" has no quantizable weights${why}`, { skipped: skipped.length });
  }

  if (o.perChannel && sites.some((s) => !usesIntegerMatMul(o.mode, s))) {
    checkOpset(model, 'per-channel DequantizeLinear', OPSET_PER_AXIS, `pass perChannel: false (one scale per tensor) or ${reexport}`);
  }

  const fresh = nameAllocator(g);
  const activations = new Map<string, QuantizedActivation>();
  const siteByNode = new Map<number, WeightSite>(sites.map((s) => [s.nodeIndex, s]));
  /** New initializers keyed by the fp32 weight they replace, so they take its place in the file. */
  const replacing = new Map<string, TensorProto[]>();
  const report: QuantizeReport = { mode: o.mode, quantized: [], skipped };
  const nodes: NodeProto[] = [];
  const added = new Set<string>();

  // Topological order guarantees every inserted node follows the producers of its inputs.
  for (const i of index.order) {
    const node = g.node[i]!;
    const site = siteByNode.get(i);
    if (!site) {
      nodes.push(node);
      continue;
    }
    const integer = usesIntegerMatMul(o.mode, site);
    let newNodes: NodeProto[];
    if (integer) {
      const r = integerMatMul(site, o.perChannel, fresh, activations);
      replacing.set(site.weight.name, r.initializers);
      newNodes = r.nodes;
    } else {
      // Conv and Gather in dynamic-int8 land here too. ConvInteger loads in both onnxruntime
      // builds but takes only a per-tensor weight zero point ("Non per-tensor quantization is
      // not supported now"), has no fused rescale, and measured on a 16-32-64 channel 3x3 conv
      // stack it was about 2x SLOWER than fp32 Conv in onnxruntime-node (2.7 vs 1.4 ms at
      // batch 1, 21 vs 10 ms at batch 8), faster only in the wasm build. A Gather moves bytes;
      // it has no arithmetic to make integer.
      const r = dequantizedWeight(site, o.perChannel, fresh);
      replacing.set(site.weight.name, r.initializers);
      const input = [...node.input];
      input[site.inputIndex] = r.output;
      newNodes = [...r.nodes, { ...node, input }];
    }
    for (const n of newNodes) for (const out of n.output) if (!node.output.includes(out)) added.add(out);
    nodes.push(...newNodes);
    report.quantized.push({ node: nodeLabel(node), op: node.opType, weight: site.weight.name, elements: site.values.length, kernel: integer ? 'MatMulInteger' : 'DequantizeLinear' });
  }

  const initializer = g.initializer.flatMap((t) => replacing.get(t.name) ?? [t]);
  const removed = new Set(replacing.keys());
  const metadataProps = [
    ...model.metadataProps.filter((e) => e.key !== QUANTIZATION_METADATA_KEY),
    { key: QUANTIZATION_METADATA_KEY, value: o.mode },
  ];
  const out: ModelProto = { ...model, graph: { ...g, node: nodes, initializer }, metadataProps };
  out.graph.valueInfo = rebuildValueInfo(out, added, removed);
  return { model: out, report };
}
