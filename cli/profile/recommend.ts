/**
 * Placement recommendations from profile figures, priced by the router's own cost model
 * (shared/router: chooseCut / placeStage): the same sums and tie rules the edge applies per
 * request, fed here with measured compute instead of live estimates. Where the cloud was not
 * measured, its compute is this machine's (marked prior), so a report still ranks edge, cloud
 * and cuts on each reference link.
 */
import { CleaveError } from '../../shared/errors.js';
import { CLOUD_CUT, EDGE_CUT, type CutCandidate, type LinkEstimates } from '../../shared/router/cost-model.js';
import { chooseCut, explain, placeStage, type PlacementPolicy, type PlacementDecision, type SplitDecision } from '../../shared/router/placement.js';
import type { ComputeStats } from './measure.js';
import type { LinkProfile, ModelProfile, Recommendation } from './report.js';

/** p50 at `batch`, or undefined when that batch was not measured. */
export function p50At(list: readonly ComputeStats[] | undefined, batch: number): number | undefined {
  return list?.find((s) => s.batch === batch)?.p50Ms;
}

function need(v: number | undefined, what: string, batch: number): number {
  if (v === undefined) throw new CleaveError('CLEAVE_E_NOT_FOUND', `no ${what} measured at batch ${batch}`, { batch });
  return v;
}

/** The link as the cost model takes it. */
export function linkEstimates(l: LinkProfile): LinkEstimates {
  return { rttMs: l.rttMs, upBitsPerSec: l.upBitsPerSec, downBitsPerSec: l.downBitsPerSec, ...(l.prior ? { prior: true } : {}) };
}

/** Edge compute of the whole model at `batch`: the edge node's figure when measured, else this machine's. */
export function edgeComputeMs(p: ModelProfile, batch: number): number {
  const node = p50At(p.edgeNode?.batches, batch);
  if (node !== undefined) return node;
  return need(p50At(p.compute.find((c) => c.backend === p.edgeBackend)?.batches, batch), `edge compute of "${p.model}"`, batch);
}

/** Cloud compute of the whole model at `batch`, and whether it is a prior (this machine's figure). */
export function cloudComputeMs(p: ModelProfile, batch: number): { ms: number; prior: boolean } {
  const cloud = p50At(p.cloud?.batches, batch);
  if (cloud !== undefined) return { ms: cloud, prior: false };
  return { ms: need(p50At(p.compute.find((c) => c.backend === p.edgeBackend)?.batches, batch), `compute of "${p.model}"`, batch), prior: true };
}

/**
 * The candidates chooseCut weighs at `batch`: all on the edge, all in the cloud, and each
 * frontier cut (head on the edge, tail in the cloud), as the edge's runtime builds them.
 * `only` limits the cuts to these tensors (a workflow node's `cuts`).
 */
export function cutCandidates(p: ModelProfile, batch: number, only?: ReadonlySet<string>): CutCandidate[] {
  const cloud = cloudComputeMs(p, batch);
  const cands: CutCandidate[] = [
    { cut: EDGE_CUT, headMs: edgeComputeMs(p, batch), tailMs: 0, activationBytes: 0 },
    { cut: CLOUD_CUT, headMs: 0, tailMs: cloud.ms, activationBytes: p.inputBytesPerRow * batch, ...(cloud.prior ? { prior: true } : {}) },
  ];
  for (const c of p.cuts) {
    if (only && !only.has(c.tensor)) continue;
    const cloudTail = p50At(c.cloudTail, batch);
    const bytes = c.transferBytesPerRow * batch;
    cands.push({
      cut: c.tensor,
      headMs: need(p50At(c.head, batch), `head compute of cut ${c.tensor}`, batch),
      tailMs: cloudTail ?? need(p50At(c.tail, batch), `tail compute of cut ${c.tensor}`, batch),
      activationBytes: bytes,
      // As the edge prices it (edge/workflow-runtime.ts): a byte per element, plus scale and zero point.
      int8ActivationBytes: Math.ceil(bytes / 4) + 16,
      ...(cloudTail === undefined ? { prior: true } : {}),
    });
  }
  return cands;
}

/** The queue the cloud showed (0 when not measured: an idle cloud is the reference). */
export function cloudQueueMs(p: ModelProfile): number {
  return p.cloud?.queueMs ?? 0;
}

/** chooseCut over the profile's candidates on one link. */
export function decideSplit(p: ModelProfile, link: LinkProfile, batch: number, opts: { only?: ReadonlySet<string>; pinned?: string } = {}): SplitDecision {
  let cands = cutCandidates(p, batch, opts.only);
  if (opts.pinned !== undefined) {
    const pinned = cands.filter((c) => c.cut === opts.pinned);
    if (pinned.length === 0) throw new CleaveError('CLEAVE_E_NOT_FOUND', `model "${p.model}" has no cut ${JSON.stringify(opts.pinned)} in its profile (have: ${cands.map((c) => c.cut).join(', ')})`, { model: p.model, cut: opts.pinned });
    cands = pinned;
  }
  return chooseCut(cands, {
    bytesOut: p.outputBytesPerRow * batch,
    cloudQueueMs: cloudQueueMs(p),
    ...(p.cloud === undefined ? { cloudQueuePrior: true } : {}),
    link: linkEstimates(link),
    cloudAvailable: true,
    model: p.model,
  });
}

/** placeStage over the profile's whole-model figures on one link (a workflow's model node). */
export function decideStage(p: ModelProfile, link: LinkProfile, batch: number, policy: PlacementPolicy, bytesIn = p.inputBytesPerRow * batch): PlacementDecision {
  const cloud = cloudComputeMs(p, batch);
  return placeStage({
    model: p.model, batch, bytesIn, bytesOut: p.outputBytesPerRow * batch,
    edge: { computeMs: edgeComputeMs(p, batch) },
    cloud: { computeMs: cloud.ms, queueMs: cloudQueueMs(p), ...(cloud.prior ? { prior: true } : {}) },
    link: linkEstimates(link),
  }, policy);
}

/** The batch sizes the profile measured (a model with a fixed batch dim has only one). */
export function measuredBatches(p: Pick<ModelProfile, 'compute'>): number[] {
  return (p.compute[0]?.batches ?? []).map((s) => s.batch);
}

/** One recommendation per link and measured batch size: where the cost model would run the model. */
export function recommend(p: Omit<ModelProfile, 'recommendations'>, links: readonly LinkProfile[], batches: readonly number[] = measuredBatches(p)): Recommendation[] {
  const out: Recommendation[] = [];
  const full = { ...p, recommendations: [] } as ModelProfile;
  for (const link of links) {
    for (const batch of batches) {
      const d = decideSplit(full, link, batch);
      out.push({
        link: link.name, batch, placement: d.cut, expectedMs: d.expectedMs, reason: d.reason, explanation: explain(d),
        options: d.candidates.filter((o) => !o.int8).map((o) => ({ placement: o.cut, totalMs: o.terms.totalMs, terms: o.terms, prior: o.priorUsed })),
      });
    }
  }
  return out;
}
