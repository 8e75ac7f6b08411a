/**
 * What the split planner needs to know about a graph, computed once per model: which values each
 * node reads (subgraph captures included), which nodes matter (feed a graph output), where each
 * node sits in the topological order, and which nodes are *recomputable* side computations.
 *
 * Recomputable nodes are the reason transformers can be cut at all. An encoder's attention mask
 * is computed from `input_ids` once and read by every layer, so with a strict reading every cut
 * inside the encoder would carry the mask as a second tensor. But the tail can derive the mask
 * itself from `input_ids` (which it then takes as a pass-through input), as can the head. So a
 * value computed only from integer/bool graph inputs and small constants (masks, position ids,
 * shape arithmetic) is placed on whichever side needs it, on both if both do, and never counts
 * as crossing. Float inputs are excluded on purpose: what is computed from an image or a feature
 * vector is an activation (a MaxPool on the raw image is a good cut, 4x smaller than the input),
 * and so are compute ops and lookups in large tables (a token embedding is the model's first
 * activation, not a side value). Constant nodes are weights written as nodes: they too go to each
 * side that reads them, but only small ones make their readers side computations.
 */
import { isCleaveError } from '../../errors.js';
import { dtypeSize, maybeDTypeFromCode } from '../dtype.js';
import { indexGraph, type GraphIndex } from '../graph.js';
import { inferTypes } from '../shape/infer.js';
import { valueTypeOf, type ValueType } from '../shape/value-type.js';
import { elementCount } from '../tensor-data.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../types.js';
import { fillMissingDTypes } from './dtype-fallback.js';

/** Initializers with at most this many elements count as small constants (shape targets, axes, scalars). */
export const SMALL_CONST_ELEMENTS = 64;

/** Ops that are never recomputed: real compute, or results that differ from run to run. */
const NEVER_RECOMPUTE = new Set([
  'Conv', 'ConvTranspose', 'ConvInteger', 'QLinearConv', 'DeformConv',
  'MatMul', 'MatMulInteger', 'QLinearMatMul', 'Gemm', 'Einsum', 'Attention',
  'LSTM', 'GRU', 'RNN', 'Scan', 'Loop', 'If',
  'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout',
]);

const FLOAT_DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);

export interface SplitFacts {
  readonly model: ModelProto;
  readonly graph: GraphProto;
  readonly index: GraphIndex;
  /** Node indices in topological order. */
  readonly order: readonly number[];
  /** Node index -> its position in `order`. */
  readonly pos: Int32Array;
  /** Node index -> distinct values it reads: its inputs plus outer values its subgraphs capture. */
  readonly reads: readonly (readonly string[])[];
  /** Node index -> 1 when some graph output depends on it. Other nodes are dropped by a split. */
  readonly live: Uint8Array;
  /** Node index -> 1 for a recomputable side computation (see the file comment). */
  readonly recomputable: Uint8Array;
  /** Value -> live nodes that read it (each once, in topological order). */
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  readonly initializers: ReadonlyMap<string, TensorProto>;
  /** Graph inputs a caller feeds (not initializers). */
  readonly feeds: ReadonlySet<string>;
  readonly outputs: ReadonlySet<string>;
  /** Inferred types, or the model's recorded ones where inference failed. */
  readonly types: ReadonlyMap<string, ValueType>;
}

/** Analyses a model for splitting. Throws CLEAVE_E_ONNX_INVALID for a malformed graph. */
export function splitFacts(model: ModelProto): SplitFacts {
  const g = model.graph;
  const index = indexGraph(g);
  const n = g.node.length;
  const order = index.order;
  const pos = new Int32Array(n);
  order.forEach((node, p) => { pos[node] = p; });
  const reads = g.node.map((node) => {
    const names = new Set(node.input.filter((s) => s !== ''));
    for (const name of capturedValues(node)) names.add(name);
    return [...names];
  });
  const initializers = new Map(g.initializer.map((t) => [t.name, t]));
  const feeds = new Set(index.feeds);
  const outputs = new Set(g.output.map((o) => o.name));

  const live = new Uint8Array(n);
  const stack: number[] = [];
  const mark = (value: string): void => {
    const p = index.producer.get(value);
    if (p !== undefined && !live[p]) {
      live[p] = 1;
      stack.push(p);
    }
  };
  for (const o of outputs) mark(o);
  while (stack.length) for (const v of reads[stack.pop()!]!) mark(v);

  const consumers = new Map<string, number[]>();
  for (const i of order) {
    if (!live[i]) continue;
    for (const v of reads[i]!) {
      let list = consumers.get(v);
      if (!list) consumers.set(v, (list = []));
      list.push(i);
    }
  }

  const types = typesOf(model, index);
  const recomputable = new Uint8Array(n);
  const inputDType = new Map(g.input.map((v) => [v.name, maybeDTypeFromCode(v.type?.tensorType?.elemType ?? 0)]));
  for (const i of order) {
    recomputable[i] = isRecomputable(g.node[i]!, reads[i]!, (v) => {
      if (feeds.has(v)) {
        const d = inputDType.get(v);
        return d !== undefined && !FLOAT_DTYPES.has(d);
      }
      const t = initializers.get(v);
      if (t) return elementCount(t.dims) <= SMALL_CONST_ELEMENTS;
      const p = index.producer.get(v);
      if (p === undefined || recomputable[p] !== 1) return false;
      // A large Constant is a weight written as a node: placed like one, but what reads it is compute.
      const c = g.node[p]!.opType === 'Constant' ? g.node[p]!.attribute.find((a) => a.name === 'value')?.t : undefined;
      return c === undefined || elementCount(c.dims) <= SMALL_CONST_ELEMENTS;
    }) ? 1 : 0;
  }
  return { model, graph: g, index, order, pos, reads, live, recomputable, consumers, initializers, feeds, outputs, types };
}

function isRecomputable(node: NodeProto, reads: readonly string[], cheapValue: (v: string) => boolean): boolean {
  const domain = node.domain ?? '';
  if (domain !== '' && domain !== 'ai.onnx') return false;
  // A Constant is an initializer written as a node: it goes wherever it is read, whatever its size.
  if (node.opType === 'Constant') return true;
  if (NEVER_RECOMPUTE.has(node.opType) || node.attribute.some((a) => a.g || a.graphs?.length)) return false;
  return reads.every(cheapValue);
}

/**
 * Types from shape inference, or the model's recorded ones when inference fails; element types
 * the rules cannot give are guessed (dtype-fallback.ts) so that any cut tensor can be declared.
 */
function typesOf(model: ModelProto, index: GraphIndex): Map<string, ValueType> {
  let types: Map<string, ValueType>;
  try {
    types = inferTypes(model, index);
  } catch (e) {
    if (!isCleaveError(e, 'CLEAVE_E_SHAPE') && !isCleaveError(e, 'CLEAVE_E_DTYPE')) throw e;
    types = new Map();
    for (const v of [...model.graph.input, ...model.graph.valueInfo, ...model.graph.output]) {
      const t = valueTypeOf(v);
      if (t) types.set(v.name, t);
    }
  }
  fillMissingDTypes(model.graph, index.order, types);
  return types;
}

/**
 * Outer-scope values that a node's subgraphs (If branches, Loop and Scan bodies) read without
 * defining them. They are inputs of the node as far as splitting is concerned: a Loop in the tail
 * whose body reads a head value needs that value to cross.
 */
export function capturedValues(node: NodeProto): string[] {
  const out = new Set<string>();
  for (const a of node.attribute) {
    for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
      for (const v of freeValues(sub)) out.add(v);
    }
  }
  return [...out];
}

function freeValues(g: GraphProto): Set<string> {
  const defined = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
  for (const node of g.node) for (const o of node.output) if (o !== '') defined.add(o);
  const free = new Set<string>();
  const use = (v: string): void => {
    if (v !== '' && !defined.has(v)) free.add(v);
  };
  for (const node of g.node) {
    for (const v of node.input) use(v);
    for (const v of capturedValues(node)) use(v);
  }
  for (const o of g.output) use(o.name);
  return free;
}

/** `Op node "name"` for messages. */
export function nodeLabel(g: GraphProto, i: number): string {
  const node = g.node[i]!;
  return `${node.opType} node "${node.name || node.output[0] || `#${i}`}"`;
}

/** A node's name for display: its name, else its first output, else its index. */
export function nodeName(g: GraphProto, i: number): string {
  const node = g.node[i]!;
  return node.name || node.output[0] || `#${i}`;
}

/** Payload bytes of a weight tensor, without throwing for element types Cleave cannot compute with. */
export function weightBytes(t: TensorProto): number {
  if (t.rawData) return t.rawData.length;
  const d = maybeDTypeFromCode(t.dataType);
  if (d === undefined) return 0;
  return elementCount(t.dims) * dtypeSize(d);
}

/** Parameter bytes a node holds itself (a Constant's value); initializers are counted separately. */
export function constantBytes(node: NodeProto): number {
  if (node.opType !== 'Constant') return 0;
  const t = node.attribute.find((a) => a.name === 'value')?.t;
  return t ? weightBytes(t) : 0;
}
