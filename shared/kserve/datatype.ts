/**
 * The v2 protocol's tensor datatype names and Cleave's dtypes. BYTES (length-prefixed strings)
 * has no place in Cleave's numeric tensors, so it is refused with the list of what works.
 */
import { CleaveError } from '../errors.js';
import type { DType } from '../onnx/dtype.js';

/** Datatype names of the Open Inference Protocol, BYTES included (it is named, then refused). */
export type KServeDatatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64'
  | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BF16' | 'BYTES';

const TO_DTYPE: Readonly<Record<Exclude<KServeDatatype, 'BYTES'>, DType>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BF16: 'bfloat16',
};

const FROM_DTYPE = new Map<DType, KServeDatatype>(Object.entries(TO_DTYPE).map(([k, v]) => [v, k as KServeDatatype]));

/** The datatypes Cleave reads and writes, in the spec's order. */
export const SUPPORTED_KSERVE_DATATYPES = Object.freeze(Object.keys(TO_DTYPE)) as readonly Exclude<KServeDatatype, 'BYTES'>[];

/**
 * Cleave dtype of a v2 datatype name. `what` names the tensor for the message, e.g. `input "text"`.
 * Throws CLEAVE_E_DTYPE for BYTES and for unknown names (matching is exact: the spec is upper case).
 */
export function dtypeFromKServe(datatype: string, what: string): DType {
  if (Object.hasOwn(TO_DTYPE, datatype)) return TO_DTYPE[datatype as keyof typeof TO_DTYPE];
  const supported = SUPPORTED_KSERVE_DATATYPES.join(', ');
  const why = datatype === 'BYTES' ? 'BYTES (string) tensors are not supported' : `datatype ${JSON.stringify(datatype.slice(0, 32))} is not supported`;
  throw new CleaveError('CLEAVE_E_DTYPE', `${what}: ${why}; expected one of ${supported}`, { datatype: datatype.slice(0, 32), supported: [...SUPPORTED_KSERVE_DATATYPES] });
}

/** v2 datatype name of a Cleave dtype. Throws CLEAVE_E_DTYPE for 'string', which Cleave never sends. */
export function kserveFromDType(dtype: DType, what: string): KServeDatatype {
  const d = FROM_DTYPE.get(dtype);
  if (d === undefined) {
    throw new CleaveError('CLEAVE_E_DTYPE', `${what}: dtype ${dtype} has no KServe v2 form Cleave writes; expected one of ${[...FROM_DTYPE.keys()].join(', ')}`, { dtype });
  }
  return d;
}
