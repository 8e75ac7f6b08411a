/**
 * The page's HTTP client: same-origin fetch with the admin key from this tab's sessionStorage
 * (put there by the login page; gone when the tab closes) as `Authorization: Bearer`. An open
 * edge needs no key and none is sent. Errors come back as ApiError with the server's code,
 * message and detail (`{ error, code, message, detail }` on every Cleave endpoint).
 */
import type { CloudOverview, EdgeOverview, Problem, RunAnswer, Template, WorkflowDetail, WorkflowDoc } from './api-types.js';

/** The sessionStorage key the login page stores the admin key under. */
export const KEY_STORAGE = 'cleave.dashboard.key';

/** A failed call: the server's error code (or CLEAVE_E_UNAVAILABLE when it was not reached). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string, readonly detail: Record<string, unknown> = {}) {
    super(message);
  }

  /** CLEAVE_E_WORKFLOW_INVALID's problems, else none. */
  get problems(): Problem[] {
    const p = this.detail.problems;
    return Array.isArray(p) ? (p as Problem[]).filter((x) => x && typeof x.at === 'string') : [];
  }
}

/** What a call answered: the parsed body and the headers worth showing. */
export interface Answer<T> {
  readonly body: T;
  readonly status: number;
  readonly headers: Headers;
}

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/** Forgets the key of this tab. */
export function forgetKey(): void {
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: nothing was kept.
  }
}

async function call<T>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = storedKey();
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new ApiError(0, 'CLEAVE_E_UNAVAILABLE', `${method} ${path} did not answer: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'CLEAVE_E_INTERNAL', `${method} ${path} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const e = json as { code?: string; message?: string; detail?: Record<string, unknown> };
    throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? `${method} ${path} answered ${res.status}`, e.detail ?? {});
  }
  return { body: json as T, status: res.status, headers: res.headers };
}

export const api = {
  overview: () => call<EdgeOverview>('GET', '/v1/dashboard/overview').then((a) => a.body),
  cloudOverview: () => call<CloudOverview>('GET', '/v1/dashboard/overview').then((a) => a.body),
  workflow: (name: string) => call<WorkflowDetail>('GET', `/v1/dashboard/workflows/${encodeURIComponent(name)}`).then((a) => a.body),
  templates: () => call<Template[] | { templates: Template[] }>('GET', '/v1/dashboard/templates').then((a) => (Array.isArray(a.body) ? a.body : a.body.templates ?? [])),
  /** Runs a document once without storing it; 400 CLEAVE_E_WORKFLOW_INVALID lists its problems. */
  dryRun: (doc: unknown, inputs: unknown) => call<RunAnswer>('POST', '/v1/workflows/dry-run', { doc, ...(inputs !== undefined ? { inputs } : { sample: true }) }),
  /** The edge's validator alone (400 with every problem), nothing run. */
  validate: (doc: unknown) => call<{ name: string; valid: boolean }>('POST', '/v1/workflows/dry-run', { doc, validateOnly: true }),
  deploy: (doc: unknown) => call<{ name: string; version: number; digest: string; unchanged: boolean }>('POST', '/v1/workflows', doc),
  run: (name: string, inputs: unknown) => call<RunAnswer>('POST', `/v1/workflows/${encodeURIComponent(name)}/infer`, { inputs }),
  logout: () => call<unknown>('POST', '/dashboard/logout', {}),
};
