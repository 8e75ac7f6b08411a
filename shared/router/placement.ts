/**
 * Placement: where one stage runs (placeStage) and where a split model is cut (chooseCut), from
 * the totals of cost-model.ts. Both follow the same rules:
 *
 *   1. Candidates are what can run now: a tier with estimates, a cut with a cloud part only while
 *      the cloud is available, an int8 variant only within the accuracy budget. Nothing that
 *      cannot run is listed; none at all -> CLEAVE_E_UNAVAILABLE.
 *   2. With a deadline, a candidate whose total exceeds it is infeasible (a total equal to the
 *      deadline meets it). None feasible -> CLEAVE_E_DEADLINE: a request must not be started
 *      where it cannot finish in time; the caller answers 504 at once instead of 504 late.
 *   3. The lowest total among the feasible wins. Ties go to the edge (no WAN, no cloud cost);
 *      between cuts, to fp32 over int8 (no accuracy cost), then to the earlier in the list.
 *
 * placeStage adds a fixed policy ('edge' or 'cloud': the tier is chosen, rules 1 and 2 still
 * apply to it) and an optional bias toward the edge. explain() renders a decision as the one-line
 * `x-cleave-placement` header value.
 */
import { CleaveError } from '../errors.js';
import {
  CLOUD_CUT,
  EDGE_CUT,
  checkCutCandidate,
  checkFraction,
  checkLink,
  checkMs,
  checkStageEstimates,
  cloudTerms,
  cutTerms,
  edgeTerms,
  type CostTerms,
  type CutCandidate,
  type LinkEstimates,
  type StageEstimates,
  type Tier,
} from './cost-model.js';

/** How a stage is placed: on a fixed tier, or 'auto' by expected latency. */
export type PlacementPolicy = 'edge' | 'cloud' | 'auto';

/** The policies, for config validation. */
export const PLACEMENT_POLICIES: readonly PlacementPolicy[] = ['edge', 'cloud', 'auto'];

/** Why a candidate won. */
export type DecisionReason =
  | 'fixed by policy'
  | 'lowest expected latency'
  | 'tie, edge preferred'
  | 'edge preferred within bias'
  | 'only tier available'
  | 'only tier that meets the deadline'
  | 'only candidate'
  | 'only candidate that meets the deadline';

/** What every decision carries. */
export interface DecisionBase {
  /** Total of the chosen candidate, ms. */
  readonly expectedMs: number;
  readonly reason: DecisionReason;
  /** True when a term of a candidate the decision weighed came from a prior (no measurement yet). */
  readonly priorUsed: boolean;
}

/** One tier placeStage considered. */
export interface TierCandidate {
  readonly tier: Tier;
  readonly terms: CostTerms;
  /** Meets the deadline (true without one). Independent of the policy. */
  readonly feasible: boolean;
  /** Why it is infeasible; absent when feasible. */
  readonly reason?: string;
  /** A term of this candidate came from a prior. */
  readonly priorUsed: boolean;
}

/** Where one stage runs, and why. */
export interface PlacementDecision extends DecisionBase {
  readonly tier: Tier;
  readonly policy: PlacementPolicy;
  /** Each tier that can run the stage, edge first, with its terms (for the plan endpoint and the response header). */
  readonly candidates: readonly TierCandidate[];
}

/** One cut (or cut and encoding) chooseCut considered. */
export interface CutOption {
  readonly cut: string;
  /** The activation travels int8-encoded. */
  readonly int8: boolean;
  /** Bytes sent up: the activation as it travels (0 for 'edge'). */
  readonly bytesUp: number;
  readonly terms: CostTerms;
  /** Meets the deadline (true without one). */
  readonly feasible: boolean;
  /** Why it is infeasible; absent when feasible. */
  readonly reason?: string;
  readonly priorUsed: boolean;
}

/** Where a split model is cut, and why. */
export interface SplitDecision extends DecisionBase {
  /** The chosen cut: 'edge', 'cloud' or a cut's name. */
  readonly cut: string;
  readonly int8: boolean;
  /** Each option considered, in input order with a cut's int8 variant right after it. */
  readonly candidates: readonly CutOption[];
}

/** Options of placeStage. */
export interface PlaceStageOptions {
  /** Time left for the stage, ms; a tier whose total exceeds it is not used. Default: none. */
  readonly deadlineMs?: number;
  /** Choose the edge while its total is within this many ms of the cloud's (saves cloud cost). Default 0. */
  readonly edgeBiasMs?: number;
  /** Choose the edge while its total is within this fraction of the cloud's (0.1 = 10 %). Default 0. */
  readonly edgeBiasFraction?: number;
}

/**
 * Places one stage. `auto` takes the lowest total among the tiers that can run it and meet the
 * deadline; the edge wins a tie, and wins outright while edge <= cloud + margin, with margin =
 * max(edgeBiasMs, edgeBiasFraction * cloud). A fixed policy takes its tier.
 *
 * Throws CLEAVE_E_UNAVAILABLE when no tier (or not the policy's tier) can run the model,
 * CLEAVE_E_DEADLINE when none (or not the policy's tier) meets the deadline, and
 * CLEAVE_E_BAD_ARGUMENT for a number out of range or an unknown policy.
 */
export function placeStage(e: StageEstimates, policy: PlacementPolicy, opts: PlaceStageOptions = {}): PlacementDecision {
  if (!PLACEMENT_POLICIES.includes(policy)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `placement policy = ${JSON.stringify(policy)}: expected "edge", "cloud" or "auto"`, { policy: String(policy) });
  }
  checkStageEstimates(e);
  const deadline = opts.deadlineMs;
  checkDeadline(deadline);
  const biasMs = opts.edgeBiasMs ?? 0;
  const biasFraction = opts.edgeBiasFraction ?? 0;
  checkMs('edgeBiasMs', biasMs);
  checkMs('edgeBiasFraction', biasFraction);

  const candidates: TierCandidate[] = [];
  if (e.edge) candidates.push(tierCandidate('edge', edgeTerms(e.edge.computeMs), e.edge.prior === true, deadline));
  if (e.cloud) {
    const terms = cloudTerms({ bytesUp: e.bytesIn, bytesDown: e.bytesOut, queueMs: e.cloud.queueMs, computeMs: e.cloud.computeMs, link: e.link });
    candidates.push(tierCandidate('cloud', terms, e.cloud.prior === true || e.link.prior === true, deadline));
  }
  const edge = candidates.find((c) => c.tier === 'edge');
  const cloud = candidates.find((c) => c.tier === 'cloud');
  const model = JSON.stringify(e.model);

  if (policy !== 'auto') {
    const c = policy === 'edge' ? edge : cloud;
    if (!c) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `placement policy "${policy}" fixes model ${model} to the ${policy}, which cannot run it now`, { model: e.model, policy });
    }
    if (!c.feasible) {
      throw new CleaveError('CLEAVE_E_DEADLINE', `model ${model} on the ${policy} (fixed by policy) is expected to take ${ms(c.terms.totalMs)}, over the deadline of ${ms(deadline ?? 0)}`, {
        model: e.model,
        policy,
        deadlineMs: deadline ?? 0,
        [`${policy}Ms`]: c.terms.totalMs,
      });
    }
    return { tier: c.tier, policy, expectedMs: c.terms.totalMs, candidates, reason: 'fixed by policy', priorUsed: c.priorUsed };
  }

  if (!edge && !cloud) {
    throw new CleaveError('CLEAVE_E_UNAVAILABLE', `model ${model} can run neither on the edge nor in the cloud now`, { model: e.model });
  }
  const priorUsed = candidates.some((c) => c.priorUsed);
  const feasible = candidates.filter((c) => c.feasible);
  if (feasible.length === 0) {
    const totals = candidates.map((c) => `${c.tier} ${ms(c.terms.totalMs)}`);
    if (!edge) totals.push('edge unavailable');
    if (!cloud) totals.push('cloud unavailable');
    const detail: Record<string, string | number> = { model: e.model, deadlineMs: deadline ?? 0 };
    for (const c of candidates) detail[`${c.tier}Ms`] = c.terms.totalMs;
    throw new CleaveError('CLEAVE_E_DEADLINE', `no tier can run model ${model} within the deadline of ${ms(deadline ?? 0)}: ${totals.join(', ')}`, detail);
  }
  const decide = (c: TierCandidate, reason: DecisionReason): PlacementDecision => ({ tier: c.tier, policy, expectedMs: c.terms.totalMs, candidates, reason, priorUsed });
  const [only] = feasible;
  if (feasible.length === 1 && only) return decide(only, candidates.length === 1 ? 'only tier available' : 'only tier that meets the deadline');
  // Both feasible from here.
  const edgeMs = edge!.terms.totalMs;
  const cloudMs = cloud!.terms.totalMs;
  if (edgeMs < cloudMs) return decide(edge!, 'lowest expected latency');
  if (edgeMs === cloudMs) return decide(edge!, 'tie, edge preferred');
  if (edgeMs <= cloudMs + Math.max(biasMs, biasFraction * cloudMs)) return decide(edge!, 'edge preferred within bias');
  return decide(cloud!, 'lowest expected latency');
}

/** What chooseCut knows besides the candidates. */
export interface CutContext {
  /** Result bytes coming back from the tail. */
  readonly bytesOut: number;
  /** Expected wait in the cloud's queue, ms. */
  readonly cloudQueueMs: number;
  /** The queue estimate is a prior. Default false. */
  readonly cloudQueuePrior?: boolean;
  readonly link: LinkEstimates;
  /** False: only 'edge' can run. */
  readonly cloudAvailable: boolean;
  /** Time left for the stage, ms. Default: none. */
  readonly deadlineMs?: number;
  /** Least int8Agreement allowed (the accuracy budget), 0..1; undefined: int8 not allowed. */
  readonly minInt8Agreement?: number;
  /** The model, for error messages. */
  readonly model?: string;
}

/**
 * Chooses where to cut a split model (Neurosurgeon): each cut with a cloud part costs
 * head + rtt + activation/up + queue + tail + bytesOut/down, 'edge' costs its head alone; a cut's
 * int8 variant (int8ActivationBytes sent up) is considered when minInt8Agreement is set and the
 * cut's int8Agreement is at least that. Picks by the rules of the file comment.
 *
 * Throws CLEAVE_E_UNAVAILABLE when nothing can run (the cloud is unavailable and there is no
 * 'edge' candidate), CLEAVE_E_DEADLINE when nothing meets the deadline, and
 * CLEAVE_E_BAD_ARGUMENT for no candidates, a repeated cut name or a number out of range.
 */
export function chooseCut(cands: readonly CutCandidate[], ctx: CutContext): SplitDecision {
  const model = ctx.model === undefined ? 'the split model' : `model ${JSON.stringify(ctx.model)}`;
  if (cands.length === 0) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `no cut candidates for ${model}: expected at least one`, {});
  }
  const names = new Set<string>();
  for (const c of cands) {
    checkCutCandidate(c);
    if (names.has(c.cut)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cut ${JSON.stringify(c.cut)} is listed twice`, { cut: c.cut });
    names.add(c.cut);
  }
  checkMs('bytesOut', ctx.bytesOut);
  checkMs('cloudQueueMs', ctx.cloudQueueMs);
  if (ctx.cloudAvailable) checkLink(ctx.link);
  checkDeadline(ctx.deadlineMs);
  const minAgreement = ctx.minInt8Agreement;
  if (minAgreement !== undefined) checkFraction('minInt8Agreement', minAgreement);

  const options: CutOption[] = [];
  const cloudPrior = ctx.link.prior === true || ctx.cloudQueuePrior === true;
  for (const c of cands) {
    const prior = c.prior === true;
    if (c.cut === EDGE_CUT) {
      options.push(cutOption(c.cut, false, 0, edgeTerms(c.headMs), prior, ctx.deadlineMs));
      continue;
    }
    if (!ctx.cloudAvailable) continue;
    options.push(cutOption(c.cut, false, c.activationBytes, cutTerms(c, ctx), prior || cloudPrior, ctx.deadlineMs));
    if (minAgreement !== undefined && c.int8ActivationBytes !== undefined && c.int8Agreement !== undefined && c.int8Agreement >= minAgreement) {
      options.push(cutOption(c.cut, true, c.int8ActivationBytes, cutTerms(c, ctx, true), prior || cloudPrior, ctx.deadlineMs));
    }
  }
  if (options.length === 0) {
    throw new CleaveError('CLEAVE_E_UNAVAILABLE', `the cloud is unavailable and ${model} has no "edge" candidate: nowhere to run it`, { model: ctx.model ?? '' });
  }
  const priorUsed = options.some((o) => o.priorUsed);
  const feasible = options.filter((o) => o.feasible);
  const best = feasible.reduce<CutOption | undefined>((b, o) => (b === undefined || better(o, b) ? o : b), undefined);
  if (!best) {
    const fastest = options.reduce((b, o) => (better(o, b) ? o : b));
    const baselines = options.filter((o) => o !== fastest && !o.int8 && (o.cut === EDGE_CUT || o.cut === CLOUD_CUT)).map((o) => `${o.cut} ${ms(o.terms.totalMs)}`);
    throw new CleaveError(
      'CLEAVE_E_DEADLINE',
      `no cut of ${model} meets the deadline of ${ms(ctx.deadlineMs ?? 0)}: the fastest, ${optionName(fastest)}, is expected to take ${ms(fastest.terms.totalMs)}${baselines.length ? `; ${baselines.join(', ')}` : ''}`,
      { model: ctx.model ?? '', deadlineMs: ctx.deadlineMs ?? 0, fastestMs: fastest.terms.totalMs, fastest: optionName(fastest) },
    );
  }
  let reason: DecisionReason;
  if (!ctx.cloudAvailable) reason = 'only tier available';
  else if (options.length === 1) reason = 'only candidate';
  else if (feasible.length === 1) reason = 'only candidate that meets the deadline';
  else if (best.cut === EDGE_CUT && feasible.some((o) => o !== best && o.terms.totalMs === best.terms.totalMs)) reason = 'tie, edge preferred';
  else reason = 'lowest expected latency';
  return { cut: best.cut, int8: best.int8, expectedMs: best.terms.totalMs, candidates: options, reason, priorUsed };
}

/**
 * The one-line `x-cleave-placement` header value of a decision: the choice, its total and terms,
 * then the totals it was weighed against, all in ms at 1 decimal:
 *
 *   tier=cloud; total=23.1; rtt=10.0; up=2.1; queue=3.0; compute=7.2; down=0.8; vs edge=41.0
 *   cut=mid; int8=1; total=60.0; head=10.0; rtt=20.0; up=20.0; queue=4.0; compute=5.0; down=1.0; vs edge=100.0; vs cloud=193.0
 *
 * Terms: compute is the cloud's (the edge's on an all-edge choice), head the edge part of a
 * split. A split shows the all-edge and all-cloud (fp32) baselines when listed and not chosen.
 * `policy=` follows when a fixed policy chose, `prior=1` when a prior was used. Cut names are
 * percent-encoded (encodeURIComponent, lone surrogates as U+FFFD first, since it throws on them),
 * so `;`, `=`, control characters and non-ASCII never reach the header.
 */
export function explain(d: PlacementDecision | SplitDecision): string {
  const parts: string[] = [];
  if ('cut' in d) {
    const chosen = d.candidates.find((o) => o.cut === d.cut && o.int8 === d.int8);
    parts.push(`cut=${headerSafe(d.cut)}`);
    if (d.int8) parts.push('int8=1');
    parts.push(`total=${n1(d.expectedMs)}`);
    if (chosen) parts.push(...termParts(chosen.terms));
    for (const base of [EDGE_CUT, CLOUD_CUT]) {
      const o = d.candidates.find((c) => c.cut === base && !c.int8);
      if (o && o !== chosen) parts.push(`vs ${base}=${n1(o.terms.totalMs)}`);
    }
  } else {
    const chosen = d.candidates.find((c) => c.tier === d.tier);
    parts.push(`tier=${d.tier}`, `total=${n1(d.expectedMs)}`);
    if (chosen) parts.push(...termParts(chosen.terms));
    for (const c of d.candidates) if (c !== chosen) parts.push(`vs ${c.tier}=${n1(c.terms.totalMs)}`);
    if (d.policy !== 'auto') parts.push(`policy=${d.policy}`);
  }
  if (d.priorUsed) parts.push('prior=1');
  return parts.join('; ');
}

function termParts(t: CostTerms): string[] {
  const out: string[] = [];
  const add = (k: string, v: number | undefined): void => {
    if (v !== undefined) out.push(`${k}=${n1(v)}`);
  };
  add(t.cloudComputeMs === undefined ? 'compute' : 'head', t.edgeComputeMs);
  add('rtt', t.rttMs);
  add('up', t.upMs);
  add('queue', t.cloudQueueMs);
  add('compute', t.cloudComputeMs);
  add('down', t.downMs);
  return out;
}

// Strictly better: lower total; on equal totals the edge, then fp32; then the earlier (the
// caller's order), which a strict comparison in a left-to-right reduce keeps.
function better(a: CutOption, b: CutOption): boolean {
  if (a.terms.totalMs !== b.terms.totalMs) return a.terms.totalMs < b.terms.totalMs;
  const aEdge = a.cut === EDGE_CUT;
  const bEdge = b.cut === EDGE_CUT;
  if (aEdge !== bEdge) return aEdge;
  return !a.int8 && b.int8;
}

function tierCandidate(tier: Tier, terms: CostTerms, priorUsed: boolean, deadline: number | undefined): TierCandidate {
  return deadline === undefined || terms.totalMs <= deadline
    ? { tier, terms, feasible: true, priorUsed }
    : { tier, terms, feasible: false, reason: overDeadline(terms.totalMs, deadline), priorUsed };
}

function cutOption(cut: string, int8: boolean, bytesUp: number, terms: CostTerms, priorUsed: boolean, deadline: number | undefined): CutOption {
  return deadline === undefined || terms.totalMs <= deadline
    ? { cut, int8, bytesUp, terms, feasible: true, priorUsed }
    : { cut, int8, bytesUp, terms, feasible: false, reason: overDeadline(terms.totalMs, deadline), priorUsed };
}

function overDeadline(totalMs: number, deadline: number): string {
  return `expected ${ms(totalMs)} exceeds the deadline of ${ms(deadline)}`;
}

function optionName(o: CutOption): string {
  return `${JSON.stringify(o.cut)}${o.int8 ? ' (int8)' : ''}`;
}

// A deadline may already be past (<= 0): nothing meets it, which is CLEAVE_E_DEADLINE, not a bad argument.
function checkDeadline(d: number | undefined): void {
  if (d !== undefined && Number.isNaN(d)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `deadlineMs = NaN: expected a number of ms`, { deadlineMs: 'NaN' });
  }
}

// Tensor names are arbitrary strings; encodeURIComponent throws URIError on a lone surrogate.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function headerSafe(name: string): string {
  return encodeURIComponent(name.replace(LONE_SURROGATE, '\uFFFD'));
}

/** ms for messages: up to 3 decimals (microseconds), trailing zeros dropped. */
function ms(v: number): string {
  return `${Math.round(v * 1000) / 1000} ms`;
}

/** ms for the header: exactly 1 decimal. */
function n1(v: number): string {
  return v.toFixed(1);
}
