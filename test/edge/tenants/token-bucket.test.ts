// Token buckets and concurrency quotas per tenant, exact on a manual clock.
import { describe, expect, it } from 'vitest';
import { ConcurrencyQuota } from '../../../edge/tenants/concurrency-quota.js';
import { RateLimiter, retryAfterSeconds, TokenBucket } from '../../../edge/tenants/token-bucket.js';
import { ManualClock } from '../../../shared/time.js';

describe('TokenBucket', () => {
  it('allows a burst, then one request per 1/rate, with the exact wait', () => {
    const clock = new ManualClock(1000);
    const b = new TokenBucket({ requestsPerSecond: 2, burst: 3 }, clock);
    expect([b.take(), b.take(), b.take()]).toEqual([{ ok: true, remaining: 2 }, { ok: true, remaining: 1 }, { ok: true, remaining: 0 }]);
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 500 });
    clock.advance(200);
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 300 });
    clock.advance(300);
    expect(b.take()).toEqual({ ok: true, remaining: 0 });
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 500 });
  });

  it('refills to the burst and no further after an idle spell', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ requestsPerSecond: 10, burst: 2 }, clock);
    b.take();
    b.take();
    clock.advance(60_000);
    expect(b.level()).toBe(2);
    expect(b.take()).toEqual({ ok: true, remaining: 1 });
  });

  it('handles fractional rates: 0.5 request/s waits 2 s per token', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ requestsPerSecond: 0.5, burst: 1 }, clock);
    expect(b.take().ok).toBe(true);
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 2000 });
    clock.advance(1500);
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 500 });
    clock.advance(500);
    expect(b.take().ok).toBe(true);
  });

  it('does not refill when the clock steps back', () => {
    const clock = { t: 10_000, now() { return this.t; } };
    const b = new TokenBucket({ requestsPerSecond: 1, burst: 1 }, clock);
    b.take();
    clock.t = 0;
    expect(b.take().ok).toBe(false);
  });
});

describe('RateLimiter', () => {
  it('keeps one bucket per tenant and leaves unlimited tenants alone', () => {
    const clock = new ManualClock();
    const limits: Record<string, { requestsPerSecond: number; burst: number }> = { a: { requestsPerSecond: 1, burst: 1 } };
    const r = new RateLimiter((t) => limits[t], clock);
    expect(r.take('a').ok).toBe(true);
    expect(r.take('a').ok).toBe(false);
    for (let i = 0; i < 100; i++) expect(r.take('b').ok).toBe(true);
    expect(r.level('b')).toBeUndefined();
    clock.advance(1000);
    expect(r.take('a').ok).toBe(true);
  });
});

describe('retryAfterSeconds', () => {
  it('rounds up to whole seconds, at least 1', () => {
    expect([1, 999, 1000, 1001, 9_500].map(retryAfterSeconds)).toEqual([1, 1, 1, 2, 10]);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});

describe('ConcurrencyQuota', () => {
  it('gives at most max slots per tenant, back on release, once per release', () => {
    const q = new ConcurrencyQuota((t) => (t === 'a' ? 2 : undefined));
    const r1 = q.tryAcquire('a')!;
    const r2 = q.tryAcquire('a')!;
    expect(q.tryAcquire('a')).toBeUndefined();
    expect(q.count('a')).toBe(2);
    r1();
    r1();
    expect(q.count('a')).toBe(1);
    expect(q.tryAcquire('a')).toBeDefined();
    expect(q.tryAcquire('a')).toBeUndefined();
    r2();
    expect(q.count('a')).toBe(1);
    for (let i = 0; i < 50; i++) expect(q.tryAcquire('b')).toBeDefined();
  });
});
