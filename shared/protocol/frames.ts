/**
 * The frames of the Cleave protocol as TypeScript types. Every WebSocket binary message is one
 * msgpack map with a numeric `t` (FrameType) and the fields below; tensors inside are msgpack
 * extensions (tensor-codec.ts). docs/protocol.md is the prose form of this file.
 */
import type { ErrorCode, ErrorDetail } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import type { DType } from '../onnx/dtype.js';
import type { FrameType } from './constants.js';

/** Named tensors; the map keys are tensor names. */
export type TensorMap = Record<string, HostTensor>;

/** A tensor's contract as the server offers it: -1 for a dynamic dim (the batch dim is dim 0). */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A model the server can run, as listed in WELCOME. */
export interface ModelOffer {
  readonly name: string;
  readonly version: number;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Largest batch the dynamic batcher forms; 0 when the model has no batch dim (not batched). */
  readonly maxBatchSize: number;
}

/**
 * One stage of a subgraph run. A run keeps a pool of named tensors: the RUN's inputs, then each
 * stage's outputs as it finishes. `id` and `inputs` (capability `stage-io`) let two stages
 * produce outputs of the same name and read inputs under other names; without them a stage reads
 * its inputs by their own names and its outputs replace pool entries of the same name.
 */
export interface StageRef {
  readonly model: string;
  /** Default: the newest loaded version. */
  readonly version?: number;
  /**
   * Puts this stage's outputs in the pool as `"<id>.<output>"` instead of `"<output>"`.
   * STAGE_ID_PATTERN (frame-schema.ts): 1..64 of A-Z a-z 0-9 _ -, no dots; unique in the run.
   */
  readonly id?: string;
  /**
   * Stage input name -> pool key to read it from (`"asr.token_logits"`, `"image"`); inputs not
   * named here are read under their own name. At most `maxTensors` entries; names and keys are
   * non-empty and at most MAX_POOL_KEY_LENGTH (frame-schema.ts) characters.
   */
  readonly inputs?: Readonly<Record<string, string>>;
}

/** Client -> server, first frame. */
export interface HelloFrame {
  readonly t: typeof FrameType.HELLO;
  /** Lowest and highest protocol versions the client speaks. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Client name and version, for logs. */
  readonly client: string;
  readonly caps: readonly string[];
  /** Shared or per-edge token, when not given on the upgrade request. */
  readonly token?: string;
}

/** Server -> client, answer to HELLO. */
export interface WelcomeFrame {
  readonly t: typeof FrameType.WELCOME;
  readonly version: number;
  /** Session id, for logs on both sides. */
  readonly session: string;
  /** Server name and version. */
  readonly server: string;
  readonly caps: readonly string[];
  readonly models: readonly ModelOffer[];
  /** Runs the client may have in flight; each RESULT or stream ERROR returns one. */
  readonly credits: number;
  /** Largest frame the server accepts, bytes. */
  readonly maxFrameBytes: number;
  /** Execution device the server chose: 'cuda' or 'cpu'. */
  readonly device: string;
  /** Server clock at send, ms since the epoch (for logs; RTT comes from PING/PONG). */
  readonly serverTime: number;
}

/** Client -> server: run one model, or several as one subgraph. */
export interface RunFrame {
  readonly t: typeof FrameType.RUN;
  /** Client-chosen stream id, 1..2^32-1, unique among the client's runs in flight. */
  readonly id: number;
  /** The model to run; with `stages`, the name of the subgraph for logs and metrics. */
  readonly model: string;
  readonly version?: number;
  /**
   * Run these models in order as one request. Each stage takes its inputs from a pool holding the
   * run's inputs and every earlier stage's outputs (by name, or as StageRef `id`/`inputs` say),
   * so intermediates stay on the server.
   */
  readonly stages?: readonly StageRef[];
  readonly inputs: TensorMap;
  /**
   * Output names to return; default: every output of the (last) model. With `stages`, any pool
   * key may be named: the run's inputs or any stage's outputs (`"<id>.<output>"` for a stage with an id).
   */
  readonly outputs?: readonly string[];
  /** Time budget from when the server reads the frame, ms. A run past it is not started. */
  readonly deadlineMs?: number;
  /** 1 is the highest priority; default is the model's default priority level. */
  readonly priority?: number;
  /** W3C traceparent of the caller's span. */
  readonly traceparent?: string;
  /** Send a PARTIAL after each stage of a subgraph. */
  readonly stream?: boolean;
  /** Send float outputs int8-encoded (TENSOR_INT8). */
  readonly int8Outputs?: boolean;
}

/** Server -> client: outputs of one stage of a streaming subgraph run. */
export interface PartialFrame {
  readonly t: typeof FrameType.PARTIAL;
  readonly id: number;
  /** 0-based stage index. */
  readonly stage: number;
  readonly model: string;
  readonly outputs: TensorMap;
}

/** Where a run's time went on the server, ms. */
export interface RunTiming {
  /** From reading the frame to the start of compute (summed over stages). */
  readonly queueMs: number;
  /** Inference time (summed over stages). */
  readonly computeMs: number;
  /** Batch size the (first) stage ran in. */
  readonly batchSize: number;
}

/** Server -> client: the run finished. Returns one credit. */
export interface ResultFrame {
  readonly t: typeof FrameType.RESULT;
  readonly id: number;
  readonly outputs: TensorMap;
  readonly timing: RunTiming;
  /** W3C traceparent of the span the server opened for this run (a child of the RUN's), when it has one. */
  readonly traceparent?: string;
}

/** Either direction: a failure. With id 0 it concerns the connection; otherwise one stream, and returns its credit. */
export interface ErrorFrame {
  readonly t: typeof FrameType.ERROR;
  readonly id: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly detail?: ErrorDetail;
}

/** Client -> server: stop a run. Work not yet started is dropped; the answer is ERROR CLEAVE_E_CANCELLED. */
export interface CancelFrame {
  readonly t: typeof FrameType.CANCEL;
  readonly id: number;
}

/** Either direction: liveness and RTT probe. */
export interface PingFrame {
  readonly t: typeof FrameType.PING;
  /** Sender's clock, ms; echoed in the PONG. */
  readonly ts: number;
}

export interface PongFrame {
  readonly t: typeof FrameType.PONG;
  /** The PING's `ts`, unchanged. */
  readonly ts: number;
  /** Responder's clock at reply, ms. */
  readonly peerTs: number;
}

/** Server -> client: grants more runs in flight, on top of the implicit one per finished stream. */
export interface CreditFrame {
  readonly t: typeof FrameType.CREDIT;
  readonly credits: number;
}

/** Live load of one model on the server. */
export interface ModelLoad {
  /** Requests waiting in the batcher queue. */
  readonly queued: number;
  /** Batches executing now. */
  readonly running: number;
  /** EWMA of queue time per request, ms. */
  readonly queueMs: number;
  /** EWMA of compute time per batch, ms. */
  readonly computeMs: number;
  /** EWMA of batch size. */
  readonly batchSize: number;
}

/** Server -> client: periodic load report for the router. */
export interface LoadFrame {
  readonly t: typeof FrameType.LOAD;
  /** Server clock, ms. */
  readonly ts: number;
  readonly models: Record<string, ModelLoad>;
}

/** Server -> client: no new runs on this connection; runs in flight still finish. */
export interface GoawayFrame {
  readonly t: typeof FrameType.GOAWAY;
  readonly code: ErrorCode;
  readonly reason: string;
}

export type Frame =
  | HelloFrame | WelcomeFrame | RunFrame | PartialFrame | ResultFrame | ErrorFrame
  | CancelFrame | PingFrame | PongFrame | CreditFrame | LoadFrame | GoawayFrame;
