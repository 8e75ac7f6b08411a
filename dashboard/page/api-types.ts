/**
 * The JSON the dashboard reads, as the edge's and the cloud's data endpoints answer it
 * (edge: /v1/dashboard/*, the workflow API; cloud: cloud/dashboard-routes.ts). Everything
 * optional that a server of another version may leave out is marked so; the page draws what
 * is there.
 */

export interface EdgeOverview {
  readonly edge: { readonly name: string; readonly version: string; readonly backend: string };
  readonly link: { readonly state: string; readonly rttMs?: number | null; readonly upMbps?: number | null; readonly downMbps?: number | null; readonly prior?: boolean };
  readonly cache: { readonly hits: number; readonly misses: number; readonly hitRate?: number | null; readonly bytes: number; readonly entries: number };
  readonly workflows: readonly WorkflowSummary[];
}

export interface WorkflowSummary {
  readonly name: string;
  readonly version: number;
  readonly runs: number;
  readonly errors: number;
  readonly p50Ms?: number | null;
  readonly p99Ms?: number | null;
}

export interface Decision {
  readonly at: number;
  readonly node: string;
  readonly choice: string;
  readonly expectedMs?: number | null;
  readonly actualMs?: number | null;
  readonly terms?: Readonly<Record<string, number>>;
}

export interface NodeStats {
  readonly id: string;
  readonly type: string;
  readonly lastPlacement: string | null;
  readonly runs: number;
  readonly p50Ms?: number | null;
  readonly p90Ms?: number | null;
  readonly p99Ms?: number | null;
  readonly lastDecision?: { readonly choice: string; readonly expectedMs?: number | null; readonly terms?: Readonly<Record<string, number>>; readonly at: number };
}

export interface WorkflowDetail {
  readonly name: string;
  readonly version: number;
  readonly doc: WorkflowDoc;
  readonly nodes: readonly NodeStats[];
  readonly series: readonly { readonly at: number; readonly totalMs: number; readonly segments?: Readonly<Record<string, number>> }[];
  readonly decisions: readonly Decision[];
}

/** A workflow document, loosely: the page edits drafts that may not validate yet. */
export interface WorkflowDoc {
  name?: string;
  description?: string;
  inputs?: { name: string; dtype: string; shape: number[] }[];
  nodes?: { id: string; type: string; params?: Record<string, unknown> }[];
  edges?: { source: string; target: string; when?: string; map?: Record<string, string> }[];
  outputs?: { name: string; from: string; or?: string }[];
  deadlineMs?: number;
  [k: string]: unknown;
}

export interface Template {
  readonly name: string;
  readonly title?: string;
  readonly doc: WorkflowDoc;
  /** `{ <input>: { dtype, dims, data } }`, or a whole request body `{ inputs: {...} }`. */
  readonly sampleInputs?: unknown;
}

/** The answer of a run (POST /v1/workflows/:name/infer), and of a dry run with `plan` and `placement`. */
export interface RunAnswer {
  readonly workflow?: string;
  readonly version?: number;
  readonly outputs?: Readonly<Record<string, { dtype: string; dims: number[]; data: unknown[] }>>;
  readonly nodes?: readonly { node: string; status?: string; placement?: string; exited?: boolean; degraded?: unknown; ms?: number; expectedMs?: number; explanation?: string }[];
  readonly exitedAt?: string;
  readonly degraded?: boolean;
  readonly totalMs?: number;
  readonly plan?: string;
  readonly placement?: unknown;
}

/** One problem of CLEAVE_E_WORKFLOW_INVALID's `detail.problems`. */
export interface Problem {
  readonly at: string;
  readonly message: string;
}

export interface CloudOverview {
  readonly cloud: { readonly name: string; readonly version: string; readonly device: string; readonly ready: boolean; readonly memoryInUse?: number; readonly memoryBudget?: number };
  readonly models: readonly {
    readonly name: string; readonly version: number; readonly state: string; readonly bytes?: number; readonly reason?: string;
    readonly queued?: number; readonly running?: number; readonly queueMs?: number; readonly computeMs?: number; readonly batchSize?: number;
    /** Executed batches by size: `{ "1": 10, "2": 3, ... }`. */
    readonly batches?: Readonly<Record<string, number>>;
  }[];
  readonly edges: readonly { readonly id: string; readonly remote?: string; readonly connectedAt: number; readonly inFlight: number }[];
}
