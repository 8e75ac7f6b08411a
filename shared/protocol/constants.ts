/**
 * Numbers of the Cleave wire protocol (docs/protocol.md): the version, the frame type codes,
 * the msgpack extension type ids, and the default limits every decoder enforces.
 */

/** Protocol versions this code speaks. A peer offers a range at hello; the highest common one wins. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

/** Subprotocol name offered in `Sec-WebSocket-Protocol`; purely informational, the hello decides. */
export const WS_SUBPROTOCOL = 'cleave.v1';

/** Frame type codes, the `t` field of every frame. Append only. */
export const FrameType = {
  HELLO: 1,
  WELCOME: 2,
  RUN: 3,
  PARTIAL: 4,
  RESULT: 5,
  ERROR: 6,
  CANCEL: 7,
  PING: 8,
  PONG: 9,
  CREDIT: 10,
  LOAD: 11,
  GOAWAY: 12,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** msgpack extension type ids (application range 0..127). */
export const ExtType = {
  /** A tensor: dtype, dims, padding, little-endian row-major payload. */
  TENSOR: 1,
  /** A float tensor sent as int8 with one scale and zero point (activations on slow links). */
  TENSOR_INT8: 2,
} as const;

/** Capabilities a peer may announce at hello/welcome. Unknown ones are ignored. */
export const Capability = {
  /** Accepts TENSOR_INT8 tensors in run inputs and can send them in results. */
  INT8_TENSORS: 'int8-tensors',
  /** Runs several models as one request (`stages`). */
  SUBGRAPH: 'subgraph',
  /** Honours StageRef `id` and `inputs` in a subgraph run (stage outputs under `"<id>.<output>"`, inputs read from mapped pool keys). */
  STAGE_IO: 'stage-io',
  /** Sends PARTIAL frames when a run asks for `stream`. */
  STREAM: 'stream',
  /** Sends LOAD frames (queue depth, compute time per model). */
  LOAD_REPORTS: 'load-reports',
  /** Honours CANCEL for work that has not started. */
  CANCEL: 'cancel',
} as const;

/** Limits a decoder and a session enforce. Every field is configurable; defaults below. */
export interface ProtocolLimits {
  /** Largest encoded frame accepted, bytes. Default 64 MiB. */
  readonly maxFrameBytes: number;
  /** Largest single tensor payload, bytes (after int8 dequantization for TENSOR_INT8). Default 64 MiB. */
  readonly maxTensorBytes: number;
  /** Most tensors in one frame's inputs or outputs, and most entries in one StageRef `inputs` mapping. Default 64. */
  readonly maxTensors: number;
  /** Highest tensor rank. Default 8. */
  readonly maxRank: number;
  /** Longest string field (model names, messages, tokens), UTF-8 bytes. Default 4096. */
  readonly maxStringBytes: number;
  /** Longest array (stages, capabilities, model offers). Default 1024. */
  readonly maxArrayLength: number;
  /** Most keys in one map. Default 1024. */
  readonly maxMapLength: number;
  /** Streams one connection may have in flight (the initial credit window). Default 256. */
  readonly maxStreams: number;
}

export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze({
  maxFrameBytes: 64 * 1024 * 1024,
  maxTensorBytes: 64 * 1024 * 1024,
  maxTensors: 64,
  maxRank: 8,
  maxStringBytes: 4096,
  maxArrayLength: 1024,
  maxMapLength: 1024,
  maxStreams: 256,
});

/** Largest stream id; ids are client-chosen unsigned 32-bit integers, 0 means "the connection". */
export const MAX_STREAM_ID = 0xffff_ffff;
