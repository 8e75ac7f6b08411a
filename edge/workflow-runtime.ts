/**
 * The edge's WorkflowRuntime (shared/workflow/runtime.ts): the executor's model calls placed by
 * the router from the edge's live estimates and run on the edge backend or, as subgraphs, over
 * the cloud link. Every run feeds the estimates back, so the next placement sees it.
 *
 * Placement rules on top of the cost model:
 * - a tier counts only when it can run the model now: the edge when it holds the model (or, for
 *   a split, its bytes), the cloud while the link is connected and the model is cloud-side;
 * - a fixed `cloud` placement (or an `auto` with no tier up) is taken even with the link down:
 *   the run then fails fast with CLEAVE_E_UNAVAILABLE and the executor falls back to the edge;
 * - a tier or cut never measured gets an optimistic 0 ms compute prior, so each is tried once and
 *   then priced from measurements (the decision says `prior=1` meanwhile).
 */
import { CleaveError } from '../shared/errors.js';
import type { TensorMap, TensorSpec } from '../shared/protocol/frames.js';
import { CLOUD_CUT, EDGE_CUT, type CutCandidate } from '../shared/router/cost-model.js';
import { chooseCut, explain } from '../shared/router/placement.js';
import type { Clock } from '../shared/time.js';
import { specBytes } from '../shared/workflow/executor.js';
import type { CloudCall, CloudCallResult, EdgeCall, ModelPlacement, ModelQuestion, SplitParts, SplitPlacement, SplitQuestion, WorkflowRuntime } from '../shared/workflow/runtime.js';
import type { ModelInfo, ModelLookup } from '../shared/workflow/validate.js';
import type { CloudTransport } from './cloud-transport.js';
import type { LiveEstimates } from './live-estimates.js';
import type { ModelCatalog } from './model-catalog.js';
import type { SplitModels } from './split-models.js';
import { StageRouter } from './stage-router.js';

export interface EdgeWorkflowRuntimeOptions {
  readonly catalog: ModelCatalog;
  readonly cloud: CloudTransport;
  readonly estimates: LiveEstimates;
  readonly clock: Clock;
  /** Models this edge can cut (it holds their bytes); none: split nodes run whole on one tier. */
  readonly splits?: SplitModels;
}

/** Protocol model names are lower-case; a subgraph's name is only for logs and metrics. */
function subgraphName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._-]/g, '.').replace(/^[^a-z0-9]+/, '');
  return (s || 'workflow').slice(0, 64);
}

function rows(inputs: TensorMap): number {
  for (const t of Object.values(inputs)) return Math.max(1, t.dims[0] ?? 1);
  return 1;
}

export class EdgeWorkflowRuntime implements WorkflowRuntime {
  private readonly router: StageRouter;

  constructor(private readonly opts: EdgeWorkflowRuntimeOptions) {
    this.router = new StageRouter(opts.estimates);
  }

  now(): number {
    return this.opts.clock.now();
  }

  /** What the validator and executor know about a model: its contract and the tiers that have it. */
  readonly models: ModelLookup = (model, version) => {
    const { catalog, cloud, splits } = this.opts;
    let entry = catalog.find(model, version);
    if (!entry) {
      catalog.learnOffers(cloud.status().offers);
      entry = catalog.find(model, version);
    }
    // A model only the gateway's folder holds (no cloud configured) still runs here whole or cut.
    const contract = entry ?? splits?.contract(model);
    if (!contract) return undefined;
    const tiers: ModelInfo['tiers'][number][] = [];
    if (entry?.placement === 'edge' || splits?.has(model)) tiers.push('edge');
    if (entry?.placement === 'cloud' || cloud.status().offers.some((o) => o.name === model)) tiers.push('cloud');
    return { inputs: contract.inputs, outputs: contract.outputs, tiers };
  };

  private cloudUp(model?: string): boolean {
    const s = this.opts.cloud.status();
    if (s.state !== 'connected') return false;
    if (model === undefined) return true;
    const e = this.opts.catalog.find(model);
    return e?.placement === 'cloud' || s.offers.some((o) => o.name === model);
  }

  private edgeHas(model: string): boolean {
    return this.opts.catalog.find(model)?.placement === 'edge' || this.opts.splits?.has(model) === true;
  }

  placeModel(q: ModelQuestion): ModelPlacement {
    const entry = this.opts.catalog.find(q.model, q.version);
    if (!entry && !this.opts.splits?.has(q.model)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `workflow node "${q.node}" runs model ${JSON.stringify(q.model)}, which neither this edge nor the cloud serves now`, { node: q.node, model: q.model });
    }
    const edge = this.edgeHas(q.model);
    const cloud = this.cloudUp(q.model);
    if (q.policy === 'edge' && !edge) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `workflow node "${q.node}" is placed on the edge, and this edge does not hold model ${JSON.stringify(q.model)}`, { node: q.node, model: q.model });
    }
    // Cloud asked (or nothing up): go; a down link fails fast and the executor falls back.
    if ((q.policy === 'cloud' && !cloud) || (!edge && !cloud)) return { tier: 'cloud', explanation: `tier=cloud; link=${this.opts.cloud.status().state}`, expectedMs: 0 };
    const { decision, explanation } = this.router.decide({
      model: q.model, batch: q.batch, bytesIn: q.bytesIn, outputs: entry?.outputs ?? this.opts.splits?.contract(q.model)?.outputs ?? [], edgeAvailable: edge, cloudAvailable: cloud,
      policy: q.policy, ...(q.deadlineMs !== undefined ? { deadlineMs: q.deadlineMs } : {}),
    });
    return { tier: decision.tier, explanation, expectedMs: decision.expectedMs };
  }

  placeSplit(q: SplitQuestion): SplitPlacement {
    const { estimates, splits } = this.opts;
    const cloud = this.cloudUp(q.model);
    const entry = this.opts.catalog.find(q.model, q.version);
    const outputs: readonly TensorSpec[] = entry?.outputs ?? splits?.contract(q.model)?.outputs ?? [];
    const cuts = splits?.readyCuts(q.model);
    const allowed = q.cuts ? new Set(q.cuts.filter((c) => c.length === 1).map((c) => c[0]!)) : undefined;
    const est = (tier: 'edge' | 'cloud', model: string): { ms: number; prior: boolean } => {
      const ms = (tier === 'edge' ? estimates.edgeCompute : estimates.cloudCompute).estimate(model, q.batch);
      return { ms: ms ?? 0, prior: ms === undefined };
    };
    const cands: CutCandidate[] = [];
    if (splits?.has(q.model)) {
      const e = est('edge', q.model);
      cands.push({ cut: EDGE_CUT, headMs: e.ms, tailMs: 0, activationBytes: 0, ...(e.prior ? { prior: true } : {}) });
    }
    const inputBytes = splits?.sizes(q.model)?.inputBytesPerRow ?? (entry ? specBytes(entry.inputs, 1) : 0);
    const c = est('cloud', q.model);
    cands.push({ cut: CLOUD_CUT, headMs: 0, tailMs: c.ms, activationBytes: inputBytes * q.batch, ...(c.prior ? { prior: true } : {}) });
    for (const cut of cuts ?? []) {
      if (allowed && !allowed.has(cut.tensor)) continue;
      const h = est('edge', cut.parts.head);
      const t = est('cloud', cut.parts.tail);
      const bytes = cut.bytesPerRow * q.batch;
      cands.push({
        cut: cut.tensor, headMs: h.ms, tailMs: t.ms, activationBytes: bytes,
        // int8: one byte per element plus scale and zero point.
        int8ActivationBytes: Math.ceil(bytes / 4) + 16,
        ...(cut.int8Agreement !== undefined ? { int8Agreement: cut.int8Agreement } : {}),
        ...(h.prior || t.prior ? { prior: true } : {}),
      });
    }
    // Nothing can run it now (no copy to cut here, link down): go to the cloud anyway, so the run
    // fails fast and the executor falls back to an edge stand-in.
    if (!cloud && !cands.some((x) => x.cut === EDGE_CUT)) return { cut: CLOUD_CUT, int8: false, explanation: `cut=cloud; link=${this.opts.cloud.status().state}`, expectedMs: 0 };
    const queue = estimates.queue.estimate(q.model);
    const link = estimates.link.snapshot();
    const decision = chooseCut(cands, {
      bytesOut: specBytes(outputs, q.batch), cloudQueueMs: queue?.ms ?? 0, ...(queue === undefined ? { cloudQueuePrior: true } : {}),
      link: { rttMs: link.rttMs, upBitsPerSec: link.upBitsPerSec, downBitsPerSec: link.downBitsPerSec, ...(link.priorUsed ? { prior: true } : {}) },
      cloudAvailable: cloud, model: q.model,
      ...(q.deadlineMs !== undefined ? { deadlineMs: q.deadlineMs } : {}),
      ...(q.int8MinAgreement !== undefined ? { minInt8Agreement: q.int8MinAgreement } : {}),
    });
    return { cut: decision.cut, int8: decision.int8, explanation: explain(decision), expectedMs: decision.expectedMs };
  }

  splitParts(model: string, _version: number | undefined, cut: string): SplitParts {
    if (!this.opts.splits) throw new CleaveError('CLEAVE_E_NOT_FOUND', `this edge cannot cut model ${JSON.stringify(model)}`, { model });
    return this.opts.splits.parts(model, cut);
  }

  async runEdge(call: EdgeCall): Promise<{ outputs: TensorMap; ms: number }> {
    const { catalog, splits, clock, estimates } = this.opts;
    const entry = catalog.find(call.model, call.version);
    const session = entry?.placement === 'edge' ? await catalog.session(entry) : splits ? await splits.session(call.model) : undefined;
    if (!session) throw new CleaveError('CLEAVE_E_UNAVAILABLE', `model ${JSON.stringify(call.model)} has no copy on this edge`, { model: call.model });
    if (call.signal.aborted) throw new CleaveError('CLEAVE_E_CANCELLED', `the run of ${JSON.stringify(call.model)} was cancelled`, { model: call.model });
    const t = clock.now();
    const outputs = await session.run(call.inputs);
    const ms = clock.now() - t;
    estimates.observeEdge(call.model, rows(call.inputs), ms);
    return { outputs, ms };
  }

  async runCloud(call: CloudCall): Promise<CloudCallResult> {
    const { cloud, estimates } = this.opts;
    const r = await cloud.run({
      model: subgraphName(call.name), stages: call.stages, inputs: call.inputs, outputs: call.outputs, deadlineMs: call.deadlineMs,
      ...(call.int8Inputs ? { int8Inputs: true } : {}),
      ...(call.traceparent ? { traceparent: call.traceparent } : {}),
      ...(call.onStage ? { onPartial: (stage: number, _model: string, outputs: TensorMap) => call.onStage!(stage, outputs) } : {}),
    }, call.signal);
    const batch = rows(call.inputs);
    // One stage: its compute is the model's. Several: only the link and queue learn from it.
    if (call.stages.length === 1) estimates.observeCloud(call.stages[0]!.model, batch, r, cloud.status().load);
    else estimates.observeCloud(subgraphName(call.name), batch, r, cloud.status().load);
    return { outputs: r.outputs, ms: r.totalMs, queueMs: r.timing.queueMs, computeMs: r.timing.computeMs };
  }

  edgeStandIn(model: string): string | undefined {
    const e = this.opts.catalog.find(model);
    if (e?.placement === 'edge') return model;
    if (e?.fallback !== undefined) return e.fallback;
    return this.opts.splits?.has(model) ? model : undefined;
  }
}
