import { describe, expect, it, vi } from 'vitest';
import { ResultCache, type CacheEvent, type ResultCacheOptions } from '../../edge/result-cache.js';
import { CleaveError } from '../../shared/errors.js';
import { ManualClock } from '../../shared/time.js';

interface Val {
  id: string;
  bytes: number;
}

function setup(opts: Partial<ResultCacheOptions<Val>> = {}) {
  const clock = new ManualClock(0);
  const events: CacheEvent[] = [];
  const cache = new ResultCache<Val>({
    clock,
    sizeOf: (v) => v.bytes,
    onEvent: (e) => events.push(e),
    ...opts,
  });
  return { clock, cache, events };
}

/** A compute that answers at once, counting calls. */
function computeOf(id: string, bytes = 10) {
  return vi.fn(async (_signal: AbortSignal): Promise<Val> => ({ id, bytes }));
}

/** A compute the test settles by hand, recording the signal it was given. */
function deferred() {
  let resolve!: (v: Val) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Val>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const signals: AbortSignal[] = [];
  const compute = vi.fn((signal: AbortSignal) => {
    signals.push(signal);
    return promise;
  });
  return { compute, resolve, reject, signals };
}

/** Lets settled promises run their handlers. */
const flush = () => new Promise<void>((r) => setTimeout(r, 0));

describe('ResultCache', () => {
  it('misses, then hits without computing', async () => {
    const { cache, events } = setup();
    const c = computeOf('a');
    expect(await cache.lookup('k', c)).toEqual({ value: { id: 'a', bytes: 10 }, status: 'miss' });
    expect(await cache.lookup('k', c)).toEqual({ value: { id: 'a', bytes: 10 }, status: 'hit' });
    expect(c).toHaveBeenCalledTimes(1);
    expect(events).toEqual(['miss', 'hit']);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1, bytes: 10, inFlight: 0 });
  });

  it('expires an entry exactly ttlMs after it was stored', async () => {
    const { cache, clock, events } = setup({ ttlMs: 1000 });
    await cache.lookup('k', computeOf('a'));
    clock.advance(999);
    expect((await cache.lookup('k', computeOf('b'))).status).toBe('hit');
    clock.advance(1);
    const r = await cache.lookup('k', computeOf('b'));
    expect(r).toEqual({ value: { id: 'b', bytes: 10 }, status: 'miss' });
    expect(events).toEqual(['miss', 'hit', 'expired', 'miss']);
    expect(cache.stats()).toMatchObject({ expired: 1, entries: 1 });
  });

  it('never expires with ttlMs 0', async () => {
    const { cache, clock } = setup({ ttlMs: 0 });
    await cache.lookup('k', computeOf('a'));
    clock.advance(1e9);
    expect((await cache.lookup('k', computeOf('b'))).status).toBe('hit');
  });

  it('evicts the least recently used entries past maxBytes and counts them', async () => {
    const { cache, events } = setup({ maxBytes: 100, maxEntryBytes: 50 });
    await cache.lookup('a', computeOf('a', 40));
    await cache.lookup('b', computeOf('b', 40));
    // Touch a, so b is the least recently used.
    expect((await cache.lookup('a', computeOf('x'))).status).toBe('hit');
    await cache.lookup('c', computeOf('c', 40));
    expect(cache.stats()).toMatchObject({ evictions: 1, entries: 2, bytes: 80 });
    expect(events.filter((e) => e === 'eviction')).toHaveLength(1);
    expect((await cache.lookup('a', computeOf('x'))).status).toBe('hit');
    expect((await cache.lookup('c', computeOf('x'))).status).toBe('hit');
    expect((await cache.lookup('b', computeOf('b2', 40))).status).toBe('miss');
  });

  it('counts an expired entry pushed out by the byte bound as expired, not evicted', async () => {
    const { cache, clock } = setup({ maxBytes: 100, maxEntryBytes: 60, ttlMs: 10 });
    await cache.lookup('a', computeOf('a', 60));
    clock.advance(10);
    await cache.lookup('b', computeOf('b', 60));
    expect(cache.stats()).toMatchObject({ evictions: 0, expired: 1, entries: 1 });
  });

  it('serves a value larger than maxEntryBytes without storing it', async () => {
    const { cache, events } = setup({ maxBytes: 800 });
    const big = computeOf('big', 101);
    expect(await cache.lookup('k', big)).toEqual({ value: { id: 'big', bytes: 101 }, status: 'miss' });
    expect(await cache.lookup('k', big)).toMatchObject({ status: 'miss' });
    expect(big).toHaveBeenCalledTimes(2);
    expect(cache.stats()).toMatchObject({ tooLarge: 2, entries: 0, bytes: 0 });
    expect(events).toEqual(['miss', 'too-large', 'miss', 'too-large']);
    // maxBytes / 8 = 100 is the default bound and is inclusive.
    expect((await cache.lookup('j', computeOf('ok', 100))).status).toBe('miss');
    expect((await cache.lookup('j', computeOf('ok', 100))).status).toBe('hit');
  });

  it('runs one computation for concurrent lookups of a key', async () => {
    const { cache } = setup();
    const d = deferred();
    const lookups = Array.from({ length: 5 }, () => cache.lookup('k', d.compute));
    expect(cache.stats().inFlight).toBe(1);
    d.resolve({ id: 'v', bytes: 1 });
    const results = await Promise.all(lookups);
    expect(d.compute).toHaveBeenCalledTimes(1);
    expect(results.map((r) => r.status)).toEqual(['miss', 'coalesced', 'coalesced', 'coalesced', 'coalesced']);
    for (const r of results) expect(r.value).toBe(results[0]!.value);
    expect(cache.stats()).toMatchObject({ misses: 1, coalesced: 4, inFlight: 0, entries: 1 });
  });

  it('rejects every waiter of a failed computation, stores nothing and computes again next time', async () => {
    const { cache } = setup();
    const d = deferred();
    const boom = new Error('backend down');
    const lookups = [cache.lookup('k', d.compute), cache.lookup('k', d.compute), cache.lookup('k', d.compute)];
    d.reject(boom);
    const settled = await Promise.allSettled(lookups);
    for (const s of settled) expect(s).toEqual({ status: 'rejected', reason: boom });
    expect(cache.stats()).toMatchObject({ entries: 0, inFlight: 0 });
    const again = computeOf('ok');
    expect((await cache.lookup('k', again)).status).toBe('miss');
    expect(again).toHaveBeenCalledTimes(1);
  });

  it('turns a compute that throws synchronously into a rejection', async () => {
    const { cache } = setup();
    const err = new Error('sync');
    await expect(cache.lookup('k', () => { throw err; })).rejects.toBe(err);
    expect(cache.stats().inFlight).toBe(0);
  });

  it('bypass neither reads, writes nor joins a flight', async () => {
    const { cache } = setup();
    await cache.lookup('k', computeOf('stored'));
    const d = deferred();
    const inFlight = cache.lookup('j', d.compute);
    const fresh = computeOf('fresh');
    expect(await cache.lookup('k', fresh, { mode: 'bypass' })).toEqual({ value: { id: 'fresh', bytes: 10 }, status: 'bypass' });
    expect(await cache.lookup('j', fresh, { mode: 'bypass' })).toMatchObject({ value: { id: 'fresh' }, status: 'bypass' });
    expect(fresh).toHaveBeenCalledTimes(2);
    expect((await cache.lookup('k', computeOf('x'))).value.id).toBe('stored');
    d.resolve({ id: 'flight', bytes: 1 });
    expect((await inFlight).value.id).toBe('flight');
    // A bypass lookup of a key never cached leaves it uncached.
    await cache.lookup('n', computeOf('n'), { mode: 'bypass' });
    expect((await cache.lookup('n', computeOf('n'))).status).toBe('miss');
    expect(cache.stats()).toMatchObject({ bypasses: 3, inFlight: 0 });
  });

  it('refresh recomputes and replaces the stored value, which serves until then', async () => {
    const { cache } = setup();
    await cache.lookup('k', computeOf('old'));
    const d = deferred();
    const refreshing = cache.lookup('k', d.compute, { mode: 'refresh' });
    expect(await cache.lookup('k', computeOf('never'))).toMatchObject({ value: { id: 'old' }, status: 'hit' });
    d.resolve({ id: 'new', bytes: 20 });
    expect(await refreshing).toEqual({ value: { id: 'new', bytes: 20 }, status: 'refresh' });
    expect(await cache.lookup('k', computeOf('x'))).toMatchObject({ value: { id: 'new' }, status: 'hit' });
    expect(cache.stats()).toMatchObject({ refreshes: 1, entries: 1, bytes: 20 });
  });

  it('a refresh leads a flight that default lookups join when nothing is stored', async () => {
    const { cache } = setup();
    const d = deferred();
    const refreshing = cache.lookup('k', d.compute, { mode: 'refresh' });
    const joiner = cache.lookup('k', computeOf('never'));
    d.resolve({ id: 'new', bytes: 10 });
    expect(await refreshing).toMatchObject({ value: { id: 'new' }, status: 'refresh' });
    expect(await joiner).toMatchObject({ value: { id: 'new' }, status: 'coalesced' });
    expect(d.compute).toHaveBeenCalledTimes(1);
  });

  it('a failed refresh leaves the stored value in place', async () => {
    const { cache } = setup();
    await cache.lookup('k', computeOf('old'));
    const boom = new Error('cloud down');
    await expect(cache.lookup('k', () => Promise.reject(boom), { mode: 'refresh' })).rejects.toBe(boom);
    expect(await cache.lookup('k', computeOf('x'))).toMatchObject({ value: { id: 'old' }, status: 'hit' });
  });

  it('a default flight overtaken by a refresh does not overwrite the refreshed value', async () => {
    const { cache } = setup();
    const slow = deferred();
    const first = cache.lookup('k', slow.compute);
    await cache.lookup('k', computeOf('refreshed'), { mode: 'refresh' });
    slow.resolve({ id: 'stale', bytes: 1 });
    expect((await first).value.id).toBe('stale');
    expect((await cache.lookup('k', computeOf('x'))).value.id).toBe('refreshed');
  });

  it('does not store a value cacheable() refuses', async () => {
    const { cache } = setup();
    const degraded = computeOf('degraded');
    const cacheable = (v: Val) => v.id !== 'degraded';
    expect((await cache.lookup('k', degraded, { cacheable })).status).toBe('miss');
    expect((await cache.lookup('k', degraded, { cacheable })).status).toBe('miss');
    expect(degraded).toHaveBeenCalledTimes(2);
    expect(cache.stats().entries).toBe(0);
    // A refresh whose answer cannot be stored drops the old value rather than keep it.
    await cache.lookup('j', computeOf('good'));
    await cache.lookup('j', degraded, { mode: 'refresh', cacheable });
    expect((await cache.lookup('j', computeOf('again'))).status).toBe('miss');
  });

  it('cancelling one waiter leaves the computation running for the others', async () => {
    const { cache } = setup();
    const d = deferred();
    const a = new AbortController();
    const first = cache.lookup('k', d.compute, { signal: a.signal });
    const second = cache.lookup('k', d.compute, { signal: new AbortController().signal });
    a.abort();
    const err = await first.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleaveError);
    expect((err as CleaveError).code).toBe('CLEAVE_E_CANCELLED');
    expect(d.signals[0]!.aborted).toBe(false);
    d.resolve({ id: 'v', bytes: 1 });
    expect(await second).toMatchObject({ value: { id: 'v' }, status: 'coalesced' });
    expect((await cache.lookup('k', computeOf('x'))).status).toBe('hit');
  });

  it('aborts the computation when every waiter has aborted, and the next lookup starts afresh', async () => {
    const { cache } = setup();
    const d = deferred();
    const a = new AbortController();
    const b = new AbortController();
    const first = cache.lookup('k', d.compute, { signal: a.signal });
    const second = cache.lookup('k', d.compute, { signal: b.signal });
    a.abort();
    await expect(first).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(d.signals[0]!.aborted).toBe(false);
    b.abort();
    await expect(second).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(d.signals[0]!.aborted).toBe(true);
    const next = computeOf('next');
    expect(await cache.lookup('k', next)).toMatchObject({ value: { id: 'next' }, status: 'miss' });
    // The abandoned computation failing later surfaces nowhere and stores nothing.
    d.reject(new Error('aborted'));
    await flush();
    expect(cache.stats()).toMatchObject({ inFlight: 0, entries: 1 });
  });

  it('a waiter without a signal keeps the computation alive', async () => {
    const { cache } = setup();
    const d = deferred();
    const a = new AbortController();
    const cancelled = cache.lookup('k', d.compute, { signal: a.signal });
    const steady = cache.lookup('k', d.compute);
    a.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(d.signals[0]!.aborted).toBe(false);
    d.resolve({ id: 'v', bytes: 1 });
    expect((await steady).value.id).toBe('v');
  });

  it('rejects a lookup whose signal is already aborted without computing', async () => {
    const { cache, events } = setup();
    const c = computeOf('a');
    const a = new AbortController();
    a.abort();
    for (const mode of ['default', 'bypass', 'refresh'] as const) {
      const err = await cache.lookup('k', c, { signal: a.signal, mode }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CleaveError);
      expect((err as CleaveError).code).toBe('CLEAVE_E_CANCELLED');
    }
    expect(c).not.toHaveBeenCalled();
    expect(events).toEqual([]);
  });

  it('cancelling a bypass lookup aborts its own computation', async () => {
    const { cache } = setup();
    const d = deferred();
    const a = new AbortController();
    const p = cache.lookup('k', d.compute, { mode: 'bypass', signal: a.signal });
    a.abort();
    await expect(p).rejects.toMatchObject({ code: 'CLEAVE_E_CANCELLED' });
    expect(d.signals[0]!.aborted).toBe(true);
  });

  it('delete and clear drop stored values and detach running computations', async () => {
    const { cache } = setup();
    await cache.lookup('a', computeOf('a'));
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    const d = deferred();
    const running = cache.lookup('b', d.compute);
    cache.clear();
    const fresh = computeOf('fresh');
    expect((await cache.lookup('b', fresh)).status).toBe('miss');
    d.resolve({ id: 'old', bytes: 1 });
    expect((await running).value.id).toBe('old');
    expect((await cache.lookup('b', computeOf('x'))).value.id).toBe('fresh');
  });

  it('rejects options out of range', () => {
    const clock = new ManualClock();
    const sizeOf = () => 1;
    expect(() => new ResultCache({ clock, sizeOf, maxBytes: 0 })).toThrow(CleaveError);
    expect(() => new ResultCache({ clock, sizeOf, maxBytes: 10, maxEntryBytes: 11 })).toThrow(CleaveError);
    expect(() => new ResultCache({ clock, sizeOf, ttlMs: -1 })).toThrow(CleaveError);
  });
});
