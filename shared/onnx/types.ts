/**
 * The ONNX protobuf messages as plain TypeScript data (field numbers live in decode.ts and
 * encode.ts). Only what Cleave reads or writes is modelled; every other field a model carries
 * is kept verbatim in `unknown` and written back, so foreign models survive a round trip.
 */

/** ONNX TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** ONNX AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;
export type AttributeType = (typeof AttributeType)[keyof typeof AttributeType];

/** A field this codec does not model, kept as its exact bytes (tag included). */
export interface UnknownField {
  readonly field: number;
  readonly bytes: Uint8Array;
}

/** Fields shared by every message: what we did not understand, to write back unchanged. */
interface Extensible {
  unknown?: UnknownField[];
}

export interface StringStringEntry extends Extensible {
  key: string;
  value: string;
}

export interface OperatorSetId extends Extensible {
  /** '' (or 'ai.onnx') is the default ONNX domain. */
  domain: string;
  version: number;
}

/** One dimension: a fixed size, a symbolic name, or unknown (neither). */
export interface Dimension extends Extensible {
  value?: number;
  param?: string;
  denotation?: string;
}

export interface TensorTypeProto extends Extensible {
  elemType: number;
  /** Absent means rank unknown; present with [] means a scalar. */
  shape?: Dimension[];
  /** Unknown fields of the TensorShapeProto itself. */
  shapeUnknown?: UnknownField[];
}

export interface TypeProto extends Extensible {
  tensorType?: TensorTypeProto;
  denotation?: string;
}

export interface ValueInfo extends Extensible {
  name: string;
  type?: TypeProto;
  docString?: string;
}

export interface TensorProto extends Extensible {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes; the usual home of weights. */
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: bigint[];
  doubleData?: number[];
  uint64Data?: bigint[];
  stringData?: Uint8Array[];
  docString?: string;
  externalData?: StringStringEntry[];
  /** 0 = DEFAULT, 1 = EXTERNAL. */
  dataLocation?: number;
}

export interface Attribute extends Extensible {
  name: string;
  type: number;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: bigint[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  refAttrName?: string;
  docString?: string;
}

export interface NodeProto extends Extensible {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute: Attribute[];
  docString?: string;
}

export interface GraphProto extends Extensible {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfo[];
  output: ValueInfo[];
  valueInfo: ValueInfo[];
  docString?: string;
}

export interface ModelProto extends Extensible {
  irVersion: number;
  opsetImport: OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps: StringStringEntry[];
}
