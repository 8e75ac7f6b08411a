/**
 * The Cleave wire protocol (docs/protocol.md): constants and limits, frame types, the frame codec
 * and the tensor encodings. Runtime-neutral: no Node or Workers API.
 */
export * from './constants.js';
export type * from './frames.js';
export { FrameDecoder, FrameEncoder, decodeFrame, encodeFrame, type EncodeOptions } from './frame-codec.js';
export {
  PAYLOAD_ALIGNMENT, TENSOR_HEADER_BYTES, TENSOR_INT8_HEADER_BYTES,
  decodeTensor, decodeTensorInt8, decodeTensorInt8Raw, encodeTensor, encodeTensorInt8, maxTensorExtBytes,
  dequantizeInt8, quantizeInt8, tryQuantizeInt8, type Int8Tensor, type TensorLimits,
} from './tensor-codec.js';
export { MAX_NESTING_DEPTH } from './msgpack-scan.js';
export { FRAME_NAMES } from './frame-schema.js';
