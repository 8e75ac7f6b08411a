/**
 * Deployed workflows at the edge: compiled once per version, run through the executor
 * (shared/workflow/executor.ts) on the edge's WorkflowRuntime, and planned without running
 * (`GET /v1/workflows/:name/plan`). Deploying a workflow with split-model nodes prepares them:
 * the cut candidates are computed and each cut's int8 agreement is measured in the background,
 * so the first request does not pay for it.
 */
import { CleaveError } from '../shared/errors.js';
import type { TensorMap } from '../shared/protocol/frames.js';
import { checkInputs } from '../shared/tensor-check.js';
import type { Clock } from '../shared/time.js';
import type { WorkflowDefinition } from '../shared/workflow/definition.js';
import { compileWorkflow, criticalPathMs, runWorkflow, specBytes, type CompiledWorkflow, type WorkflowEvent, type WorkflowResult } from '../shared/workflow/executor.js';
import type { PutWorkflowMeta, PutWorkflowResult, StoredWorkflow, WorkflowStore } from '../shared/workflow/store.js';
import { topologicalOrder, type ModelLookup } from '../shared/workflow/validate.js';
import type { LiveEstimates } from './live-estimates.js';
import type { SplitModels } from './split-models.js';
import type { EdgeWorkflowRuntime } from './workflow-runtime.js';

export interface WorkflowServiceOptions {
  readonly store: WorkflowStore;
  readonly runtime: EdgeWorkflowRuntime;
  readonly estimates: LiveEstimates;
  readonly clock: Clock;
  readonly splits?: SplitModels;
  /** Budget of a request that states none and whose workflow states none, ms. Default 30000. */
  readonly defaultDeadlineMs?: number;
  /** Largest budget a request may state, ms. Default 300000. */
  readonly maxDeadlineMs?: number;
  readonly log?: (event: Record<string, unknown>) => void;
  /** Told of every run's outcome, after it ends (edge/observability/workflow-observer.ts: metrics and the log line). */
  readonly onRun?: (req: WorkflowRunRequest, outcome: WorkflowRunOutcome) => void;
}

/** How one run ended: its result, or the error it failed with (and the workflow, once it was found). */
export interface WorkflowRunOutcome {
  readonly stored?: StoredWorkflow;
  readonly result?: WorkflowResult;
  readonly error?: unknown;
}

export interface WorkflowRunRequest {
  readonly name: string;
  readonly version?: number;
  readonly inputs: TensorMap;
  readonly deadlineMs?: number;
  readonly receivedAt?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: WorkflowEvent) => void;
  readonly traceparent?: string;
  /** For the log line: the request id and the caller's span id. */
  readonly requestId?: string;
  readonly parentSpanId?: string;
}

/** One node of a plan. */
export interface PlannedNode {
  readonly node: string;
  readonly type: string;
  readonly model?: string;
  /** 'edge', 'cloud', `cut:<tensor>` (+ ' int8'), or 'inline'. */
  readonly placement: string;
  readonly expectedMs?: number;
  readonly explanation?: string;
  /** Why the router could not place it now (e.g. no tier up). */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface WorkflowPlan {
  readonly workflow: string;
  readonly version: number;
  /** Rows the plan was priced for. */
  readonly batch: number;
  readonly nodes: readonly PlannedNode[];
  readonly criticalPath?: { readonly ms: number; readonly path: readonly string[] };
  readonly link: ReturnType<LiveEstimates['link']['snapshot']>;
}

export class WorkflowService {
  private readonly compiled = new Map<string, CompiledWorkflow>();
  private readonly warmed = new Set<string>();
  readonly models: ModelLookup;

  constructor(private readonly opts: WorkflowServiceOptions) {
    this.models = opts.runtime.models;
  }

  /** A store that prepares what it stores: give this to the deploy routes. */
  deployingStore(): WorkflowStore {
    const store = this.opts.store;
    return {
      put: async (def: WorkflowDefinition, meta: PutWorkflowMeta): Promise<PutWorkflowResult> => {
        await this.prepare(def);
        return store.put(def, meta);
      },
      get: (name, version) => store.get(name, version),
      list: () => store.list(),
      delete: (name, version) => store.delete(name, version),
    };
  }

  /** Computes the cut candidates of every split node (needed to place them) and starts the int8 profile. */
  async prepare(def: WorkflowDefinition): Promise<void> {
    const splits = this.opts.splits;
    if (!splits) return;
    for (const [i, n] of def.nodes.entries()) {
      if (n.type !== 'split-model' || !splits.has(n.params.model)) continue;
      await splits.cuts(n.params.model);
      if (n.params.cuts) {
        try {
          await splits.addCuts(n.params.model, n.params.cuts);
        } catch (e) {
          // A document problem, reported like the validator's (nothing is stored).
          const message = (e as Error).message;
          throw new CleaveError('CLEAVE_E_WORKFLOW_INVALID', `workflow "${def.name}" has 1 problem: 1) nodes[${i}].params.cuts: ${message}`, { problems: [{ at: `nodes[${i}].params.cuts`, message }] });
        }
      }
      if (n.params.int8MinAgreement !== undefined) {
        const model = n.params.model;
        splits.profile(model).catch((e: unknown) => this.opts.log?.({ event: 'split-profile-failed', model, error: (e as Error).message }));
      }
      await this.warm(n.params.model);
    }
  }

  /**
   * Warms a split model's sessions on both tiers, once per model, before the deploy answers (as a
   * Triton model is warmed before it reports ready): the router prices each cut from its first
   * measurement, which must not be a session load.
   */
  private async warm(model: string): Promise<void> {
    const splits = this.opts.splits;
    if (!splits || this.warmed.has(model)) return;
    this.warmed.add(model);
    await (async () => {
      for (const { cut, feeds } of await splits.warm(model)) await this.opts.runtime.warmCloud(cut.parts.tail, feeds);
    })().catch((e: unknown) => {
      // A failed warm-up only costs the first request its speed; try again on the next deploy.
      this.warmed.delete(model);
      this.opts.log?.({ event: 'split-warm-failed', model, error: (e as Error).message });
    });
  }

  private async load(name: string, version?: number): Promise<{ stored: StoredWorkflow; compiled: CompiledWorkflow }> {
    const stored = await this.opts.store.get(name, version);
    if (!stored) {
      const known = (await this.opts.store.list()).map((w) => w.name);
      throw new CleaveError('CLEAVE_E_NOT_FOUND', version === undefined
        ? `no workflow "${name}"; deployed: ${known.join(', ') || 'none'} (deploy with POST /v1/workflows)`
        : `workflow "${name}" has no version ${version}`, { workflow: name, ...(version !== undefined ? { version } : {}) });
    }
    const key = `${stored.name}@${stored.version}:${stored.digest}`;
    let c = this.compiled.get(key);
    if (!c) {
      // A store that outlived a restart: prepare what a deploy would have.
      await this.prepare(stored.definition);
      c = compileWorkflow(stored.definition, this.models);
      this.compiled.set(key, c);
    }
    return { stored, compiled: c };
  }

  private budget(asked: number | undefined, def: WorkflowDefinition): number {
    const max = this.opts.maxDeadlineMs ?? 300_000;
    const b = asked ?? def.deadlineMs ?? this.opts.defaultDeadlineMs ?? 30_000;
    if (!Number.isFinite(b) || b <= 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `deadline must be a positive number of milliseconds, got ${b}`, { deadlineMs: String(b) });
    return Math.min(b, max);
  }

  async run(req: WorkflowRunRequest): Promise<{ stored: StoredWorkflow; result: WorkflowResult }> {
    let stored: StoredWorkflow | undefined;
    let done: { stored: StoredWorkflow; result: WorkflowResult };
    try {
      const loaded = await this.load(req.name, req.version);
      stored = loaded.stored;
      checkInputs(`workflow ${stored.name}`, req.inputs, stored.definition.inputs);
      const result = await runWorkflow(loaded.compiled, this.opts.runtime, req.inputs, {
        deadlineMs: this.budget(req.deadlineMs, stored.definition),
        ...(req.receivedAt !== undefined ? { startedAt: req.receivedAt } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        ...(req.onEvent ? { onEvent: req.onEvent } : {}),
        ...(req.traceparent ? { traceparent: req.traceparent } : {}),
      });
      done = { stored: loaded.stored, result };
    } catch (e) {
      this.opts.onRun?.(req, { ...(stored ? { stored } : {}), error: e });
      throw e;
    }
    this.opts.onRun?.(req, done);
    return done;
  }

  /**
   * Runs a document once without storing it (the dashboard's dry run, edge/dashboard): prepared as
   * a deploy prepares it (split cuts computed, sessions warmed), compiled afresh, checked against
   * its declared inputs and run under the same budget rules as `run`. Not told to `onRun`: a dry run
   * leaves no metrics, log line or dashboard statistics behind (the live estimates still learn
   * from its timings, as they would from any traffic). `def` must have passed the validator.
   */
  async dryRun(def: WorkflowDefinition, inputs: TensorMap, opts: { readonly deadlineMs?: number; readonly signal?: AbortSignal } = {}): Promise<WorkflowResult> {
    await this.prepare(def);
    checkInputs(`workflow ${def.name}`, inputs, def.inputs);
    const compiled = compileWorkflow(def, this.models);
    return runWorkflow(compiled, this.opts.runtime, inputs, {
      deadlineMs: this.budget(opts.deadlineMs, def),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** Where each node would run now for a request of `batch` rows, with the cost terms, without running anything. */
  async plan(name: string, version?: number, batch = 1): Promise<WorkflowPlan> {
    const { stored, compiled } = await this.load(name, version);
    const rt = this.opts.runtime;
    const def = stored.definition;
    const nodes: PlannedNode[] = [];
    const byId = new Map(def.nodes.map((n) => [n.id, n]));
    for (const id of topologicalOrder(def)) {
      const n = byId.get(id);
      if (!n) continue;
      try {
        if (n.type === 'model') {
          const info = this.models(n.params.model, n.params.version);
          const p = rt.placeModel({ node: id, model: n.params.model, ...(n.params.version !== undefined ? { version: n.params.version } : {}), policy: n.params.placement ?? 'auto', batch, bytesIn: info ? specBytes(info.inputs, batch) : 0 });
          nodes.push({ node: id, type: n.type, model: n.params.model, placement: p.tier, expectedMs: p.expectedMs, explanation: p.explanation });
        } else if (n.type === 'split-model') {
          const p = rt.placeSplit({ node: id, model: n.params.model, ...(n.params.cuts ? { cuts: n.params.cuts } : {}), ...(n.params.int8MinAgreement !== undefined ? { int8MinAgreement: n.params.int8MinAgreement } : {}), ...(n.params.cut !== undefined ? { pinned: n.params.cut } : {}), batch });
          const placement = p.cut === 'edge' || p.cut === 'cloud' ? p.cut : `cut:${p.cut}${p.int8 ? ' int8' : ''}`;
          nodes.push({ node: id, type: n.type, model: n.params.model, placement, expectedMs: p.expectedMs, explanation: p.explanation });
        } else {
          nodes.push({ node: id, type: n.type, placement: 'inline' });
        }
      } catch (e) {
        const err = e as CleaveError;
        nodes.push({ node: id, type: n.type, placement: 'none', error: { code: err.code ?? 'CLEAVE_E_INTERNAL', message: err.message } });
      }
    }
    let criticalPath: WorkflowPlan['criticalPath'];
    try {
      criticalPath = criticalPathMs(compiled, rt, batch);
    } catch {
      criticalPath = undefined;
    }
    return { workflow: stored.name, version: stored.version, batch, nodes, ...(criticalPath ? { criticalPath } : {}), link: this.opts.estimates.link.snapshot() };
  }
}

