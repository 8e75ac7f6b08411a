/**
 * When a failed call is tried again, and where. Inference is idempotent (the same inputs give the
 * same outputs and change nothing but caches), so a request may safely reach an edge twice; the
 * rules still retry only where another attempt can help and the deadline leaves room for it:
 *
 * - `connect`: no response at all (refused, reset, DNS) before any byte of an answer. Next: an
 *   edge not yet tried in this call, at once; when every edge was tried, the best one after a backoff.
 * - `unavailable`: 503 with CLEAVE_E_UNAVAILABLE or CLEAVE_E_OVERLOADED (the edge is warming up,
 *   draining, or its queue is full), or 502 (a proxy in front of the edge could not reach it).
 *   Next: as `connect`; waiting for the same edge honours its Retry-After.
 * - `throttled`: 429 (a tenant's rate limit or quota). Next: the SAME edge after its Retry-After
 *   (quotas are the tenant's, so moving to another edge would only dodge them).
 * - anything else is `final`: other 4xx (the request is wrong and stays wrong), 500 (a bug or a
 *   failed backend), 504 (the edge already spent the budget), and every failure after an answer
 *   began (a broken body, a stream that ended early): never retried.
 *
 * No retry is made when its wait would reach the deadline, or after `retries` retries.
 */
import type { CleaveError } from '../errors.js';

/** How a failed attempt failed, for the rules above. */
export type FailureKind = 'connect' | 'unavailable' | 'throttled' | 'final';

/** One failed attempt. */
export interface AttemptFailure {
  readonly kind: FailureKind;
  readonly edge: string;
  readonly error: CleaveError;
  /** The answer's Retry-After, ms. */
  readonly retryAfterMs?: number;
}

/** Retry or stop. */
export type RetryDecision = { readonly retry: false } | { readonly retry: true; readonly edge: string; readonly delayMs: number };

/** Backoff when retrying an edge that gave no Retry-After: 50 ms doubling per attempt, at most 1 s. */
export function backoffMs(attempt: number): number {
  return Math.min(1000, 50 * 2 ** Math.max(0, attempt - 1));
}

/** The kind of an HTTP error answer. */
export function failureKind(status: number, code: string): FailureKind {
  if (status === 429) return 'throttled';
  if (status === 502 || (status === 503 && (code === 'CLEAVE_E_UNAVAILABLE' || code === 'CLEAVE_E_OVERLOADED'))) return 'unavailable';
  return 'final';
}

export interface RetryContext {
  /** Attempts made so far (>= 1). */
  readonly attempts: number;
  /** Retries allowed after the first attempt. */
  readonly retries: number;
  /** Edges best first, as the selector ranks them now. */
  readonly order: readonly string[];
  /** Edges tried in this call. */
  readonly tried: ReadonlySet<string>;
  /** Budget left, ms. */
  readonly remainingMs: number;
}

/** Decides the next attempt after `failure` (see the file comment for the rules). */
export function nextAttempt(failure: AttemptFailure, ctx: RetryContext): RetryDecision {
  if (failure.kind === 'final' || ctx.attempts > ctx.retries) return { retry: false };
  let edge: string;
  let delayMs: number;
  if (failure.kind === 'throttled') {
    edge = failure.edge;
    delayMs = failure.retryAfterMs ?? backoffMs(ctx.attempts);
  } else {
    const untried = ctx.order.find((u) => !ctx.tried.has(u));
    if (untried !== undefined) {
      edge = untried;
      delayMs = 0;
    } else {
      edge = ctx.order[0] ?? failure.edge;
      // The Retry-After was said by the failed edge: it binds a retry of that edge only.
      delayMs = edge === failure.edge ? failure.retryAfterMs ?? backoffMs(ctx.attempts) : backoffMs(ctx.attempts);
    }
  }
  // A retry must leave the attempt some of the budget; one that would start at the deadline cannot win.
  if (delayMs >= ctx.remainingMs) return { retry: false };
  return { retry: true, edge, delayMs };
}
