import { describe, expect, it } from 'vitest';
import type { ModelLoad, RunTiming } from '../../../shared/protocol/frames.js';
import {
  CloudQueueEstimator,
  DEFAULT_LOAD_STALE_MS,
  DEFAULT_QUEUE_HALF_LIFE_MS,
} from '../../../shared/router/cloud-queue-estimator.js';
import { ManualClock } from '../../../shared/time.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

function load(over: Partial<ModelLoad> = {}): ModelLoad {
  return { queued: 0, running: 0, queueMs: 0, computeMs: 0, batchSize: 1, ...over };
}

function timing(queueMs: number): RunTiming {
  return { queueMs, computeMs: 3, batchSize: 1 };
}

function estimator(halfLifeMs = 1000): { clock: ManualClock; cq: CloudQueueEstimator } {
  const clock = new ManualClock(10_000);
  return { clock, cq: new CloudQueueEstimator({ clock, halfLifeMs }) };
}

describe('CloudQueueEstimator', () => {
  it('documents its defaults', () => {
    expect(DEFAULT_LOAD_STALE_MS).toBe(3000);
    expect(DEFAULT_QUEUE_HALF_LIFE_MS).toBe(10_000);
  });

  it('knows nothing of a model it has heard nothing about', () => {
    const { cq } = estimator();
    cq.observeLoad({ other: load({ queueMs: 5 }) });
    expect(cq.queueMs('m')).toBeUndefined();
    expect(cq.estimate('m')).toBeUndefined();
  });

  describe('from a fresh LOAD: max(queued / max(1, batchSize) * computeMs, queueMs)', () => {
    it('drains the backlog at the per-request cost: 8 queued / batch 4 * 10 ms = 20 ms > EWMA 5', () => {
      const { cq } = estimator();
      cq.observeLoad({ m: load({ queued: 8, batchSize: 4, computeMs: 10, queueMs: 5 }) });
      expect(cq.estimate('m')).toEqual({ ms: 20, source: 'load', ageMs: 0 });
    });

    it('falls back on the EWMA when the backlog is shorter: nothing queued, EWMA 7', () => {
      const { cq } = estimator();
      cq.observeLoad({ m: load({ queued: 0, running: 3, computeMs: 10, queueMs: 7 }) });
      expect(cq.queueMs('m')).toBe(7);
    });

    it('takes a mean batch below 1 (no batches yet) as 1', () => {
      const { cq } = estimator();
      cq.observeLoad({ m: load({ queued: 3, batchSize: 0, computeMs: 10, queueMs: 1 }) });
      expect(cq.queueMs('m')).toBe(30);
    });

    it('uses a fractional mean batch as is: 5 queued / 2.5 * 4 ms = 8 ms', () => {
      const { cq } = estimator();
      cq.observeLoad({ m: load({ queued: 5, batchSize: 2.5, computeMs: 4, queueMs: 0 }) });
      expect(cq.queueMs('m')).toBe(8);
    });

    it('prefers the fresh LOAD to this edge\'s own results', () => {
      const { clock, cq } = estimator();
      cq.observeLoad({ m: load({ queueMs: 5 }) });
      clock.advance(100);
      cq.observeResult('m', timing(50));
      expect(cq.estimate('m')).toEqual({ ms: 5, source: 'load', ageMs: 100 });
    });

    it('keeps each model\'s entry, and the newest report replaces it', () => {
      const { clock, cq } = estimator();
      cq.observeLoad({ a: load({ queueMs: 1 }), b: load({ queueMs: 2 }) });
      clock.advance(1000);
      cq.observeLoad({ a: load({ queueMs: 3 }) });
      expect(cq.estimate('a')).toEqual({ ms: 3, source: 'load', ageMs: 0 });
      expect(cq.estimate('b')).toEqual({ ms: 2, source: 'load', ageMs: 1000 });
      expect(cq.lastLoad('b')).toEqual({ load: load({ queueMs: 2 }), at: 10_000 });
    });

    it('takes "__proto__" as a model name like any other', () => {
      const { cq } = estimator();
      const models = JSON.parse('{"__proto__":{"queued":2,"running":0,"queueMs":0,"computeMs":6,"batchSize":1}}') as Record<string, ModelLoad>;
      cq.observeLoad(models);
      expect(cq.queueMs('__proto__')).toBe(12);
      expect(cq.queueMs('constructor')).toBeUndefined();
    });
  });

  describe('staleness (age >= loadStaleMs)', () => {
    it('is fresh at 2999 ms and stale at 3000 ms, then gives the EWMA alone', () => {
      const { clock, cq } = estimator();
      cq.observeLoad({ m: load({ queued: 8, batchSize: 4, computeMs: 10, queueMs: 5 }) });
      clock.advance(2999);
      expect(cq.estimate('m')).toEqual({ ms: 20, source: 'load', ageMs: 2999 });
      clock.advance(1);
      expect(cq.estimate('m')).toEqual({ ms: 5, source: 'stale-load', ageMs: 3000 });
    });

    it('measures age from the given receive time on the edge clock', () => {
      const { cq } = estimator();
      cq.observeLoad({ m: load({ queueMs: 5 }) }, 10_000 - 2999);
      expect(cq.estimate('m')?.source).toBe('load');
      cq.observeLoad({ m: load({ queueMs: 5 }) }, 10_000 - 3000);
      expect(cq.estimate('m')?.source).toBe('stale-load');
    });

    it('honours loadStaleMs', () => {
      const clock = new ManualClock();
      const cq = new CloudQueueEstimator({ clock, loadStaleMs: 500 });
      cq.observeLoad({ m: load({ queueMs: 5 }) });
      clock.advance(500);
      expect(cq.estimate('m')?.source).toBe('stale-load');
    });

    it('prefers results newer than a stale LOAD, and a stale LOAD newer than the results', () => {
      const { clock, cq } = estimator();
      cq.observeResult('m', timing(40));
      clock.advance(1000);
      cq.observeLoad({ m: load({ queueMs: 5 }) });
      clock.advance(3000);
      expect(cq.estimate('m')).toEqual({ ms: 5, source: 'stale-load', ageMs: 3000 });
      cq.observeResult('m', timing(40)); // 4000 ms after the first: w = 1/16
      expect(cq.estimate('m')).toEqual({ ms: 40, source: 'results', ageMs: 0 });
    });

    it('prefers the results on a tie', () => {
      const { clock, cq } = estimator();
      cq.observeLoad({ m: load({ queueMs: 5 }) });
      cq.observeResult('m', timing(9));
      clock.advance(3000);
      expect(cq.estimate('m')).toEqual({ ms: 9, source: 'results', ageMs: 3000 });
    });
  });

  describe('from RESULT timings alone', () => {
    it('folds queue times with the half-life', () => {
      const { clock, cq } = estimator();
      cq.observeResult('m', timing(12));
      expect(cq.estimate('m')).toEqual({ ms: 12, source: 'results', ageMs: 0 });
      clock.advance(1000);
      cq.observeResult('m', timing(20));
      expect(cq.queueMs('m')).toBe(16);
      clock.advance(2000);
      cq.observeResult('m', timing(0));
      expect(cq.queueMs('m')).toBe(4);
      clock.advance(250);
      expect(cq.estimate('m')).toEqual({ ms: 4, source: 'results', ageMs: 250 });
    });

    it('keeps models apart', () => {
      const { cq } = estimator();
      cq.observeResult('a', timing(1));
      cq.observeResult('b', timing(2));
      expect([cq.queueMs('a'), cq.queueMs('b')]).toEqual([1, 2]);
    });
  });

  describe('arguments', () => {
    it.each([
      [() => estimator().cq.observeResult('m', timing(-1)), /queueMs = -1 for model "m"/],
      [() => estimator().cq.observeResult('m', timing(NaN)), /queueMs = NaN/],
      [() => estimator().cq.observeLoad({}, NaN), /LOAD time = NaN/],
      [() => new CloudQueueEstimator({ clock: new ManualClock(), loadStaleMs: 0 }), /loadStaleMs = 0/],
      [() => new CloudQueueEstimator({ clock: new ManualClock(), halfLifeMs: Infinity }), /halfLifeMs = Infinity/],
    ])('rejects bad input %#', (f, msg) => {
      const err = cleaveErrorOf(() => f());
      expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(err.message).toMatch(msg);
    });
  });
});
