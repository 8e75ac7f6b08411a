/**
 * The edge's live measurements for the router, fed by the requests it serves: edge compute time
 * by model and batch, cloud compute time, the link's RTT and bandwidth from real transfers (each
 * cloud run's frame sizes and its send-to-result time net of the cloud's own queue and compute),
 * and the cloud queue from LOAD reports and results. Nothing is probed; everything is a
 * by-product of traffic. Runtime-neutral; the clock is injected.
 */
import type { LoadFrame } from '../shared/protocol/frames.js';
import { CloudQueueEstimator } from '../shared/router/cloud-queue-estimator.js';
import { ComputeEstimator, type ComputeBucket } from '../shared/router/compute-estimator.js';
import { LinkEstimator, type LinkSnapshot } from '../shared/router/link-estimator.js';
import type { Clock } from '../shared/time.js';
import type { CloudRunResult } from './cloud-transport.js';

/** What /v1/status shows of the estimates. */
export interface EstimatesSnapshot {
  readonly link: LinkSnapshot;
  /** Edge compute, ms per batch, by model and batch bucket. */
  readonly edge: Record<string, readonly ComputeBucket[]>;
  /** Cloud compute as the cloud reports it, ms per batch, by model and batch bucket. */
  readonly cloud: Record<string, readonly ComputeBucket[]>;
  /** Expected cloud queue time by model, ms, and where the figure came from. */
  readonly cloudQueue: Record<string, { ms: number; source: string }>;
}

/** Least weight of a new sample in the edge's estimates. */
export const LIVE_MIN_SAMPLE_WEIGHT = 0.25;

export class LiveEstimates {
  readonly edgeCompute: ComputeEstimator;
  readonly cloudCompute: ComputeEstimator;
  readonly link: LinkEstimator;
  readonly queue: CloudQueueEstimator;
  private readonly edgeModels = new Set<string>();
  private readonly cloudModels = new Set<string>();
  private lastLoadTs: number | undefined;

  constructor(clock: Clock, opts: { readonly minSampleWeight?: number } = {}) {
    // Each sample moves an estimate at least a quarter of the way: a cold first run (session
    // warm-up) must not keep a fast tier priced slow for a whole half-life.
    const minSampleWeight = opts.minSampleWeight ?? LIVE_MIN_SAMPLE_WEIGHT;
    this.edgeCompute = new ComputeEstimator({ clock, minSampleWeight });
    this.cloudCompute = new ComputeEstimator({ clock, minSampleWeight });
    this.link = new LinkEstimator({ clock, minSampleWeight });
    this.queue = new CloudQueueEstimator({ clock, minSampleWeight });
  }

  /** One model run on the edge backend. */
  observeEdge(model: string, batch: number, ms: number): void {
    this.edgeModels.add(model);
    this.edgeCompute.observe(model, batch, ms);
  }

  /**
   * One run answered by the cloud. The link sample is the request's dominant direction: a large
   * upload (an image, an activation) measures upstream bandwidth, a small exchange measures RTT.
   */
  observeCloud(model: string, batch: number, r: CloudRunResult, load: LoadFrame | undefined): void {
    this.cloudModels.add(model);
    this.cloudCompute.observe(model, batch, r.timing.computeMs);
    this.queue.observeResult(model, r.timing);
    if (r.wire) {
      const linkMs = Math.max(0, r.wire.ms - r.timing.queueMs - r.timing.computeMs);
      const up = r.wire.bytesUp >= r.wire.bytesDown;
      this.link.observeTransfer({ bytes: up ? r.wire.bytesUp : r.wire.bytesDown, ms: linkMs, direction: up ? 'up' : 'down' });
    }
    this.observeLoad(load);
  }

  /** A LOAD report, taken once per report (by its timestamp). */
  observeLoad(load: LoadFrame | undefined): void {
    if (!load || load.ts === this.lastLoadTs) return;
    this.lastLoadTs = load.ts;
    this.queue.observeLoad(load.models);
  }

  snapshot(): EstimatesSnapshot {
    const byModel = (models: Set<string>, est: ComputeEstimator): Record<string, readonly ComputeBucket[]> =>
      Object.fromEntries([...models].sort().map((m) => [m, est.buckets(m)]));
    const cloudQueue: Record<string, { ms: number; source: string }> = {};
    for (const m of [...this.cloudModels].sort()) {
      const q = this.queue.estimate(m);
      if (q) cloudQueue[m] = { ms: q.ms, source: q.source };
    }
    return { link: this.link.snapshot(), edge: byModel(this.edgeModels, this.edgeCompute), cloud: byModel(this.cloudModels, this.cloudCompute), cloudQueue };
  }
}
