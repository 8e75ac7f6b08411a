import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CleaveError, isCleaveError, type ErrorCode } from '../../../shared/errors.js';
import { cloudTerms, cutTerms, edgeTerms, transferMs, type CutCandidate, type StageEstimates } from '../../../shared/router/cost-model.js';
import { chooseCut, explain, placeStage, type CutContext, type PlacementPolicy } from '../../../shared/router/placement.js';

/** The error a call throws (fails the test when it returns). */
function thrown(f: () => unknown): CleaveError {
  try {
    f();
  } catch (e) {
    if (e instanceof CleaveError) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

function expectCode(f: () => unknown, code: ErrorCode): CleaveError {
  const e = thrown(f);
  expect(e.code).toBe(code);
  return e;
}

// The worked example most cases start from. Cloud, by hand:
//   rtt                          10
//   up    20 000 B * 8000 / 8e6  20
//   queue                         3
//   compute                       7
//   down   4 000 B * 8000 / 16e6  2
//   total                        42     (edge: 50)
const BASE: StageEstimates = {
  model: 'resnet',
  batch: 1,
  bytesIn: 20_000,
  bytesOut: 4_000,
  edge: { computeMs: 50 },
  cloud: { computeMs: 7, queueMs: 3 },
  link: { rttMs: 10, upBitsPerSec: 8_000_000, downBitsPerSec: 16_000_000 },
};

function stage(over: Partial<StageEstimates> = {}): StageEstimates {
  return { ...BASE, ...over };
}

describe('cost terms', () => {
  it('prices a transfer as bytes * 8000 / bit/s: 1 MB at 100 Mbit/s is 80 ms, 0 bytes 0 ms', () => {
    expect(transferMs(1_000_000, 100_000_000)).toBe(80);
    expect(transferMs(0, 1_000)).toBe(0);
  });

  it('edge total is the edge compute', () => {
    expect(edgeTerms(41)).toEqual({ edgeComputeMs: 41, totalMs: 41 });
  });

  it('cloud total is rtt + up + queue + compute + down (10 + 20 + 3 + 7 + 2 = 42)', () => {
    expect(cloudTerms({ bytesUp: 20_000, bytesDown: 4_000, queueMs: 3, computeMs: 7, link: BASE.link })).toEqual({
      rttMs: 10,
      upMs: 20,
      cloudQueueMs: 3,
      cloudComputeMs: 7,
      downMs: 2,
      totalMs: 42,
    });
  });

  it('a cut adds the head: 10 + 20 + (100 000 B over 10 Mbit/s = 80) + 4 + 5 + 1 = 120; int8 sends 25 000 B (20 ms): 60', () => {
    const c: CutCandidate = { cut: 'mid', headMs: 10, tailMs: 5, activationBytes: 100_000, int8ActivationBytes: 25_000, int8Agreement: 0.99 };
    const ctx = { bytesOut: 1_250, cloudQueueMs: 4, link: { rttMs: 20, upBitsPerSec: 10_000_000, downBitsPerSec: 10_000_000 } };
    expect(cutTerms(c, ctx)).toEqual({ edgeComputeMs: 10, rttMs: 20, upMs: 80, cloudQueueMs: 4, cloudComputeMs: 5, downMs: 1, totalMs: 120 });
    expect(cutTerms(c, ctx, true).totalMs).toBe(60);
    expect(cutTerms(c, ctx, true).upMs).toBe(20);
    // 'edge' is its head alone; 'cloud' (head 0) has no edge term, like placeStage's cloud.
    expect(cutTerms({ cut: 'edge', headMs: 100, tailMs: 0, activationBytes: 0 }, ctx)).toEqual({ edgeComputeMs: 100, totalMs: 100 });
    expect(cutTerms({ cut: 'cloud', headMs: 0, tailMs: 8, activationBytes: 200_000 }, ctx)).toEqual({
      rttMs: 20,
      upMs: 160,
      cloudQueueMs: 4,
      cloudComputeMs: 8,
      downMs: 1,
      totalMs: 193,
    });
  });
});

describe('placeStage auto', () => {
  it('takes the cloud at 42 ms over the edge at 50 ms, listing both with their terms', () => {
    const d = placeStage(BASE, 'auto');
    expect(d).toEqual({
      tier: 'cloud',
      policy: 'auto',
      expectedMs: 42,
      reason: 'lowest expected latency',
      priorUsed: false,
      candidates: [
        { tier: 'edge', terms: { edgeComputeMs: 50, totalMs: 50 }, feasible: true, priorUsed: false },
        { tier: 'cloud', terms: { rttMs: 10, upMs: 20, cloudQueueMs: 3, cloudComputeMs: 7, downMs: 2, totalMs: 42 }, feasible: true, priorUsed: false },
      ],
    });
  });

  it('takes the edge when it is faster (30 < 42)', () => {
    const d = placeStage(stage({ edge: { computeMs: 30 } }), 'auto');
    expect([d.tier, d.expectedMs, d.reason]).toEqual(['edge', 30, 'lowest expected latency']);
  });

  it('gives a tie to the edge (42 = 42)', () => {
    const d = placeStage(stage({ edge: { computeMs: 42 } }), 'auto');
    expect([d.tier, d.expectedMs, d.reason]).toEqual(['edge', 42, 'tie, edge preferred']);
  });

  it('with edgeBiasMs = 10 keeps the edge at 50 against the cloud at 42 (50 <= 52), not at 53', () => {
    expect(placeStage(BASE, 'auto', { edgeBiasMs: 10 })).toMatchObject({ tier: 'edge', expectedMs: 50, reason: 'edge preferred within bias' });
    expect(placeStage(BASE, 'auto', { edgeBiasMs: 7.5 })).toMatchObject({ tier: 'cloud', expectedMs: 42 });
    expect(placeStage(stage({ edge: { computeMs: 53 } }), 'auto', { edgeBiasMs: 10 }).tier).toBe('cloud');
  });

  it('with edgeBiasFraction = 0.25 keeps the edge within 42 * 1.25 = 52.5 ms; the larger margin of the two counts', () => {
    expect(placeStage(BASE, 'auto', { edgeBiasFraction: 0.25 }).tier).toBe('edge');
    expect(placeStage(BASE, 'auto', { edgeBiasFraction: 0.125 }).tier).toBe('cloud'); // margin 5.25
    expect(placeStage(BASE, 'auto', { edgeBiasFraction: 0.125, edgeBiasMs: 8 }).tier).toBe('edge');
  });

  it('with one tier available takes it', () => {
    const { edge: _e, ...noEdge } = BASE;
    const { cloud: _c, ...noCloud } = BASE;
    expect(placeStage(noEdge, 'auto')).toMatchObject({ tier: 'cloud', reason: 'only tier available' });
    expect(placeStage(noCloud, 'auto')).toMatchObject({ tier: 'edge', reason: 'only tier available' });
    expect(placeStage(noCloud, 'auto').candidates.map((c) => c.tier)).toEqual(['edge']);
  });

  it('throws CLEAVE_E_UNAVAILABLE when neither tier can run the model', () => {
    const { edge: _e, cloud: _c, ...none } = BASE;
    const e = expectCode(() => placeStage(none, 'auto'), 'CLEAVE_E_UNAVAILABLE');
    expect(e.message).toContain('"resnet"');
  });

  it('does not validate the link while the cloud is unavailable (a down link may report 0 bit/s)', () => {
    const { cloud: _c, ...noCloud } = BASE;
    expect(placeStage({ ...noCloud, link: { rttMs: 0, upBitsPerSec: 0, downBitsPerSec: 0 } }, 'auto').tier).toBe('edge');
  });
});

describe('placeStage deadline', () => {
  it('drops the edge (50) under a 45 ms deadline and says so on the candidate', () => {
    const d = placeStage(BASE, 'auto', { deadlineMs: 45 });
    expect(d.tier).toBe('cloud');
    expect(d.candidates[0]).toEqual({ tier: 'edge', terms: { edgeComputeMs: 50, totalMs: 50 }, feasible: false, reason: 'expected 50 ms exceeds the deadline of 45 ms', priorUsed: false });
    expect(d.candidates[1]?.feasible).toBe(true);
  });

  it('overrides the edge bias: a biased edge that misses the deadline is not taken', () => {
    expect(placeStage(BASE, 'auto', { edgeBiasMs: 10, deadlineMs: 45 })).toMatchObject({ tier: 'cloud', reason: 'only tier that meets the deadline' });
  });

  it('counts a total equal to the deadline as meeting it', () => {
    expect(placeStage(BASE, 'auto', { deadlineMs: 42 }).tier).toBe('cloud');
    expect(placeStage(BASE, 'auto', { deadlineMs: 50 }).candidates.every((c) => c.feasible)).toBe(true);
  });

  it('throws CLEAVE_E_DEADLINE with both totals and the deadline when no tier makes it', () => {
    const e = expectCode(() => placeStage(BASE, 'auto', { deadlineMs: 41 }), 'CLEAVE_E_DEADLINE');
    expect(e.message).toBe('no tier can run model "resnet" within the deadline of 41 ms: edge 50 ms, cloud 42 ms');
    expect(e.detail).toEqual({ model: 'resnet', deadlineMs: 41, edgeMs: 50, cloudMs: 42 });
    expect(e.httpStatus).toBe(504);
  });

  it('says which tier was unavailable when the other misses the deadline', () => {
    const { cloud: _c, ...noCloud } = BASE;
    const e = expectCode(() => placeStage(noCloud, 'auto', { deadlineMs: 10 }), 'CLEAVE_E_DEADLINE');
    expect(e.message).toBe('no tier can run model "resnet" within the deadline of 10 ms: edge 50 ms, cloud unavailable');
  });

  it('treats a deadline already past as one nothing meets', () => {
    expectCode(() => placeStage(BASE, 'auto', { deadlineMs: -5 }), 'CLEAVE_E_DEADLINE');
  });
});

describe('placeStage fixed policy', () => {
  it('runs on the policy tier even when the other is faster, and still lists the other', () => {
    const d = placeStage(BASE, 'edge');
    expect(d).toMatchObject({ tier: 'edge', policy: 'edge', expectedMs: 50, reason: 'fixed by policy' });
    expect(d.candidates.map((c) => [c.tier, c.terms.totalMs])).toEqual([['edge', 50], ['cloud', 42]]);
    expect(placeStage(stage({ edge: { computeMs: 1 } }), 'cloud')).toMatchObject({ tier: 'cloud', expectedMs: 42, reason: 'fixed by policy' });
  });

  it('throws CLEAVE_E_UNAVAILABLE naming the tier when the policy tier cannot run the model', () => {
    const { cloud: _c, ...noCloud } = BASE;
    const { edge: _e, ...noEdge } = BASE;
    const e = expectCode(() => placeStage(noCloud, 'cloud'), 'CLEAVE_E_UNAVAILABLE');
    expect(e.message).toBe('placement policy "cloud" fixes model "resnet" to the cloud, which cannot run it now');
    expect(expectCode(() => placeStage(noEdge, 'edge'), 'CLEAVE_E_UNAVAILABLE').message).toContain('to the edge');
  });

  it('throws CLEAVE_E_DEADLINE when the policy tier misses the deadline, even if the other would make it', () => {
    const e = expectCode(() => placeStage(BASE, 'edge', { deadlineMs: 45 }), 'CLEAVE_E_DEADLINE');
    expect(e.message).toBe('model "resnet" on the edge (fixed by policy) is expected to take 50 ms, over the deadline of 45 ms');
    expect(e.detail).toEqual({ model: 'resnet', policy: 'edge', deadlineMs: 45, edgeMs: 50 });
  });

  it('ignores the edge bias', () => {
    expect(placeStage(BASE, 'cloud', { edgeBiasMs: 100 }).tier).toBe('cloud');
  });
});

describe('placeStage priors', () => {
  it('reports a prior on any tier auto weighed', () => {
    expect(placeStage(stage({ edge: { computeMs: 50, prior: true } }), 'auto').priorUsed).toBe(true);
    expect(placeStage(stage({ link: { ...BASE.link, prior: true } }), 'auto').priorUsed).toBe(true);
    expect(placeStage(stage({ cloud: { computeMs: 7, queueMs: 3, prior: true } }), 'auto').candidates.map((c) => c.priorUsed)).toEqual([false, true]);
  });

  it('under a fixed policy, only the chosen tier counts', () => {
    expect(placeStage(stage({ link: { ...BASE.link, prior: true } }), 'edge').priorUsed).toBe(false);
    expect(placeStage(stage({ link: { ...BASE.link, prior: true } }), 'cloud').priorUsed).toBe(true);
  });
});

describe('placeStage validation', () => {
  it.each<[string, StageEstimates]>([
    ['negative bytesIn', stage({ bytesIn: -1 })],
    ['NaN bytesOut', stage({ bytesOut: Number.NaN })],
    ['batch 0', stage({ batch: 0 })],
    ['infinite edge compute', stage({ edge: { computeMs: Infinity } })],
    ['negative queue', stage({ cloud: { computeMs: 1, queueMs: -1 } })],
    ['0 bit/s up while the cloud is available', stage({ link: { ...BASE.link, upBitsPerSec: 0 } })],
  ])('rejects %s with CLEAVE_E_BAD_ARGUMENT', (_name, e) => {
    expectCode(() => placeStage(e, 'auto'), 'CLEAVE_E_BAD_ARGUMENT');
  });

  it('rejects an unknown policy, a NaN deadline and a negative bias', () => {
    expect(expectCode(() => placeStage(BASE, 'gpu' as PlacementPolicy), 'CLEAVE_E_BAD_ARGUMENT').message).toContain('"gpu"');
    expectCode(() => placeStage(BASE, 'auto', { deadlineMs: Number.NaN }), 'CLEAVE_E_BAD_ARGUMENT');
    expectCode(() => placeStage(BASE, 'auto', { edgeBiasMs: -1 }), 'CLEAVE_E_BAD_ARGUMENT');
  });
});

// Neurosurgeon-style scenarios. An AlexNet-shaped model on a phone-class edge: float32 tensors,
// activations per sample as in the paper's Fig. 4 (the input 3x224x224 = 602 112 B; conv1 grows
// it, pool5 256x6x6 = 36 864 B, fc7 4096 = 16 384 B), 1000 float logits back (4 000 B), 2 ms queue.
const ALEXNET: CutCandidate[] = [
  { cut: 'cloud', headMs: 0, tailMs: 8, activationBytes: 602_112 },
  { cut: 'conv1', headMs: 15, tailMs: 7, activationBytes: 774_400 },
  { cut: 'pool5', headMs: 60, tailMs: 2, activationBytes: 36_864 },
  { cut: 'fc7', headMs: 85, tailMs: 0.5, activationBytes: 16_384 },
  { cut: 'edge', headMs: 90, tailMs: 0, activationBytes: 0 },
];
// A model too big for the edge with an early bottleneck (a 2 KiB feature map after its stem).
const BOTTLENECK: CutCandidate[] = [
  { cut: 'cloud', headMs: 0, tailMs: 20, activationBytes: 602_112 },
  { cut: 'stem', headMs: 80, tailMs: 18, activationBytes: 2_048 },
  { cut: 'edge', headMs: 2_000, tailMs: 0, activationBytes: 0 },
];
const SLOW = { rttMs: 150, upBitsPerSec: 1_000_000, downBitsPerSec: 1_000_000 };
const MEDIUM = { rttMs: 40, upBitsPerSec: 10_000_000, downBitsPerSec: 10_000_000 };
const FAST = { rttMs: 10, upBitsPerSec: 100_000_000, downBitsPerSec: 100_000_000 };

function ctxFor(link: CutContext['link'], over: Partial<CutContext> = {}): CutContext {
  return { bytesOut: 4_000, cloudQueueMs: 2, link, cloudAvailable: true, ...over };
}

describe('chooseCut scenarios (Neurosurgeon)', () => {
  // Totals, by hand (ms): AlexNet on SLOW:   cloud 150 + 4816.896 + 2 + 8 + 32 = 5008.896,
  //   pool5 60 + 150 + 294.912 + 2 + 2 + 32 = 540.912, fc7 85 + 150 + 131.072 + 2 + 0.5 + 32 = 400.572, edge 90.
  // On FAST: cloud 10 + 48.16896 + 2 + 8 + 0.32 = 68.48896, pool5 77.26912, fc7 98.13072, edge 90.
  // BOTTLENECK on SLOW: stem 80 + 150 + 16.384 + 2 + 18 + 32 = 298.384 against edge 2000 and cloud 5020.896;
  //   on FAST: cloud 10 + 48.16896 + 2 + 20 + 0.32 = 80.48896 against stem 110.48384.
  it.each<[string, CutCandidate[], CutContext['link'], string, number]>([
    ['AlexNet, 1 Mbit/s + 150 ms: all on the edge', ALEXNET, SLOW, 'edge', 90],
    ['AlexNet, 10 Mbit/s + 40 ms: still the edge', ALEXNET, MEDIUM, 'edge', 90],
    ['AlexNet, 100 Mbit/s + 10 ms: all in the cloud', ALEXNET, FAST, 'cloud', 68.48896],
    ['bottleneck, 1 Mbit/s + 150 ms: cut after the stem (2 KiB crosses)', BOTTLENECK, SLOW, 'stem', 298.384],
    ['bottleneck, 100 Mbit/s + 10 ms: all in the cloud', BOTTLENECK, FAST, 'cloud', 80.48896],
  ])('%s', (_name, cands, link, cut, total) => {
    const d = chooseCut(cands, ctxFor(link));
    expect(d.cut).toBe(cut);
    expect(d.int8).toBe(false);
    expect(d.expectedMs).toBeCloseTo(total, 9);
    expect(d.reason).toBe('lowest expected latency');
  });

  it('lists every cut in input order with its terms', () => {
    const d = chooseCut(ALEXNET, ctxFor(FAST));
    expect(d.candidates.map((o) => o.cut)).toEqual(['cloud', 'conv1', 'pool5', 'fc7', 'edge']);
    expect(d.candidates.find((o) => o.cut === 'pool5')?.terms.upMs).toBeCloseTo(2.94912, 12);
    expect(d.candidates.find((o) => o.cut === 'pool5')?.bytesUp).toBe(36_864);
  });

  it('agrees with placeStage on the same model run whole (AlexNet: edge on SLOW, cloud on FAST)', () => {
    const e = (link: CutContext['link']): StageEstimates => ({
      model: 'alexnet',
      batch: 1,
      bytesIn: 602_112,
      bytesOut: 4_000,
      edge: { computeMs: 90 },
      cloud: { computeMs: 8, queueMs: 2 },
      link,
    });
    expect(placeStage(e(SLOW), 'auto').tier).toBe('edge');
    expect(placeStage(e(FAST), 'auto').tier).toBe('cloud');
    expect(placeStage(e(FAST), 'auto').expectedMs).toBe(chooseCut(ALEXNET, ctxFor(FAST)).expectedMs);
  });
});

describe('chooseCut int8', () => {
  // edge 100; mid fp32: 10 + 20 + 80 + 4 + 5 + 1 = 120; mid int8: 10 + 20 + 20 + 4 + 5 + 1 = 60.
  const MID: CutCandidate = { cut: 'mid', headMs: 10, tailMs: 5, activationBytes: 100_000, int8ActivationBytes: 25_000, int8Agreement: 0.99 };
  const EDGE: CutCandidate = { cut: 'edge', headMs: 100, tailMs: 0, activationBytes: 0 };
  const LINK = { rttMs: 20, upBitsPerSec: 10_000_000, downBitsPerSec: 10_000_000 };
  const ctx = (over: Partial<CutContext> = {}): CutContext => ({ bytesOut: 1_250, cloudQueueMs: 4, link: LINK, cloudAvailable: true, ...over });

  it('is not considered without an accuracy budget: the edge (100) beats fp32 (120)', () => {
    const d = chooseCut([EDGE, MID], ctx());
    expect([d.cut, d.int8, d.expectedMs]).toEqual(['edge', false, 100]);
    expect(d.candidates.map((o) => [o.cut, o.int8, o.terms.totalMs])).toEqual([['edge', false, 100], ['mid', false, 120]]);
  });

  it('is chosen when the budget allows it and it is fastest (60)', () => {
    const d = chooseCut([EDGE, MID], ctx({ minInt8Agreement: 0.98 }));
    expect([d.cut, d.int8, d.expectedMs, d.reason]).toEqual(['mid', true, 60, 'lowest expected latency']);
    expect(d.candidates.map((o) => [o.cut, o.int8, o.terms.totalMs, o.bytesUp])).toEqual([['edge', false, 100, 0], ['mid', false, 120, 100_000], ['mid', true, 60, 25_000]]);
  });

  it('accepts an agreement equal to the budget, refuses one below it', () => {
    expect(chooseCut([EDGE, MID], ctx({ minInt8Agreement: 0.99 })).int8).toBe(true);
    expect(chooseCut([EDGE, MID], ctx({ minInt8Agreement: 0.995 }))).toMatchObject({ cut: 'edge', int8: false });
  });

  it('is not chosen when it is no faster: a tie goes to fp32', () => {
    const same = { ...MID, int8ActivationBytes: 100_000 };
    const d = chooseCut([same], ctx({ minInt8Agreement: 0.5 }));
    expect([d.cut, d.int8, d.expectedMs]).toEqual(['mid', false, 120]);
  });

  it('is not chosen when the edge is faster still', () => {
    expect(chooseCut([{ ...EDGE, headMs: 59 }, MID], ctx({ minInt8Agreement: 0.9 })).cut).toBe('edge');
  });

  it('needs both int8ActivationBytes and int8Agreement', () => {
    const { int8Agreement: _a, ...noAgreement } = MID;
    const { int8ActivationBytes: _b, ...noBytes } = MID;
    expect(chooseCut([noAgreement], ctx({ minInt8Agreement: 0 })).candidates).toHaveLength(1);
    expect(chooseCut([noBytes], ctx({ minInt8Agreement: 0 })).candidates).toHaveLength(1);
  });
});

describe('chooseCut ties, deadline, availability', () => {
  const LINK = { rttMs: 20, upBitsPerSec: 10_000_000, downBitsPerSec: 10_000_000 };
  const MID: CutCandidate = { cut: 'mid', headMs: 10, tailMs: 5, activationBytes: 100_000 }; // 120 with the ctx below
  const ctx = (over: Partial<CutContext> = {}): CutContext => ({ bytesOut: 1_250, cloudQueueMs: 4, link: LINK, cloudAvailable: true, model: 'm', ...over });

  it('gives a tie to the edge, wherever it is listed', () => {
    const d = chooseCut([MID, { cut: 'edge', headMs: 120, tailMs: 0, activationBytes: 0 }], ctx());
    expect([d.cut, d.reason]).toEqual(['edge', 'tie, edge preferred']);
  });

  it('gives a tie between cuts to the earlier one', () => {
    const other = { ...MID, cut: 'other' };
    expect(chooseCut([MID, other], ctx()).cut).toBe('mid');
    expect(chooseCut([other, MID], ctx()).cut).toBe('other');
  });

  it('drops cuts over the deadline', () => {
    const d = chooseCut([MID, { cut: 'edge', headMs: 130, tailMs: 0, activationBytes: 0 }], ctx({ deadlineMs: 125 }));
    expect([d.cut, d.reason]).toEqual(['mid', 'only candidate that meets the deadline']);
    expect(d.candidates[1]).toMatchObject({ cut: 'edge', feasible: false, reason: 'expected 130 ms exceeds the deadline of 125 ms' });
  });

  it('throws CLEAVE_E_DEADLINE naming the fastest option and the baselines when nothing makes it', () => {
    const cands: CutCandidate[] = [{ cut: 'cloud', headMs: 0, tailMs: 8, activationBytes: 200_000 }, MID, { cut: 'edge', headMs: 130, tailMs: 0, activationBytes: 0 }];
    const e = expectCode(() => chooseCut(cands, ctx({ deadlineMs: 100 })), 'CLEAVE_E_DEADLINE');
    expect(e.message).toBe('no cut of model "m" meets the deadline of 100 ms: the fastest, "mid", is expected to take 120 ms; cloud 193 ms, edge 130 ms');
    expect(e.detail).toEqual({ model: 'm', deadlineMs: 100, fastestMs: 120, fastest: '"mid"' });
  });

  it('with the cloud unavailable, runs on the edge alone', () => {
    const d = chooseCut([MID, { cut: 'edge', headMs: 500, tailMs: 0, activationBytes: 0 }], ctx({ cloudAvailable: false, link: { rttMs: 0, upBitsPerSec: 0, downBitsPerSec: 0 } }));
    expect([d.cut, d.expectedMs, d.reason]).toEqual(['edge', 500, 'only tier available']);
    expect(d.candidates.map((o) => o.cut)).toEqual(['edge']);
  });

  it('with the cloud unavailable and no edge candidate, throws CLEAVE_E_UNAVAILABLE', () => {
    const e = expectCode(() => chooseCut([MID], ctx({ cloudAvailable: false })), 'CLEAVE_E_UNAVAILABLE');
    expect(e.message).toBe('the cloud is unavailable and model "m" has no "edge" candidate: nowhere to run it');
  });

  it('with one candidate, says so', () => {
    expect(chooseCut([MID], ctx()).reason).toBe('only candidate');
  });

  it('reports priors from the link, the queue or a candidate, only for options it weighed', () => {
    const edge: CutCandidate = { cut: 'edge', headMs: 500, tailMs: 0, activationBytes: 0 };
    expect(chooseCut([MID, edge], ctx()).priorUsed).toBe(false);
    expect(chooseCut([MID, edge], ctx({ link: { ...LINK, prior: true } })).priorUsed).toBe(true);
    expect(chooseCut([MID, edge], ctx({ cloudQueuePrior: true })).priorUsed).toBe(true);
    expect(chooseCut([MID, { ...edge, prior: true }], ctx()).priorUsed).toBe(true);
    expect(chooseCut([MID, edge], ctx({ cloudAvailable: false, link: { ...LINK, prior: true } })).priorUsed).toBe(false);
  });

  it.each<[string, CutCandidate[], Partial<CutContext>]>([
    ['no candidates', [], {}],
    ['a repeated cut', [MID, MID], {}],
    ['an edge candidate with a tail', [{ cut: 'edge', headMs: 1, tailMs: 1, activationBytes: 0 }], {}],
    ['an edge candidate with an activation', [{ cut: 'edge', headMs: 1, tailMs: 0, activationBytes: 10 }], {}],
    ['a negative head', [{ ...MID, headMs: -1 }], {}],
    ['an agreement above 1', [{ ...MID, int8ActivationBytes: 1, int8Agreement: 1.5 }], {}],
    ['a budget above 1', [MID], { minInt8Agreement: 2 }],
    ['a NaN queue', [MID], { cloudQueueMs: Number.NaN }],
  ])('rejects %s with CLEAVE_E_BAD_ARGUMENT', (_name, cands, over) => {
    expectCode(() => chooseCut(cands, ctx(over)), 'CLEAVE_E_BAD_ARGUMENT');
  });
});

describe('explain', () => {
  it('renders a cloud placement with its terms and the edge total, 1 decimal each', () => {
    // up: 2 100 B * 8000 / 8e6 = 2.1 ms; down: 1 000 B * 8000 / 1e7 = 0.8 ms.
    const d = placeStage(
      stage({ bytesIn: 2_100, bytesOut: 1_000, edge: { computeMs: 41 }, cloud: { computeMs: 7.2, queueMs: 3 }, link: { rttMs: 10, upBitsPerSec: 8_000_000, downBitsPerSec: 10_000_000 } }),
      'auto',
    );
    expect(explain(d)).toBe('tier=cloud; total=23.1; rtt=10.0; up=2.1; queue=3.0; compute=7.2; down=0.8; vs edge=41.0');
  });

  it('renders an edge placement fixed by policy, and flags priors', () => {
    expect(explain(placeStage(BASE, 'edge'))).toBe('tier=edge; total=50.0; compute=50.0; vs cloud=42.0; policy=edge');
    expect(explain(placeStage(stage({ edge: { computeMs: 30, prior: true } }), 'auto'))).toBe('tier=edge; total=30.0; compute=30.0; vs cloud=42.0; prior=1');
    const { edge: _e, ...noEdge } = BASE;
    expect(explain(placeStage(noEdge, 'auto'))).toBe('tier=cloud; total=42.0; rtt=10.0; up=20.0; queue=3.0; compute=7.0; down=2.0');
  });

  it('renders a split with its head, the int8 flag and the all-edge and all-cloud baselines', () => {
    const cands: CutCandidate[] = [
      { cut: 'cloud', headMs: 0, tailMs: 8, activationBytes: 200_000 },
      { cut: 'mid', headMs: 10, tailMs: 5, activationBytes: 100_000, int8ActivationBytes: 25_000, int8Agreement: 0.99 },
      { cut: 'edge', headMs: 100, tailMs: 0, activationBytes: 0 },
    ];
    const ctx: CutContext = { bytesOut: 1_250, cloudQueueMs: 4, link: { rttMs: 20, upBitsPerSec: 10_000_000, downBitsPerSec: 10_000_000 }, cloudAvailable: true, minInt8Agreement: 0.98 };
    expect(explain(chooseCut(cands, ctx))).toBe('cut=mid; int8=1; total=60.0; head=10.0; rtt=20.0; up=20.0; queue=4.0; compute=5.0; down=1.0; vs edge=100.0; vs cloud=193.0');
    expect(explain(chooseCut(cands, { ...ctx, cloudAvailable: false }))).toBe('cut=edge; total=100.0; compute=100.0');
  });

  it('percent-encodes cut names so the value stays one well-formed header', () => {
    const d = chooseCut([{ cut: 'a;b=c,\u00e9\n', headMs: 0, tailMs: 1, activationBytes: 0 }], { bytesOut: 0, cloudQueueMs: 0, link: { rttMs: 1, upBitsPerSec: 1, downBitsPerSec: 1 }, cloudAvailable: true });
    expect(explain(d)).toBe('cut=a%3Bb%3Dc%2C%C3%A9%0A; total=2.0; rtt=1.0; up=0.0; queue=0.0; compute=1.0; down=0.0');
    const lone = chooseCut([{ cut: 'x\ud800', headMs: 0, tailMs: 1, activationBytes: 0 }], { bytesOut: 0, cloudQueueMs: 0, link: { rttMs: 1, upBitsPerSec: 1, downBitsPerSec: 1 }, cloudAvailable: true });
    expect(explain(lone).startsWith('cut=x%EF%BF%BD;')).toBe(true);
    fc.assert(
      // UTF-16 code units, lone surrogates included.
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) }), (cut) => {
        const v = explain(chooseCut([{ cut: cut === 'edge' ? 'x' : cut, headMs: 0, tailMs: 1, activationBytes: 0 }], { bytesOut: 0, cloudQueueMs: 0, link: { rttMs: 1, upBitsPerSec: 1, downBitsPerSec: 1 }, cloudAvailable: true }));
        expect(new Headers({ 'x-cleave-placement': v }).get('x-cleave-placement')).toBe(v);
        expect(v.split('; ')[0]?.split('=')).toHaveLength(2);
      }),
      { numRuns: 200 },
    );
  });
});

describe('properties', () => {
  // Integers as well as doubles, so ties and totals equal to the deadline come up often.
  const msArb = fc.oneof(fc.integer({ min: 0, max: 500 }), fc.double({ min: 0, max: 500, noNaN: true }));
  const bytesArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000_000 }));
  const bpsArb = fc.integer({ min: 100_000, max: 1_000_000_000 });
  const linkArb = fc.record({ rttMs: msArb, upBitsPerSec: bpsArb, downBitsPerSec: bpsArb });
  const stageArb: fc.Arbitrary<StageEstimates> = fc.record(
    {
      model: fc.constant('m'),
      batch: fc.integer({ min: 1, max: 64 }),
      bytesIn: bytesArb,
      bytesOut: bytesArb,
      edge: fc.record({ computeMs: fc.oneof(msArb, fc.integer({ min: 0, max: 5_000 })) }),
      cloud: fc.record({ computeMs: msArb, queueMs: msArb }),
      link: linkArb,
    },
    { requiredKeys: ['model', 'batch', 'bytesIn', 'bytesOut', 'link'] },
  );
  const deadlineArb = fc.option(fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.double({ min: 0, max: 3_000, noNaN: true })), { nil: undefined });

  it('auto never picks a tier whose total is above another feasible tier\'s, and throws only when it must', () => {
    fc.assert(
      fc.property(stageArb, deadlineArb, (e, deadlineMs) => {
        const opts = deadlineMs === undefined ? {} : { deadlineMs };
        const totals: { tier: string; total: number }[] = [];
        if (e.edge) totals.push({ tier: 'edge', total: e.edge.computeMs });
        if (e.cloud) {
          const l = e.link;
          totals.push({ tier: 'cloud', total: l.rttMs + (e.bytesIn * 8000) / l.upBitsPerSec + e.cloud.queueMs + e.cloud.computeMs + (e.bytesOut * 8000) / l.downBitsPerSec });
        }
        const meets = totals.filter((t) => deadlineMs === undefined || t.total <= deadlineMs);
        let d;
        try {
          d = placeStage(e, 'auto', opts);
        } catch (err) {
          expect(isCleaveError(err)).toBe(true);
          expect((err as CleaveError).code).toBe(totals.length === 0 ? 'CLEAVE_E_UNAVAILABLE' : 'CLEAVE_E_DEADLINE');
          expect(meets).toHaveLength(0);
          return;
        }
        expect(d.candidates.map((c) => [c.tier, c.terms.totalMs])).toEqual(totals.map((t) => [t.tier, t.total]));
        const chosen = d.candidates.find((c) => c.tier === d.tier)!;
        expect(chosen.feasible).toBe(true);
        expect(d.expectedMs).toBe(chosen.terms.totalMs);
        for (const c of d.candidates) {
          expect(c.feasible).toBe(deadlineMs === undefined || c.terms.totalMs <= deadlineMs);
          if (c.feasible) expect(d.expectedMs).toBeLessThanOrEqual(c.terms.totalMs);
          if (c.feasible && c.tier === 'edge' && c.terms.totalMs === d.expectedMs) expect(d.tier).toBe('edge');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('with an edge bias, auto takes the edge exactly when it is feasible and within the margin of a feasible cloud', () => {
    fc.assert(
      fc.property(stageArb, msArb, (e, bias) => {
        fc.pre(e.edge !== undefined && e.cloud !== undefined);
        const d = placeStage(e, 'auto', { edgeBiasMs: bias });
        const [edge, cloud] = d.candidates;
        expect(d.tier).toBe(edge!.terms.totalMs <= cloud!.terms.totalMs + bias ? 'edge' : 'cloud');
      }),
      { numRuns: 1000 },
    );
  });

  const cutArb: fc.Arbitrary<CutCandidate> = fc.record(
    {
      cut: fc.constant(''),
      headMs: msArb,
      tailMs: msArb,
      activationBytes: bytesArb,
      int8ActivationBytes: bytesArb,
      int8Agreement: fc.double({ min: 0, max: 1, noNaN: true }),
    },
    { requiredKeys: ['cut', 'headMs', 'tailMs', 'activationBytes'] },
  );
  const cutsArb = fc
    .tuple(fc.array(cutArb, { maxLength: 6 }), fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }))
    .map(([cs, edgeMs]) => {
      const named = cs.map((c, i) => ({ ...c, cut: i === 0 ? 'cloud' : `c${i}` }));
      return edgeMs === undefined ? named : [...named, { cut: 'edge', headMs: edgeMs, tailMs: 0, activationBytes: 0 }];
    })
    .filter((cs) => cs.length > 0);

  it('chooseCut never picks an option whose total is above another feasible option\'s, nor int8 outside the budget', () => {
    fc.assert(
      fc.property(
        cutsArb,
        linkArb,
        fc.boolean(),
        deadlineArb,
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        (cands, link, cloudAvailable, deadlineMs, minInt8Agreement) => {
          const ctx: CutContext = {
            bytesOut: 4_000,
            cloudQueueMs: 3,
            link,
            cloudAvailable,
            ...(deadlineMs === undefined ? {} : { deadlineMs }),
            ...(minInt8Agreement === undefined ? {} : { minInt8Agreement }),
          };
          let d;
          try {
            d = chooseCut(cands, ctx);
          } catch (err) {
            expect(isCleaveError(err, 'CLEAVE_E_DEADLINE') || isCleaveError(err, 'CLEAVE_E_UNAVAILABLE')).toBe(true);
            if (isCleaveError(err, 'CLEAVE_E_UNAVAILABLE')) expect(!cloudAvailable && !cands.some((c) => c.cut === 'edge')).toBe(true);
            return;
          }
          const chosen = d.candidates.find((o) => o.cut === d.cut && o.int8 === d.int8)!;
          expect(chosen.feasible).toBe(true);
          for (const o of d.candidates) {
            if (o.feasible) expect(d.expectedMs).toBeLessThanOrEqual(o.terms.totalMs);
            if (!cloudAvailable) expect(o.cut).toBe('edge');
            if (o.int8) {
              const c = cands.find((x) => x.cut === o.cut)!;
              expect(minInt8Agreement).toBeDefined();
              expect(c.int8Agreement!).toBeGreaterThanOrEqual(minInt8Agreement!);
            }
          }
          if (d.int8) {
            const fp = d.candidates.find((o) => o.cut === d.cut && !o.int8)!;
            expect(d.expectedMs).toBeLessThan(fp.terms.totalMs);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
