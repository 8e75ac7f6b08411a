/**
 * What the workflow executor (executor.ts) needs from the tier it runs on: where a model call
 * should run now (the router's decision, with its explanation), and the means to run it on the
 * edge backend or as a subgraph in the cloud. The edge implements it over its model catalog,
 * live estimates and cloud link (edge/workflow-runtime.ts); tests implement it over real
 * sessions with scripted placements. Runtime-neutral: numbers in ms and bytes.
 */
import type { TensorMap } from '../protocol/frames.js';
import type { ErrorCode } from '../errors.js';
import type { Placement } from './definition.js';

/** Where one model node runs, and why. */
export interface ModelPlacement {
  readonly tier: 'edge' | 'cloud';
  /** One line: the chosen tier and the cost terms that chose it (the `x-cleave-plan` entry). */
  readonly explanation: string;
  /** Expected latency of the chosen tier, ms. */
  readonly expectedMs: number;
}

/** Where a split model is cut, and why. */
export interface SplitPlacement {
  /** 'edge' (whole model on the edge), 'cloud' (whole model in the cloud) or a cut tensor's name. */
  readonly cut: string;
  /** The activation travels int8-encoded. */
  readonly int8: boolean;
  readonly explanation: string;
  readonly expectedMs: number;
}

/** A model call the router is asked about. */
export interface ModelQuestion {
  readonly node: string;
  readonly model: string;
  readonly version?: number;
  readonly policy: Placement;
  /** Rows in the request. */
  readonly batch: number;
  /** Bytes that would have to travel up if the call ran in the cloud (0 when its inputs are already there). */
  readonly bytesIn: number;
  /** Time left, ms; undefined: no deadline (the plan endpoint, the feasibility check). */
  readonly deadlineMs?: number;
}

/** A split model the router is asked to cut. */
export interface SplitQuestion {
  readonly node: string;
  readonly model: string;
  readonly version?: number;
  /** Cuts allowed besides all-edge and all-cloud (tensor lists); undefined: the runtime's default set. */
  readonly cuts?: readonly (readonly string[])[];
  /** Lowest int8 top-1 agreement allowed; undefined: never int8. */
  readonly int8MinAgreement?: number;
  /** The node's pinned cut ('edge', 'cloud' or a tensor name): priced, never replaced; undefined: the router chooses. */
  readonly pinned?: string;
  readonly batch: number;
  readonly deadlineMs?: number;
}

/** One stage of a cloud subgraph: a workflow node's model, its inputs read from the run's pool. */
export interface CloudStage {
  /** Node id: the stage's outputs land in the pool as `<id>.<output>`. */
  readonly id: string;
  readonly model: string;
  readonly version?: number;
  /** Model input name -> pool key (`input.image`, `asr.token_logits`, or a key of the run's inputs). */
  readonly inputs: Readonly<Record<string, string>>;
}

export interface CloudCall {
  /** Name for logs and metrics: the workflow and its first node. */
  readonly name: string;
  readonly stages: readonly CloudStage[];
  /** Sent up, keyed by pool key. */
  readonly inputs: TensorMap;
  /** Pool keys wanted back. */
  readonly outputs: readonly string[];
  readonly deadlineMs: number;
  readonly int8Inputs?: boolean;
  readonly signal: AbortSignal;
  readonly traceparent?: string;
  /** Each stage's outputs as it completes (keys without the `<id>.` prefix). */
  readonly onStage?: (stage: number, outputs: TensorMap) => void;
}

export interface CloudCallResult {
  /** Keyed by pool key. */
  readonly outputs: TensorMap;
  /** The call as the edge saw it, ms. */
  readonly ms: number;
  readonly queueMs: number;
  readonly computeMs: number;
}

export interface EdgeCall {
  readonly model: string;
  readonly version?: number;
  readonly inputs: TensorMap;
  readonly deadlineMs: number;
  readonly signal: AbortSignal;
}

/** The head and tail of a model cut at one tensor, as the tiers name them. */
export interface SplitParts {
  /** Edge model computing the cut tensors (plus any graph outputs the head computes itself). */
  readonly head: string;
  /** Cloud model taking the cut tensors (plus passthrough inputs). */
  readonly tail: string;
  /** Tensors crossing at the cut. */
  readonly crossing: readonly string[];
  /** Original inputs the tail reads too. */
  readonly passthroughInputs: readonly string[];
}

export interface WorkflowRuntime {
  /** Clock, ms. */
  now(): number;
  placeModel(q: ModelQuestion): ModelPlacement;
  placeSplit(q: SplitQuestion): SplitPlacement;
  /** Head and tail names of `model` cut at `cut` (a tensor name). */
  splitParts(model: string, version: number | undefined, cut: string): SplitParts;
  runEdge(call: EdgeCall): Promise<{ outputs: TensorMap; ms: number }>;
  runCloud(call: CloudCall): Promise<CloudCallResult>;
  /**
   * The edge model that can stand in for `model` when the cloud is out: the model itself when
   * the edge has it, its configured fallback, or undefined.
   */
  edgeStandIn(model: string): string | undefined;
}

/** Cloud failures after which a stage is re-run on the edge (degraded) when it has a stand-in. */
export const FALLBACK_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['CLEAVE_E_UNAVAILABLE', 'CLEAVE_E_OVERLOADED']);
