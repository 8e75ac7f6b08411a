/**
 * Which nodes go to the head and which to the tail for a given cut, and why a cut fails.
 *
 * The rule, in order:
 *  1. The head is every node needed to compute the cut tensors (their ancestors).
 *  2. A node outside the head that reads a head value other than a cut tensor would make that
 *     value leak across the cut. When everything that node reads is already available in the
 *     head and it reads no cut tensor (an auxiliary output branching off early, say), it joins
 *     the head and its graph outputs are computed there; otherwise the cut does not separate the graph (CLEAVE_E_SPLIT
 *     naming the node and the value: typically a skip connection that spans the cut).
 *  3. Every other node that feeds a graph output is the tail. Nodes that feed no output are dropped.
 *  4. Recomputable side computations (graph-facts.ts) are placed on each side that reads them,
 *     both if both do; the graph inputs they start from become inputs of that side.
 * Runs in time linear in the graph (nodes plus edges).
 */
import { CleaveError } from '../../errors.js';
import { nodeLabel, nodeName, type SplitFacts } from './graph-facts.js';

/** The node assignment of one cut. Node lists hold indices into `graph.node`. */
export interface SplitPartition {
  /** Cut tensors, without duplicates, in the order given. */
  readonly cut: readonly string[];
  /** Head nodes in topological order. */
  readonly head: readonly number[];
  /** Tail nodes in topological order (recomputable nodes both sides read are in both lists). */
  readonly tail: readonly number[];
  /** Graph inputs the head reads, in the model's input order. */
  readonly headFeeds: readonly string[];
  /** Graph inputs the tail reads too (pass-through inputs), in the model's input order. */
  readonly tailFeeds: readonly string[];
  /** Graph outputs the head computes itself (pass-through outputs), in the model's output order. */
  readonly headOutputs: readonly string[];
  /** Graph outputs the tail computes, in the model's output order. */
  readonly tailOutputs: readonly string[];
  readonly headInitializers: readonly string[];
  readonly tailInitializers: readonly string[];
}

function quoteList(names: readonly string[]): string {
  return names.map((s) => `"${s}"`).join(', ');
}

/**
 * Checks that each cut tensor is an activation some graph output depends on. Names must exist
 * (splitModel reports unknown names with suggestions before calling this).
 */
export function checkCutTensors(f: SplitFacts, cut: readonly string[]): void {
  if (cut.length === 0) throw new CleaveError('CLEAVE_E_SPLIT', 'no cut tensors given: name at least one tensor (cleave split --list shows the valid ones)');
  for (const name of cut) {
    if (f.initializers.has(name)) {
      throw new CleaveError('CLEAVE_E_SPLIT', `cannot cut at "${name}": it is an initializer (a weight), not an activation; cut at a tensor a node computes`, { tensor: name });
    }
    if (f.feeds.has(name)) {
      throw new CleaveError('CLEAVE_E_SPLIT', `cannot cut at "${name}": it is a graph input, so the head would compute nothing; cut at a tensor a node computes`, { tensor: name });
    }
    if (f.outputs.has(name)) {
      throw new CleaveError('CLEAVE_E_SPLIT', `cannot cut at "${name}": it is a graph output; cut at a tensor before it so the tail has something to compute`, { tensor: name });
    }
    const p = f.index.producer.get(name);
    if (p === undefined) throw new CleaveError('CLEAVE_E_NOT_FOUND', `no tensor named "${name}" in graph "${f.graph.name}"`, { tensor: name });
    if (!f.live[p]) throw new CleaveError('CLEAVE_E_SPLIT', `cannot cut at "${name}": no graph output depends on it`, { tensor: name });
    if (!f.consumers.get(name)?.length) throw new CleaveError('CLEAVE_E_SPLIT', `cannot cut at "${name}": no node reads it`, { tensor: name });
  }
}

/** Assigns nodes to head and tail for the cut. Throws CLEAVE_E_SPLIT when the cut leaks. */
export function partitionGraph(f: SplitFacts, cutNames: readonly string[]): SplitPartition {
  const cut = [...new Set(cutNames)];
  checkCutTensors(f, cut);
  const cutSet = new Set(cut);
  const { graph: g, order, reads, live, recomputable: rec } = f;
  const producer = f.index.producer;
  const n = g.node.length;

  const inHead = new Uint8Array(n);
  const stack: number[] = [];
  const addHead = (i: number): void => {
    if (!inHead[i]) {
      inHead[i] = 1;
      stack.push(i);
    }
  };
  const drainAncestors = (): void => {
    while (stack.length) {
      for (const v of reads[stack.pop()!]!) {
        const p = producer.get(v);
        if (p !== undefined) addHead(p);
      }
    }
  };
  for (const c of cut) addHead(producer.get(c)!);
  drainAncestors();

  // Rule 2, in topological order so that every value a node reads has its side decided already.
  for (const i of order) {
    if (!live[i] || rec[i] || inHead[i]) continue;
    let leak: string | undefined;
    let movable = true;
    for (const v of reads[i]!) {
      const p = producer.get(v);
      if (p === undefined || rec[p]) continue;
      // A reader of a cut tensor is what the tail is for: never pull it into the head.
      if (!inHead[p] || cutSet.has(v)) movable = false;
      else leak ??= v;
    }
    if (leak === undefined) continue;
    if (!movable) {
      const lp = producer.get(leak)!;
      const what = f.outputs.has(leak) ? 'graph output ' : '';
      throw new CleaveError('CLEAVE_E_SPLIT',
        `cut at ${quoteList(cut)} does not separate the graph: tail node "${nodeName(g, i)}" (${g.node[i]!.opType}) also needs ${what}"${leak}" from the head `
        + `(computed by ${nodeLabel(g, lp)}); a skip connection spans the cut: cut outside it or add "${leak}" to the cut`,
        { cut, node: g.node[i]!.name ?? '', value: leak });
    }
    addHead(i);
    drainAncestors();
  }

  // Rule 4 for the tail: the recomputable nodes behind what the tail reads (stopping at cut tensors).
  const inTail = new Uint8Array(n);
  const need = (value: string): void => {
    const pending = [value];
    while (pending.length) {
      const v = pending.pop()!;
      if (cutSet.has(v)) continue;
      const p = producer.get(v);
      if (p === undefined || !rec[p] || inTail[p]) continue;
      const clash = g.node[p]!.output.find((o) => cutSet.has(o));
      if (clash !== undefined) {
        throw new CleaveError('CLEAVE_E_SPLIT', `cannot recompute "${v}" in the tail: its producer ${nodeLabel(g, p)} also writes cut tensor "${clash}"; cut elsewhere`, { cut, value: v });
      }
      inTail[p] = 1;
      pending.push(...reads[p]!);
    }
  };
  for (const i of order) {
    if (!live[i] || rec[i] || inHead[i]) continue;
    inTail[i] = 1;
    for (const v of reads[i]!) need(v);
  }
  const headOutputs: string[] = [];
  const tailOutputs: string[] = [];
  for (const o of g.output) {
    const p = producer.get(o.name);
    if (p !== undefined && !rec[p] && inHead[p]) headOutputs.push(o.name);
    else {
      tailOutputs.push(o.name);
      need(o.name);
    }
  }
  for (const c of cut) {
    if (!f.consumers.get(c)!.some((i) => inTail[i])) {
      const readers = f.consumers.get(c)!.map((i) => nodeLabel(g, i));
      throw new CleaveError('CLEAVE_E_SPLIT', `cut tensor "${c}" is only read inside the head (by ${readers.join(', ')}); drop it from the cut`, { cut, value: c });
    }
  }

  const head = order.filter((i) => inHead[i]);
  const tail = order.filter((i) => inTail[i]);
  const readBy = (nodes: readonly number[], extra: readonly string[]): Set<string> => {
    const s = new Set(extra);
    for (const i of nodes) for (const v of reads[i]!) s.add(v);
    return s;
  };
  const headReads = readBy(head, []);
  const tailReads = readBy(tail, tailOutputs);
  const feedsOf = (r: Set<string>): string[] => g.input.map((v) => v.name).filter((name) => f.feeds.has(name) && r.has(name));
  const initsOf = (r: Set<string>): string[] => g.initializer.map((t) => t.name).filter((name) => r.has(name));
  return {
    cut,
    head,
    tail,
    headFeeds: feedsOf(headReads),
    tailFeeds: feedsOf(tailReads),
    headOutputs,
    tailOutputs,
    headInitializers: initsOf(headReads),
    tailInitializers: initsOf(tailReads),
  };
}
