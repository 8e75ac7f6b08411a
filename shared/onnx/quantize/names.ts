/**
 * Fresh value and node names for what the quantizer adds. Names derive from the weight or node
 * they belong to (`fc1.weight_quantized`), so a quantized graph still reads like its source.
 */
import type { GraphProto } from '../types.js';

/** Returns `base` when no value or node of the graph uses it, else `base_1`, `base_2`, ... */
export type FreshName = (base: string) => string;

/** A name allocator that knows every name already in `g` (values, nodes, value_info). */
export function nameAllocator(g: GraphProto): FreshName {
  const used = new Set<string>();
  for (const t of g.initializer) used.add(t.name);
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) used.add(v.name);
  for (const n of g.node) {
    if (n.name) used.add(n.name);
    for (const o of n.output) used.add(o);
  }
  return (base) => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
}
