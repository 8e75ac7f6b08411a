/**
 * value_info after a rewrite: entries of values that still exist are kept as they were (they
 * may carry doc strings or denotations), entries of removed weights are dropped, and the values
 * the quantizer added get inferred types, so tools that size activations (the split planner)
 * still see every intermediate.
 */
import { inferTypes } from '../shape/infer.js';
import { valueInfoOf } from '../shape/value-type.js';
import type { ModelProto, ValueInfo } from '../types.js';

/** value_info for `m`, whose graph has gained the values in `added` and lost those in `removed`. */
export function rebuildValueInfo(m: ModelProto, added: ReadonlySet<string>, removed: ReadonlySet<string>): ValueInfo[] {
  const kept = m.graph.valueInfo.filter((v) => !removed.has(v.name));
  let types;
  try {
    types = inferTypes(m);
  } catch {
    // value_info is optional to runtimes; a rule that cannot follow a foreign graph must not
    // cost the user a quantized model. The new values simply go without entries.
    return kept;
  }
  const skip = new Set([...m.graph.output.map((o) => o.name), ...kept.map((v) => v.name)]);
  const fresh: ValueInfo[] = [];
  for (const n of m.graph.node) {
    for (const o of n.output) {
      if (!o || !added.has(o) || skip.has(o)) continue;
      const t = types.get(o);
      if (t) fresh.push(valueInfoOf(o, t));
    }
  }
  return [...kept, ...fresh];
}
