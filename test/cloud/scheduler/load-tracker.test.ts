import { describe, expect, it } from 'vitest';
import { LoadTracker } from '../../../cloud/scheduler/load-tracker.js';
import { flush, harness, req } from './harness.js';

describe('LoadTracker', () => {
  it('keeps EWMAs of queue ms per request, compute ms and rows per batch', () => {
    const t = new LoadTracker({ alpha: 0.5, stats: () => ({ queued: 3, running: 1 }) });
    expect(t.snapshot()).toEqual({ queued: 3, running: 1, queueMs: 0, computeMs: 0, batchSize: 0 });
    t.onBatch({ rows: 4, requests: 2, queueMsEach: [10, 6], computeMs: 20, ok: true });
    // First sample taken as is (10), then 10 + 0.5 * (6 - 10) = 8.
    expect(t.snapshot()).toEqual({ queued: 3, running: 1, queueMs: 8, computeMs: 20, batchSize: 4 });
    t.onBatch({ rows: 8, requests: 1, queueMsEach: [0], computeMs: 10, ok: false });
    expect(t.snapshot()).toEqual({ queued: 3, running: 1, queueMs: 4, computeMs: 15, batchSize: 6 });
    expect(t.snapshot({ queued: 0, running: 0 })).toMatchObject({ queued: 0, running: 0 });
  });

  it('uses alpha 0.2 by default and refuses one outside (0, 1]', () => {
    const t = new LoadTracker();
    t.onBatch({ rows: 10, requests: 1, queueMsEach: [0], computeMs: 0, ok: true });
    t.onBatch({ rows: 20, requests: 1, queueMsEach: [0], computeMs: 0, ok: true });
    expect(t.snapshot().batchSize).toBeCloseTo(12, 12);
    expect(t.snapshot()).toMatchObject({ queued: 0, running: 0 });
    expect(() => new LoadTracker({ alpha: 0 })).toThrow(/alpha = 0: expected a number in \(0, 1\]/);
    expect(() => new LoadTracker({ alpha: 1.5 })).toThrow(/alpha/);
  });

  it('follows a batcher through onBatch and stats', async () => {
    const h = harness({ maxBatchSize: 4 });
    const t = new LoadTracker({ stats: () => h.batcher.stats() });
    // The harness records batches; feed them to the tracker as the server's onBatch would.
    for (let i = 1; i <= 5; i++) h.submit({ inputs: req(i) });
    expect(t.snapshot()).toMatchObject({ queued: 1, running: 1 });
    h.clock.advance(7);
    h.calls[0]!.complete();
    await flush();
    for (const b of h.batches) t.onBatch(b);
    // Request 5 has waited 7 of its 10 ms: still queued.
    expect(t.snapshot()).toEqual({ queued: 1, running: 0, queueMs: 0, computeMs: 7, batchSize: 4 });
  });
});
