/**
 * Per-tenant rate limits as token buckets: each tenant's bucket holds up to `burst` tokens, refills
 * at `requestsPerSecond`, and each request takes one. Refill is computed from the injected clock
 * when a request arrives (no timers), so an idle tenant costs nothing and tests are exact.
 * Runtime-neutral.
 */
import type { Clock } from '../../shared/time.js';
import type { RateLimit } from './key-file.js';

/** The answer to one take. */
export type TakeResult =
  | { readonly ok: true; /** Tokens left after this one. */ readonly remaining: number }
  | { readonly ok: false; /** Until the next token, ms (> 0). */ readonly retryAfterMs: number };

/** One bucket. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly limit: RateLimit, private readonly clock: Clock) {
    this.tokens = limit.burst;
    this.last = clock.now();
  }

  /** Takes one token, or says how long until one is there. */
  take(): TakeResult {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens) };
    }
    return { ok: false, retryAfterMs: ((1 - this.tokens) * 1000) / this.limit.requestsPerSecond };
  }

  /** Tokens now (fractional), for status pages. */
  level(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock that steps back (it should not: it is monotonic) refills nothing rather than draining.
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed * this.limit.requestsPerSecond) / 1000);
  }
}

/** Buckets per tenant, made on a tenant's first request. Tenants without a limit are not limited. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly limitOf: (tenant: string) => RateLimit | undefined, private readonly clock: Clock) {}

  take(tenant: string): TakeResult {
    let b = this.buckets.get(tenant);
    if (!b) {
      const limit = this.limitOf(tenant);
      if (!limit) return { ok: true, remaining: Infinity };
      b = new TokenBucket(limit, this.clock);
      this.buckets.set(tenant, b);
    }
    return b.take();
  }

  /** Tokens in the tenant's bucket now; undefined when it is not limited or has not been seen. */
  level(tenant: string): number | undefined {
    return this.buckets.get(tenant)?.level();
  }
}

/** Retry-After in whole seconds (RFC 9110 delay-seconds): rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
