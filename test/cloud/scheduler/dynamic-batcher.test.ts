import { describe, expect, it } from 'vitest';
import { parseBatchingConfig } from '../../../cloud/scheduler/batcher-config.js';
import { DynamicBatcher } from '../../../cloud/scheduler/dynamic-batcher.js';
import { CleaveError } from '../../../shared/errors.js';
import { ManualClock } from '../../../shared/time.js';
import { flush, harness, req, rowSums, type Watched } from './harness.js';

const sums = (w: Watched): number[] => Array.from(w.value!.outputs.y!.data as Float32Array);

describe('DynamicBatcher: when a batch runs', () => {
  it('dispatches a full batch at once', () => {
    const h = harness({ maxBatchSize: 4 });
    for (let i = 1; i <= 4; i++) h.submit({ inputs: req(i) });
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.rows).toBe(4);
    expect(h.calls[0]!.ids).toEqual([1, 2, 3, 4]);
    expect(h.batcher.stats()).toEqual({ queued: 0, queuedRows: 0, running: 1 });
  });

  it('waits exactly maxQueueDelayMs for a partial batch, counted from the oldest request', () => {
    const h = harness({ maxQueueDelayMs: 10 });
    h.submit({ inputs: req(1) });
    h.clock.advance(4);
    h.submit({ inputs: req(2) });
    h.clock.advance(5);
    expect(h.calls).toHaveLength(0);
    h.clock.advance(1);
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.ids).toEqual([1, 2]);
    expect(h.clock.now()).toBe(10);
  });

  it('dispatches at once with maxQueueDelayMs 0', () => {
    const h = harness({ maxQueueDelayMs: 0 });
    h.submit({ inputs: req(1) });
    expect(h.calls).toHaveLength(1);
    expect(h.clock.pendingCount).toBe(0);
  });

  it('dispatches the largest preferred size reachable and lets the rest wait', async () => {
    const h = harness({ maxBatchSize: 16, preferredBatchSizes: [4, 8] });
    h.submit({ inputs: req(9, 16) }); // fills the only slot
    const ws = [1, 2, 3, 4, 5, 6].map((i) => h.submit({ inputs: req(i) }));
    expect(h.calls).toHaveLength(1);
    h.calls[0]!.complete();
    await flush();
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.ids).toEqual([1, 2, 3, 4]);
    expect(h.batcher.stats()).toMatchObject({ queued: 2, queuedRows: 2 });
    h.calls[1]!.complete();
    await flush();
    // Requests 5 and 6 have waited 0 ms of their 10.
    expect(h.calls).toHaveLength(2);
    h.clock.advance(9);
    expect(h.calls).toHaveLength(2);
    h.clock.advance(1);
    expect(h.calls[2]!.ids).toEqual([5, 6]);
    h.calls[2]!.complete();
    await flush();
    expect(ws.every((w) => w.value !== undefined)).toBe(true);
  });

  it('runs a preferred size the moment it is reached, without waiting the delay', () => {
    const h = harness({ maxBatchSize: 8, preferredBatchSizes: [4] });
    h.submit({ inputs: req(1, 3) });
    h.submit({ inputs: req(2, 2) });
    expect(h.calls).toHaveLength(0); // 3, 5: not preferred
    const h2 = harness({ maxBatchSize: 8, preferredBatchSizes: [4] });
    h2.submit({ inputs: req(1, 3) });
    h2.submit({ inputs: req(2, 1) });
    expect(h2.calls).toHaveLength(1);
    expect(h2.calls[0]!.rows).toBe(4);
  });

  it('after the delay sends everything pending, not just a preferred prefix', async () => {
    const h = harness({ maxBatchSize: 16, preferredBatchSizes: [4] });
    h.submit({ inputs: req(9, 16) });
    for (let i = 1; i <= 6; i++) h.submit({ inputs: req(i) });
    h.clock.advance(10);
    h.calls[0]!.complete();
    await flush();
    expect(h.calls[1]!.rows).toBe(6);
  });

  it('forms the next batch as soon as one completes', async () => {
    const h = harness({ maxBatchSize: 2 });
    for (let i = 1; i <= 5; i++) h.submit({ inputs: req(i) });
    expect(h.calls.map((c) => c.ids)).toEqual([[1, 2]]);
    h.calls[0]!.complete();
    await flush();
    expect(h.calls.map((c) => c.ids)).toEqual([[1, 2], [3, 4]]);
    h.calls[1]!.complete();
    await flush();
    // Request 5 alone has waited 0 ms: it waits out its delay.
    expect(h.calls).toHaveLength(2);
    h.clock.advance(10);
    expect(h.calls[2]!.ids).toEqual([5]);
  });

  it('runs maxConcurrentBatches batches at once', async () => {
    const h = harness({ maxBatchSize: 2, maxConcurrentBatches: 2 });
    for (let i = 1; i <= 6; i++) h.submit({ inputs: req(i) });
    expect(h.calls.map((c) => c.ids)).toEqual([[1, 2], [3, 4]]);
    expect(h.batcher.stats()).toEqual({ queued: 2, queuedRows: 2, running: 2 });
    h.calls[1]!.complete();
    await flush();
    expect(h.calls[2]!.ids).toEqual([5, 6]);
    expect(h.batcher.stats().running).toBe(2);
  });
});

describe('DynamicBatcher: rows', () => {
  it('counts rows, not requests, and never exceeds maxBatchSize', () => {
    const h = harness({ maxBatchSize: 8 });
    h.submit({ inputs: req(1, 3) });
    h.submit({ inputs: req(2, 4) });
    expect(h.batcher.stats()).toEqual({ queued: 2, queuedRows: 7, running: 0 });
    // 3 + 4 + 2 > 8: the batch cannot grow, so 7 rows go now and request 3 waits.
    h.submit({ inputs: req(3, 2) });
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.rows).toBe(7);
    expect(h.calls[0]!.ids).toEqual([1, 2]);
    expect(h.calls[0]!.inputs.x!.dims).toEqual([7, 2]);
    expect(h.batcher.stats()).toEqual({ queued: 1, queuedRows: 2, running: 1 });
  });

  it('stops at the first request that does not fit rather than letting smaller ones past', async () => {
    const h = harness({ maxBatchSize: 4 });
    h.submit({ inputs: req(9, 4) }); // occupies the slot
    h.submit({ inputs: req(1, 3) });
    h.submit({ inputs: req(2, 2) });
    h.submit({ inputs: req(3, 1) });
    h.calls[0]!.complete();
    await flush();
    expect(h.calls[1]!.ids).toEqual([1]);
  });

  it('rejects a request with more rows than maxBatchSize, naming both', async () => {
    const h = harness({ maxBatchSize: 8 });
    const w = h.submit({ inputs: req(1, 9) });
    await flush();
    expect(w.error?.code).toBe('CLEAVE_E_SHAPE');
    expect(w.error?.message).toContain('9 rows');
    expect(w.error?.message).toContain('maxBatchSize 8');
    expect(h.batcher.stats().queued).toBe(0);
  });

  it('rejects inputs that disagree on rows, scalars, and empty requests', async () => {
    const h = harness();
    const mixed = h.submit({ inputs: { ...req(1, 2), z: req(2, 3).x! } });
    const scalar = h.submit({ inputs: { s: { dtype: 'float32', dims: [], data: new Float32Array(1) } } });
    const none = h.submit({ inputs: {} });
    const zero = h.submit({ inputs: req(1, 0) });
    await flush();
    expect(mixed.error?.code).toBe('CLEAVE_E_SHAPE');
    expect(mixed.error?.message).toContain('input "z" has 3 rows but input "x" has 2');
    expect(scalar.error?.code).toBe('CLEAVE_E_SHAPE');
    expect(none.error?.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(zero.error?.code).toBe('CLEAVE_E_SHAPE');
  });

  it('gives each request its own rows of the outputs', async () => {
    const h = harness({ maxBatchSize: 8 });
    const a = h.submit({ inputs: req(1, 1) });
    const b = h.submit({ inputs: req(2, 3) });
    const c = h.submit({ inputs: req(3, 2) });
    h.clock.advance(10);
    expect(h.calls[0]!.ids).toEqual([1, 2, 3]);
    h.calls[0]!.complete();
    await flush();
    // Row r of request id sums to 2 * (10 * id + r).
    expect(sums(a)).toEqual([20]);
    expect(sums(b)).toEqual([40, 42, 44]);
    expect(sums(c)).toEqual([60, 62]);
    expect(b.value!.outputs.y!.dims).toEqual([3]);
  });

  it('reports queue time, compute time and the batch each request ran in', async () => {
    const h = harness();
    const a = h.submit({ inputs: req(1) });
    h.clock.advance(4);
    const b = h.submit({ inputs: req(2, 2) });
    h.clock.advance(6);
    h.clock.advance(3);
    h.calls[0]!.complete();
    await flush();
    expect(a.value).toMatchObject({ queueMs: 10, computeMs: 3, batchRows: 3, batchRequests: 2 });
    expect(b.value).toMatchObject({ queueMs: 6, computeMs: 3, batchRows: 3, batchRequests: 2 });
    expect(h.batches).toEqual([{ rows: 3, requests: 2, queueMsEach: [10, 6], computeMs: 3, ok: true }]);
  });

  it('does not mix requests of different signatures', async () => {
    const h = harness();
    h.submit({ inputs: req(1, 1, 2) });
    h.submit({ inputs: req(2, 1, 3) });
    h.submit({ inputs: req(3, 1, 2) });
    h.submit({ inputs: { x: { dtype: 'float64', dims: [1, 2], data: Float64Array.of(40, 40) } } });
    h.clock.advance(10);
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.ids).toEqual([1, 3]);
    h.calls[0]!.complete();
    await flush();
    // Request 2 is now at the head and has waited past its delay: it goes at once, alone.
    expect(h.calls[1]!.ids).toEqual([2]);
    h.calls[1]!.complete();
    await flush();
    expect(h.calls[2]!.ids).toEqual([4]);
    expect(h.calls[2]!.inputs.x!.dtype).toBe('float64');
  });
});

describe('DynamicBatcher: a model without a batch dim', () => {
  it('runs every request alone, whole and at once', async () => {
    const h = harness({ maxBatchSize: 8 }, { batchable: false });
    const scalar = { s: { dtype: 'float32' as const, dims: [], data: Float32Array.of(5) } };
    const a = h.submit({ inputs: scalar });
    const b = h.submit({ inputs: req(2, 3) });
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.inputs).toBe(scalar);
    expect(h.calls[0]!.rows).toBe(1);
    expect(h.batcher.stats()).toEqual({ queued: 1, queuedRows: 1, running: 1 });
    const out = { z: { dtype: 'float32' as const, dims: [], data: Float32Array.of(1) } };
    h.calls[0]!.complete(out);
    await flush();
    expect(a.value).toMatchObject({ outputs: out, batchRows: 1, batchRequests: 1 });
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.inputs.x!.dims).toEqual([3, 2]);
    h.calls[1]!.complete();
    await flush();
    expect(b.value?.outputs.y!.dims).toEqual([3]);
  });

  it('treats maxBatchSize 0 as no batch dim', () => {
    const h = harness({ maxBatchSize: 0 });
    h.submit({ inputs: req(1, 12) });
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.rows).toBe(1);
  });
});

describe('DynamicBatcher: priorities', () => {
  it('serves priority 1 before an older priority 2', async () => {
    const h = harness({ maxBatchSize: 2, priorityLevels: 2 });
    h.submit({ inputs: req(9, 2) }); // occupies the slot
    const low = h.submit({ inputs: req(1), priority: 2 });
    h.clock.advance(1);
    h.submit({ inputs: req(2), priority: 1 });
    h.submit({ inputs: req(3), priority: 1 });
    h.calls[0]!.complete();
    await flush();
    expect(h.calls[1]!.ids).toEqual([2, 3]);
    expect(low.settled).toBe(false);
    h.calls[1]!.complete();
    await flush();
    h.clock.advance(8);
    expect(h.calls).toHaveLength(2);
    h.clock.advance(1); // request 1 has waited its 10 ms
    expect(h.calls[2]!.ids).toEqual([1]);
  });

  it('gives requests without a priority the lowest level by default', async () => {
    const h = harness({ maxBatchSize: 1, priorityLevels: 3 });
    h.submit({ inputs: req(9) });
    h.submit({ inputs: req(1) });
    h.submit({ inputs: req(2), priority: 2 });
    h.calls[0]!.complete();
    await flush();
    expect(h.calls[1]!.ids).toEqual([2]);
  });

  it('rejects a priority that is not a level', async () => {
    const h = harness({ priorityLevels: 2 });
    const ws = [0, 3, 1.5].map((priority) => h.submit({ inputs: req(1), priority }));
    await flush();
    for (const w of ws) expect(w.error?.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(ws[1]!.error?.message).toContain('priority 3 is not a level of model "m"; expected an integer 1..2');
  });
});

describe('DynamicBatcher: deadlines', () => {
  it('rejects a queued request at the instant its deadline passes; execute never sees it', async () => {
    const h = harness();
    const doomed = h.submit({ inputs: req(1), deadline: 5 });
    const other = h.submit({ inputs: req(2) });
    h.clock.advance(4);
    await flush();
    expect(doomed.settled).toBe(false);
    h.clock.advance(1);
    await flush();
    expect(doomed.error?.code).toBe('CLEAVE_E_DEADLINE');
    expect(doomed.error?.message).toContain('after 5 ms in queue');
    expect(h.batcher.stats()).toMatchObject({ queued: 1, queuedRows: 1 });
    h.clock.advance(5);
    expect(h.calls.map((c) => c.ids)).toEqual([[2]]);
    h.calls[0]!.complete();
    await flush();
    expect(other.value).toBeDefined();
  });

  it('drops a request found expired while forming a batch', async () => {
    const h = harness();
    h.submit({ inputs: req(1) }); // arms the delay timer for t=10 first
    const late = h.submit({ inputs: req(2), deadline: 10 }); // its own timer, also t=10, fires second
    h.clock.advance(10);
    await flush();
    expect(late.error?.code).toBe('CLEAVE_E_DEADLINE');
    expect(h.calls.map((c) => c.ids)).toEqual([[1]]);
  });

  it('rejects a deadline already past at submit', async () => {
    const h = harness({}, { start: 100 });
    const w = h.submit({ inputs: req(1), deadline: 100 });
    const nan = h.submit({ inputs: req(1), deadline: Number.NaN });
    await flush();
    expect(w.error?.code).toBe('CLEAVE_E_DEADLINE');
    expect(nan.error?.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(h.batcher.stats().queued).toBe(0);
  });

  it('lets a started request finish past its deadline', async () => {
    const h = harness({ maxQueueDelayMs: 0 });
    const w = h.submit({ inputs: req(1), deadline: 5 });
    h.clock.advance(20);
    h.calls[0]!.complete();
    await flush();
    expect(w.value?.computeMs).toBe(20);
  });
});

describe('DynamicBatcher: queue policy', () => {
  it('rejects a request that waited past its queue timeout', async () => {
    const h = harness({ maxQueueDelayMs: 50, defaultQueuePolicy: { timeoutMs: 5 } });
    const w = h.submit({ inputs: req(1) });
    h.clock.advance(4);
    await flush();
    expect(w.settled).toBe(false);
    h.clock.advance(1);
    await flush();
    expect(w.error?.code).toBe('CLEAVE_E_OVERLOADED');
    expect(w.error?.message).toBe('request to model "m" waited 5 ms in queue, timeout 5 ms');
    h.clock.advance(100);
    expect(h.calls).toHaveLength(0);
  });

  it("with 'delay' keeps a timed-out request behind every on-time request of its level", async () => {
    const h = harness({ maxBatchSize: 2, priorityLevels: 2, defaultQueuePolicy: { timeoutMs: 5, timeoutAction: 'delay' } });
    h.submit({ inputs: req(9, 2), priority: 1 }); // occupies the slot
    const late = h.submit({ inputs: req(1), priority: 1 });
    h.clock.advance(5); // request 1 times out: delayed, not rejected
    await flush();
    expect(late.settled).toBe(false);
    h.submit({ inputs: req(2), priority: 1 });
    h.submit({ inputs: req(3), priority: 1 });
    h.submit({ inputs: req(4), priority: 2 });
    h.calls[0]!.complete();
    await flush();
    expect(h.calls[1]!.ids).toEqual([2, 3]);
    h.calls[1]!.complete();
    await flush();
    // Delayed within level 1, it still goes before level 2 (Triton's order).
    expect(h.calls[2]!.ids).toEqual([1, 4]);
  });

  it('lets a request shorten, never lengthen, the timeout when overrides are allowed', async () => {
    const h = harness({ maxQueueDelayMs: 1000, defaultQueuePolicy: { timeoutMs: 100, allowTimeoutOverride: true } });
    const short = h.submit({ inputs: req(1), timeoutMs: 5 });
    const long = h.submit({ inputs: req(2), timeoutMs: 500 });
    h.clock.advance(5);
    await flush();
    expect(short.error?.message).toContain('timeout 5 ms');
    h.clock.advance(95);
    await flush();
    expect(long.error?.message).toBe('request to model "m" waited 100 ms in queue, timeout 100 ms');

    const strict = harness({ maxQueueDelayMs: 1000, defaultQueuePolicy: { timeoutMs: 100 } });
    const ignored = strict.submit({ inputs: req(1), timeoutMs: 5 });
    strict.clock.advance(99);
    await flush();
    expect(ignored.settled).toBe(false);
  });

  it('applies a per-level policy over the default', async () => {
    const h = harness({ priorityLevels: 2, maxQueueDelayMs: 100, priorityQueuePolicy: { 2: { timeoutMs: 3 } } });
    const hi = h.submit({ inputs: req(1), priority: 1 });
    const lo = h.submit({ inputs: req(2), priority: 2 });
    h.clock.advance(3);
    await flush();
    expect(lo.error?.code).toBe('CLEAVE_E_OVERLOADED');
    expect(hi.settled).toBe(false);
  });

  it('refuses submits past maxQueueSize, naming the size and the limit', async () => {
    const h = harness({ defaultQueuePolicy: { maxQueueSize: 2 } });
    h.submit({ inputs: req(1) });
    h.submit({ inputs: req(2) });
    const third = h.submit({ inputs: req(3) });
    await flush();
    expect(third.error?.code).toBe('CLEAVE_E_OVERLOADED');
    expect(third.error?.message).toContain('2 requests queued at priority 1, maxQueueSize 2');
    h.clock.advance(10); // dispatches 1 and 2: the queue is empty again
    const fourth = h.submit({ inputs: req(4) });
    await flush();
    expect(fourth.settled).toBe(false);
    expect(h.batcher.stats().queued).toBe(1);
  });
});

describe('DynamicBatcher: cancel', () => {
  it('removes a queued request: true, CLEAVE_E_CANCELLED, never executed', async () => {
    const h = harness();
    const a = h.submit({ inputs: req(1) });
    const b = h.submit({ inputs: req(2) });
    expect(a.ticket.cancel()).toBe(true);
    expect(a.ticket.cancel()).toBe(false);
    await flush();
    expect(a.error?.code).toBe('CLEAVE_E_CANCELLED');
    expect(h.batcher.stats()).toMatchObject({ queued: 1, queuedRows: 1 });
    h.clock.advance(10);
    expect(h.calls.map((c) => c.ids)).toEqual([[2]]);
    expect(b.settled).toBe(false);
  });

  it('returns false once the request runs, and still delivers its result', async () => {
    const h = harness({ maxQueueDelayMs: 0 });
    const a = h.submit({ inputs: req(1) });
    expect(h.calls).toHaveLength(1);
    expect(a.ticket.cancel()).toBe(false);
    h.calls[0]!.complete();
    await flush();
    expect(sums(a)).toEqual([20]);
  });

  it('does not report a dropped cancelled promise as unhandled', async () => {
    const h = harness();
    const ticket = h.batcher.submit({ inputs: req(1) });
    expect(ticket.cancel()).toBe(true);
    await flush(); // vitest fails the run on an unhandled rejection
  });
});

describe('DynamicBatcher: failures', () => {
  it('rejects every request of a failed batch with CLEAVE_E_BACKEND', async () => {
    const h = harness({ maxBatchSize: 3 });
    const ws = [1, 2, 3].map((i) => h.submit({ inputs: req(i) }));
    h.calls[0]!.fail(new Error('CUDA out of memory'));
    await flush();
    for (const w of ws) {
      expect(w.error?.code).toBe('CLEAVE_E_BACKEND');
      expect(w.error?.message).toContain('CUDA out of memory');
    }
    expect(ws[0]!.error).toBe(ws[2]!.error);
    expect(h.batches[0]).toMatchObject({ rows: 3, requests: 3, ok: false });
    expect(h.batcher.stats().running).toBe(0);
  });

  it('passes a coded error through unchanged', async () => {
    const h = harness({ maxQueueDelayMs: 0 });
    const w = h.submit({ inputs: req(1) });
    const coded = new CleaveError('CLEAVE_E_NOT_FOUND', 'model file gone');
    h.calls[0]!.fail(coded);
    await flush();
    expect(w.error).toBe(coded);
  });

  it('rejects all with CLEAVE_E_SHAPE when an output has the wrong dim 0', async () => {
    const h = harness({ maxBatchSize: 2 });
    const ws = [1, 2].map((i) => h.submit({ inputs: req(i) }));
    h.calls[0]!.complete({ y: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
    await flush();
    for (const w of ws) {
      expect(w.error?.code).toBe('CLEAVE_E_SHAPE');
      expect(w.error?.message).toContain('output "y" has shape [1,4] for a batch of 2 rows');
    }
  });

  it('survives an execute that throws synchronously, and keeps serving', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const b = new DynamicBatcher({
      model: 'm',
      config: parseBatchingConfig({ maxQueueDelayMs: 0 }),
      batchable: true,
      clock,
      timers: clock,
      execute: (inputs) => {
        if (calls++ === 0) throw new TypeError('bad feed');
        return Promise.resolve(rowSums(inputs));
      },
    });
    await expect(b.submit({ inputs: req(1) }).promise).rejects.toMatchObject({ code: 'CLEAVE_E_BACKEND', message: 'model "m" failed to run a batch: bad feed' });
    await expect(b.submit({ inputs: req(2) }).promise).resolves.toMatchObject({ batchRows: 1 });
  });

  it('keeps serving when the onBatch hook throws', async () => {
    const clock = new ManualClock();
    const b = new DynamicBatcher({
      model: 'm',
      config: parseBatchingConfig({ maxQueueDelayMs: 0 }),
      batchable: true,
      clock,
      timers: clock,
      execute: (inputs) => Promise.resolve(rowSums(inputs)),
      onBatch: () => {
        throw new Error('metrics broke');
      },
    });
    await expect(b.submit({ inputs: req(1) }).promise).resolves.toMatchObject({ batchRows: 1 });
  });
});

describe('DynamicBatcher: drain and close', () => {
  it('drain resolves once nothing is queued or running', async () => {
    const h = harness();
    let drained = false;
    await h.batcher.drain(); // idle: at once
    h.submit({ inputs: req(1) });
    void h.batcher.drain().then(() => {
      drained = true;
    });
    h.clock.advance(10);
    await flush();
    expect(drained).toBe(false);
    h.calls[0]!.complete();
    await flush();
    expect(drained).toBe(true);
  });

  it('close rejects what is queued, refuses new work, and lets running batches finish', async () => {
    const h = harness({ maxBatchSize: 1 });
    const running = h.submit({ inputs: req(1) });
    const queued = h.submit({ inputs: req(2) });
    h.batcher.close();
    const after = h.submit({ inputs: req(3) });
    await flush();
    expect(queued.error?.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(after.error).toBe(queued.error);
    expect(running.settled).toBe(false);
    let drained = false;
    void h.batcher.drain().then(() => {
      drained = true;
    });
    h.calls[0]!.complete();
    await flush();
    expect(running.value).toBeDefined();
    expect(drained).toBe(true);
    expect(h.calls).toHaveLength(1);
    expect(h.clock.pendingCount).toBe(0);
  });

  it('close uses the error it is given', async () => {
    const h = harness();
    const w = h.submit({ inputs: req(1), deadline: 50 });
    const err = new CleaveError('CLEAVE_E_UNAVAILABLE', 'model unloaded');
    h.batcher.close(err);
    await flush();
    expect(w.error).toBe(err);
    expect(h.clock.pendingCount).toBe(0); // deadline and delay timers cleared
  });
});
