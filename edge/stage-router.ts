/**
 * Where one model call runs when its placement is `auto`: the edge backend or the cloud, chosen
 * per request by the cost model (shared/router/placement.ts) from the edge's live estimates.
 * A tier with no measurement yet for the model gets an optimistic compute prior of 0 ms, so each
 * tier is tried once and measured instead of being ruled out on a guess; decisions that used a
 * prior say so (`prior=1` in the explanation).
 */
import type { TensorSpec } from '../shared/protocol/frames.js';
import { specBytes } from '../shared/workflow/executor.js';
import { explain, placeStage, type PlacementDecision, type PlacementPolicy } from '../shared/router/placement.js';
import type { LiveEstimates } from './live-estimates.js';

export interface StageQuestion {
  readonly model: string;
  readonly batch: number;
  readonly bytesIn: number;
  readonly outputs: readonly TensorSpec[];
  readonly edgeAvailable: boolean;
  readonly cloudAvailable: boolean;
  readonly policy: PlacementPolicy;
  /** Budget left, ms. */
  readonly deadlineMs?: number;
}

export interface StageAnswer {
  readonly decision: PlacementDecision;
  /** One-line explanation for the `x-cleave-placement` header. */
  readonly explanation: string;
}

/** Bytes of a model's outputs for `batch` rows (dynamic dims other than the batch count as 1). */
export const outputBytes = specBytes;

export class StageRouter {
  constructor(private readonly estimates: LiveEstimates) {}

  decide(q: StageQuestion): StageAnswer {
    const edgeMs = this.estimates.edgeCompute.estimate(q.model, q.batch);
    const cloudMs = this.estimates.cloudCompute.estimate(q.model, q.batch);
    const queue = this.estimates.queue.estimate(q.model);
    const link = this.estimates.link.snapshot();
    const decision = placeStage({
      model: q.model, batch: q.batch, bytesIn: q.bytesIn, bytesOut: outputBytes(q.outputs, q.batch),
      ...(q.edgeAvailable ? { edge: { computeMs: edgeMs ?? 0, ...(edgeMs === undefined ? { prior: true } : {}) } } : {}),
      ...(q.cloudAvailable ? { cloud: { computeMs: cloudMs ?? 0, queueMs: queue?.ms ?? 0, ...(cloudMs === undefined || queue === undefined ? { prior: true } : {}) } } : {}),
      link: { rttMs: link.rttMs, upBitsPerSec: link.upBitsPerSec, downBitsPerSec: link.downBitsPerSec, ...(link.priorUsed ? { prior: true } : {}) },
    }, q.policy, q.deadlineMs !== undefined ? { deadlineMs: q.deadlineMs } : {});
    return { decision, explanation: explain(decision) };
  }
}
