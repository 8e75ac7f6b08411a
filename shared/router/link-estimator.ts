/**
 * RTT and bandwidth of the edge -> cloud link, learned from the traffic the edge really sends
 * (PING/PONG and runs), so the router can price shipping a tensor to the cloud.
 *
 * Model of one request's link time (ms), with rtt in ms and bandwidths in bit/s:
 *
 *   linkMs = rtt + bytesUp * 8000 / upBitsPerSec + bytesDown * 8000 / downBitsPerSec
 *
 * Samples:
 *   - observeRtt(ms): one PING/PONG round trip, into the RTT Ewma.
 *   - observeTransfer({ bytes, ms, direction }): `ms` is the request's link time, i.e. total time
 *     minus the cloud's queue and compute (RunTiming). With rtt = the RTT estimate (the prior
 *     when there is none yet) and net = ms - rtt:
 *       bytes >= minBytes and net > minTransferMs  ->  bandwidth sample bytes * 8000 / net bit/s
 *                                                   into that direction's Ewma ('bandwidth')
 *       bytes < minBytes and smallTransfersAsRtt   ->  RTT sample `ms` ('rtt'): a small
 *                                                   request's link time is about one round trip
 *       ms < rtt                                   ->  RTT sample `ms` ('rtt-cap'): a large
 *                                                   transfer faster than one round trip proves
 *                                                   the RTT estimate too high (an upper bound)
 *       otherwise                                  ->  ignored ('ignored'): a large transfer that
 *                                                   barely beat the RTT says nothing reliable
 *     The caller names the direction that dominates the request (a split run uploads an
 *     activation and downloads a few logits: 'up'); the other direction's bytes should be small.
 *
 * Where nothing has been measured, priors stand in (defaults 50 ms RTT, 10 Mbit/s each way) and
 * every answer says whether one was used. Estimates do not decay while idle; `stale` says when
 * they are old, so the router can probe instead of trusting them.
 */
import { CleaveError } from '../errors.js';
import type { Clock } from '../time.js';
import { checkPositive, Ewma, PeakEwma } from './ewma.js';

/** Default half-life of the RTT and bandwidth Ewmas, ms. */
export const DEFAULT_LINK_HALF_LIFE_MS = 10_000;
/** Default smallest transfer that yields a bandwidth sample, bytes (16 KiB). */
export const DEFAULT_MIN_BANDWIDTH_BYTES = 16 * 1024;
/** Default least time beyond the RTT for a transfer to yield a bandwidth sample, ms. */
export const DEFAULT_MIN_TRANSFER_MS = 1;
/** Default bandwidth assumed each way before any sample, bit/s (10 Mbit/s: a modest uplink). */
export const DEFAULT_PRIOR_BITS_PER_SEC = 10_000_000;
/** Default RTT assumed before any sample, ms (a regional WAN hop). */
export const DEFAULT_PRIOR_RTT_MS = 50;
/** Default age after which an estimate counts as stale, ms. */
export const DEFAULT_LINK_STALE_AFTER_MS = 30_000;

/** Options of a LinkEstimator. */
export interface LinkEstimatorOptions {
  readonly clock: Clock;
  /** Half-life of the RTT and bandwidth Ewmas, ms. Default 10 000. */
  readonly halfLifeMs?: number;
  /** Least weight of a new sample in each EWMA (EwmaOptions.minSampleWeight). Default 0. */
  readonly minSampleWeight?: number;
  /**
   * Track RTT with a PeakEwma (a spike is believed at once, recovery gradually) instead of an
   * Ewma. Default false.
   */
  readonly peakRtt?: boolean;
  /** Smallest transfer that yields a bandwidth sample, bytes. Default 16 384. */
  readonly minBytes?: number;
  /** A transfer must take more than rtt + this to yield a bandwidth sample, ms. Default 1. */
  readonly minTransferMs?: number;
  /** Feed transfers under minBytes to the RTT estimate. Default true. */
  readonly smallTransfersAsRtt?: boolean;
  /** Bandwidth assumed each way before a sample of that direction, bit/s. Default 10 000 000. */
  readonly priorBitsPerSec?: number;
  /** RTT assumed before any RTT sample, ms. Default 50. */
  readonly priorRttMs?: number;
  /** An estimate with no sample for this long is stale, ms. Default 30 000. */
  readonly staleAfterMs?: number;
}

/** One transfer of a request over the link. */
export interface TransferSample {
  /** Bytes of the request's dominant direction. */
  readonly bytes: number;
  /** Link time of the request: total minus the cloud's queue and compute, ms. */
  readonly ms: number;
  readonly direction: 'up' | 'down';
}

/** What a transfer sample was used for. */
export type TransferUse = 'bandwidth' | 'rtt' | 'rtt-cap' | 'ignored';

/** Expected link time of one request, ms, and its parts. */
export interface LinkTimeEstimate {
  /** rttMs + upMs + downMs. */
  readonly ms: number;
  readonly rttMs: number;
  /** bytesUp * 8000 / upBitsPerSec. */
  readonly upMs: number;
  /** bytesDown * 8000 / downBitsPerSec. */
  readonly downMs: number;
  /** A prior stood in for a term that contributes (RTT, or a direction with bytes > 0). */
  readonly priorUsed: boolean;
}

/** The link estimate as a whole, for the router, metrics and logs. */
export interface LinkSnapshot {
  /** RTT estimate, or the prior. */
  readonly rttMs: number;
  /** Upload bandwidth estimate, or the prior, bit/s. */
  readonly upBitsPerSec: number;
  /** Download bandwidth estimate, or the prior, bit/s. */
  readonly downBitsPerSec: number;
  readonly rttSamples: number;
  readonly upSamples: number;
  readonly downSamples: number;
  /** upSamples + downSamples. */
  readonly bwSamples: number;
  /** At least one of rttMs, upBitsPerSec, downBitsPerSec is a prior. */
  readonly priorUsed: boolean;
  /** No RTT sample for staleAfterMs (or never). */
  readonly rttStale: boolean;
  /** No bandwidth sample, either direction, for staleAfterMs (or never). */
  readonly bwStale: boolean;
  /** rttStale || bwStale: probing would refresh something. */
  readonly stale: boolean;
}

/** RTT and per-direction bandwidth of the edge -> cloud link; see the file comment. */
export class LinkEstimator {
  private readonly clock: Clock;
  private readonly rtt: Ewma;
  private readonly up: Ewma;
  private readonly down: Ewma;
  private readonly minBytes: number;
  private readonly minTransferMs: number;
  private readonly smallTransfersAsRtt: boolean;
  private readonly priorBitsPerSec: number;
  private readonly priorRttMs: number;
  private readonly staleAfterMs: number;

  constructor(opts: LinkEstimatorOptions) {
    this.clock = opts.clock;
    const ewma = { halfLifeMs: opts.halfLifeMs ?? DEFAULT_LINK_HALF_LIFE_MS, clock: opts.clock, minSampleWeight: opts.minSampleWeight ?? 0 };
    this.rtt = opts.peakRtt ? new PeakEwma(ewma) : new Ewma(ewma);
    this.up = new Ewma(ewma);
    this.down = new Ewma(ewma);
    this.minBytes = opts.minBytes ?? DEFAULT_MIN_BANDWIDTH_BYTES;
    this.minTransferMs = opts.minTransferMs ?? DEFAULT_MIN_TRANSFER_MS;
    this.smallTransfersAsRtt = opts.smallTransfersAsRtt ?? true;
    this.priorBitsPerSec = opts.priorBitsPerSec ?? DEFAULT_PRIOR_BITS_PER_SEC;
    this.priorRttMs = opts.priorRttMs ?? DEFAULT_PRIOR_RTT_MS;
    this.staleAfterMs = opts.staleAfterMs ?? DEFAULT_LINK_STALE_AFTER_MS;
    checkNonNegative('minBytes', this.minBytes);
    checkNonNegative('minTransferMs', this.minTransferMs);
    checkPositive('priorBitsPerSec', this.priorBitsPerSec);
    checkNonNegative('priorRttMs', this.priorRttMs);
    checkPositive('staleAfterMs', this.staleAfterMs);
  }

  /** Records one round trip (PING -> PONG), ms >= 0. */
  observeRtt(ms: number): void {
    checkNonNegative('rtt ms', ms);
    this.rtt.observe(ms);
  }

  /** Records one request's link time; returns what it was used for (see the file comment). */
  observeTransfer(s: TransferSample): TransferUse {
    checkNonNegative('transfer bytes', s.bytes);
    checkNonNegative('transfer ms', s.ms);
    if (s.direction !== 'up' && s.direction !== 'down') {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `transfer direction = ${JSON.stringify(s.direction)}: expected "up" or "down"`, { direction: String(s.direction) });
    }
    if (s.bytes < this.minBytes) {
      if (!this.smallTransfersAsRtt) return 'ignored';
      this.rtt.observe(s.ms);
      return 'rtt';
    }
    const rtt = this.rtt.value() ?? this.priorRttMs;
    const net = s.ms - rtt;
    if (!(net > this.minTransferMs)) {
      // The whole transfer took less than one round trip by the estimate: the RTT estimate is too
      // high (e.g. heartbeats that queued behind uploads on a slow link that has since got fast).
      // Left alone it would reject every later transfer too, and bandwidth would never be learned
      // again; the transfer's time is an upper bound on the RTT, so it is taken as an RTT sample.
      if (s.ms < rtt) {
        this.rtt.observe(s.ms);
        return 'rtt-cap';
      }
      return 'ignored';
    }
    (s.direction === 'up' ? this.up : this.down).observe((s.bytes * 8000) / net);
    return 'bandwidth';
  }

  /** Expected link time of a request that uploads `bytesUp` and downloads `bytesDown`. */
  transferMs(bytesUp: number, bytesDown: number): LinkTimeEstimate {
    checkNonNegative('bytesUp', bytesUp);
    checkNonNegative('bytesDown', bytesDown);
    const rtt = this.rtt.value();
    const up = this.up.value();
    const down = this.down.value();
    const rttMs = rtt ?? this.priorRttMs;
    const upMs = bytesUp === 0 ? 0 : (bytesUp * 8000) / (up ?? this.priorBitsPerSec);
    const downMs = bytesDown === 0 ? 0 : (bytesDown * 8000) / (down ?? this.priorBitsPerSec);
    const priorUsed = rtt === undefined || (bytesUp > 0 && up === undefined) || (bytesDown > 0 && down === undefined);
    return { ms: rttMs + upMs + downMs, rttMs, upMs, downMs, priorUsed };
  }

  /** The whole estimate now. */
  snapshot(): LinkSnapshot {
    const rtt = this.rtt.value();
    const up = this.up.value();
    const down = this.down.value();
    const rttStale = this.isStale(this.rtt.ageMs());
    const bwAge = minDefined(this.up.ageMs(), this.down.ageMs());
    const bwStale = this.isStale(bwAge);
    return {
      rttMs: rtt ?? this.priorRttMs,
      upBitsPerSec: up ?? this.priorBitsPerSec,
      downBitsPerSec: down ?? this.priorBitsPerSec,
      rttSamples: this.rtt.samples,
      upSamples: this.up.samples,
      downSamples: this.down.samples,
      bwSamples: this.up.samples + this.down.samples,
      priorUsed: rtt === undefined || up === undefined || down === undefined,
      rttStale,
      bwStale,
      stale: rttStale || bwStale,
    };
  }

  // Stale once a full staleAfterMs has passed with no sample: at exactly 30 s, it is.
  private isStale(ageMs: number | undefined): boolean {
    return ageMs === undefined || ageMs >= this.staleAfterMs;
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function checkNonNegative(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${name} = ${v}: expected a finite number >= 0`, { [name]: String(v) });
  }
}
