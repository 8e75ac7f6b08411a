/**
 * The JSON report `cleave profile` writes (format `cleave.profile.v1`): what was measured where,
 * the cut table, the link, and the placement the router's cost model recommends per link
 * profile. Units are in the names: ms, bytes, bit/s. docs/cli.md describes each field.
 */
import type { CostTerms } from '../../shared/router/cost-model.js';
import type { ComputeStats } from './measure.js';

/** Format tag of the report, bumped on incompatible changes. */
export const PROFILE_FORMAT = 'cleave.profile.v1';

/** An edge -> cloud link to price placements on. */
export interface LinkProfile {
  readonly name: string;
  readonly rttMs: number;
  readonly upBitsPerSec: number;
  readonly downBitsPerSec: number;
  /** Measured against the --cloud given (the others are fixed reference links). */
  readonly measured?: boolean;
  /** A term is a prior, not a measurement (e.g. bandwidth when no request was large enough). */
  readonly prior?: boolean;
}

/**
 * Reference links the recommendation is priced on, from a wired LAN to a weak mobile uplink.
 * Asymmetric like the access links they stand for (uploads are the slow side).
 */
export const LINK_PROFILES: readonly LinkProfile[] = [
  { name: 'lan', rttMs: 1, upBitsPerSec: 1e9, downBitsPerSec: 1e9 },
  { name: 'broadband', rttMs: 20, upBitsPerSec: 20e6, downBitsPerSec: 100e6 },
  { name: '4g', rttMs: 50, upBitsPerSec: 10e6, downBitsPerSec: 30e6 },
  { name: '3g', rttMs: 150, upBitsPerSec: 1e6, downBitsPerSec: 2e6 },
];

/** One backend's compute for the whole model, per batch size. */
export interface BackendCompute {
  readonly backend: string;
  readonly providers: readonly string[];
  readonly batches: readonly ComputeStats[];
}

/** One cut of the frontier: sizes, and the compute of its head and tail. */
export interface CutProfile {
  /** The tensor crossing the cut (frontier cuts are single-tensor). */
  readonly tensor: string;
  /** Nodes in the head, in topological order. */
  readonly position: number;
  readonly afterNode: string;
  /** The activation, bytes per row. */
  readonly activationBytesPerRow: number;
  /** What the edge sends per row: the activation plus pass-through inputs. */
  readonly transferBytesPerRow: number;
  /** The same sent int8-encoded (one byte per float32 element), bytes per row; a request adds 16 bytes of scale and zero point. */
  readonly int8BytesPerRow: number;
  readonly headNodes: number;
  readonly tailNodes: number;
  readonly headParamBytes: number;
  readonly tailParamBytes: number;
  /** Head compute on the edge backend (the one placements are priced with). */
  readonly head: readonly ComputeStats[];
  /** Tail compute on this machine (stands in for the cloud when none was measured). */
  readonly tail: readonly ComputeStats[];
  /** Tail compute the cloud reported, when --cloud was given and it serves the tail. */
  readonly cloudTail?: readonly ComputeStats[];
}

/** What the cloud said about one model. */
export interface CloudCompute {
  /** Compute time as the cloud reports it (RunTiming.computeMs), per batch. */
  readonly batches: readonly ComputeStats[];
  /** Round trip of a run as this machine saw it (link + queue + compute), per batch. */
  readonly wire: readonly ComputeStats[];
  /** Median queue time the cloud reported, ms. */
  readonly queueMs: number;
}

/** What an edge node said about one model (`--edge`): its own compute, from Server-Timing. */
export interface EdgeNodeCompute {
  readonly url: string;
  /** The `edge` Server-Timing segment per batch (the cache bypassed). */
  readonly batches: readonly ComputeStats[];
}

/** One placement the cost model priced. */
export interface PlacementOption {
  /** 'edge', 'cloud', or the cut tensor. */
  readonly placement: string;
  readonly totalMs: number;
  readonly terms: CostTerms;
  /** A term of it is a prior (e.g. cloud compute taken from this machine). */
  readonly prior: boolean;
}

/** The cost model's choice for one link and batch size. */
export interface Recommendation {
  readonly link: string;
  readonly batch: number;
  /** 'edge', 'cloud', or the cut tensor: one of `options`. */
  readonly placement: string;
  readonly expectedMs: number;
  readonly reason: string;
  /** The router's one-line explanation (the `x-cleave-placement` header form). */
  readonly explanation: string;
  readonly options: readonly PlacementOption[];
}

/** Everything measured about one model. */
export interface ModelProfile {
  readonly model: string;
  /** The .onnx file profiled. */
  readonly file: string;
  readonly fileBytes: number;
  /** Where the inputs came from: the zoo's samples or seeded random tensors. */
  readonly inputs: string;
  readonly inputBytesPerRow: number;
  readonly outputBytesPerRow: number;
  /** Backend whose figures price the edge side (the first measured). */
  readonly edgeBackend: string;
  readonly compute: readonly BackendCompute[];
  /** Frontier cuts: activation bytes strictly decrease along it. Empty when not profiled or none. */
  readonly cuts: readonly CutProfile[];
  readonly cloud?: CloudCompute;
  /** Why the cloud could not run it, when --cloud was given. */
  readonly cloudError?: string;
  readonly edgeNode?: EdgeNodeCompute;
  readonly edgeNodeError?: string;
  readonly recommendations: readonly Recommendation[];
}

/** The link as measured against --cloud. */
export interface CloudLink {
  readonly url: string;
  readonly device: string;
  /** PING round trips. */
  readonly rtt: { readonly samples: number; readonly p50Ms: number; readonly p90Ms: number };
  readonly rttMs: number;
  readonly upBitsPerSec: number;
  readonly downBitsPerSec: number;
  readonly upSamples: number;
  readonly downSamples: number;
  /** A bandwidth is the LinkEstimator's prior: no request was large enough to measure it. */
  readonly priorUsed: boolean;
}

/** One workflow node in the report. */
export interface WorkflowNodeProfile {
  readonly node: string;
  readonly type: string;
  /** The model it runs (model and split-model nodes); its profile is under `models`. */
  readonly model?: string;
  /** Fixed placement of a model node ('edge' / 'cloud'); 'auto' otherwise. */
  readonly policy?: string;
}

/** The critical path of a workflow on one link. */
export interface CriticalPath {
  readonly link: string;
  readonly batch: number;
  readonly ms: number;
  readonly path: readonly string[];
}

export interface WorkflowProfile {
  readonly name: string;
  readonly file: string;
  readonly nodes: readonly WorkflowNodeProfile[];
  readonly models: Readonly<Record<string, ModelProfile>>;
  readonly criticalPaths: readonly CriticalPath[];
}

/** The whole report. */
export interface ProfileReport {
  readonly format: typeof PROFILE_FORMAT;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly host: { readonly platform: string; readonly arch: string; readonly cpus: number; readonly node: string };
  readonly settings: { readonly batches: readonly number[]; readonly runs: number; readonly warmup: number; readonly backends: readonly string[] };
  /** The links recommendations are priced on: the reference ones, plus `measured` with --cloud. */
  readonly links: readonly LinkProfile[];
  readonly cloud?: CloudLink;
  readonly model?: ModelProfile;
  readonly workflow?: WorkflowProfile;
}
