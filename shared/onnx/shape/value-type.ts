/**
 * Static types of graph values: element type plus a shape whose dimensions may be fixed
 * (number), symbolic (string, e.g. 'N') or unknown (null).
 */
import { dtypeSize, maybeDTypeFromCode, type DType } from '../dtype.js';
import type { Dimension, ValueInfo } from '../types.js';
import { dtypeCode } from '../dtype.js';

export type Dim = number | string | null;

export interface ValueType {
  readonly dtype: DType;
  /** null when even the rank is unknown. */
  readonly shape: readonly Dim[] | null;
}

/** ValueType from a ValueInfoProto, or undefined when it is not a known tensor type. */
export function valueTypeOf(v: ValueInfo): ValueType | undefined {
  const tt = v.type?.tensorType;
  if (!tt) return undefined;
  const dtype = maybeDTypeFromCode(tt.elemType);
  if (!dtype) return undefined;
  const shape = tt.shape ? tt.shape.map((d): Dim => d.value ?? d.param ?? null) : null;
  return { dtype, shape };
}

/** ValueInfoProto for a name and type. */
export function valueInfoOf(name: string, t: ValueType): ValueInfo {
  const info: ValueInfo = { name, type: { tensorType: { elemType: dtypeCode(t.dtype) } } };
  if (t.shape) {
    info.type!.tensorType!.shape = t.shape.map((d): Dimension => (typeof d === 'number' ? { value: d } : typeof d === 'string' ? { param: d } : {}));
  }
  return info;
}

/** Human form: `float32[N,3,64,64]`. */
export function formatType(t: ValueType | undefined): string {
  if (!t) return '?';
  return `${t.dtype}[${t.shape ? t.shape.map((d) => (d === null ? '?' : String(d))).join(',') : '...'}]`;
}

/**
 * Bytes of one sample of a value: the product of every dimension but the first (the batch),
 * times the element size. undefined when a non-batch dimension is not a number.
 */
export function bytesPerSample(t: ValueType): number | undefined {
  if (!t.shape || t.shape.length === 0) return t.shape ? dtypeSize(t.dtype) : undefined;
  let n = dtypeSize(t.dtype);
  for (let i = 1; i < t.shape.length; i++) {
    const d = t.shape[i];
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}
