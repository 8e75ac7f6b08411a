// The `auto` probe (edge/workflow-runtime.ts, TierProbe): the tier the estimates keep choosing
// against is re-measured on a schedule, so a tier priced out by one slow spell can win back.
// Fake estimates and a manual clock: exact, no sleeping.
import { describe, expect, it } from 'vitest';
import type { InferenceBackend } from '../../shared/backend/backend.js';
import type { CloudTransport } from '../../edge/cloud-transport.js';
import { LiveEstimates } from '../../edge/live-estimates.js';
import { ModelCatalog } from '../../edge/model-catalog.js';
import { EdgeWorkflowRuntime, PROBE_MAX_INTERVAL_MS, PROBE_MIN_INTERVAL_MS, TierProbe } from '../../edge/workflow-runtime.js';
import { ManualClock } from '../../shared/time.js';
import type { ModelQuestion } from '../../shared/workflow/runtime.js';

describe('TierProbe', () => {
  it('probes a loser that never ran at once, then one probe at a time', () => {
    const probe = new TierProbe(new ManualClock());
    expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(true);
    expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(false);
  });

  it('doubles the interval while probes confirm the loser loses, up to the maximum', () => {
    const clock = new ManualClock();
    const probe = new TierProbe(clock);
    const intervals: number[] = [];
    for (let i = 0; i < 8; i++) {
      clock.advance(probe.intervalMs('m') - 1);
      if (i > 0) expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(false);
      clock.advance(1);
      expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(true);
      probe.ran('m', 'cloud', 400);
      intervals.push(probe.intervalMs('m'));
    }
    expect(intervals).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    expect(PROBE_MIN_INTERVAL_MS).toBe(1000);
    expect(PROBE_MAX_INTERVAL_MS).toBe(30_000);
  });

  it('probes again on the next request while the loser measures faster than the winner is expected to be', () => {
    const clock = new ManualClock();
    const probe = new TierProbe(clock);
    probe.ran('m', 'cloud', 400);
    clock.advance(1000);
    expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(true);
    probe.ran('m', 'cloud', 30);
    expect(probe.intervalMs('m')).toBe(0);
    expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(true);
    // A failed probe run is no evidence of recovery.
    probe.ran('m', 'cloud', undefined);
    expect(probe.intervalMs('m')).toBe(PROBE_MIN_INTERVAL_MS);
  });

  it('restarts the schedule when the winner changes, and keeps models apart', () => {
    const clock = new ManualClock();
    const probe = new TierProbe(clock);
    expect(probe.pick('m', 'edge', 100, 'cloud')).toBe(true);
    probe.ran('m', 'cloud', 400);
    expect(probe.intervalMs('m')).toBe(2000);
    probe.pick('m', 'cloud', 50, 'edge');
    expect(probe.intervalMs('m')).toBe(PROBE_MIN_INTERVAL_MS);
    expect(probe.intervalMs('other')).toBe(PROBE_MIN_INTERVAL_MS);
  });

  it('refuses intervals out of order', () => {
    expect(() => new TierProbe(new ManualClock(), { minIntervalMs: 10, maxIntervalMs: 5 })).toThrow(RangeError);
  });
});

describe('EdgeWorkflowRuntime auto placement with probes', () => {
  const spec = { inputs: [{ name: 'x', dtype: 'float32' as const, shape: [-1, 4] }], outputs: [{ name: 'y', dtype: 'float32' as const, shape: [-1, 2] }] };
  const backend: InferenceBackend = {
    name: 'fake', priority: 0,
    load: () => Promise.resolve({ inputNames: ['x'], outputNames: ['y'], run: () => Promise.resolve({}), dispose: () => Promise.resolve() }),
    describe: () => ({ name: 'fake', providers: [] }),
  };
  const cloud: CloudTransport = {
    run: () => Promise.reject(new Error('not used')),
    status: () => ({ state: 'connected', offers: [{ name: 'm', version: 1, maxBatchSize: 8, ...spec }], failures: 0, connects: 1 }),
    close: () => Promise.resolve(),
  };

  function setup(probe?: false): { rt: EdgeWorkflowRuntime; clock: ManualClock; estimates: LiveEstimates } {
    const clock = new ManualClock(1000);
    const estimates = new LiveEstimates(clock);
    const catalog = new ModelCatalog([{ name: 'm', version: 1, maxBatchSize: 8, placement: 'edge', bytes: () => Promise.resolve(new Uint8Array()), ...spec }], { backend });
    // Measured: edge 100 ms; cloud compute 20 ms, no queue, but a 300 ms link (a slow spell).
    estimates.observeEdge('m', 1, 100);
    estimates.cloudCompute.observe('m', 1, 20);
    estimates.queue.observeResult('m', { queueMs: 0, computeMs: 20, batchSize: 1 } as never);
    estimates.link.observeRtt(300);
    const rt = new EdgeWorkflowRuntime({ catalog, cloud, estimates, clock, ...(probe === false ? { probe } : {}) });
    // The edge has been running the model (the cloud has not, on this runtime).
    probeOf(rt)?.ran('m', 'edge', 100);
    return { rt, clock, estimates };
  }
  const probeOf = (rt: EdgeWorkflowRuntime): TierProbe | undefined => (rt as unknown as { probe?: TierProbe }).probe;
  const q = (deadlineMs?: number): ModelQuestion => ({ node: 'n', model: 'm', policy: 'auto', batch: 1, bytesIn: 16, ...(deadlineMs !== undefined ? { deadlineMs } : {}) });

  it('sends a placement that will run to the losing tier, and tells plan and critical-path queries the best tier', () => {
    const { rt } = setup();
    // No deadline: a plan or the critical-path check. The estimates' choice, no probe.
    expect(rt.placeModel(q())).toMatchObject({ tier: 'edge' });
    const p = rt.placeModel(q(30_000));
    expect(p.tier).toBe('cloud');
    expect(p.explanation).toMatch(/^tier=cloud; .*probe=1$/);
    expect(p.explanation).toContain('vs edge=100.0');
  });

  it('never probes a tier that cannot meet the deadline, nor with probes off, nor under a fixed policy', () => {
    const { rt } = setup();
    expect(rt.placeModel(q(200))).toMatchObject({ tier: 'edge' });
    expect(setup(false).rt.placeModel(q(30_000))).toMatchObject({ tier: 'edge' });
    expect(setup().rt.placeModel({ ...q(30_000), policy: 'edge' })).toMatchObject({ tier: 'edge' });
  });

  it('brings the cloud back after the link recovers, in a bounded number of requests', () => {
    const { rt, clock, estimates } = setup();
    const tiers: string[] = [];
    for (let i = 0; i < 20; i++) {
      clock.advance(100);
      const p = rt.placeModel(q(30_000));
      tiers.push(p.explanation.includes('probe=1') ? `${p.tier}*` : p.tier);
      // What the run would report: the cloud over a now-fast link (1 ms RTT), the edge as before.
      if (p.tier === 'cloud') {
        estimates.cloudCompute.observe('m', 1, 20);
        estimates.link.observeTransfer({ bytes: 16, ms: 1, direction: 'up' });
        probeOf(rt)!.ran('m', 'cloud', 21);
      } else {
        estimates.observeEdge('m', 1, 100);
        probeOf(rt)!.ran('m', 'edge', 100);
      }
    }
    // The first placement probes (the cloud never ran here), each promising probe is followed by
    // another, and the cloud wins on its own once the RTT estimate is under ~80 ms. The edge,
    // now the loser, is itself probed a second after its last run (`edge*`), and loses.
    const firstWin = tiers.indexOf('cloud');
    expect(firstWin, tiers.join(' ')).toBeGreaterThan(0);
    expect(firstWin, tiers.join(' ')).toBeLessThanOrEqual(8);
    expect(tiers.slice(0, firstWin).every((t) => t === 'cloud*'), tiers.join(' ')).toBe(true);
    expect(tiers.slice(firstWin).filter((t) => t === 'edge'), tiers.join(' ')).toEqual([]);
  });
});

describe('EdgeWorkflowRuntime split placement with probes', () => {
  it('probes the best option with a cloud part while all-edge wins, and answers plans with the estimates\' choice', async () => {
    const { readFile } = await import('node:fs/promises');
    const { SplitModels } = await import('../../edge/split-models.js');
    const bytes = new Uint8Array(await readFile(new URL('../../models/cnn-large.onnx', import.meta.url)));
    const io = { inputs: [{ name: 'image', dtype: 'float32' as const, shape: [-1, 3, 64, 64] }], outputs: [{ name: 'logits', dtype: 'float32' as const, shape: [-1, 10] }] };
    const backend = { name: 'fake', priority: 0, load: () => Promise.reject(new Error('not used')), describe: () => ({ name: 'fake', providers: [] }) } as unknown as InferenceBackend;
    const splits = new SplitModels([{ name: 'cnn-large', version: 1, bytes: () => Promise.resolve(bytes), ...io }], backend);
    const cuts = await splits.cuts('cnn-large');
    const clock = new ManualClock(1000);
    const estimates = new LiveEstimates(clock);
    const cloud: CloudTransport = {
      run: () => Promise.reject(new Error('not used')),
      status: () => ({ state: 'connected', offers: [{ name: 'cnn-large', version: 1, maxBatchSize: 8, ...io }], failures: 0, connects: 1 }),
      close: () => Promise.resolve(),
    };
    const catalog = new ModelCatalog([], { backend });
    // Measured: the whole model on the edge 20 ms; every cloud part measured too, behind a 300 ms link.
    estimates.observeEdge('cnn-large', 1, 20);
    estimates.cloudCompute.observe('cnn-large', 1, 5);
    for (const c of cuts) {
      estimates.observeEdge(c.parts.head, 1, 10);
      estimates.cloudCompute.observe(c.parts.tail, 1, 2);
    }
    estimates.queue.observeResult('cnn-large', { queueMs: 0, computeMs: 5, batchSize: 1 } as never);
    estimates.link.observeRtt(300);
    const rt = new EdgeWorkflowRuntime({ catalog, cloud, estimates, clock, splits });
    const sq = (deadlineMs?: number) => ({ node: 'big', model: 'cnn-large', batch: 1, ...(deadlineMs !== undefined ? { deadlineMs } : {}) });
    expect(rt.placeSplit(sq())).toMatchObject({ cut: 'edge' });
    const probe = rt.placeSplit(sq(30_000));
    expect(probe.cut).not.toBe('edge');
    expect(probe.explanation).toMatch(/probe=1$/);
    // One probe in flight at a time; a deadline the cloud side cannot meet is never probed.
    expect(rt.placeSplit(sq(30_000))).toMatchObject({ cut: 'edge' });
    clock.advance(60_000);
    expect(rt.placeSplit(sq(100))).toMatchObject({ cut: 'edge' });

    // A pinned cut is taken as pinned, priced for the explanation, and never probed away from.
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      const pinned = rt.placeSplit({ ...sq(30_000), pinned: 'block4.pool_out' });
      expect(pinned.cut).toBe('block4.pool_out');
      expect(pinned.explanation).toMatch(/policy=pinned$/);
    }
    expect(() => rt.placeSplit({ ...sq(30_000), pinned: 'no.such.tensor' })).toThrow(/no.such.tensor/);
  });
});
