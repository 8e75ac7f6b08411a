/**
 * The small v2 JSON documents besides inference: server metadata (`GET /v2`), model metadata
 * (`GET /v2/models/{name}[/versions/{v}]`) and the error body every v2 endpoint answers with.
 */
import type { CleaveError, ErrorCode, ErrorDetail } from '../errors.js';
import type { ModelOffer, TensorSpec } from '../protocol/frames.js';
import { kserveFromDType, type KServeDatatype } from './datatype.js';

/** `GET /v2` body. */
export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  /** Protocol extensions supported, e.g. 'binary_tensor_data' (BINARY_TENSOR_DATA_EXTENSION). */
  readonly extensions: readonly string[];
}

/** Server metadata body; `extensions` copied so later changes to the caller's array do not leak in. */
export function serverMetadata(args: { name: string; version: string; extensions: readonly string[] }): ServerMetadata {
  return { name: args.name, version: args.version, extensions: [...args.extensions] };
}

/** One tensor of model metadata; -1 marks a dynamic dim. */
export interface MetadataTensor {
  readonly name: string;
  readonly datatype: KServeDatatype;
  readonly shape: readonly number[];
}

/** `GET /v2/models/{name}` body. */
export interface ModelMetadata {
  readonly name: string;
  /** Versions available, as strings (v2 versions are strings). */
  readonly versions: readonly string[];
  /** Runtime that serves the model, in Triton's vocabulary. Default 'onnxruntime_onnx'. */
  readonly platform: string;
  readonly inputs: readonly MetadataTensor[];
  readonly outputs: readonly MetadataTensor[];
}

function metadataTensor(spec: TensorSpec, role: string): MetadataTensor {
  return {
    name: spec.name,
    datatype: kserveFromDType(spec.dtype, `${role} ${JSON.stringify(spec.name)}`),
    // Any negative dim is dynamic; v2 clients know -1 only.
    shape: spec.shape.map((d) => (d < 0 ? -1 : d)),
  };
}

/**
 * Model metadata of an offer. `versions` defaults to the offer's own version; pass the list
 * when several versions are loaded. CLEAVE_E_DTYPE for a string tensor, which v2 here cannot carry.
 */
export function modelMetadata(offer: ModelOffer, platform = 'onnxruntime_onnx', versions?: readonly string[]): ModelMetadata {
  return {
    name: offer.name,
    versions: versions === undefined ? [String(offer.version)] : [...versions],
    platform,
    inputs: offer.inputs.map((s) => metadataTensor(s, 'input')),
    outputs: offer.outputs.map((s) => metadataTensor(s, 'output')),
  };
}

/** Error body: KServe clients read `error`; Cleave clients read `code` (and `detail`). */
export interface ErrorBody {
  readonly error: string;
  readonly code: ErrorCode;
  readonly message: string;
  readonly detail: ErrorDetail;
}

/** The body for a failed v2 call; the HTTP status comes from `e.httpStatus`. */
export function errorBody(e: CleaveError): ErrorBody {
  return { error: e.message, ...e.toJSON() };
}
