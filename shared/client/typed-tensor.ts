/**
 * Tensors as a client holds them: a typed array and its dims, the element type following from the
 * array (Float32Array is float32, BigInt64Array int64, ...). Outputs come back the same way, and
 * `expectDType` narrows one to the array type a program wants to read:
 *
 *   const x = tensor(new Float32Array(64), [1, 64]);            // TypedTensor<'float32'>
 *   const r = await client.infer('mlp-small', { x });
 *   const logits = expectDType(r.outputs.logits!, 'float32');    // .data is a Float32Array
 *
 * An array type that fits several dtypes (Uint8Array: uint8 or bool; Uint16Array: uint16, float16,
 * bfloat16) means the first unless `dtype` says otherwise.
 */
import { CleaveError } from '../errors.js';
import { dtypeSize, isDType, type DType, type NumericArray } from '../onnx/dtype.js';
import type { HostTensor } from '../tensor.js';

/** Every dtype a tensor can carry on the wire (all but string). */
export type NumericDType = Exclude<DType, 'string'>;

/** The typed array that holds elements of `D`. float16/bfloat16 are their raw 16-bit patterns. */
export type ArrayFor<D extends NumericDType> =
  D extends 'float32' ? Float32Array
    : D extends 'float64' ? Float64Array
      : D extends 'int8' ? Int8Array
        : D extends 'uint8' | 'bool' ? Uint8Array
          : D extends 'int16' ? Int16Array
            : D extends 'uint16' | 'float16' | 'bfloat16' ? Uint16Array
              : D extends 'int32' ? Int32Array
                : D extends 'uint32' ? Uint32Array
                  : D extends 'int64' ? BigInt64Array
                    : D extends 'uint64' ? BigUint64Array
                      : never;

/** A tensor with its element type in the type: `TypedTensor<'float32'>` has a Float32Array. */
export interface TypedTensor<D extends NumericDType = NumericDType> extends HostTensor {
  readonly dtype: D;
  readonly dims: readonly number[];
  readonly data: ArrayFor<D>;
}

/** An input as a caller may give it: a TypedTensor, or a typed array with dims (dtype from the array). */
export type TensorInput = TypedTensor | { readonly data: NumericArray; readonly dims: readonly number[]; readonly dtype?: NumericDType };

/** dtype of each typed array class when the caller names none. */
const DEFAULT_DTYPE: ReadonlyArray<readonly [new (n: number) => NumericArray, NumericDType]> = [
  [Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'], [Uint8Array, 'uint8'],
  [Int16Array, 'int16'], [Uint16Array, 'uint16'], [Int32Array, 'int32'], [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'], [BigUint64Array, 'uint64'],
];

/** The dtype an array holds by default; undefined for anything that is not one of the ten typed arrays. */
export function dtypeOfArray(data: unknown): NumericDType | undefined {
  for (const [ctor, d] of DEFAULT_DTYPE) if (data instanceof ctor) return d;
  return undefined;
}

/** The array class that holds a dtype: the 16-bit floats are raw bits in a Uint16Array, bool a Uint8Array. */
function arrayClassOf(d: NumericDType): new (n: number) => NumericArray {
  const holder: NumericDType = d === 'bool' ? 'uint8' : d === 'float16' || d === 'bfloat16' ? 'uint16' : d;
  return DEFAULT_DTYPE.find(([, x]) => x === holder)![0];
}

/** Makes a tensor from a typed array and dims; `dtype` picks bool, float16 or bfloat16 for an array that defaults to another. */
export function tensor(data: Float32Array, dims: readonly number[]): TypedTensor<'float32'>;
export function tensor(data: Float64Array, dims: readonly number[]): TypedTensor<'float64'>;
export function tensor(data: Int8Array, dims: readonly number[]): TypedTensor<'int8'>;
export function tensor(data: Int16Array, dims: readonly number[]): TypedTensor<'int16'>;
export function tensor(data: Int32Array, dims: readonly number[]): TypedTensor<'int32'>;
export function tensor(data: Uint32Array, dims: readonly number[]): TypedTensor<'uint32'>;
export function tensor(data: BigInt64Array, dims: readonly number[]): TypedTensor<'int64'>;
export function tensor(data: BigUint64Array, dims: readonly number[]): TypedTensor<'uint64'>;
export function tensor<D extends 'uint8' | 'bool' = 'uint8'>(data: Uint8Array, dims: readonly number[], dtype?: D): TypedTensor<D>;
export function tensor<D extends 'uint16' | 'float16' | 'bfloat16' = 'uint16'>(data: Uint16Array, dims: readonly number[], dtype?: D): TypedTensor<D>;
export function tensor(data: NumericArray, dims: readonly number[], dtype?: NumericDType): TypedTensor;
export function tensor(data: NumericArray, dims: readonly number[], dtype?: NumericDType): TypedTensor {
  return toTypedTensor({ data, dims, ...(dtype !== undefined ? { dtype } : {}) }, 'tensor');
}

/**
 * Checks an input and fixes its dtype: the data must be a typed array whose element size fits the
 * dtype, and hold exactly product(dims) elements. Errors name the tensor (`what`): a wrong array or
 * dtype -> CLEAVE_E_DTYPE; bad dims or a wrong element count -> CLEAVE_E_SHAPE.
 */
export function toTypedTensor(t: TensorInput, what: string): TypedTensor {
  const byArray = dtypeOfArray(t.data);
  if (byArray === undefined) {
    throw new CleaveError('CLEAVE_E_DTYPE', `${what}: data must be a typed array (Float32Array, BigInt64Array, Int32Array, Uint8Array, ...), got ${describe(t.data)}`, { tensor: what });
  }
  // Read as a plain string: a JavaScript caller (or a cast) may pass anything here.
  const dtype: string = t.dtype ?? byArray;
  if (typeof dtype !== 'string' || !isDType(dtype) || dtype === 'string') {
    throw new CleaveError('CLEAVE_E_DTYPE', `${what}: dtype ${JSON.stringify(dtype)} is not a tensor element type; expected float32, int64, int32, uint8, bool, ...`, { tensor: what });
  }
  const holder = arrayClassOf(dtype);
  if (!(t.data instanceof holder) || dtypeSize(dtype) !== t.data.BYTES_PER_ELEMENT) {
    throw new CleaveError('CLEAVE_E_DTYPE', `${what}: a ${dtype} tensor needs a ${holder.name}, its data is a ${t.data.constructor.name}`, { tensor: what, dtype });
  }
  if (!Array.isArray(t.dims) || t.dims.length > 255) {
    throw new CleaveError('CLEAVE_E_SHAPE', `${what}: dims must be an array of at most 255 integers, got ${describe(t.dims)}`, { tensor: what });
  }
  let count = 1;
  for (const d of t.dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffff_ffff) {
      throw new CleaveError('CLEAVE_E_SHAPE', `${what}: dims [${t.dims.join(',')}] must be integers in 0..4294967295`, { tensor: what });
    }
    count *= d;
  }
  if (t.data.length !== count) {
    throw new CleaveError('CLEAVE_E_SHAPE', `${what}: dims [${t.dims.join(',')}] need ${count} elements, its data has ${t.data.length}`, { tensor: what, dims: [...t.dims] });
  }
  return { dtype, dims: [...t.dims], data: t.data } as TypedTensor;
}

/**
 * Narrows a tensor to dtype `d`, so its data has the matching array type. Throws CLEAVE_E_DTYPE
 * naming both dtypes when the tensor holds another.
 */
export function expectDType<D extends NumericDType>(t: HostTensor, d: D, what = 'tensor'): TypedTensor<D> {
  if (t.dtype !== d) throw new CleaveError('CLEAVE_E_DTYPE', `${what} has dtype ${t.dtype}, expected ${d}`, { expected: d, got: t.dtype });
  return t as TypedTensor<D>;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}
