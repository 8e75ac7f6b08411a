/**
 * Weight-only QDQ: an fp32 weight becomes an int8 initializer with its scales and zero points,
 * and a DequantizeLinear turns it back into fp32 right before its consumer. The arithmetic stays
 * fp32; the gain is a file (and download) about 4x smaller. onnxruntime folds the
 * DequantizeLinear into a constant at load when the session sets `disable_quant_qdq`
 * (LoadOptions.weightOnlyQdq); without it the dequantization re-runs on every call.
 */
import { makeAttribute } from '../attributes.js';
import { makeTensor } from '../tensor-data.js';
import { DataType, type ModelProto, type NodeProto, type TensorProto } from '../types.js';
import type { FreshName } from './names.js';
import { INT8_SYMMETRIC, quantizeSymmetric } from './symmetric.js';
import type { WeightSite } from './weight-sites.js';

/** Nodes and initializers one rewrite adds, and the value that replaces the fp32 weight. */
export interface WeightRewrite {
  /** Nodes to place before the consumer. */
  readonly nodes: NodeProto[];
  readonly initializers: TensorProto[];
  /** fp32 value the consumer now reads instead of the weight. */
  readonly output: string;
}

/**
 * Int8 initializers for a weight: values (same dims), scales and zero points, one per channel
 * along `axis` (1-D) or one per tensor (scalars) when axis is undefined.
 */
export function int8Initializers(name: string, values: Float32Array, dims: readonly number[], axis: number | undefined, fresh: FreshName): { q: TensorProto; scale: TensorProto; zeroPoint: TensorProto } {
  const { values: q, scales, zeroPoint } = quantizeSymmetric(values, dims, axis, INT8_SYMMETRIC);
  const pdims = axis === undefined ? [] : [scales.length];
  return {
    q: makeTensor(fresh(`${name}_quantized`), 'int8', dims, q),
    scale: makeTensor(fresh(`${name}_scale`), 'float32', pdims, scales),
    zeroPoint: makeTensor(fresh(`${name}_zero_point`), 'int8', pdims, new Int8Array(scales.length).fill(zeroPoint)),
  };
}

/** Replaces the site's weight by int8 + DequantizeLinear (per channel unless `perChannel` is false). */
export function dequantizedWeight(site: WeightSite, perChannel: boolean, fresh: FreshName): WeightRewrite {
  const w = site.weight;
  const axis = perChannel ? site.axis : undefined;
  const { q, scale, zeroPoint } = int8Initializers(w.name, site.values, w.dims, axis, fresh);
  const output = fresh(`${w.name}_dequantized`);
  const node: NodeProto = {
    name: fresh(`${w.name}_DequantizeLinear`),
    opType: 'DequantizeLinear',
    input: [q.name, scale.name, zeroPoint.name],
    output: [output],
    // The axis attribute is ignored for per-tensor scalars; leave it out there.
    attribute: axis === undefined ? [] : [makeAttribute('axis', axis)],
  };
  return { nodes: [node], initializers: [q, scale, zeroPoint], output };
}

/**
 * True when the model keeps int8 (or uint8) weights behind DequantizeLinear, i.e. it should be
 * loaded with `LoadOptions.weightOnlyQdq` so the dequantization is folded once at load.
 */
export function isWeightOnlyQdq(model: ModelProto): boolean {
  const g = model.graph;
  const small = new Set(g.initializer.filter((t) => t.dataType === DataType.INT8 || t.dataType === DataType.UINT8).map((t) => t.name));
  return g.node.some((n) => n.opType === 'DequantizeLinear' && (!n.domain || n.domain === 'ai.onnx') && small.has(n.input[0] ?? ''));
}
