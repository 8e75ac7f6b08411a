/**
 * Generic evaluation inputs made from a model's input signature alone, for comparing two
 * versions of a model (fp32 vs int8) when no real data is at hand. Deterministic: the same
 * model, n and seed give the same tensors on every runtime, and the first k samples of n are
 * the samples of k (each input draws from its own seeded stream, sample by sample).
 *
 * Value ranges: float inputs N(0, 1); integer inputs that index a Gather (token ids into an
 * embedding table) uniform over the table's rows so every lookup is valid; other integers
 * uniform in [0, 100); bool inputs 0/1.
 */
import { CleaveError } from '../errors.js';
import { createRng, type Rng } from '../rng.js';
import { hostTensor, type HostTensor } from '../tensor.js';
import { attrInt } from './attributes.js';
import { dtypeSize, typedArrayFor } from './dtype.js';
import { valueTypeOf, type Dim } from './shape/value-type.js';
import type { GraphProto, ModelProto } from './types.js';

export interface RandomInputOptions {
  /** Sizes for named symbolic dimensions other than the batch, e.g. `{ T: 32 }`. */
  dims?: Readonly<Record<string, number>>;
  /** Size of any other symbolic or unknown non-batch dimension. Default 16. */
  defaultDim?: number;
}

/** Default size of a symbolic non-batch dimension (sequence length and the like). */
export const DEFAULT_SYMBOLIC_DIM = 16;

/** Exclusive upper bound of integer inputs that feed no Gather. */
const DEFAULT_INT_BOUND = 100;

/** Ops an index tensor may pass through on its way to a Gather without changing its values. */
const VALUE_PRESERVING = new Set(['Cast', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Expand', 'Transpose']);

/**
 * Rows of the smallest table any Gather indexes with `feed` (following value-preserving ops),
 * or undefined when it feeds no Gather with a known table size.
 */
export function gatherRowBound(g: GraphProto, feed: string): number | undefined {
  const inits = new Map(g.initializer.map((t) => [t.name, t.dims]));
  const recorded = new Map([...g.valueInfo, ...g.input].map((v) => [v.name, valueTypeOf(v)?.shape ?? null]));
  let bound: number | undefined;
  const seen = new Set<string>();
  const queue = [feed];
  while (queue.length) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const n of g.node) {
      const k = n.input.indexOf(name);
      if (k < 0 || (n.domain && n.domain !== 'ai.onnx')) continue;
      if (n.opType === 'Gather' && k === 1) {
        const data: readonly Dim[] | null | undefined = inits.get(n.input[0] ?? '') ?? recorded.get(n.input[0] ?? '');
        if (!data?.length) continue;
        let axis = attrInt(n, 'axis', 0);
        if (axis < 0) axis += data.length;
        const rows = data[axis];
        if (typeof rows === 'number') bound = Math.min(bound ?? rows, rows);
      } else if (VALUE_PRESERVING.has(n.opType) && k === 0) {
        for (const o of n.output) if (o) queue.push(o);
      }
    }
  }
  return bound;
}

function fill(rng: Rng, dtype: HostTensor['dtype'], count: number, intBound: number): HostTensor['data'] {
  const data = typedArrayFor(dtype, new ArrayBuffer(count * dtypeSize(dtype)), 0, count);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) data[i] = BigInt(rng.int(0, intBound));
  } else if (dtype === 'float32' || dtype === 'float64') {
    for (let i = 0; i < count; i++) data[i] = rng.normal();
  } else {
    for (let i = 0; i < count; i++) data[i] = rng.int(0, intBound);
  }
  return data;
}

/**
 * One tensor per graph input (initializers excluded) holding `n` samples along dimension 0: a
 * symbolic or unknown batch dimension becomes n; a fixed first dimension d becomes n * d (n
 * samples of d rows, stacked; run them d rows at a time). Scalar inputs are made once.
 * Throws CLEAVE_E_DTYPE for inputs that are strings or 16-bit floats.
 */
export function randomInputs(model: ModelProto, n: number, seed: number, opts: RandomInputOptions = {}): Record<string, HostTensor> {
  if (!Number.isInteger(n) || n < 1) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `sample count ${n} is not a positive integer`, { n });
  const g = model.graph;
  const inits = new Set(g.initializer.map((t) => t.name));
  const out: Record<string, HostTensor> = {};
  g.input.filter((v) => !inits.has(v.name)).forEach((v, k) => {
    const t = valueTypeOf(v);
    if (!t?.shape) {
      throw new CleaveError('CLEAVE_E_SHAPE', `input "${v.name}" has no known element type and rank, so no inputs can be made for it`, { input: v.name });
    }
    const dtype = t.dtype;
    if (dtype === 'string' || dtype === 'float16' || dtype === 'bfloat16') {
      throw new CleaveError('CLEAVE_E_DTYPE', `input "${v.name}" is ${dtype}; random inputs are made for float32, float64, integer and bool inputs`, { input: v.name, dtype });
    }
    const dims = t.shape.map((d, i): number => {
      const size = typeof d === 'number' ? d : (d !== null && opts.dims?.[d]) || opts.defaultDim || DEFAULT_SYMBOLIC_DIM;
      if (i > 0) return size;
      return typeof d === 'number' ? n * d : n;
    });
    const count = dims.reduce((p, d) => p * d, 1);
    const intBound = dtype === 'bool' ? 2 : (gatherRowBound(g, v.name) ?? DEFAULT_INT_BOUND);
    // One stream per input, so adding an input to a model does not change the others' values.
    const rng = createRng((seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0);
    out[v.name] = hostTensor(dtype, dims, fill(rng, dtype, count, intBound));
  });
  return out;
}
