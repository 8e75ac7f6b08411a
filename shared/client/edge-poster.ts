/**
 * One POST to "the edge", made good where safe: it goes to the best edge the selector knows, and
 * a failed attempt is retried on the next edge or after a wait as retry-policy.ts decides, all
 * within the call's deadline. Each attempt carries what is left of the deadline as
 * `x-cleave-deadline-ms`, so the edge (and the cloud behind it) plan with the same budget.
 * Attempts report back to the selector: an unreachable or unavailable edge is demoted, an answer
 * promotes. Resolves with the first 2xx answer, its body unread (the caller reads or streams it).
 */
import { CleaveError } from '../errors.js';
import type { CallScope } from './call-scope.js';
import type { ResolvedClientOptions } from './client-options.js';
import type { EdgeSelector } from './edge-selector.js';
import { errorFromResponse, retryAfterMs } from './error-body.js';
import { failureKind, nextAttempt, type AttemptFailure } from './retry-policy.js';

/** A 2xx answer and where it came from. */
export interface Sent {
  readonly res: Response;
  /** Base URL of the edge that answered. */
  readonly edge: string;
  /** Attempts it took, 1 when the first one answered. */
  readonly attempts: number;
}

export class EdgePoster {
  constructor(private readonly opts: ResolvedClientOptions, private readonly selector: EdgeSelector) {}

  /**
   * POSTs `body` to the best edge, retrying per retry-policy.ts, and resolves with the first 2xx
   * answer (its body unread). Throws the last attempt's error when no retry is left or allowed.
   */
  async post(scope: CallScope, path: string, body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<Sent> {
    const tried = new Set<string>();
    const failures: AttemptFailure[] = [];
    let edge = (await this.selector.order(scope))[0]!;
    for (let attempts = 1; ; attempts++) {
      scope.check();
      tried.add(edge);
      const outcome = await this.attempt(scope, edge, path, body, headers);
      if ('res' in outcome) return { res: outcome.res, edge, attempts };
      failures.push(outcome);
      const decision = nextAttempt(outcome, {
        attempts, retries: this.opts.retries, order: await this.selector.order(scope), tried, remainingMs: scope.remainingMs(),
      });
      if (!decision.retry) throw finalError(failures);
      if (decision.delayMs > 0) await scope.wait(decision.delayMs);
      edge = decision.edge;
    }
  }

  /** One POST to one edge: its 2xx answer, or how it failed. Throws only when the call itself ended (deadline, cancel). */
  private async attempt(scope: CallScope, edge: string, path: string, body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<{ readonly res: Response } | AttemptFailure> {
    let res: Response;
    try {
      res = await this.opts.fetch(`${edge}${path}`, {
        method: 'POST',
        // What is left of the budget: the edge plans (and tells the cloud) with the same deadline.
        headers: { ...this.opts.headers, ...headers, 'x-cleave-deadline-ms': String(Math.max(1, Math.floor(scope.remainingMs()))) },
        body: body as Uint8Array<ArrayBuffer>,
        signal: scope.signal,
      });
    } catch (e) {
      scope.check();
      this.selector.reportFailure(edge);
      return { kind: 'connect', edge, error: new CleaveError('CLEAVE_E_UNAVAILABLE', `edge ${edge} could not be reached: ${reasonOf(e)}`, { edge }, { cause: e }) };
    }
    if (res.ok) {
      this.selector.reportSuccess(edge);
      return { res };
    }
    const error = await errorFromResponse(res, `edge ${edge}`);
    scope.check();
    const kind = failureKind(res.status, error.code);
    if (kind === 'unavailable') this.selector.reportFailure(edge);
    else this.selector.reportSuccess(edge);
    // The header first; a quota refusal also says it in its detail (retryAfterS), which survives proxies that drop headers.
    const inDetail = typeof error.detail.retryAfterS === 'number' ? error.detail.retryAfterS * 1000 : undefined;
    const after = retryAfterMs(res.headers.get('retry-after'), this.opts.wallClock()) ?? inDetail;
    return { kind, edge, error, ...(after !== undefined ? { retryAfterMs: after } : {}) };
  }
}

/** The error a call ends with: the last attempt's; when no edge could be reached at all, one naming each. */
function finalError(failures: readonly AttemptFailure[]): CleaveError {
  const last = failures[failures.length - 1]!;
  if (failures.length < 2 || !failures.every((f) => f.kind === 'connect')) return last.error;
  const edges = [...new Set(failures.map((f) => f.edge))];
  return new CleaveError('CLEAVE_E_UNAVAILABLE', `no edge could be reached in ${failures.length} attempts: ${failures.map((f) => f.error.message).join('; ')}`, { edges });
}

function reasonOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const msg = e instanceof Error ? e.message : String(e);
  return code !== undefined ? `${msg} (${code})` : msg;
}
