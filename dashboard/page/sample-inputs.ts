/**
 * Sample request inputs for a workflow document, when no template brings its own: one row per
 * input, each dynamic dim taken as 1, filled from a fixed-seed generator so a dry run is
 * repeatable. The values mean nothing; they exercise placement, not accuracy. Pure.
 */

/** A tensor as the JSON run endpoints take it. */
export interface JsonTensor {
  readonly dtype: string;
  readonly dims: number[];
  readonly data: (number | string | boolean)[];
}

/** Most elements one generated input may have (a 1x3x224x224 image is 150528). */
export const MAX_SAMPLE_ELEMENTS = 1 << 20;

interface InputSpecLike {
  readonly name?: unknown;
  readonly dtype?: unknown;
  readonly shape?: unknown;
}

/** An error the editor shows as is. */
export class SampleInputError extends Error {
  override readonly name = 'SampleInputError';
}

/**
 * `{ <input name>: tensor }` for the document's `inputs`. Throws SampleInputError naming the input
 * when a spec is not usable (no name, a shape that is not a list of integers, too many elements).
 */
export function sampleInputs(doc: unknown, seed = 1): Record<string, JsonTensor> {
  const specs = (doc as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(specs)) throw new SampleInputError('the document has no "inputs" list to make a sample from');
  const out: Record<string, JsonTensor> = {};
  let state = seed >>> 0 || 1;
  // xorshift32: tiny, fixed, the same in every browser.
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  (specs as InputSpecLike[]).forEach((s, i) => {
    if (typeof s?.name !== 'string') throw new SampleInputError(`inputs[${i}] has no name`);
    const shape = s.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d))) {
      throw new SampleInputError(`input "${s.name}" has shape ${JSON.stringify(shape)}; expected a list of integers (-1 for a dynamic dim)`);
    }
    const dims = (shape as number[]).map((d) => (d < 0 ? 1 : d));
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > MAX_SAMPLE_ELEMENTS) throw new SampleInputError(`input "${s.name}" has ${n} elements at batch 1; a generated sample may have at most ${MAX_SAMPLE_ELEMENTS}`);
    const dtype = typeof s.dtype === 'string' ? s.dtype : 'float32';
    const data: (number | boolean)[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const u = next();
      // Token ids and indexes: small positive integers every zoo vocabulary has.
      data[k] = dtype === 'bool' ? u < 0.5 : /^u?int/.test(dtype) ? 1 + Math.floor(u * 30) : Math.round(u * 1000) / 1000;
    }
    out[s.name] = { dtype, dims, data };
  });
  return out;
}
