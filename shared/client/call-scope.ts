/**
 * One call's deadline and cancellation as a single AbortSignal. The deadline is a timer on the
 * injected Timers (so tests move time by hand); the caller's signal is linked by listener, since
 * AbortSignal.any is missing from older browsers and React Native. Whatever ends the call, the
 * reason is a CleaveError: CLEAVE_E_DEADLINE when the budget ran out, CLEAVE_E_CANCELLED when the
 * caller aborted. `dispose()` clears the timer and unlinks the caller's signal; every call does it
 * in a finally, so no timer outlives its call.
 */
import { CleaveError } from '../errors.js';
import type { Clock, TimerHandle, Timers } from '../time.js';

export class CallScope {
  private readonly controller = new AbortController();
  private readonly timer: TimerHandle;
  private readonly unlink: () => void;
  private reason: CleaveError | undefined;
  /** Clock time the call began, ms. */
  readonly startedAt: number;
  /** Clock time the budget runs out, ms. */
  readonly deadlineAt: number;

  /**
   * @param deadlineMs budget from now, ms (> 0)
   * @param what the call, for messages: `infer "mlp-small"`
   */
  constructor(private readonly clock: Clock, private readonly timers: Timers, readonly deadlineMs: number, readonly what: string, signal?: AbortSignal) {
    this.startedAt = clock.now();
    this.deadlineAt = this.startedAt + deadlineMs;
    this.timer = timers.setTimeout(() => this.end(new CleaveError('CLEAVE_E_DEADLINE', `${what} got no answer within its ${deadlineMs} ms deadline`, { deadlineMs })), deadlineMs);
    const onAbort = (): void => this.end(new CleaveError('CLEAVE_E_CANCELLED', `${what} was cancelled by the caller`, {}, { cause: signal?.reason }));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.unlink = () => signal?.removeEventListener('abort', onAbort);
  }

  /** Aborts when the deadline passes or the caller cancels. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the call ended early, once it has. */
  get ended(): CleaveError | undefined {
    return this.reason;
  }

  /** Budget left, ms (0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.deadlineAt - this.clock.now());
  }

  /** Throws the reason when the call has ended. */
  check(): void {
    if (this.reason) throw this.reason;
  }

  /** Ends the call with `reason` (the first reason wins). */
  end(reason: CleaveError): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller.abort(reason);
  }

  /** Waits `ms` on the injected timers; rejects with the reason if the call ends first. */
  wait(ms: number): Promise<void> {
    this.check();
    return new Promise((resolve, reject) => {
      let handle: TimerHandle;
      const onAbort = (): void => {
        this.timers.clearTimeout(handle);
        reject(this.reason);
      };
      handle = this.timers.setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** `p`'s outcome, or the reason if the call ends first. */
  race<T>(p: Promise<T>): Promise<T> {
    this.check();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(this.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
      p.then((v) => {
        this.signal.removeEventListener('abort', onAbort);
        resolve(v);
      }, (e: unknown) => {
        this.signal.removeEventListener('abort', onAbort);
        reject(e);
      });
    });
  }

  /** Clears the deadline timer and unlinks the caller's signal. Idempotent. */
  dispose(): void {
    this.timers.clearTimeout(this.timer);
    this.unlink();
  }
}
