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
 *   then priced from measurements (the decision says `prior=1` meanwhile);
 * - an `auto` model node re-measures the tier it keeps losing to (TierProbe below): estimates only
 *   move when a tier runs, so without this a cloud priced out by one slow spell of the link would
 *   stay priced out after the link recovers (heartbeat RTT samples alone take tens of seconds to
 *   pull a 300 ms estimate back down). A probe says `probe=1` in its explanation.
 */
import { CleaveError, toCleaveError } from '../shared/errors.js';
import { NOOP_SPAN_RECORDER, SPAN_NAMES, type SpanRecorder } from '../shared/observability/span-recorder.js';
import { formatTraceparent, parseTraceparent } from '../shared/trace.js';
import type { TensorMap, TensorSpec } from '../shared/protocol/frames.js';
import { CLOUD_CUT, EDGE_CUT, type CutCandidate } from '../shared/router/cost-model.js';
import { chooseCut, explain, type CutOption, type PlacementDecision, type SplitDecision } from '../shared/router/placement.js';
import type { Tier } from '../shared/router/cost-model.js';
import type { Clock } from '../shared/time.js';
import { specBytes } from '../shared/workflow/executor.js';
import { requestRows } from '../shared/tensor-batch.js';
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
  /** How `auto` re-measures a losing tier; false: never (placement follows the estimates alone). */
  readonly probe?: TierProbeOptions | false;
  /** A span around each cloud call (OpenTelemetry when an SDK is registered). Default: none. */
  readonly spans?: SpanRecorder;
}

/** Default least time a losing tier of a model goes without a run before one request probes it, ms. */
export const PROBE_MIN_INTERVAL_MS = 1000;
/**
 * Default longest such time, ms: the interval doubles after each probe that confirms the loser
 * still loses, up to this (the link estimator's own staleness age, DEFAULT_LINK_STALE_AFTER_MS).
 */
export const PROBE_MAX_INTERVAL_MS = 30_000;

/** Options of a TierProbe. */
export interface TierProbeOptions {
  /** Least time a losing tier goes without a run before it is probed, ms. Default 1000. */
  readonly minIntervalMs?: number;
  /** Most time between probes of a tier that keeps losing, ms. Default 30000. */
  readonly maxIntervalMs?: number;
}

interface ProbeState {
  readonly lastRanAt: { edge?: number; cloud?: number };
  /** The tier the estimates chose last; a change of winner restarts the schedule. */
  winner?: Tier;
  intervalMs: number;
  /** The probe in flight (one per model at a time), and the winner's expected total it must beat. */
  pending?: { readonly tier: Tier; readonly winnerMs: number; readonly at: number } | undefined;
}

/**
 * When `auto` sends one request to the tier it would not choose, so that tier's estimate is
 * measured again instead of trusted forever (an epsilon-greedy probe on a schedule, not at random,
 * so tests are exact). Per model: once the losing tier has not run for `intervalMs`, the next
 * placement takes it. The probe's measured time (edge compute, or the cloud run's total on the
 * edge's clock, link included) is then compared with what the winner was expected to take:
 *   - slower: the loser still loses; the interval doubles (min..max), so a link that stays bad
 *     costs a probe every 1, 2, 4 ... 30 s, not one request in N forever;
 *   - faster: the loser may have recovered; the interval drops to 0, so the next request probes
 *     again, and each probe moves the EWMA at least LIVE_MIN_SAMPLE_WEIGHT of the way, until the
 *     estimates agree and the loser wins on its own (about 6 to 10 requests from 300 ms to 1 ms).
 * A change of winner restarts at minIntervalMs. Runtime-neutral; the clock is injected.
 */
export class TierProbe {
  private readonly states = new Map<string, ProbeState>();
  private readonly minIntervalMs: number;
  private readonly maxIntervalMs: number;

  constructor(private readonly clock: Clock, opts: TierProbeOptions = {}) {
    this.minIntervalMs = opts.minIntervalMs ?? PROBE_MIN_INTERVAL_MS;
    this.maxIntervalMs = opts.maxIntervalMs ?? PROBE_MAX_INTERVAL_MS;
    if (!(this.minIntervalMs >= 0 && this.maxIntervalMs >= this.minIntervalMs && Number.isFinite(this.maxIntervalMs))) {
      throw new RangeError(`probe intervals: expected 0 <= minIntervalMs <= maxIntervalMs < Infinity, got ${this.minIntervalMs} and ${this.maxIntervalMs}`);
    }
  }

  private state(model: string): ProbeState {
    let s = this.states.get(model);
    if (!s) {
      s = { lastRanAt: {}, intervalMs: this.minIntervalMs };
      this.states.set(model, s);
    }
    return s;
  }

  /**
   * The estimates chose `winner` (expected `winnerMs`) for `model`, and `loser` could run too:
   * returns true when this placement should probe the loser instead. Marks the probe in flight.
   */
  pick(model: string, winner: Tier, winnerMs: number, loser: Tier): boolean {
    const s = this.state(model);
    const now = this.clock.now();
    if (s.winner !== winner) {
      s.winner = winner;
      s.intervalMs = this.minIntervalMs;
    }
    // A probe whose run never reported (the request failed before it ran) does not block for long.
    if (s.pending && now - s.pending.at < this.maxIntervalMs) return false;
    const last = s.lastRanAt[loser];
    if (last !== undefined && now - last < s.intervalMs) return false;
    s.pending = { tier: loser, winnerMs, at: now };
    return true;
  }

  /** A run of `model` on `tier` finished in `ms` (undefined: failed, or not the model's own time). */
  ran(model: string, tier: Tier, ms: number | undefined): void {
    const s = this.state(model);
    s.lastRanAt[tier] = this.clock.now();
    if (s.pending?.tier !== tier) return;
    const promising = ms !== undefined && ms < s.pending.winnerMs;
    s.intervalMs = promising ? 0 : Math.min(this.maxIntervalMs, Math.max(this.minIntervalMs, 2 * s.intervalMs));
    s.pending = undefined;
  }

  /** The interval now before `model`'s losing tier is probed, ms (for tests and logs). */
  intervalMs(model: string): number {
    return this.states.get(model)?.intervalMs ?? this.minIntervalMs;
  }
}

/** Protocol model names are lower-case; a subgraph's name is only for logs and metrics. */
function subgraphName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._-]/g, '.').replace(/^[^a-z0-9]+/, '');
  return (s || 'workflow').slice(0, 64);
}


export class EdgeWorkflowRuntime implements WorkflowRuntime {
  private readonly router: StageRouter;
  private readonly probe: TierProbe | undefined;

  constructor(private readonly opts: EdgeWorkflowRuntimeOptions) {
    this.router = new StageRouter(opts.estimates);
    this.probe = opts.probe === false ? undefined : new TierProbe(opts.clock, opts.probe ?? {});
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
    const probed = this.maybeProbe(q, decision);
    if (probed) return probed;
    return { tier: decision.tier, explanation, expectedMs: decision.expectedMs };
  }

  /**
   * A probe of the losing tier in place of `decision`, or undefined. Only for a placement that
   * is about to run: the executor always passes the time left (`deadlineMs`), while the plan
   * endpoint and the critical-path check ask without one and must see the router's best choice.
   * The loser must meet the deadline: a probe never costs a request its budget.
   */
  private maybeProbe(q: ModelQuestion, decision: PlacementDecision): ModelPlacement | undefined {
    if (!this.probe || q.policy !== 'auto' || q.deadlineMs === undefined) return undefined;
    const loser = decision.candidates.find((c) => c.tier !== decision.tier);
    if (!loser || !loser.feasible) return undefined;
    if (!this.probe.pick(q.model, decision.tier, decision.expectedMs, loser.tier)) return undefined;
    const probe: PlacementDecision = { ...decision, tier: loser.tier, expectedMs: loser.terms.totalMs };
    return { tier: loser.tier, explanation: `${explain(probe)}; probe=1`, expectedMs: loser.terms.totalMs };
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
    // A pinned cut is the only candidate: priced like any other, never replaced, never probed.
    const pinned = q.pinned;
    if (pinned !== undefined) {
      const only = cands.filter((x) => x.cut === pinned);
      if (only.length === 0) {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `workflow node "${q.node}" pins cut ${JSON.stringify(pinned)} of model ${JSON.stringify(q.model)}, which this edge cannot run (ready: ${cands.map((x) => x.cut).join(', ')})`, { node: q.node, model: q.model, cut: pinned });
      }
      cands.splice(0, cands.length, ...only);
      // A cloud part with the link down: go anyway, so the run fails fast and the executor falls back.
      if (!cloud && pinned !== EDGE_CUT) return { cut: pinned, int8: false, explanation: `cut=${pinned}; link=${this.opts.cloud.status().state}; policy=pinned`, expectedMs: 0 };
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
    if (pinned !== undefined) return { cut: decision.cut, int8: decision.int8, explanation: `${explain(decision)}; policy=pinned`, expectedMs: decision.expectedMs };
    return this.maybeProbeSplit(q, decision) ?? { cut: decision.cut, int8: decision.int8, explanation: explain(decision), expectedMs: decision.expectedMs };
  }

  /**
   * The split's probe, on the same schedule as maybeProbe: the two "tiers" are all-edge and the
   * best option with a cloud part (all-cloud or a cut). A probe of the cloud side measures the
   * link with a real transfer, which nothing else does while the split stays on the edge.
   */
  private maybeProbeSplit(q: SplitQuestion, decision: SplitDecision): SplitPlacement | undefined {
    if (!this.probe || q.deadlineMs === undefined) return undefined;
    const winner: Tier = decision.cut === EDGE_CUT ? 'edge' : 'cloud';
    const losers = decision.candidates.filter((c) => c.feasible && (c.cut === EDGE_CUT) !== (winner === 'edge'));
    const loser = losers.reduce<CutOption | undefined>((b, c) => (b === undefined || c.terms.totalMs < b.terms.totalMs ? c : b), undefined);
    if (!loser || !this.probe.pick(q.model, winner, decision.expectedMs, winner === 'edge' ? 'cloud' : 'edge')) return undefined;
    const probe: SplitDecision = { ...decision, cut: loser.cut, int8: loser.int8, expectedMs: loser.terms.totalMs };
    return { cut: loser.cut, int8: loser.int8, explanation: `${explain(probe)}; probe=1`, expectedMs: loser.terms.totalMs };
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
    let ms: number | undefined;
    try {
      const outputs = await session.run(call.inputs);
      ms = clock.now() - t;
      estimates.observeEdge(call.model, requestRows(call.inputs), ms);
      return { outputs, ms };
    } finally {
      this.probe?.ran(call.model, 'edge', ms);
    }
  }

  async runCloud(call: CloudCall): Promise<CloudCallResult> {
    const { cloud, estimates } = this.opts;
    let ms: number | undefined;
    // With an exporter, the cloud is told the exported call span (one exported tree); else the run's span.
    const parent = parseTraceparent(call.traceparent);
    const span = (this.opts.spans ?? NOOP_SPAN_RECORDER).start(SPAN_NAMES.edgeCloudCall, {
      role: 'client', ...(parent ? { parent } : {}), attributes: { 'cleave.model': subgraphName(call.name), 'cleave.stages': call.stages.length },
    });
    const traceparent = span.context ? formatTraceparent(span.context) : call.traceparent;
    try {
      const r = await cloud.run({
        model: subgraphName(call.name), stages: call.stages, inputs: call.inputs, outputs: call.outputs, deadlineMs: call.deadlineMs,
        ...(call.int8Inputs ? { int8Inputs: true } : {}),
        ...(traceparent ? { traceparent } : {}),
        ...(call.onStage ? { onPartial: (stage: number, _model: string, outputs: TensorMap) => call.onStage!(stage, outputs) } : {}),
      }, call.signal);
      const batch = requestRows(call.inputs);
      // One stage: its compute is the model's. Several: only the link and queue learn from it.
      if (call.stages.length === 1) {
        estimates.observeCloud(call.stages[0]!.model, batch, r, cloud.status().load);
        ms = r.totalMs;
      } else estimates.observeCloud(subgraphName(call.name), batch, r, cloud.status().load);
      span.end();
      return { outputs: r.outputs, ms: r.totalMs, queueMs: r.timing.queueMs, computeMs: r.timing.computeMs };
    } catch (e) {
      const err = toCleaveError(e);
      span.end({ code: err.code, message: err.message });
      throw e;
    } finally {
      // A chain's total is not one model's time: its stages count as run, without a verdict.
      for (const s of call.stages) this.probe?.ran(s.model, 'cloud', ms);
      // A split's tail ran: its model's cloud side has been measured (not comparable to the whole split's total).
      for (const s of call.stages) {
        const base = this.opts.splits?.tailOf(s.model);
        if (base !== undefined) this.probe?.ran(base, 'cloud', undefined);
      }
    }
  }

  /**
   * Runs a model once in the cloud to load and warm it there, without feeding the estimates
   * (a cold run's time is not what the next request will see). Does nothing while the link is down.
   */
  async warmCloud(model: string, inputs: TensorMap): Promise<void> {
    if (this.opts.cloud.status().state !== 'connected') return;
    await this.opts.cloud.run({ model, inputs, deadlineMs: 30_000 });
  }

  edgeStandIn(model: string): string | undefined {
    const e = this.opts.catalog.find(model);
    if (e?.placement === 'edge') return model;
    if (e?.fallback !== undefined) return e.fallback;
    return this.opts.splits?.has(model) ? model : undefined;
  }
}
