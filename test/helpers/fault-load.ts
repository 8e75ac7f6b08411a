/**
 * A bounded load generator for fault tests: N workers share a fixed list of shots (requests),
 * each sent to an edge's KServe JSON route with a deadline header and a client-side timeout of
 * deadline + slack, and each answer is sorted into one outcome:
 *
 *   correct   200, not degraded, logits equal the reference (the cloud's own answer) within tol
 *   degraded  200 with `x-cleave-degraded`, logits equal the fallback's reference when one is given
 *   coded     an error answer whose JSON body carries a `CLEAVE_E_` code, within deadline + slack
 *   wrong     a 200 whose logits match neither reference: a real bug, never expected
 *   lost      anything else: no answer by deadline + slack, a dropped connection, a body that is
 *             not a coded error, or a coded error later than deadline + slack
 *
 * Why fetch and not a load library: the point is the per-request classification against a
 * reference, which no load tool does; the loop is twenty lines and bounded by the shot count.
 */

/** One request to send: the model, its input ids (or floats) and what a good answer is. */
export interface Shot {
  readonly model: string;
  /** KServe JSON body. */
  readonly body: string;
  /** The cloud's own logits for this input. */
  readonly reference: readonly number[];
  /** The edge fallback's logits for this input, for degraded answers (none: no fallback). */
  readonly fallbackReference?: readonly number[];
}

export type Outcome = 'correct' | 'degraded' | 'coded' | 'wrong' | 'lost';

export interface ShotResult {
  readonly index: number;
  readonly model: string;
  readonly outcome: Outcome;
  /** HTTP status, 0 when no answer came. */
  readonly status: number;
  /** The CLEAVE_E_ code of an error answer. */
  readonly code?: string;
  /** From the shot's start (performance.now() in this process), ms. */
  readonly startedAt: number;
  /** From start to the whole answer read, ms. */
  readonly ms: number;
  /** Why a shot is `lost` or `wrong`, or the error message. */
  readonly detail?: string;
}

export interface LoadOptions {
  /** Edge base URL, `http://127.0.0.1:P`. */
  readonly url: string;
  readonly shots: readonly Shot[];
  /** Concurrent workers. */
  readonly concurrency: number;
  /** Sent as `x-cleave-deadline-ms`, ms. */
  readonly deadlineMs: number;
  /** The client gives up at deadlineMs + slackMs and counts the shot lost, ms. Default 1000. */
  readonly slackMs?: number;
  /** Largest difference per logit, absolute. Default 1e-4. */
  readonly tolerance?: number;
  /** Each worker waits this long between its shots, ms. Default 0. */
  readonly pauseMs?: number;
  /** Called after each shot (e.g. to trigger a fault after the k-th). */
  readonly onResult?: (r: ShotResult, done: number) => void;
}

function close(got: readonly number[] | undefined, want: readonly number[] | undefined, tol: number): boolean {
  if (!got || !want || got.length !== want.length) return false;
  return want.every((w, i) => Math.abs(got[i]! - w) <= tol);
}

/** The logits of a KServe JSON answer, or undefined when it has none. */
export function logitsOf(json: unknown): number[] | undefined {
  const outputs = (json as { outputs?: { name: string; data: number[] }[] } | undefined)?.outputs;
  return outputs?.find((o) => o.name === 'logits')?.data;
}

/** Sends one shot and classifies its answer. */
export async function fireShot(opts: Omit<LoadOptions, 'shots' | 'concurrency'>, shot: Shot, index: number): Promise<ShotResult> {
  const slack = opts.slackMs ?? 1000;
  const tol = opts.tolerance ?? 1e-4;
  const startedAt = performance.now();
  const base = { index, model: shot.model, startedAt };
  let status = 0;
  try {
    const res = await fetch(`${opts.url}/v2/models/${shot.model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cleave-deadline-ms': String(opts.deadlineMs), 'x-cleave-cache': 'bypass' },
      body: shot.body,
      signal: AbortSignal.timeout(opts.deadlineMs + slack),
    });
    status = res.status;
    const text = await res.text();
    const ms = performance.now() - startedAt;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ...base, outcome: 'lost', status, ms, detail: `HTTP ${status}, body not JSON: ${text.slice(0, 200)}` };
    }
    if (status === 200) {
      const got = logitsOf(json);
      if (res.headers.get('x-cleave-degraded') !== null) {
        const ok = shot.fallbackReference === undefined || close(got, shot.fallbackReference, tol);
        return { ...base, outcome: ok ? 'degraded' : 'wrong', status, ms, ...(ok ? {} : { detail: `degraded logits ${JSON.stringify(got)} != fallback ${JSON.stringify(shot.fallbackReference)}` }) };
      }
      const ok = close(got, shot.reference, tol);
      return { ...base, outcome: ok ? 'correct' : 'wrong', status, ms, ...(ok ? {} : { detail: `logits ${JSON.stringify(got)} != cloud ${JSON.stringify(shot.reference)}` }) };
    }
    const { code, message } = (json ?? {}) as { code?: unknown; message?: unknown };
    if (typeof code !== 'string' || !code.startsWith('CLEAVE_E_')) {
      return { ...base, outcome: 'lost', status, ms, detail: `HTTP ${status} without a CLEAVE_E_ code: ${text.slice(0, 200)}` };
    }
    const inTime = ms <= opts.deadlineMs + slack;
    return { ...base, outcome: inTime ? 'coded' : 'lost', status, code, ms, detail: `${inTime ? '' : 'late: '}${String(message)}` };
  } catch (e) {
    return { ...base, outcome: 'lost', status, ms: performance.now() - startedAt, detail: `no answer: ${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Runs every shot once over `concurrency` workers; resolves with the results in shot order. */
export async function runLoad(opts: LoadOptions): Promise<ShotResult[]> {
  const results: ShotResult[] = new Array<ShotResult>(opts.shots.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const shot = opts.shots[i];
      if (shot === undefined) return;
      const r = await fireShot(opts, shot, i);
      results[i] = r;
      opts.onResult?.(r, ++done);
      if (opts.pauseMs) await new Promise((res) => setTimeout(res, opts.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return results;
}

/** Counts per outcome (and per error code), plus the slowest answer, for reports and assertions. */
export interface LoadSummary {
  readonly total: number;
  readonly correct: number;
  readonly degraded: number;
  readonly coded: number;
  readonly wrong: number;
  readonly lost: number;
  readonly codes: Readonly<Record<string, number>>;
  readonly maxMs: number;
  readonly p50Ms: number;
}

export function summarize(results: readonly ShotResult[]): LoadSummary {
  const count = (o: Outcome): number => results.filter((r) => r.outcome === o).length;
  const codes: Record<string, number> = {};
  for (const r of results) if (r.code) codes[r.code] = (codes[r.code] ?? 0) + 1;
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  return {
    total: results.length, correct: count('correct'), degraded: count('degraded'), coded: count('coded'),
    wrong: count('wrong'), lost: count('lost'), codes, maxMs: Math.round(ms.at(-1) ?? 0), p50Ms: Math.round(ms[Math.floor(ms.length / 2)] ?? 0),
  };
}

/** One line for the log: `[label] 120 shots: correct 40, degraded 60, ...`. */
export function describeLoad(label: string, s: LoadSummary): string {
  const codes = Object.entries(s.codes).map(([c, n]) => `${c}=${n}`).join(' ');
  return `[${label}] ${s.total} shots: correct ${s.correct}, degraded ${s.degraded}, coded ${s.coded}${codes ? ` (${codes})` : ''}, wrong ${s.wrong}, lost ${s.lost}; p50 ${s.p50Ms} ms, max ${s.maxMs} ms`;
}
