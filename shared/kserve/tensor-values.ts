/**
 * Tensor elements in JSON and in typed arrays. Reading checks each value fits the dtype (an
 * integer in range, a finite float that does not overflow, a bool as true/false or 0/1) so a
 * bad request fails with the element's path instead of wrapping silently in a typed array.
 *
 * JSON forms: floats are numbers, plus the strings "NaN", "Infinity" and "-Infinity" (JSON has no
 * literal for them, and JSON.stringify would write null). INT64/UINT64 are numbers while they are
 * safe integers (|v| <= 2^53 - 1) and decimal strings beyond that, since JSON numbers are doubles.
 * FP16/BF16 are plain numbers, rounded to nearest even on the way in.
 */
import { CleaveError } from '../errors.js';
import { dtypeSize, typedArrayFor, type DType, type NumericArray } from '../onnx/dtype.js';
import { describeJson } from './json-fields.js';
import { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from './half-float.js';

/** A JSON tensor element as Cleave writes it. */
export type JsonElement = number | string | boolean;

const INT_RANGE: Readonly<Partial<Record<DType, readonly [number, number]>>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const SPECIAL_FLOATS: ReadonlyMap<unknown, number> = new Map([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]);

/** Where an element sits, for messages: `inputs[0].data[1][2]`. */
type PathOf = () => string;

/** Converts one JSON element for a dtype, or returns a string saying what was expected. */
type Convert = (v: unknown) => number | bigint | string;

function floatConvert(round: (x: number) => number, name: string): Convert {
  return (v) => {
    const special = typeof v === 'string' ? SPECIAL_FLOATS.get(v) : undefined;
    if (special !== undefined) return special;
    if (typeof v !== 'number') return `a number (or "NaN", "Infinity", "-Infinity") for ${name}`;
    const r = round(v);
    if (!Number.isFinite(v) || !Number.isFinite(r)) return `a number within the range of ${name}`;
    return r;
  };
}

function converter(dtype: DType, datatype: string): Convert {
  const range = INT_RANGE[dtype];
  if (range !== undefined) {
    const [lo, hi] = range;
    return (v) => (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : `an integer in [${lo}, ${hi}] for ${datatype}`);
  }
  switch (dtype) {
    case 'float32':
      return floatConvert(Math.fround, datatype);
    case 'float64':
      return floatConvert((x) => x, datatype);
    case 'float16': {
      const f = floatConvert((x) => fromFloat16Bits(toFloat16Bits(x)), datatype);
      return (v) => {
        const r = f(v);
        return typeof r === 'number' ? toFloat16Bits(r) : r;
      };
    }
    case 'bfloat16': {
      const f = floatConvert((x) => fromBFloat16Bits(toBFloat16Bits(x)), datatype);
      return (v) => {
        const r = f(v);
        return typeof r === 'number' ? toBFloat16Bits(r) : r;
      };
    }
    case 'bool':
      return (v) => (v === true || v === 1 ? 1 : v === false || v === 0 ? 0 : `true, false, 0 or 1 for ${datatype}`);
    case 'int64':
    case 'uint64': {
      const signed = dtype === 'int64';
      const [lo, hi] = signed ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
      const expected = `an integer in [${lo}, ${hi}] for ${datatype} (a safe integer or a decimal string)`;
      const digits = signed ? /^-?[0-9]{1,20}$/ : /^[0-9]{1,20}$/;
      return (v) => {
        let b: bigint;
        if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && digits.test(v)) b = BigInt(v);
        else return expected;
        return b >= lo && b <= hi ? b : expected;
      };
    }
    default:
      throw new CleaveError('CLEAVE_E_DTYPE', `${datatype} tensors have no JSON form in Cleave`, { dtype });
  }
}

/** Where and how to read one tensor's JSON `data`. */
export interface JsonDataTarget {
  readonly dtype: DType;
  /** v2 datatype name, for messages. */
  readonly datatype: string;
  readonly dims: readonly number[];
  /** Product of dims, already checked against the element limit. */
  readonly count: number;
  /** Field path of the data, e.g. `inputs[0].data`. */
  readonly path: string;
  /** The tensor for messages, e.g. `input "image"`. */
  readonly what: string;
}

/**
 * Reads `data` (flat, or nested in row-major order at any depth up to the rank, rank 0 counting
 * as 1) into a typed array of the dtype. Like Triton, the nesting need not follow the shape: only
 * the number of elements must match. Errors: not an array or nested too deep or a value that does
 * not fit -> CLEAVE_E_BAD_ARGUMENT; a wrong element count -> CLEAVE_E_SHAPE.
 */
export function readJsonData(data: unknown, t: JsonDataTarget): NumericArray {
  if (!Array.isArray(data)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${t.path} must be an array, got ${describeJson(data)}`, { field: t.path });
  }
  const out = typedArrayFor(t.dtype, new ArrayBuffer(t.count * dtypeSize(t.dtype)), 0, t.count);
  const convert = converter(t.dtype, t.datatype);
  const maxDepth = Math.max(t.dims.length, 1);
  const index: number[] = [];
  const pathOf: PathOf = () => `${t.path}${index.map((i) => `[${i}]`).join('')}`;
  let n = 0;

  const walk = (arr: readonly unknown[], depth: number): void => {
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      index[depth - 1] = i;
      if (Array.isArray(v)) {
        if (depth >= maxDepth) {
          index.length = depth;
          throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${pathOf()} nests deeper than the shape's rank ${t.dims.length}`, { field: pathOf() });
        }
        walk(v, depth + 1);
        index.length = depth;
        continue;
      }
      if (n < t.count) {
        const r = convert(v);
        if (typeof r === 'string') {
          index.length = depth;
          throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${pathOf()} must be ${r}, got ${describeJson(v)}`, { field: pathOf() });
        }
        // The converter matches the array: bigint for the 64-bit integer arrays, number otherwise.
        if (typeof r === 'bigint') (out as BigInt64Array)[n] = r;
        else (out as Float64Array)[n] = r;
      }
      n++;
    }
  };
  walk(data, 1);

  if (n !== t.count) {
    throw new CleaveError('CLEAVE_E_SHAPE', `${t.what}: shape [${t.dims.join(',')}] needs ${t.count} elements, data has ${n}`, { dims: [...t.dims], elements: n });
  }
  return out;
}

/** A number for JSON: non-finite floats become the strings "NaN", "Infinity", "-Infinity". */
function jsonFloat(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

/** A tensor's elements as a flat row-major JSON array (KServe's `data` is flat). */
export function writeJsonData(dtype: DType, data: NumericArray): JsonElement[] {
  const n = data.length;
  const out = new Array<JsonElement>(n);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < n; i++) {
      const b = data[i]!;
      out[i] = b <= max && b >= -max ? Number(b) : b.toString();
    }
    return out;
  }
  switch (dtype) {
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = data[i] !== 0;
      return out;
    case 'float16':
      for (let i = 0; i < n; i++) out[i] = jsonFloat(fromFloat16Bits(data[i]!));
      return out;
    case 'bfloat16':
      for (let i = 0; i < n; i++) out[i] = jsonFloat(fromBFloat16Bits(data[i]!));
      return out;
    default:
      for (let i = 0; i < n; i++) out[i] = jsonFloat(data[i]!);
      return out;
  }
}
