/**
 * Whole-graph type inference: graph inputs and initializers seed the map, then each node's rule
 * runs in topological order. Types already recorded in value_info are kept when a rule cannot
 * say more, so models exported with full value_info need no rule for their exotic ops.
 */
import { dtypeFromCode, type NumericArray } from '../dtype.js';
import { findAttr } from '../attributes.js';
import { indexGraph, type GraphIndex } from '../graph.js';
import { tensorValues } from '../tensor-data.js';
import type { GraphProto, ModelProto } from '../types.js';
import { shapeRule, type RuleContext } from './rules.js';
import { valueTypeOf, type ValueType } from './value-type.js';

/** Opset version of the default ONNX domain of a model (0 when absent). */
export function defaultOpset(m: ModelProto): number {
  return m.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** Infers the type of every value in the model's main graph. */
export function inferTypes(m: ModelProto, index: GraphIndex = indexGraph(m.graph)): Map<string, ValueType> {
  return inferGraphTypes(m.graph, defaultOpset(m), index);
}

export function inferGraphTypes(g: GraphProto, opset: number, index: GraphIndex = indexGraph(g)): Map<string, ValueType> {
  const types = new Map<string, ValueType>();
  const recorded = new Map<string, ValueType>();
  for (const v of [...g.valueInfo, ...g.output]) {
    const t = valueTypeOf(v);
    if (t) recorded.set(v.name, t);
  }
  for (const v of g.input) {
    const t = valueTypeOf(v);
    if (t) types.set(v.name, t);
  }
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  for (const t of g.initializer) types.set(t.name, { dtype: dtypeFromCode(t.dataType), shape: [...t.dims] });
  const constCache = new Map<string, NumericArray | undefined>();
  const ctx: RuleContext = {
    opset,
    constant(name) {
      if (constCache.has(name)) return constCache.get(name);
      let v: NumericArray | undefined;
      const init = inits.get(name);
      if (init) v = tensorValues(init);
      else {
        const p = index.producer.get(name);
        const node = p === undefined ? undefined : g.node[p];
        const t = node?.opType === 'Constant' ? findAttr(node, 'value')?.t : undefined;
        if (t) v = tensorValues(t);
      }
      constCache.set(name, v);
      return v;
    },
  };
  for (const i of index.order) {
    const node = g.node[i]!;
    const rule = shapeRule(node.opType, node.domain ?? '');
    const outs = rule ? rule(node, node.input.map((n) => (n === '' ? undefined : types.get(n))), ctx) : [];
    node.output.forEach((name, k) => {
      if (name === '') return;
      const inferred = outs[k];
      const rec = recorded.get(name);
      const t = better(inferred, rec);
      if (t) types.set(name, t);
    });
  }
  return types;
}

/** Picks the more informative of an inferred and a recorded type. */
function better(a: ValueType | undefined, b: ValueType | undefined): ValueType | undefined {
  if (!a) return b;
  if (!b) return a;
  const score = (t: ValueType): number => (t.shape ? 1 + t.shape.filter((d) => d !== null).length : 0);
  return score(b) > score(a) ? b : a;
}
