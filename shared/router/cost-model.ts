/**
 * The router's cost model: the expected latency of one model call on each tier, or split at a
 * cut, as a sum of terms the estimators supply (compute-estimator.ts for compute,
 * link-estimator.ts for RTT and bandwidth, cloud-queue-estimator.ts for the queue). Plain numbers
 * in, plain numbers out, so every total can be checked by hand; placement.ts decides from them.
 * Units: ms, bytes, bit/s.
 *
 *   edge  = edgeComputeMs
 *   cloud = rtt + bytesIn * 8000 / up + queue + cloudCompute + bytesOut * 8000 / down
 *   cut   = head + rtt + activation * 8000 / up + queue + tail + bytesOut * 8000 / down
 *
 * The cut is Neurosurgeon's (Kang et al., ASPLOS'17): edge time of the head, the activation's
 * transfer, cloud time of the tail. Left out on purpose: int8 encode and decode time (a pass
 * over the activation, small next to sending it over a WAN), framing overhead (a few bytes per
 * frame), and the bandwidth other requests in flight take from this one (the link estimate is
 * learned from real, contended transfers, so it already carries some of it).
 */
import { CleaveError } from '../errors.js';

/** Where a model call runs. */
export type Tier = 'edge' | 'cloud';

/** The edge -> cloud link as the router sees it now (LinkEstimator.snapshot()). */
export interface LinkEstimates {
  /** Round-trip time, ms (>= 0). */
  readonly rttMs: number;
  /** Upload bandwidth, bit/s (> 0). */
  readonly upBitsPerSec: number;
  /** Download bandwidth, bit/s (> 0). */
  readonly downBitsPerSec: number;
  /** A prior stood in for a measurement. Default false. */
  readonly prior?: boolean;
}

/** What the router knows about running one stage (one model call) now. Units: ms, bytes. */
export interface StageEstimates {
  readonly model: string;
  /** Rows in the call (integer >= 1); the compute estimates are for this batch. */
  readonly batch: number;
  /** Request tensors that must reach the tier, bytes. */
  readonly bytesIn: number;
  /** Result tensors that must come back, bytes. */
  readonly bytesOut: number;
  /** Undefined: the model cannot run on the edge. `prior`: computeMs is not measured. */
  readonly edge?: { readonly computeMs: number; readonly prior?: boolean };
  /** Undefined: the cloud cannot run it (link down, model not offered). `prior`: a term is not measured. */
  readonly cloud?: { readonly computeMs: number; readonly queueMs: number; readonly prior?: boolean };
  /** Used only when `cloud` is defined. */
  readonly link: LinkEstimates;
}

/** The parts of one candidate's expected latency, ms. A term is absent when the candidate has no such part. */
export interface CostTerms {
  /** Edge compute: the whole model, or the head of a split. */
  readonly edgeComputeMs?: number;
  readonly rttMs?: number;
  /** Upload of the request tensors, or of the activation at a cut. */
  readonly upMs?: number;
  /** Download of the results. */
  readonly downMs?: number;
  readonly cloudQueueMs?: number;
  /** Cloud compute: the whole model, or the tail of a split. */
  readonly cloudComputeMs?: number;
  /** Sum of the terms present. */
  readonly totalMs: number;
}

/** One place to run a split model: all on the edge, all in the cloud, or a cut between. */
export interface CutCandidate {
  /** 'edge' = all on the edge, 'cloud' = all in the cloud, otherwise the cut's name (e.g. the tensor names joined). */
  readonly cut: string;
  /** Edge time of the head, ms (0 for 'cloud'). */
  readonly headMs: number;
  /** Cloud compute of the tail, ms (0 for 'edge', and must be). */
  readonly tailMs: number;
  /** Bytes crossing at the cut (the input for 'cloud'; 0 for 'edge', and must be). */
  readonly activationBytes: number;
  /** Bytes crossing when the activation travels int8-encoded. Ignored for 'edge'. */
  readonly int8ActivationBytes?: number;
  /** Top-1 agreement with the full model when the activation goes int8, 0..1 (measured offline). */
  readonly int8Agreement?: number;
  /** headMs or tailMs is not measured (e.g. scaled from FLOPs). Default false. */
  readonly prior?: boolean;
}

/** The cut name that means "everything on the edge". */
export const EDGE_CUT = 'edge';
/** The cut name that means "everything in the cloud". */
export const CLOUD_CUT = 'cloud';

/** Time to send `bytes` at `bitsPerSec`, ms: bytes * 8000 / bitsPerSec. */
export function transferMs(bytes: number, bitsPerSec: number): number {
  return (bytes * 8000) / bitsPerSec;
}

/** Terms of running the whole model on the edge. */
export function edgeTerms(computeMs: number): CostTerms {
  return { edgeComputeMs: computeMs, totalMs: computeMs };
}

/** What a candidate with a cloud part costs besides its own compute. */
export interface CloudPart {
  /** Bytes sent up: the request tensors, or the activation at a cut. */
  readonly bytesUp: number;
  /** Bytes sent back: the results. */
  readonly bytesDown: number;
  readonly queueMs: number;
  /** Cloud compute: the whole model, or the tail. */
  readonly computeMs: number;
  readonly link: LinkEstimates;
  /** Edge compute before the upload (a split's head); 0 or absent: none, and the term is left out. */
  readonly headMs?: number;
}

/**
 * Terms of a candidate with a cloud part:
 * total = head + rtt + bytesUp * 8000 / up + queue + compute + bytesDown * 8000 / down,
 * summed in that order (the order a request lives through them).
 */
export function cloudTerms(p: CloudPart): CostTerms {
  const upMs = transferMs(p.bytesUp, p.link.upBitsPerSec);
  const downMs = transferMs(p.bytesDown, p.link.downBitsPerSec);
  const head = p.headMs ?? 0;
  const totalMs = head + p.link.rttMs + upMs + p.queueMs + p.computeMs + downMs;
  const parts = { rttMs: p.link.rttMs, upMs, cloudQueueMs: p.queueMs, cloudComputeMs: p.computeMs, downMs, totalMs };
  return head > 0 ? { edgeComputeMs: head, ...parts } : parts;
}

/** Terms of one cut candidate; `int8` sends int8ActivationBytes instead of activationBytes. */
export function cutTerms(c: CutCandidate, ctx: { readonly bytesOut: number; readonly cloudQueueMs: number; readonly link: LinkEstimates }, int8 = false): CostTerms {
  if (c.cut === EDGE_CUT) return edgeTerms(c.headMs);
  const bytesUp = int8 ? c.int8ActivationBytes : c.activationBytes;
  if (bytesUp === undefined) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cut ${JSON.stringify(c.cut)} has no int8ActivationBytes: it cannot be priced int8-encoded`, { cut: c.cut });
  }
  return cloudTerms({ bytesUp, bytesDown: ctx.bytesOut, queueMs: ctx.cloudQueueMs, computeMs: c.tailMs, link: ctx.link, headMs: c.headMs });
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless every number the stage's candidates use is in range. */
export function checkStageEstimates(e: StageEstimates): void {
  if (!(Number.isInteger(e.batch) && e.batch >= 1)) bad('batch', e.batch, 'an integer >= 1');
  checkMs('bytesIn', e.bytesIn);
  checkMs('bytesOut', e.bytesOut);
  if (e.edge) checkMs('edge.computeMs', e.edge.computeMs);
  if (e.cloud) {
    checkMs('cloud.computeMs', e.cloud.computeMs);
    checkMs('cloud.queueMs', e.cloud.queueMs);
    checkLink(e.link);
  }
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless the link's RTT is >= 0 and its bandwidths > 0, all finite. */
export function checkLink(l: LinkEstimates): void {
  checkMs('link.rttMs', l.rttMs);
  checkBandwidth('link.upBitsPerSec', l.upBitsPerSec);
  checkBandwidth('link.downBitsPerSec', l.downBitsPerSec);
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless the candidate's numbers are in range ('edge' must send nothing to the cloud). */
export function checkCutCandidate(c: CutCandidate): void {
  const at = `cut ${JSON.stringify(c.cut)}`;
  checkMs(`${at} headMs`, c.headMs);
  checkMs(`${at} tailMs`, c.tailMs);
  checkMs(`${at} activationBytes`, c.activationBytes);
  if (c.cut === EDGE_CUT) {
    // An 'edge' candidate with a tail or an activation is a caller bug: it would be priced as if
    // nothing went to the cloud.
    if (c.tailMs !== 0) bad(`${at} tailMs`, c.tailMs, '0 (all of the model runs on the edge)');
    if (c.activationBytes !== 0) bad(`${at} activationBytes`, c.activationBytes, '0 (nothing crosses to the cloud)');
    return;
  }
  if (c.int8ActivationBytes !== undefined) checkMs(`${at} int8ActivationBytes`, c.int8ActivationBytes);
  if (c.int8Agreement !== undefined) checkFraction(`${at} int8Agreement`, c.int8Agreement);
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless `v` is in [0, 1]. */
export function checkFraction(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) bad(name, v, 'a number in [0, 1]');
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless `v` is a finite number >= 0 (a time in ms, a byte count). */
export function checkMs(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) bad(name, v, 'a finite number >= 0');
}

function checkBandwidth(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) bad(name, v, 'a finite number of bit/s > 0');
}

function bad(name: string, v: number, expected: string): never {
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${name} = ${v}: expected ${expected}`, { [name]: String(v) });
}
