/**
 * Structural view of a graph: who produces and who consumes each value, a topological order,
 * and the checks every tool relies on (no dangling inputs, one producer per value, no cycles).
 */
import { CleaveError } from '../errors.js';
import type { GraphProto, NodeProto } from './types.js';

export interface GraphIndex {
  /** Node index that produces each value; graph inputs and initializers are absent. */
  readonly producer: ReadonlyMap<string, number>;
  /** Node indices that consume each value. */
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  /** Node indices in a topological order (stable: ties keep file order). */
  readonly order: readonly number[];
  /** Names of initializers. */
  readonly initializers: ReadonlySet<string>;
  /** Names of graph inputs that are not initializers (what a caller feeds). */
  readonly feeds: readonly string[];
}

function nodeLabel(n: NodeProto, i: number): string {
  return `${n.opType} node "${n.name || n.output[0] || `#${i}`}"`;
}

/**
 * Indexes and validates a graph. `outer` names values visible from an enclosing graph (for
 * If/Loop bodies). Throws CLEAVE_E_ONNX_INVALID naming the offending node.
 */
export function indexGraph(g: GraphProto, outer: ReadonlySet<string> = new Set()): GraphIndex {
  const initializers = new Set(g.initializer.map((t) => t.name));
  const available = new Set<string>([...outer, ...initializers, ...g.input.map((v) => v.name)]);
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  g.node.forEach((n, i) => {
    for (const o of n.output) {
      if (o === '') continue;
      if (producer.has(o)) {
        throw new CleaveError('CLEAVE_E_ONNX_INVALID', `value "${o}" is produced twice: by ${nodeLabel(g.node[producer.get(o)!]!, producer.get(o)!)} and ${nodeLabel(n, i)}`, { value: o });
      }
      if (initializers.has(o) || g.input.some((v) => v.name === o)) {
        throw new CleaveError('CLEAVE_E_ONNX_INVALID', `${nodeLabel(n, i)} writes "${o}", which is a graph input or initializer`, { value: o });
      }
      producer.set(o, i);
    }
  });
  g.node.forEach((n, i) => {
    for (const name of n.input) {
      if (name === '') continue;
      if (!producer.has(name) && !available.has(name)) {
        throw new CleaveError('CLEAVE_E_ONNX_INVALID', `${nodeLabel(n, i)} reads "${name}", which no node, input or initializer provides`, { value: name, node: n.name ?? '' });
      }
      let list = consumers.get(name);
      if (!list) consumers.set(name, (list = []));
      list.push(i);
    }
  });
  for (const o of g.output) {
    if (!producer.has(o.name) && !available.has(o.name)) {
      throw new CleaveError('CLEAVE_E_ONNX_INVALID', `graph output "${o.name}" is produced by nothing`, { value: o.name });
    }
  }
  const order = topoOrder(g, producer);
  return {
    producer,
    consumers,
    order,
    initializers,
    feeds: g.input.map((v) => v.name).filter((n) => !initializers.has(n)),
  };
}

/** Kahn's algorithm over node indices; ties resolved by file order so results are stable. */
function topoOrder(g: GraphProto, producer: ReadonlyMap<string, number>): number[] {
  const n = g.node.length;
  const indeg = new Array<number>(n).fill(0);
  const succ: number[][] = Array.from({ length: n }, () => []);
  g.node.forEach((node, i) => {
    const deps = new Set<number>();
    for (const name of node.input) {
      const p = producer.get(name);
      if (p !== undefined) deps.add(p);
    }
    for (const p of deps) {
      succ[p]!.push(i);
      indeg[i]!++;
    }
  });
  // A binary heap would be O(n log n); graphs here are small enough that a sorted ready list is fine.
  const ready: number[] = [];
  indeg.forEach((d, i) => { if (d === 0) ready.push(i); });
  const order: number[] = [];
  while (ready.length) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    order.push(i);
    for (const s of succ[i]!) if (--indeg[s]! === 0) ready.push(s);
  }
  if (order.length !== n) {
    const stuck = g.node.findIndex((_, i) => indeg[i]! > 0);
    throw new CleaveError('CLEAVE_E_ONNX_INVALID', `graph has a cycle through ${nodeLabel(g.node[stuck]!, stuck)}`, { node: g.node[stuck]!.name ?? '' });
  }
  return order;
}
