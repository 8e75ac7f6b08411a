/**
 * Element types for values the shape rules cannot type (an op with no rule, such as Resize or
 * Slice, leaves its output and everything after it untyped unless the model records value_info).
 * A split must still declare a cut tensor's element type, so this pass guesses it from the
 * producer: most ops keep their first input's type; the ones that do not are listed. The shape
 * stays unknown (rank included), so such a cut lists with an unknown size but still splits.
 * Ops of other domains than ONNX and com.microsoft are left untyped: nothing is known of them.
 */
import { attrInt, findAttr } from '../attributes.js';
import { maybeDTypeFromCode, type DType } from '../dtype.js';
import type { ValueType } from '../shape/value-type.js';
import type { GraphProto, NodeProto } from '../types.js';

const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);
/** Ops whose result type is that of the input at this index. */
const TYPE_FROM_INPUT: Readonly<Record<string, number>> = { Where: 1, CastLike: 1, DequantizeLinear: 1, QuantizeLinear: 2 };
/** (op, output index) pairs that are int64 or bool whatever the input. */
const SIDE_OUTPUTS: Readonly<Record<string, Readonly<Record<number, DType>>>> = {
  MaxPool: { 1: 'int64' }, TopK: { 1: 'int64' }, Unique: { 1: 'int64', 2: 'int64', 3: 'int64' }, Dropout: { 1: 'bool' },
};

function guess(node: NodeProto, k: number, typeOf: (v: string) => ValueType | undefined): DType | undefined {
  const op = node.opType;
  const side = SIDE_OUTPUTS[op]?.[k];
  if (side) return side;
  if (BOOL_OUT.has(op)) return 'bool';
  if (INT64_OUT.has(op)) return 'int64';
  if (op === 'Cast') return maybeDTypeFromCode(attrInt(node, 'to', 0));
  if (op === 'ConstantOfShape') {
    const t = findAttr(node, 'value')?.t;
    return t ? maybeDTypeFromCode(t.dataType) : 'float32';
  }
  const from = TYPE_FROM_INPUT[op];
  if (from !== undefined) {
    const name = node.input[from];
    if (name) return typeOf(name)?.dtype;
    return op === 'QuantizeLinear' ? 'uint8' : undefined;
  }
  for (const name of node.input) {
    const t = name === '' ? undefined : typeOf(name);
    if (t) return t.dtype;
  }
  return undefined;
}

/** Adds `{ dtype, shape: null }` for node outputs `types` lacks, in topological order. */
export function fillMissingDTypes(g: GraphProto, order: readonly number[], types: Map<string, ValueType>): void {
  for (const i of order) {
    const node = g.node[i]!;
    const domain = node.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx' && domain !== 'com.microsoft') continue;
    node.output.forEach((o, k) => {
      if (o === '' || types.has(o)) return;
      const dtype = guess(node, k, (v) => types.get(v));
      if (dtype) types.set(o, { dtype, shape: null });
    });
  }
}
