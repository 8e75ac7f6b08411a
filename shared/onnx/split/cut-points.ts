/**
 * Where a model can be cut: the list the router chooses from per request (Neurosurgeon-style,
 * trading edge compute against the bytes sent to the cloud).
 *
 * One sweep over the topological order keeps the set of live activations: values a node before
 * the sweep position computed and a node after it still reads. Where that set holds between 1 and
 * `maxTensors` values, none of them a graph output, the position is a candidate cut. Residual
 * spans keep their skip tensor live, so positions inside them never qualify. Recomputable side
 * values (attention masks, shape arithmetic: graph-facts.ts) are not activations and never count.
 *
 * Each distinct set of crossing tensors is listed once, at its first position, and always with
 * what splitModel would do for it: when every node before the position leads to a crossing tensor
 * (chains, residual nets, encoders) the head is exactly that prefix and the sizes come from prefix
 * sums; otherwise (a graph output branching off early) the candidate is checked by the same linear
 * partition splitModel uses, and dropped if splitModel would refuse it. So the sweep is O(n + e)
 * for the common shapes and never lists a cut that splitModel rejects.
 */
import { CleaveError, isCleaveError } from '../../errors.js';
import { bytesPerSample, type ValueType } from '../shape/value-type.js';
import type { ModelProto } from '../types.js';
import { constantBytes, nodeName, splitFacts, weightBytes, type SplitFacts } from './graph-facts.js';
import { partitionGraph, type SplitPartition } from './partition.js';

/** A tensor sent from the head to the tail. */
export interface CrossingTensor {
  name: string;
  /** Inferred type; undefined when no shape rule or value_info says. */
  type: ValueType | undefined;
  /** Bytes of one sample (every dim but the first); undefined when a size is not static. */
  bytesPerSample: number | undefined;
}

/** One place to cut a model into an edge head and a cloud tail. */
export interface CutPoint {
  /**
   * 1-based position in topological order: the head holds nodes [0, position), except that
   * recomputable side computations go where they are read (see headNodes) and nodes that feed no
   * graph output are dropped.
   */
  position: number;
  /** Tensors that cross the cut (the head's outputs / the tail's inputs besides graph inputs). Usually one. */
  tensors: CrossingTensor[];
  /** Sum over `tensors`, bytes; undefined when a size is not static. */
  bytesPerSample: number | undefined;
  /** Node that produced the (last) crossing tensor, for display. */
  afterNode: string;
  /** Nodes in the head model splitModel builds (recomputable nodes both sides need count on both). */
  headNodes: number;
  /** Bytes of the weights (initializers and Constant nodes) the head model holds. */
  headParamBytes: number;
  tailNodes: number;
  tailParamBytes: number;
  /**
   * Graph inputs the tail reads as well (e.g. `input_ids`, from which it derives its own attention
   * mask): the edge sends them along with `tensors`.
   */
  passthroughInputs: CrossingTensor[];
  /** Graph outputs the head computes itself: the edge keeps them and merges them with the tail's. */
  passthroughOutputs: string[];
  /** What the edge sends per sample: `bytesPerSample` plus the pass-through inputs; undefined when not static. */
  transferBytesPerSample: number | undefined;
}

export interface ListCutPointsOptions {
  /** Most tensors allowed to cross one cut. Default 1 (single-tensor cuts, what a router wants). */
  maxTensors?: number;
}

/**
 * Valid cut points in topological order: positions where between one and `maxTensors` activation
 * tensors (not graph inputs, initializers or recomputable side values) cross the boundary and no
 * graph output does. Every entry can be passed to splitModel as `cp.tensors.map((t) => t.name)`;
 * so positions where a crossing tensor has no known element type (the output of an op from a
 * custom domain, with no value_info) are left out, since the tail could not declare it.
 */
export function listCutPoints(model: ModelProto, opts: ListCutPointsOptions = {}): CutPoint[] {
  return cutPointsOf(splitFacts(model), opts);
}

/** listCutPoints over an analysed graph (splitModel reuses the analysis for its suggestions). */
export function cutPointsOf(f: SplitFacts, opts: ListCutPointsOptions = {}): CutPoint[] {
  const maxTensors = opts.maxTensors ?? 1;
  if (!Number.isInteger(maxTensors) || maxTensors < 1) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `maxTensors is ${maxTensors}, expected an integer >= 1`, { maxTensors });
  }
  const { graph: g, order, pos, reads, live, recomputable: rec } = f;
  const producer = f.index.producer;
  const N = order.length;
  const n = g.node.length;

  // Use ranges. A recomputable node, an initializer or a graph input is on the head side of a
  // cut at P when a non-recomputable node before P needs it (directly or through recomputable
  // nodes), on the tail side when one at P or later does: first < P and last >= P. A graph
  // output needs its producer on the tail side (last = N).
  const first = new Int32Array(n).fill(N);
  const last = new Int32Array(n).fill(-1);
  const rangeOf = (v: string): [number, number] => {
    let lo = N;
    let hi = f.outputs.has(v) ? N : -1;
    for (const c of f.consumers.get(v) ?? []) {
      lo = Math.min(lo, rec[c] ? first[c]! : pos[c]!);
      hi = Math.max(hi, rec[c] ? last[c]! : pos[c]!);
    }
    return [lo, hi];
  };
  for (let p = N - 1; p >= 0; p--) {
    const i = order[p]!;
    if (!live[i] || !rec[i]) continue;
    let lo = N;
    let hi = -1;
    for (const o of g.node[i]!.output) {
      if (o === '') continue;
      const [a, b] = rangeOf(o);
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    first[i] = lo;
    last[i] = hi;
  }

  // Prefix sums over those ranges: nodes and weight bytes on each side of every position.
  const headNodesAdd = new Float64Array(N + 1);
  const tailNodesAt = new Float64Array(N + 1);
  const headBytesAdd = new Float64Array(N + 1);
  const tailBytesAt = new Float64Array(N + 1);
  for (const i of order) {
    if (!live[i]) continue;
    const lo = rec[i] ? first[i]! : pos[i]!;
    const hi = rec[i] ? last[i]! : pos[i]!;
    const bytes = constantBytes(g.node[i]!);
    if (lo < N) {
      headNodesAdd[lo]! += 1;
      headBytesAdd[lo]! += bytes;
    }
    if (hi >= 0) {
      tailNodesAt[hi]! += 1;
      tailBytesAt[hi]! += bytes;
    }
  }
  for (const t of g.initializer) {
    const [lo, hi] = rangeOf(t.name);
    const bytes = weightBytes(t);
    if (lo < N) headBytesAdd[lo]! += bytes;
    if (hi >= 0) tailBytesAt[hi]! += bytes;
  }
  const headNodesBefore = prefix(headNodesAdd);
  const headBytesBefore = prefix(headBytesAdd);
  const tailNodesFrom = suffix(tailNodesAt);
  const tailBytesFrom = suffix(tailBytesAt);
  const feedRanges = g.input.filter((v) => f.feeds.has(v.name)).map((v) => ({ name: v.name, last: rangeOf(v.name)[1] }));
  const outputRank = new Map(g.output.map((o, k) => [o.name, k]));

  // Position of each activation's last reader, and the activations dying at each position.
  const lastUse = new Map<string, number>();
  const dieAt: string[][] = Array.from({ length: N }, () => []);
  // reach[i]: the last position of a node that depends on node i (i's own position at least).
  const reach = new Int32Array(n).fill(-1);
  // The head of a cut at P is exactly the prefix when (1) every node before P that no node at P
  // or later depends on (reach < P: it only leads to graph outputs) reads some activation, so the
  // partition pulls it into the head, and (2) none of those reads a crossing tensor. (1) holds
  // while P <= the smallest reach of a node that reads no activation ("root"); (2) is checked
  // per candidate. Otherwise the candidate goes through partitionGraph (the slow path).
  let rootReach = N;
  for (let p = N - 1; p >= 0; p--) {
    const i = order[p]!;
    if (!live[i] || rec[i]) continue;
    let r = p;
    for (const v of g.node[i]!.output) {
      const readers = v === '' ? undefined : f.consumers.get(v);
      if (!readers?.length) continue;
      const lu = pos[readers[readers.length - 1]!]!;
      lastUse.set(v, lu);
      dieAt[lu]!.push(v);
      for (const c of readers) r = Math.max(r, reach[c]!);
    }
    reach[i] = r;
    const root = reads[i]!.every((v) => {
      const m = producer.get(v);
      return m === undefined || rec[m] === 1;
    });
    if (root) rootReach = Math.min(rootReach, r);
  }

  const crossing = new Set<string>();
  let crossingOutputs = 0;
  const producedOutputs: string[] = [];
  const seen = new Set<string>();
  const out: CutPoint[] = [];
  for (let p = 0; p < N; p++) {
    const i = order[p]!;
    if (live[i] && !rec[i]) {
      for (const v of g.node[i]!.output) {
        if (v === '') continue;
        if (f.outputs.has(v)) producedOutputs.push(v);
        if ((lastUse.get(v) ?? -1) > p) {
          crossing.add(v);
          if (f.outputs.has(v)) crossingOutputs++;
        }
      }
      for (const v of dieAt[p]!) {
        if (crossing.delete(v) && f.outputs.has(v)) crossingOutputs--;
      }
    }
    if (crossing.size === 0 || crossing.size > maxTensors || crossingOutputs > 0) continue;
    const names = [...crossing];
    if (names.length > 1) names.sort((a, b) => pos[producer.get(a)!]! - pos[producer.get(b)!]! || outIndex(f, a) - outIndex(f, b));
    const key = names.join('\u0000');
    if (seen.has(key)) continue;
    seen.add(key);
    const tensors = names.map((v) => crossingTensor(f, v));
    // A tail input must be declared with a type; an untyped tensor (a custom op's output) cannot cross.
    if (tensors.some((t) => t.type === undefined)) continue;
    const position = p + 1;
    const fast = position <= rootReach && names.every((v) => f.consumers.get(v)!.every((c) => pos[c]! >= position || reach[c]! >= position));
    let sides: Omit<CutPoint, 'position' | 'tensors' | 'bytesPerSample' | 'afterNode' | 'transferBytesPerSample'>;
    if (fast) {
      sides = {
        headNodes: headNodesBefore[position]!,
        headParamBytes: headBytesBefore[position]!,
        tailNodes: tailNodesFrom[position]!,
        tailParamBytes: tailBytesFrom[position]!,
        passthroughInputs: feedRanges.filter((r) => r.last >= position).map((r) => crossingTensor(f, r.name)),
        passthroughOutputs: [...producedOutputs].sort((a, b) => outputRank.get(a)! - outputRank.get(b)!),
      };
    } else {
      let part: SplitPartition;
      try {
        part = partitionGraph(f, names);
      } catch (e) {
        if (isCleaveError(e, 'CLEAVE_E_SPLIT')) continue;
        throw e;
      }
      sides = sidesOf(f, part);
    }
    const bytes = sumBytes(tensors);
    out.push({
      position,
      tensors,
      bytesPerSample: bytes,
      afterNode: nodeName(g, producer.get(names[names.length - 1]!)!),
      ...sides,
      transferBytesPerSample: bytes === undefined ? undefined : sumBytes(sides.passthroughInputs, bytes),
    });
  }
  return out;
}

/** Node counts, weights and pass-throughs of a partition (the slow path, and splitModel's report). */
export function sidesOf(f: SplitFacts, part: SplitPartition): Pick<CutPoint, 'headNodes' | 'headParamBytes' | 'tailNodes' | 'tailParamBytes' | 'passthroughInputs' | 'passthroughOutputs'> {
  const params = (nodes: readonly number[], inits: readonly string[]): number =>
    nodes.reduce((s, i) => s + constantBytes(f.graph.node[i]!), 0) + inits.reduce((s, name) => s + weightBytes(f.initializers.get(name)!), 0);
  return {
    headNodes: part.head.length,
    headParamBytes: params(part.head, part.headInitializers),
    tailNodes: part.tail.length,
    tailParamBytes: params(part.tail, part.tailInitializers),
    passthroughInputs: part.tailFeeds.map((name) => crossingTensor(f, name)),
    passthroughOutputs: [...part.headOutputs],
  };
}

/** Name, type and per-sample size of a value. */
export function crossingTensor(f: SplitFacts, name: string): CrossingTensor {
  const type = f.types.get(name);
  return { name, type, bytesPerSample: type ? bytesPerSample(type) : undefined };
}

function sumBytes(ts: readonly CrossingTensor[], start = 0): number | undefined {
  let s = start;
  for (const t of ts) {
    if (t.bytesPerSample === undefined) return undefined;
    s += t.bytesPerSample;
  }
  return s;
}

function outIndex(f: SplitFacts, v: string): number {
  return f.graph.node[f.index.producer.get(v)!]!.output.indexOf(v);
}

/** out[p] = sum of a[0..p) */
function prefix(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length + 1);
  for (let k = 0; k < a.length; k++) out[k + 1] = out[k]! + a[k]!;
  return out;
}

/** out[p] = sum of a[p..end) */
function suffix(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length + 1);
  for (let k = a.length - 1; k >= 0; k--) out[k] = out[k + 1]! + a[k]!;
  return out;
}
