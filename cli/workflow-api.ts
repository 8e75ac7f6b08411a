/**
 * What `cleave deploy workflow` does, apart from flags and printing: check a document locally
 * with the validator the edge's API runs (shared/workflow/validate.ts), then POST it to the
 * edge's `/v1/workflows` and read the answer. Every refusal is a CleaveError with the code the
 * edge gave (or CLEAVE_E_UNAVAILABLE when it could not be reached), so the command's exit status
 * follows the one rule of cli/main.ts: 2 for a wrong document or flag, 1 for anything else.
 */
import { CleaveError, ERROR_CODES, type ErrorCode } from '../shared/errors.js';
import { findWorkflowProblems, type ModelLookup, type WorkflowProblem } from '../shared/workflow/validate.js';

/** What the edge answers to a deploy (edge/workflow-routes.ts). */
export interface DeployResult {
  readonly name: string;
  readonly version: number;
  readonly digest: string;
  /** True when the same document was already the latest version (HTTP 200 rather than 201). */
  readonly unchanged: boolean;
  readonly replicas?: number;
}

/** A refusal from the edge, with the problems it listed (CLEAVE_E_WORKFLOW_INVALID), if any. */
export class DeployRefused extends CleaveError {
  constructor(code: ErrorCode, message: string, readonly problems: readonly WorkflowProblem[], readonly status: number) {
    super(code, message, { status, problems: problems.map((p) => ({ at: p.at, message: p.message })) });
  }
}

/** Every problem of the document, each with its JSON path; [] when it is valid. */
export function localProblems(doc: unknown, models: ModelLookup): WorkflowProblem[] {
  return findWorkflowProblems(doc, models);
}

/** Options of postWorkflow. */
export interface PostOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** `?replicas=` of the deploy (1..64). */
  readonly replicas?: number;
  /** Give up after this long, ms. Default 60000 (a deploy of split models warms their sessions first). */
  readonly timeoutMs?: number;
}

/** POSTs `doc` to `<edgeUrl>/v1/workflows`; the edge's answer, or DeployRefused / CLEAVE_E_UNAVAILABLE. */
export async function postWorkflow(edgeUrl: string, doc: unknown, opts: PostOptions = {}): Promise<DeployResult> {
  const url = `${edgeUrl.replace(/\/+$/, '')}/v1/workflows${opts.replicas !== undefined ? `?replicas=${opts.replicas}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(opts.apiKey !== undefined ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
      body: JSON.stringify(doc),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new CleaveError('CLEAVE_E_UNAVAILABLE', `cannot reach the edge at ${edgeUrl} (POST ${url}): ${cause}`, { url: edgeUrl });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status === 200 || res.status === 201) {
    const r = body as Partial<DeployResult> | undefined;
    if (typeof r?.name !== 'string' || typeof r.version !== 'number') {
      throw new CleaveError('CLEAVE_E_PROTOCOL', `the edge at ${edgeUrl} answered ${res.status} without a deploy result: ${text.slice(0, 200)}`, { url: edgeUrl, status: res.status });
    }
    return { name: r.name, version: r.version, digest: String(r.digest ?? ''), unchanged: r.unchanged === true, ...(typeof r.replicas === 'number' ? { replicas: r.replicas } : {}) };
  }
  const err = body as { code?: unknown; message?: unknown; detail?: { problems?: unknown } } | undefined;
  const code: ErrorCode = typeof err?.code === 'string' && Object.hasOwn(ERROR_CODES, err.code)
    ? (err.code as ErrorCode)
    : res.status < 500 ? 'CLEAVE_E_BAD_ARGUMENT' : 'CLEAVE_E_UNAVAILABLE';
  const problems = Array.isArray(err?.detail?.problems)
    ? (err.detail.problems as unknown[]).filter((p): p is WorkflowProblem => typeof (p as WorkflowProblem)?.at === 'string' && typeof (p as WorkflowProblem).message === 'string')
    : [];
  const message = typeof err?.message === 'string' ? err.message : text.slice(0, 200) || `HTTP ${res.status}`;
  throw new DeployRefused(code, `the edge at ${edgeUrl} refused the workflow (HTTP ${res.status}): ${message}`, problems, res.status);
}

/** Problems as lines for the terminal: `  <at>: <message>`, numbered. */
export function formatProblems(problems: readonly WorkflowProblem[]): string {
  return problems.map((p, i) => `  ${i + 1}) ${p.at}: ${p.message}`).join('\n');
}
