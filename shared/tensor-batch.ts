/**
 * Batch concat and split along dim 0: how the dynamic batcher turns several requests into one
 * model run and hands each request back its own rows. Runtime-neutral (typed arrays only).
 *
 * Splitting returns subarray views of the batch output, not copies: a batch of 32 rows of
 * logits is answered without touching the bytes again. The views share one buffer, so a caller
 * that mutates its outputs in place would see only its own rows, but one that transfers the
 * buffer (postMessage) would take every request's rows with it; copy before transferring.
 */
import { CleaveError } from './errors.js';
import { elementCount } from './onnx/tensor-data.js';
import type { NumericArray } from './onnx/dtype.js';
import type { TensorMap } from './protocol/frames.js';
import type { HostTensor } from './tensor.js';

const shapeText = (dims: readonly number[]): string => `[${dims.join(',')}]`;
const label = (name: string | undefined): string => (name === undefined ? 'tensor' : `tensor "${name}"`);

/** Rows of a batched tensor: its dim 0. A scalar has no batch dim: CLEAVE_E_SHAPE. */
/** Rows of a request: dim 0 of its first input (1 for a scalar input or none). */
export function requestRows(inputs: TensorMap): number {
  for (const t of Object.values(inputs)) return Math.max(1, t.dims[0] ?? 1);
  return 1;
}

export function batchRows(t: HostTensor, name?: string): number {
  const rows = t.dims[0];
  if (rows === undefined) {
    throw new CleaveError('CLEAVE_E_SHAPE', `${label(name)} is a scalar; a batched tensor needs a dim 0`, {
      ...(name === undefined ? {} : { name }),
      dims: [],
    });
  }
  return rows;
}

/** Elements in one row: the product of dims after dim 0. */
function rowSize(t: HostTensor): number {
  return elementCount(t.dims.slice(1));
}

function checkLength(t: HostTensor, name: string | undefined): void {
  const n = elementCount(t.dims);
  if (t.data.length !== n) {
    throw new CleaveError('CLEAVE_E_SHAPE', `${label(name)} has ${t.data.length} elements, shape ${shapeText(t.dims)} needs ${n}`, {
      ...(name === undefined ? {} : { name }),
      dims: [...t.dims],
    });
  }
}

type TypedArrayCtor = new (length: number) => NumericArray;

/** `dst.set(src, offset)`: every NumericArray has it; TypeScript cannot call it on the union. */
function copyInto(dst: NumericArray, src: NumericArray, offset: number): void {
  (dst as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(src, offset);
}

/**
 * Concatenates tensors along dim 0. Dtypes must match (CLEAVE_E_DTYPE) and so must every dim
 * after 0 (CLEAVE_E_SHAPE, naming the tensor and both shapes). One part is returned unchanged
 * (no copy); more are copied once into a fresh typed array of the first part's class, so
 * float16 bits stay in their Uint16Array and int64 in a BigInt64Array.
 */
export function concatBatch(parts: readonly HostTensor[], name?: string): HostTensor {
  const first = parts[0];
  if (first === undefined) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cannot concatenate ${label(name)}: no parts given`, name === undefined ? {} : { name });
  }
  batchRows(first, name);
  if (parts.length === 1) return first;
  checkLength(first, name);
  const tail = first.dims.slice(1);
  let rows = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.data.constructor !== first.data.constructor) {
      throw new CleaveError('CLEAVE_E_DTYPE', `cannot concatenate ${label(name)}: ${p.dtype} (${p.data.constructor.name}) with ${first.dtype} (${first.data.constructor.name})`, {
        ...(name === undefined ? {} : { name }),
        expected: first.dtype,
        actual: p.dtype,
      });
    }
    const r = batchRows(p, name);
    if (p.dims.length !== first.dims.length || p.dims.some((d, i) => i > 0 && d !== tail[i - 1])) {
      throw new CleaveError('CLEAVE_E_SHAPE', `cannot concatenate ${label(name)} of shape ${shapeText(p.dims)} with ${shapeText(first.dims)}: dims after dim 0 must match`, {
        ...(name === undefined ? {} : { name }),
        expected: [...first.dims],
        actual: [...p.dims],
      });
    }
    checkLength(p, name);
    rows += r;
  }
  const per = rowSize(first);
  const data = new (first.data.constructor as TypedArrayCtor)(rows * per);
  let offset = 0;
  for (const p of parts) {
    copyInto(data, p.data, offset);
    offset += p.data.length;
  }
  return { dtype: first.dtype, dims: [rows, ...tail], data };
}

/**
 * Splits a tensor along dim 0 into parts of `rows[i]` rows each. The parts are subarray views
 * of `t.data` (no copy). CLEAVE_E_SHAPE when dim 0 is not the sum of `rows`; one part is `t`
 * itself.
 */
export function splitBatch(t: HostTensor, rows: readonly number[], name?: string): HostTensor[] {
  const total = batchRows(t, name);
  let sum = 0;
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cannot split ${label(name)}: row count ${r} is not an integer >= 0`, name === undefined ? {} : { name });
    }
    sum += r;
  }
  if (sum !== total) {
    throw new CleaveError('CLEAVE_E_SHAPE', `cannot split ${label(name)} of shape ${shapeText(t.dims)} into [${rows.join(',')}] rows: dim 0 is ${total}, the parts sum to ${sum}`, {
      ...(name === undefined ? {} : { name }),
      dims: [...t.dims],
      rows: [...rows],
    });
  }
  if (rows.length === 1) return [t];
  checkLength(t, name);
  const tail = t.dims.slice(1);
  const per = rowSize(t);
  const out: HostTensor[] = [];
  let start = 0;
  for (const r of rows) {
    const end = start + r * per;
    out.push({ dtype: t.dtype, dims: [r, ...tail], data: t.data.subarray(start, end) as NumericArray });
    start = end;
  }
  return out;
}

function sameKeys(keys: readonly string[], map: TensorMap, index: number): void {
  const other = Object.keys(map).sort();
  if (other.length !== keys.length || other.some((k, i) => k !== keys[i])) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cannot concatenate tensor maps: map ${index} has tensors [${other.join(',')}], map 0 has [${keys.join(',')}]`, {
      index,
      expected: [...keys],
      actual: other,
    });
  }
}

/** concatBatch per name. Every map must hold the same names (CLEAVE_E_BAD_ARGUMENT otherwise). */
export function concatTensorMaps(maps: readonly TensorMap[]): TensorMap {
  const first = maps[0];
  if (first === undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'cannot concatenate tensor maps: none given');
  if (maps.length === 1) return first;
  const keys = Object.keys(first).sort();
  maps.forEach((m, i) => sameKeys(keys, m, i));
  // fromEntries defines own properties, so a tensor named "__proto__" stays a tensor.
  return Object.fromEntries(keys.map((k) => [k, concatBatch(maps.map((m) => m[k]!), k)]));
}

/** splitBatch per name: map i gets `rows[i]` rows of every tensor. */
export function splitTensorMap(map: TensorMap, rows: readonly number[]): TensorMap[] {
  const entries = Object.entries(map);
  const parts = entries.map(([k, t]) => splitBatch(t, rows, k));
  return rows.map((_, i) => Object.fromEntries(entries.map(([k], j) => [k, parts[j]![i]!])));
}

/**
 * A key equal for requests that concatTensorMaps can join: the same names, and per name the
 * same dtype, rank and dims after dim 0. Names are sorted, so key order does not matter.
 */
export function batchSignature(map: TensorMap): string {
  const keys = Object.keys(map).sort();
  return JSON.stringify(keys.map((k) => {
    const t = map[k]!;
    return [k, t.dtype, t.dims.length, t.dims.slice(1)];
  }));
}
