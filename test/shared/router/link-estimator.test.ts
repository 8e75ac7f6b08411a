import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LINK_STALE_AFTER_MS,
  DEFAULT_MIN_BANDWIDTH_BYTES,
  DEFAULT_PRIOR_BITS_PER_SEC,
  DEFAULT_PRIOR_RTT_MS,
  LinkEstimator,
  type LinkEstimatorOptions,
} from '../../../shared/router/link-estimator.js';
import { ManualClock } from '../../../shared/time.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

function link(opts: Omit<LinkEstimatorOptions, 'clock'> = {}): { clock: ManualClock; le: LinkEstimator } {
  const clock = new ManualClock();
  return { clock, le: new LinkEstimator({ clock, ...opts }) };
}

describe('LinkEstimator defaults', () => {
  it('documents its defaults', () => {
    expect(DEFAULT_MIN_BANDWIDTH_BYTES).toBe(16_384);
    expect(DEFAULT_PRIOR_BITS_PER_SEC).toBe(10_000_000);
    expect(DEFAULT_PRIOR_RTT_MS).toBe(50);
    expect(DEFAULT_LINK_STALE_AFTER_MS).toBe(30_000);
  });

  it('starts from the priors, stale, with no samples', () => {
    const { le } = link();
    expect(le.snapshot()).toEqual({
      rttMs: 50,
      upBitsPerSec: 10_000_000,
      downBitsPerSec: 10_000_000,
      rttSamples: 0,
      upSamples: 0,
      downSamples: 0,
      bwSamples: 0,
      priorUsed: true,
      rttStale: true,
      bwStale: true,
      stale: true,
    });
  });
});

describe('LinkEstimator bandwidth', () => {
  it('measures 100 Mbit/s from 1 MB in 100 ms over a 20 ms RTT (8e6 bits / 80 ms)', () => {
    const { le } = link();
    le.observeRtt(20);
    expect(le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' })).toBe('bandwidth');
    expect(le.snapshot().upBitsPerSec).toBe(100_000_000);
    expect(le.snapshot().downBitsPerSec).toBe(10_000_000); // still the prior
    // The model gives the same transfer back: 20 + 8e6 bits / 1e8 bit/s = 20 + 80 ms.
    expect(le.transferMs(1_000_000, 0)).toEqual({ ms: 100, rttMs: 20, upMs: 80, downMs: 0, priorUsed: false });
  });

  it('measures 1 MiB in 100 ms over a 20 ms RTT as 104 857 600 bit/s', () => {
    const { le } = link();
    le.observeRtt(20);
    le.observeTransfer({ bytes: 1_048_576, ms: 100, direction: 'down' });
    expect(le.snapshot().downBitsPerSec).toBe(104_857_600);
    expect(le.snapshot().upBitsPerSec).toBe(10_000_000);
  });

  it('keeps up and down apart', () => {
    const { le } = link();
    le.observeRtt(20);
    le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' }); // 1e8
    le.observeTransfer({ bytes: 1_000_000, ms: 36, direction: 'down' }); // 8e9 / 16 = 5e8
    const s = le.snapshot();
    expect([s.upBitsPerSec, s.downBitsPerSec, s.upSamples, s.downSamples, s.bwSamples]).toEqual([1e8, 5e8, 1, 1, 2]);
    expect(s.priorUsed).toBe(false);
    expect(le.transferMs(1_000_000, 500_000)).toEqual({ ms: 20 + 80 + 8, rttMs: 20, upMs: 80, downMs: 8, priorUsed: false });
  });

  it('folds bandwidth samples with the half-life', () => {
    const { clock, le } = link({ halfLifeMs: 1000 });
    le.observeRtt(20);
    le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' }); // 1e8
    clock.advance(1000);
    le.observeTransfer({ bytes: 1_000_000, ms: 180, direction: 'up' }); // 8e9 / 160 = 5e7
    expect(le.snapshot().upBitsPerSec).toBe(75_000_000);
  });

  it('subtracts the prior RTT before the first PONG', () => {
    const { le } = link();
    le.observeTransfer({ bytes: 1_000_000, ms: 130, direction: 'up' }); // 8e9 / (130 - 50)
    expect(le.snapshot().upBitsPerSec).toBe(100_000_000);
    expect(le.snapshot().rttSamples).toBe(0);
  });

  it('takes a transfer of exactly minBytes as a bandwidth sample', () => {
    const { le } = link();
    le.observeRtt(20);
    expect(le.observeTransfer({ bytes: 16_384, ms: 36, direction: 'up' })).toBe('bandwidth');
    expect(le.snapshot().upBitsPerSec).toBe(8_192_000);
  });

  it('ignores a large transfer that took no more than rtt + minTransferMs', () => {
    const { le } = link();
    le.observeRtt(20);
    expect(le.observeTransfer({ bytes: 1_000_000, ms: 21, direction: 'up' })).toBe('ignored');
    expect(le.observeTransfer({ bytes: 1_000_000, ms: 20, direction: 'up' })).toBe('ignored');
    expect(le.snapshot()).toMatchObject({ upSamples: 0, rttSamples: 1, rttMs: 20 });
    expect(le.observeTransfer({ bytes: 1_000_000, ms: 22, direction: 'up' })).toBe('bandwidth');
    expect(le.snapshot().upBitsPerSec).toBe(4_000_000_000);
  });

  it('takes a large transfer faster than the RTT estimate as an RTT sample: the estimate was too high', () => {
    const { clock, le } = link({ halfLifeMs: 1000 });
    le.observeRtt(400); // heartbeats that queued behind uploads on a slow link
    clock.advance(1000);
    expect(le.observeTransfer({ bytes: 1_000_000, ms: 14, direction: 'up' })).toBe('rtt-cap');
    expect(le.snapshot()).toMatchObject({ upSamples: 0, rttSamples: 2, rttMs: 207 }); // half-way after one half-life
    clock.advance(1000);
    le.observeTransfer({ bytes: 1_000_000, ms: 14, direction: 'up' });
    clock.advance(1000);
    le.observeTransfer({ bytes: 1_000_000, ms: 14, direction: 'up' });
    // Once the estimate is under the transfer time, transfers measure bandwidth again.
    expect(le.snapshot().rttMs).toBeLessThan(70);
    clock.advance(5000);
    le.observeRtt(10);
    expect(le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' })).toBe('bandwidth');
  });

  it('honours minBytes and minTransferMs options', () => {
    const { le } = link({ minBytes: 1000, minTransferMs: 10 });
    le.observeRtt(20);
    expect(le.observeTransfer({ bytes: 1000, ms: 30, direction: 'up' })).toBe('ignored');
    expect(le.observeTransfer({ bytes: 1000, ms: 31, direction: 'up' })).toBe('bandwidth');
    expect(le.snapshot().upBitsPerSec).toBe(8_000_000 / 11);
  });
});

describe('LinkEstimator RTT', () => {
  it('folds PING/PONG samples with the half-life', () => {
    const { clock, le } = link({ halfLifeMs: 1000 });
    le.observeRtt(20);
    clock.advance(2000);
    le.observeRtt(40);
    expect(le.snapshot()).toMatchObject({ rttMs: 35, rttSamples: 2 });
  });

  it('feeds a small transfer\'s link time to the RTT estimate', () => {
    const { clock, le } = link({ halfLifeMs: 1000 });
    le.observeRtt(20);
    clock.advance(1000);
    expect(le.observeTransfer({ bytes: 16_383, ms: 40, direction: 'up' })).toBe('rtt');
    expect(le.snapshot()).toMatchObject({ rttMs: 30, rttSamples: 2, bwSamples: 0 });
  });

  it('drops small transfers when smallTransfersAsRtt is false', () => {
    const { le } = link({ smallTransfersAsRtt: false });
    expect(le.observeTransfer({ bytes: 100, ms: 40, direction: 'down' })).toBe('ignored');
    expect(le.snapshot()).toMatchObject({ rttSamples: 0, bwSamples: 0, rttMs: 50 });
  });

  it('believes an RTT spike at once with peakRtt, and only by the half-life without', () => {
    const plain = link({ halfLifeMs: 1000 });
    const peak = link({ halfLifeMs: 1000, peakRtt: true });
    for (const { clock, le } of [plain, peak]) {
      le.observeRtt(20);
      clock.advance(1000);
      le.observeRtt(200);
    }
    expect(plain.le.snapshot().rttMs).toBe(110);
    expect(peak.le.snapshot().rttMs).toBe(200);
    peak.clock.advance(1000);
    peak.le.observeRtt(20);
    expect(peak.le.snapshot().rttMs).toBe(110);
  });
});

describe('LinkEstimator.transferMs priors', () => {
  it('prices with both priors and says so: 50 ms + 125 000 B at 10 Mbit/s', () => {
    const { le } = link();
    expect(le.transferMs(125_000, 0)).toEqual({ ms: 150, rttMs: 50, upMs: 100, downMs: 0, priorUsed: true });
  });

  it('flags the prior only where it contributes', () => {
    const { le } = link();
    le.observeRtt(20);
    expect(le.transferMs(0, 0)).toEqual({ ms: 20, rttMs: 20, upMs: 0, downMs: 0, priorUsed: false });
    expect(le.transferMs(125_000, 0)).toMatchObject({ ms: 120, priorUsed: true });
    le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' });
    expect(le.transferMs(125_000, 0)).toEqual({ ms: 30, rttMs: 20, upMs: 10, downMs: 0, priorUsed: false });
    expect(le.transferMs(125_000, 1250)).toEqual({ ms: 31, rttMs: 20, upMs: 10, downMs: 1, priorUsed: true });
    expect(le.snapshot().priorUsed).toBe(true); // down is still the prior
  });

  it('uses configured priors', () => {
    const { le } = link({ priorBitsPerSec: 1_000_000, priorRttMs: 5 });
    expect(le.transferMs(1000, 2000)).toEqual({ ms: 5 + 8 + 16, rttMs: 5, upMs: 8, downMs: 16, priorUsed: true });
    expect(le.snapshot()).toMatchObject({ rttMs: 5, upBitsPerSec: 1_000_000, downBitsPerSec: 1_000_000 });
  });
});

describe('LinkEstimator staleness', () => {
  it('goes stale when a full staleAfterMs passes with no sample', () => {
    const { clock, le } = link();
    le.observeRtt(20);
    le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' });
    expect(le.snapshot()).toMatchObject({ rttStale: false, bwStale: false, stale: false });
    clock.advance(29_999);
    expect(le.snapshot().stale).toBe(false);
    clock.advance(1);
    expect(le.snapshot()).toMatchObject({ rttStale: true, bwStale: true, stale: true });
    // Estimates do not decay: stale is a flag, not a reset.
    expect(le.snapshot()).toMatchObject({ rttMs: 20, upBitsPerSec: 1e8 });
  });

  it('tracks RTT and bandwidth freshness apart (PINGs keep RTT fresh, not bandwidth)', () => {
    const { clock, le } = link({ staleAfterMs: 1000 });
    le.observeTransfer({ bytes: 1_000_000, ms: 130, direction: 'down' });
    le.observeRtt(20);
    clock.advance(600);
    le.observeRtt(20);
    clock.advance(600);
    expect(le.snapshot()).toMatchObject({ rttStale: false, bwStale: true, stale: true });
    le.observeTransfer({ bytes: 1_000_000, ms: 100, direction: 'up' });
    expect(le.snapshot()).toMatchObject({ rttStale: false, bwStale: false, stale: false });
  });

  it('counts a small transfer fed to RTT as an RTT sample for freshness', () => {
    const { clock, le } = link({ staleAfterMs: 1000 });
    le.observeRtt(20);
    clock.advance(999);
    le.observeTransfer({ bytes: 10, ms: 20, direction: 'up' });
    clock.advance(999);
    expect(le.snapshot().rttStale).toBe(false);
  });
});

describe('LinkEstimator arguments', () => {
  it.each([
    [() => link().le.observeRtt(-1), /rtt ms = -1/],
    [() => link().le.observeRtt(NaN), /rtt ms = NaN/],
    [() => link().le.observeTransfer({ bytes: -1, ms: 1, direction: 'up' }), /transfer bytes = -1/],
    [() => link().le.observeTransfer({ bytes: 1, ms: Infinity, direction: 'up' }), /transfer ms = Infinity/],
    [() => link().le.observeTransfer({ bytes: 1, ms: 1, direction: 'sideways' as 'up' }), /transfer direction = "sideways": expected "up" or "down"/],
    [() => link().le.transferMs(-1, 0), /bytesUp = -1/],
    [() => link({ priorBitsPerSec: 0 }), /priorBitsPerSec = 0/],
    [() => link({ staleAfterMs: 0 }), /staleAfterMs = 0/],
    [() => link({ minBytes: -1 }), /minBytes = -1/],
    [() => link({ halfLifeMs: -1 }), /halfLifeMs = -1/],
  ])('rejects bad input %#', (f, msg) => {
    const err = cleaveErrorOf(() => f());
    expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(err.message).toMatch(msg);
  });
});
