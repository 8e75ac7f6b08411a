/**
 * Who may do what, how often: the key registry (401), scopes and the tenant header (403), the
 * per-tenant token bucket and concurrency quota (429 with Retry-After). One object per edge node,
 * shared by the HTTP middleware (http-guard.ts) and the client WebSocket's runs
 * (quota-run-service.ts). Runtime-neutral; every clock is injected.
 */
import { CleaveError } from '../../shared/errors.js';
import type { Clock } from '../../shared/time.js';
import type { Digest } from '../cache-key.js';
import { ConcurrencyQuota, type Release } from './concurrency-quota.js';
import type { KeyFile, Scope } from './key-file.js';
import { KeyRegistry, presentedKey, type Principal } from './key-registry.js';
import { RateLimiter, retryAfterSeconds } from './token-bucket.js';

/** Why a request was turned away, for metrics (`onReject`). */
export type RejectReason = 'unauthorized' | 'forbidden' | 'rate-limited' | 'concurrency';

/** One turned-away request. */
export interface Rejection {
  readonly reason: RejectReason;
  /** Known once the key was verified. */
  readonly tenant?: string;
}

export interface TenantGuardOptions {
  readonly keys: KeyFile;
  /** Monotonic clock for the token buckets, ms. */
  readonly clock: Clock;
  /** Wall clock for key expiry, ms since the epoch. */
  readonly wallClock: Clock;
  /** SHA-256 of presented keys; default WebCrypto (Node passes node:crypto's, which is faster). */
  readonly digest?: Digest;
  /** Told about every rejection (a counter by reason and tenant); default none. */
  readonly onReject?: (r: Rejection) => void;
}

/** A tenant's quotas and how much of them is in use, for /v1/status. */
export interface TenantStatus {
  readonly tenant: string;
  readonly inFlight: number;
  readonly maxConcurrent?: number;
  readonly requestsPerSecond?: number;
  readonly burst?: number;
  /** Tokens in the bucket now; absent before the tenant's first request. */
  readonly tokens?: number;
}

/** The header that names a tenant on an edge without keys (edge/request-context.ts). */
const TENANT_HEADER = 'x-cleave-tenant';

export class TenantGuard {
  readonly registry: KeyRegistry;
  private readonly limiter: RateLimiter;
  private readonly quota: ConcurrencyQuota;

  constructor(private readonly opts: TenantGuardOptions) {
    this.registry = new KeyRegistry(opts.keys, opts.wallClock, opts.digest);
    this.limiter = new RateLimiter((t) => this.registry.tenant(t)?.rateLimit, opts.clock);
    this.quota = new ConcurrencyQuota((t) => this.registry.tenant(t)?.maxConcurrent);
  }

  /**
   * The principal of a request that needs `scope`: its key verified (401 CLEAVE_E_UNAUTHORIZED),
   * the scope held and the tenant header, when sent, naming the key's own tenant (403
   * CLEAVE_E_FORBIDDEN: a key never acts for another tenant, and silently ignoring the header
   * would hide a client bug).
   */
  async authenticate(header: (name: string) => string | undefined, scope: Scope): Promise<Principal> {
    let p: Principal;
    try {
      p = await this.registry.verify(presentedKey(header));
    } catch (e) {
      this.opts.onReject?.({ reason: 'unauthorized' });
      throw e;
    }
    const named = header(TENANT_HEADER);
    if (named !== undefined && named !== p.tenant) {
      this.opts.onReject?.({ reason: 'forbidden', tenant: p.tenant });
      throw new CleaveError('CLEAVE_E_FORBIDDEN', `header ${TENANT_HEADER} names tenant ${JSON.stringify(named.slice(0, 64))}, but the API key belongs to tenant ${JSON.stringify(p.tenant)}; send the key's own tenant or no header`, { field: TENANT_HEADER, tenant: p.tenant });
    }
    if (!p.scopes.includes(scope)) {
      this.opts.onReject?.({ reason: 'forbidden', tenant: p.tenant });
      throw new CleaveError('CLEAVE_E_FORBIDDEN', `API key ${JSON.stringify(p.keyId)} of tenant ${JSON.stringify(p.tenant)} has scopes [${p.scopes.join(', ')}]; this needs the "${scope}" scope`, { keyId: p.keyId, tenant: p.tenant, scope });
    }
    return p;
  }

  /** Takes one token from the tenant's bucket; 429 CLEAVE_E_RATE_LIMITED with retryAfterS when it is empty. */
  admitRate(p: Principal): void {
    const r = this.limiter.take(p.tenant);
    if (r.ok) return;
    const limit = this.registry.tenant(p.tenant)?.rateLimit;
    const retryAfterS = retryAfterSeconds(r.retryAfterMs);
    this.opts.onReject?.({ reason: 'rate-limited', tenant: p.tenant });
    throw new CleaveError('CLEAVE_E_RATE_LIMITED', `tenant ${JSON.stringify(p.tenant)} is over its rate limit of ${limit?.requestsPerSecond} requests/s (burst ${limit?.burst}); retry in ${retryAfterS} s`, {
      tenant: p.tenant, retryAfterS, reason: 'rate',
    });
  }

  /** A concurrency slot (release it when the work ends); 429 CLEAVE_E_RATE_LIMITED when the tenant holds all of them. */
  acquire(p: Principal): Release {
    const release = this.quota.tryAcquire(p.tenant);
    if (release) return release;
    const max = this.quota.max(p.tenant) ?? 0;
    this.opts.onReject?.({ reason: 'concurrency', tenant: p.tenant });
    // When a slot frees up is unknown: 1 s is the smallest Retry-After there is.
    throw new CleaveError('CLEAVE_E_RATE_LIMITED', `tenant ${JSON.stringify(p.tenant)} has ${max} requests in flight, its maxConcurrent; retry when one has finished`, {
      tenant: p.tenant, retryAfterS: 1, reason: 'concurrency', maxConcurrent: max,
    });
  }

  /** Every tenant's quotas and use. */
  status(): TenantStatus[] {
    return this.registry.list().map((t) => {
      const tokens = this.limiter.level(t.id);
      return {
        tenant: t.id, inFlight: this.quota.count(t.id),
        ...(t.maxConcurrent !== undefined ? { maxConcurrent: t.maxConcurrent } : {}),
        ...(t.rateLimit ? { requestsPerSecond: t.rateLimit.requestsPerSecond, burst: t.rateLimit.burst } : {}),
        ...(tokens !== undefined ? { tokens: Math.round(tokens * 1000) / 1000 } : {}),
      };
    });
  }
}
