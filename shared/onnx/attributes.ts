/**
 * Reading and making node attributes. Attribute values arrive as protobuf unions; these
 * helpers give typed access with defaults, and build attributes from plain TypeScript values.
 */
import { CleaveError } from '../errors.js';
import { utf8 } from './wire.js';
import { AttributeType } from './types.js';
import type { Attribute, GraphProto, NodeProto, TensorProto } from './types.js';

/** Marks a number as a FLOAT attribute even when it is integral (`alpha: float(1)`). */
export interface FloatAttr { readonly float: number }
/** Marks a list as FLOATS even when every value is integral. */
export interface FloatsAttr { readonly floats: readonly number[] }

/** What the builder accepts as an attribute value. Integral numbers become INT, others FLOAT. */
export type AttrInput = number | bigint | string | readonly number[] | readonly string[] | FloatAttr | FloatsAttr | TensorProto | GraphProto;

export const float = (v: number): FloatAttr => ({ float: v });
export const floats = (v: readonly number[]): FloatsAttr => ({ floats: v });

/** Builds an AttributeProto from a plain value. */
export function makeAttribute(name: string, v: AttrInput): Attribute {
  if (typeof v === 'bigint') return { name, type: AttributeType.INT, i: v };
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttributeType.INT, i: BigInt(v) } : { name, type: AttributeType.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: utf8(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: AttributeType.STRINGS, strings: (v as string[]).map(utf8) };
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x))
      ? { name, type: AttributeType.INTS, ints: nums.map((x) => BigInt(x)) }
      : { name, type: AttributeType.FLOATS, floats: [...nums] };
  }
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AttributeType.FLOATS, floats: [...v.floats] };
  if ('node' in v) return { name, type: AttributeType.GRAPH, g: v };
  return { name, type: AttributeType.TENSOR, t: v as TensorProto };
}

export function findAttr(node: NodeProto, name: string): Attribute | undefined {
  return node.attribute.find((a) => a.name === name);
}

function wrongType(node: NodeProto, name: string, want: string): never {
  throw new CleaveError('CLEAVE_E_ONNX_INVALID', `attribute "${name}" of ${node.opType} node "${node.name ?? node.output[0]}" is not ${want}`, { op: node.opType, attribute: name });
}

export function attrInt(node: NodeProto, name: string, dflt: number): number {
  const a = findAttr(node, name);
  if (!a) return dflt;
  if (a.i === undefined) wrongType(node, name, 'an int');
  return Number(a.i);
}

export function attrFloat(node: NodeProto, name: string, dflt: number): number {
  const a = findAttr(node, name);
  if (!a) return dflt;
  if (a.f === undefined) wrongType(node, name, 'a float');
  return a.f;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = findAttr(node, name);
  if (!a) return undefined;
  return (a.ints ?? []).map((x) => Number(x));
}

export function attrString(node: NodeProto, name: string, dflt: string): string {
  const a = findAttr(node, name);
  if (!a) return dflt;
  if (a.s === undefined) wrongType(node, name, 'a string');
  return new TextDecoder().decode(a.s);
}
