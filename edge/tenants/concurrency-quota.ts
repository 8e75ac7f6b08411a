/**
 * Per-tenant concurrency quotas: how many requests (and WebSocket runs) of one tenant may be in
 * flight at once. A slot is taken when the request is admitted and given back by the release
 * function, which callers run in `finally`, when a streamed body ends, or when a run settles.
 * Release is idempotent, so a path that may release twice (stream end and cancel) cannot free a
 * slot it does not hold. Runtime-neutral.
 */

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

export class ConcurrencyQuota {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly maxOf: (tenant: string) => number | undefined) {}

  /** A release for a new slot, or undefined when the tenant is at its limit. */
  tryAcquire(tenant: string): Release | undefined {
    const max = this.maxOf(tenant);
    const n = this.inFlight.get(tenant) ?? 0;
    if (max !== undefined && n >= max) return undefined;
    this.inFlight.set(tenant, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(tenant) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(tenant);
      else this.inFlight.set(tenant, left);
    };
  }

  /** Slots the tenant holds now. */
  count(tenant: string): number {
    return this.inFlight.get(tenant) ?? 0;
  }

  /** The tenant's limit; undefined = unlimited. */
  max(tenant: string): number | undefined {
    return this.maxOf(tenant);
  }
}
