/**
 * Injected time. Everything that waits or measures (batch delays, queue timeouts, deadlines,
 * EWMAs, heartbeats, backoff) takes a Clock and Timers, so tests drive time by hand and never
 * sleep. Runtime-neutral: setTimeout and performance.now exist in Node, workerd and browsers.
 */

/** A monotonic clock in milliseconds. */
export interface Clock {
  now(): number;
}

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** Timers bound to a Clock's notion of time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** performance.now(): monotonic, sub-millisecond. (In workerd it only advances across I/O.) */
export const systemClock: Clock = { now: () => performance.now() };

/** The runtime's own timers. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * A clock and timers that move only when told: `advance(ms)` fires due timers in time order.
 * For tests and simulations.
 */
export class ManualClock implements Clock, Timers {
  private t: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }

  /** Timers not yet fired. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing each due timer at its own time, earliest (then oldest) first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) {
        if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      }
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}
