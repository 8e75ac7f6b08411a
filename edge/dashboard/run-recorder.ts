/**
 * Live statistics of deployed workflows for the dashboard (GET /v1/dashboard/*), fed by every
 * run through WorkflowService's `onRun` hook beside the metrics observer. Per workflow: runs and
 * errors, each finished run's total and Server-Timing segments, the last router decisions with
 * their cost terms; per node: where it last ran (edge, cloud, a cut, exit, skipped), how often it
 * ran and its latency percentiles.
 *
 * Everything is bounded, so a long-lived edge holds a window, not a history: the last 300 runs
 * and 300 latency samples per node, the last 50 decisions, at most 100 workflows (the one touched
 * longest ago is dropped first) and 256 nodes per workflow (WORKFLOW_LIMITS.maxNodes; node ids of
 * older versions go first). Times come from the injected clock; nothing runs on a timer.
 * Runtime-neutral.
 */
import { WORKFLOW_LIMITS, type WorkflowNode } from '../../shared/workflow/definition.js';
import type { WorkflowResult } from '../../shared/workflow/executor.js';
import type { StoredWorkflow } from '../../shared/workflow/store.js';
import type { Clock } from '../../shared/time.js';
import { runTimingSegments } from '../workflow-run-routes.js';
import type { WorkflowRunOutcome, WorkflowRunRequest } from '../workflow-service.js';
import { nodeDecision, placementLabel, type NodeDecision, type NodePlacementLabel } from './node-placement.js';
import { percentiles } from './percentile.js';
import { RingBuffer } from './ring-buffer.js';

/** Bounds of a DashboardRecorder; every one has a default. */
export interface DashboardRecorderOptions {
  /** Wall clock, ms since the epoch: the `at` of runs and decisions (the page draws them on a time axis). */
  readonly clock: Clock;
  /** Runs kept per workflow (its series and total-latency percentiles), and latency samples per node. Default 300. */
  readonly maxRuns?: number;
  /** Decisions kept per workflow. Default 50. */
  readonly maxDecisions?: number;
  /** Workflows tracked; the one touched longest ago is dropped to make room. Default 100. */
  readonly maxWorkflows?: number;
  /** Nodes tracked per workflow; the one touched longest ago is dropped. Default 256 (WORKFLOW_LIMITS.maxNodes). */
  readonly maxNodes?: number;
}

/** One finished run on the time axis. */
export interface RunPoint {
  /** When it was recorded, ms since the epoch. */
  readonly at: number;
  readonly totalMs: number;
  /** Its Server-Timing segments but the total (`edge`, `cloud`), ms. */
  readonly segments: Readonly<Record<string, number>>;
}

/** One router decision of a run. */
export interface DecisionPoint extends NodeDecision {
  readonly at: number;
  readonly node: string;
}

/** A node's statistics. */
export interface NodeStats {
  /** Null until the node has run or been skipped. */
  readonly lastPlacement: NodePlacementLabel | null;
  /** Times it ran (skips and cancellations not counted). */
  readonly runs: number;
  /** Nearest-rank percentiles of its last `maxRuns` times, ms; null before it ran. */
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly lastDecision?: NodeDecision & { readonly at: number };
}

/** A workflow's totals, for the overview. */
export interface WorkflowSummary {
  readonly name: string;
  /** The version of its last recorded run. */
  readonly version: number;
  /** Runs recorded, failed ones included. */
  readonly runs: number;
  readonly errors: number;
  /** Nearest-rank percentiles of the totals of its last `maxRuns` finished runs, ms; null before one finished. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Everything recorded of one workflow. */
export interface WorkflowDetail extends WorkflowSummary {
  /** By node id. */
  readonly nodes: ReadonlyMap<string, NodeStats>;
  /** Oldest first. */
  readonly series: readonly RunPoint[];
  /** Oldest first. */
  readonly decisions: readonly DecisionPoint[];
}

interface NodeTrack {
  lastPlacement: NodePlacementLabel | null;
  runs: number;
  readonly samples: RingBuffer<number>;
  lastDecision?: NodeDecision & { readonly at: number };
}

interface WorkflowTrack {
  version: number;
  runs: number;
  errors: number;
  readonly series: RingBuffer<RunPoint>;
  readonly decisions: RingBuffer<DecisionPoint>;
  readonly nodes: Map<string, NodeTrack>;
}

/** Default runs kept per workflow and samples per node. */
export const DASHBOARD_MAX_RUNS = 300;
/** Default decisions kept per workflow. */
export const DASHBOARD_MAX_DECISIONS = 50;
/** Default workflows tracked. */
export const DASHBOARD_MAX_WORKFLOWS = 100;

/** The dashboard's live statistics; see the file comment. */
export class DashboardRecorder {
  private readonly tracks = new Map<string, WorkflowTrack>();
  private readonly maxRuns: number;
  private readonly maxDecisions: number;
  private readonly maxWorkflows: number;
  private readonly maxNodes: number;

  constructor(private readonly opts: DashboardRecorderOptions) {
    this.maxRuns = opts.maxRuns ?? DASHBOARD_MAX_RUNS;
    this.maxDecisions = opts.maxDecisions ?? DASHBOARD_MAX_DECISIONS;
    this.maxWorkflows = opts.maxWorkflows ?? DASHBOARD_MAX_WORKFLOWS;
    this.maxNodes = opts.maxNodes ?? WORKFLOW_LIMITS.maxNodes;
    for (const [k, v] of Object.entries({ maxRuns: this.maxRuns, maxDecisions: this.maxDecisions, maxWorkflows: this.maxWorkflows, maxNodes: this.maxNodes })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`dashboard recorder ${k} ${v} is not valid; expected an integer >= 1`);
    }
  }

  /** WorkflowService's `onRun` hook. A run that failed before its workflow was found is not tracked (no name of a stranger's typo takes a slot). */
  readonly onRun = (_req: WorkflowRunRequest, outcome: WorkflowRunOutcome): void => {
    const { stored, result } = outcome;
    if (!stored) return;
    if (result) this.recordRun(stored, result);
    else this.recordError(stored.name, stored.version);
  };

  /** One finished run of `stored`. */
  recordRun(stored: Pick<StoredWorkflow, 'name' | 'version' | 'definition'>, result: WorkflowResult): void {
    const at = this.opts.clock.now();
    const t = this.touch(stored.name, stored.version);
    t.runs++;
    const segments: Record<string, number> = {};
    for (const s of runTimingSegments(result)) if (s.name !== 'total') segments[s.name] = s.durMs;
    t.series.push({ at, totalMs: result.totalMs, segments });
    const byId = new Map<string, WorkflowNode>(stored.definition.nodes.map((n) => [n.id, n]));
    for (const r of result.nodes) {
      const label = placementLabel(r);
      if (label === undefined) continue;
      const n = this.node(t, r.node);
      n.lastPlacement = label;
      if (r.status !== 'done') continue;
      n.runs++;
      if (r.ms !== undefined) n.samples.push(r.ms);
      const d = nodeDecision(byId.get(r.node), r);
      if (!d) continue;
      n.lastDecision = { ...d, at };
      t.decisions.push({ at, node: r.node, ...d });
    }
  }

  /** One run of a deployed workflow that failed. */
  recordError(name: string, version: number): void {
    const t = this.touch(name, version);
    t.runs++;
    t.errors++;
  }

  /** The workflows tracked, most recently touched last. */
  names(): string[] {
    return [...this.tracks.keys()];
  }

  /** The totals of `name`, or undefined when it is not tracked. */
  summary(name: string): WorkflowSummary | undefined {
    const t = this.tracks.get(name);
    if (!t) return undefined;
    const [p50Ms, p99Ms] = percentiles(t.series.toArray().map((p) => p.totalMs), [0.5, 0.99]);
    return { name, version: t.version, runs: t.runs, errors: t.errors, p50Ms: p50Ms ?? null, p99Ms: p99Ms ?? null };
  }

  /** Everything recorded of `name`, or undefined when it is not tracked. */
  detail(name: string): WorkflowDetail | undefined {
    const t = this.tracks.get(name);
    const summary = this.summary(name);
    if (!t || !summary) return undefined;
    const nodes = new Map<string, NodeStats>();
    for (const [id, n] of t.nodes) {
      const [p50Ms, p90Ms, p99Ms] = percentiles(n.samples.toArray(), [0.5, 0.9, 0.99]);
      nodes.set(id, { lastPlacement: n.lastPlacement, runs: n.runs, p50Ms: p50Ms ?? null, p90Ms: p90Ms ?? null, p99Ms: p99Ms ?? null, ...(n.lastDecision ? { lastDecision: n.lastDecision } : {}) });
    }
    return { ...summary, nodes, series: t.series.toArray(), decisions: t.decisions.toArray() };
  }

  /** Forgets `name` (e.g. once every version is deleted). */
  forget(name: string): void {
    this.tracks.delete(name);
  }

  /** The track of `name`, moved to the most recently touched end; the oldest is dropped when over the bound. */
  private touch(name: string, version: number): WorkflowTrack {
    let t = this.tracks.get(name);
    if (t) this.tracks.delete(name);
    else t = { version, runs: 0, errors: 0, series: new RingBuffer(this.maxRuns), decisions: new RingBuffer(this.maxDecisions), nodes: new Map() };
    t.version = version;
    this.tracks.set(name, t);
    while (this.tracks.size > this.maxWorkflows) this.tracks.delete(this.tracks.keys().next().value!);
    return t;
  }

  private node(t: WorkflowTrack, id: string): NodeTrack {
    let n = t.nodes.get(id);
    if (n) t.nodes.delete(id);
    else n = { lastPlacement: null, runs: 0, samples: new RingBuffer(this.maxRuns) };
    t.nodes.set(id, n);
    while (t.nodes.size > this.maxNodes) t.nodes.delete(t.nodes.keys().next().value!);
    return n;
  }
}
