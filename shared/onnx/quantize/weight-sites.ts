/**
 * Finding the weights worth quantizing: an fp32 initializer that one MatMul, Gemm, Conv or
 * Gather reads as its weight, and nothing else reads. Every candidate node that is passed over
 * gets a reason, so a report can say why a layer stayed fp32.
 */
import { attrInt } from '../attributes.js';
import type { GraphIndex } from '../graph.js';
import { elementCount, tensorValues } from '../tensor-data.js';
import { DataType, type GraphProto, type NodeProto, type TensorProto } from '../types.js';
import { maybeDTypeFromCode } from '../dtype.js';
import type { ResolvedQuantizeOptions, SkippedWeight } from './options.js';
import { allFinite } from './symmetric.js';

/** A weight that can be quantized, and how its consumer reads it. */
export interface WeightSite {
  /** Index of the consuming node in `graph.node`. */
  readonly nodeIndex: number;
  readonly node: NodeProto;
  /** Which input of the node is the weight. */
  readonly inputIndex: number;
  readonly weight: TensorProto;
  /** The weight's values, read once here. */
  readonly values: Float32Array;
  /**
   * Output-channel axis of the weight as stored: MatMul B [K,N] -> 1 (last), Gemm B -> 1, or 0
   * with transB, Conv W [M,C,kh,kw] -> 0, Gather data [rows, dim] -> 0 (one scale per row).
   */
  readonly axis: number;
}

/** Label used in reports: the node name, else its first output. */
export function nodeLabel(node: NodeProto): string {
  return node.name || node.output[0] || node.opType;
}

/** Which input of a node is a weight, and its channel axis, for the ops the quantizer knows. */
function weightInputOf(node: NodeProto, init: TensorProto | undefined): { input: number; axis: number } | string | undefined {
  switch (node.opType) {
    case 'MatMul':
      // Rank-1 B gives a vector output; there is no output channel to scale by.
      if (init && init.dims.length < 2) return `weight "${init.name}" is 1-D; MatMul weights need rank >= 2`;
      return { input: 1, axis: Math.max(0, (init?.dims.length ?? 2) - 1) };
    case 'Gemm':
      return { input: 1, axis: attrInt(node, 'transB', 0) ? 0 : 1 };
    case 'Conv':
      return { input: 1, axis: 0 };
    case 'Gather':
      return { input: 0, axis: 0 };
    default:
      return undefined;
  }
}

/** Names read from inside subgraphs (If/Loop/Scan bodies): those count as consumers too. */
export function subgraphReads(g: GraphProto): Set<string> {
  const names = new Set<string>();
  const walk = (graph: GraphProto): void => {
    for (const n of graph.node) {
      for (const a of n.attribute) {
        for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
          for (const inner of sub.node) for (const i of inner.input) if (i) names.add(i);
          walk(sub);
        }
      }
    }
  };
  walk(g);
  return names;
}

export interface SiteScan {
  readonly sites: WeightSite[];
  readonly skipped: SkippedWeight[];
}

/**
 * Scans the main graph. Only default-domain ops are candidates; ops of other domains are left
 * alone (they still count as readers of any weight they share).
 */
export function findWeightSites(g: GraphProto, index: GraphIndex, opts: ResolvedQuantizeOptions): SiteScan {
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const graphInputs = new Set(g.input.map((v) => v.name));
  const graphOutputs = new Set(g.output.map((v) => v.name));
  const nested = subgraphReads(g);
  const sites: WeightSite[] = [];
  const skipped: SkippedWeight[] = [];

  g.node.forEach((node, nodeIndex) => {
    if (node.domain && node.domain !== 'ai.onnx') return;
    const probe = weightInputOf(node, inits.get(node.input[node.opType === 'Gather' ? 0 : 1] ?? ''));
    if (probe === undefined) return;
    const skip = (reason: string): void => { skipped.push({ node: nodeLabel(node), op: node.opType, reason }); };
    if (typeof probe === 'string') return skip(probe);
    if (opts.exclude.has(nodeLabel(node))) return skip('excluded by options');
    const name = node.input[probe.input] ?? '';
    const weight = inits.get(name);
    if (!weight) return skip(`input "${name}" is computed at run time, not an initializer`);
    if (graphInputs.has(name)) return skip(`weight "${name}" is also a graph input, so a caller may override it`);
    if (weight.dataType !== DataType.FLOAT) {
      return skip(`weight "${name}" is ${maybeDTypeFromCode(weight.dataType) ?? `data type ${weight.dataType}`}, not float32`);
    }
    if (weight.dataLocation === 1 || weight.externalData?.length) return skip(`weight "${name}" keeps its data in an external file`);
    const readers = (index.consumers.get(name) ?? []).map((i) => nodeLabel(g.node[i]!));
    if (nested.has(name)) readers.push('a subgraph');
    if (graphOutputs.has(name)) readers.push('a graph output');
    if (readers.length > 1) return skip(`weight "${name}" is shared by ${readers.length} readers (${readers.join(', ')})`);
    const elements = elementCount(weight.dims);
    if (elements < opts.minElements) return skip(`weight "${name}" has ${elements} elements, fewer than minElements ${opts.minElements}`);
    const values = tensorValues(weight) as Float32Array;
    if (!allFinite(values)) return skip(`weight "${name}" holds NaN or infinite values, which have no int8 scale`);
    sites.push({ nodeIndex, node, inputIndex: probe.input, weight, values, axis: probe.axis });
  });
  return { sites, skipped };
}
