/**
 * Cutting a model into two standalone ONNX models: a head that runs at the edge and a tail that
 * runs in the cloud, joined by the cut tensors.
 *
 *   head: original graph inputs it reads  -> cut tensors + graph outputs it computes itself
 *   tail: cut tensors + original graph inputs it reads too -> the remaining graph outputs
 *
 * So a caller runs the head on the request's inputs, sends the cut tensors and the tail's
 * pass-through inputs, runs the tail, and merges the head's pass-through outputs (usually none)
 * into the tail's. Which nodes go where is decided in partition.ts.
 *
 * Both parts keep the model's IR version, opset imports, producer, doc string, unknown fields
 * (model-local functions among them) and metadata, plus `cleave.split.part` (head | tail) and
 * `cleave.split.cut` (the cut tensor names joined by commas). Cut tensors are declared with
 * their inferred types, so a symbolic batch dim (`N`) survives on both sides. Nodes and weight
 * tensors are shared with the input model, not copied.
 */
import { CleaveError } from '../../errors.js';
import { valueInfoOf, type ValueType } from '../shape/value-type.js';
import type { GraphProto, ModelProto, StringStringEntry, ValueInfo } from '../types.js';
import { cutPointsOf, sidesOf, type CutPoint } from './cut-points.js';
import { nodeLabel, splitFacts, type SplitFacts } from './graph-facts.js';
import { partitionGraph, type SplitPartition } from './partition.js';

/** Metadata keys a split writes on both parts. */
export const SPLIT_PART_KEY = 'cleave.split.part';
export const SPLIT_CUT_KEY = 'cleave.split.cut';

export interface SplitResult {
  head: ModelProto;
  tail: ModelProto;
  /** The cut tensors with their types: the head's first outputs and the tail's first inputs. */
  crossing: { name: string; type: ValueType | undefined }[];
  /** Original graph inputs the tail reads too; the caller sends them with the crossing tensors. */
  passthroughInputs: string[];
  /** Original graph outputs the head computes; the caller keeps them and merges them with the tail's outputs. */
  passthroughOutputs: string[];
  /** Node counts and weight bytes of each part, as listCutPoints reports them. */
  stats: Pick<CutPoint, 'headNodes' | 'headParamBytes' | 'tailNodes' | 'tailParamBytes'>;
}

/**
 * Cuts a model at the given tensors. Throws CLEAVE_E_NOT_FOUND for an unknown name (with the
 * closest names and a few valid cuts), CLEAVE_E_SPLIT for a cut at a graph input, initializer or
 * graph output, or one that does not separate the graph, and CLEAVE_E_ONNX_INVALID for a
 * malformed graph.
 */
export function splitModel(model: ModelProto, cut: readonly string[]): SplitResult {
  const f = splitFacts(model);
  for (const name of cut) {
    if (!f.index.producer.has(name) && !f.feeds.has(name) && !f.initializers.has(name)) throw unknownTensor(f, name);
  }
  const part = partitionGraph(f, cut);
  const crossing = part.cut.map((name) => {
    const type = f.types.get(name);
    if (!type) {
      const p = f.index.producer.get(name)!;
      throw new CleaveError('CLEAVE_E_SPLIT', `cannot declare cut tensor "${name}" as a tail input: its type is unknown (${nodeLabel(f.graph, p)} has no shape rule and the model records no value_info for it)`, { tensor: name });
    }
    return { name, type };
  });
  const { headNodes, headParamBytes, tailNodes, tailParamBytes } = sidesOf(f, part);
  return {
    head: buildPart(f, part, 'head', crossing),
    tail: buildPart(f, part, 'tail', crossing),
    crossing,
    passthroughInputs: [...part.tailFeeds],
    passthroughOutputs: [...part.headOutputs],
    stats: { headNodes, headParamBytes, tailNodes, tailParamBytes },
  };
}

function buildPart(f: SplitFacts, part: SplitPartition, side: 'head' | 'tail', crossing: readonly { name: string; type: ValueType }[]): ModelProto {
  const g = f.graph;
  const nodes = side === 'head' ? part.head : part.tail;
  const inputByName = new Map(g.input.map((v) => [v.name, v]));
  const outputByName = new Map(g.output.map((v) => [v.name, v]));
  const inits = new Set(side === 'head' ? part.headInitializers : part.tailInitializers);
  const cutTypes = crossing.map((c) => valueInfoOf(c.name, c.type));
  const feeds = (side === 'head' ? part.headFeeds : part.tailFeeds).map((name) => inputByName.get(name)!);
  // Initializers listed as graph inputs (IR < 4 style, overridable) stay inputs where they go.
  const initInputs = g.input.filter((v) => inits.has(v.name) && !f.feeds.has(v.name));
  const input: ValueInfo[] = side === 'head' ? [...feeds, ...initInputs] : [...cutTypes, ...feeds, ...initInputs];
  const output: ValueInfo[] = side === 'head'
    ? [...cutTypes, ...part.headOutputs.map((name) => outputByName.get(name)!)]
    : part.tailOutputs.map((name) => outputByName.get(name)!);
  const declared = new Set([...input, ...output].map((v) => v.name));
  const produced = new Set<string>();
  for (const i of nodes) for (const o of g.node[i]!.output) if (o !== '') produced.add(o);
  const graph: GraphProto = {
    name: `${g.name}_${side}`,
    node: nodes.map((i) => g.node[i]!),
    initializer: g.initializer.filter((t) => inits.has(t.name)),
    input,
    output,
    valueInfo: g.valueInfo.filter((v) => produced.has(v.name) && !declared.has(v.name)),
  };
  if (g.docString !== undefined) graph.docString = g.docString;
  if (g.unknown) graph.unknown = g.unknown;
  const m = f.model;
  const metadataProps: StringStringEntry[] = [
    ...m.metadataProps.filter((e) => e.key !== SPLIT_PART_KEY && e.key !== SPLIT_CUT_KEY),
    { key: SPLIT_PART_KEY, value: side },
    { key: SPLIT_CUT_KEY, value: part.cut.join(',') },
  ];
  const out: ModelProto = { ...m, opsetImport: m.opsetImport.map((o) => ({ ...o })), graph, metadataProps };
  return out;
}

/** Levenshtein distance, for "did you mean" hints on short tensor names. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownTensor(f: SplitFacts, name: string): CleaveError {
  const scored = [...f.index.producer.keys()].map((v) => ({ v, d: editDistance(v.toLowerCase(), name.toLowerCase()) }));
  const best = Math.min(Math.max(2, Math.floor(name.length / 3)), ...scored.map((x) => x.d));
  const close = scored.filter((x) => x.d <= best).slice(0, 3).map((x) => `"${x.v}"`);
  let cuts: string[] = [];
  try {
    cuts = cutPointsOf(f).slice(0, 5).map((c) => `"${c.tensors[0]!.name}"`);
  } catch {
    // The hint is best effort; the unknown name is the error to report.
  }
  return new CleaveError('CLEAVE_E_NOT_FOUND',
    `no tensor named "${name}" in graph "${f.graph.name}"${close.length ? ` (did you mean ${close.join(' or ')}?)` : ''}`
    + (cuts.length ? `; valid cut tensors include ${cuts.join(', ')}` : ''), { tensor: name });
}
