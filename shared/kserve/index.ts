/**
 * KServe v2 (Open Inference Protocol) REST codec, runtime-neutral: the cloud and the edge HTTP
 * adapters both use it. Supports the binary tensor data extension; BYTES tensors are refused.
 * The helpers behind it (framing, tail reader, JSON element conversion) stay internal.
 */
export { SUPPORTED_KSERVE_DATATYPES, dtypeFromKServe, kserveFromDType, type KServeDatatype } from './datatype.js';
export { BINARY_CONTENT_TYPE, BINARY_TENSOR_DATA_EXTENSION, HEADER_LENGTH_HEADER, JSON_CONTENT_TYPE, parseHeaderLength, parseModelVersion } from './framing.js';
export { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from './half-float.js';
export { parseInferRequest, type ParseInferRequestOptions, type ParsedInferRequest } from './infer-request.js';
export { buildInferResponse, parseInferResponse, type InferResponseArgs, type InferResponseBody, type ParsedInferResponse } from './infer-response.js';
export { DEFAULT_KSERVE_LIMITS, resolveKServeLimits, type KServeLimits } from './limits.js';
export { errorBody, modelMetadata, serverMetadata, type ErrorBody, type MetadataTensor, type ModelMetadata, type ServerMetadata } from './metadata.js';
export type { JsonElement } from './tensor-values.js';
