/**
 * An edge's error answer back into the CleaveError it was made from. Every Cleave endpoint answers
 * a failure with `{ error, code, message, detail }` and the HTTP status of its code
 * (shared/errors.ts), so a client gets the same code, message and detail the server had. A body
 * that is not a Cleave error (a proxy's HTML page, an empty 502) still becomes a coded error,
 * chosen by the status, with a message that names the edge and the status.
 */
import { CleaveError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../errors.js';
import { isJsonObject, own } from '../kserve/json-fields.js';

/** Largest error body read, bytes: a Cleave error is a few hundred; anything larger is cut for the message. */
const MAX_ERROR_TEXT = 64 * 1024;

/** The code a status stands for when the body names none. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'CLEAVE_E_BAD_ARGUMENT';
    case 401: return 'CLEAVE_E_UNAUTHORIZED';
    case 403: return 'CLEAVE_E_FORBIDDEN';
    case 404: return 'CLEAVE_E_NOT_FOUND';
    case 413: return 'CLEAVE_E_TOO_LARGE';
    case 415: return 'CLEAVE_E_MEDIA_TYPE';
    case 429: return 'CLEAVE_E_RATE_LIMITED';
    case 499: return 'CLEAVE_E_CANCELLED';
    case 502:
    case 503: return 'CLEAVE_E_UNAVAILABLE';
    case 504: return 'CLEAVE_E_DEADLINE';
    default: return status >= 400 && status < 500 ? 'CLEAVE_E_BAD_ARGUMENT' : 'CLEAVE_E_INTERNAL';
  }
}

/** True for a code this build knows; a newer server may send codes appended since. */
function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The CleaveError an error body carries. A code this client does not know (a newer server) is
 * kept by its status instead, with the server's code in `detail.serverCode`.
 */
export function errorFromBody(status: number, text: string, where: string): CleaveError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isJsonObject(body) && typeof own(body, 'code') === 'string') {
    const code = own(body, 'code');
    const message = typeof own(body, 'message') === 'string' ? own(body, 'message') as string : `${where} answered ${status}`;
    const rawDetail = own(body, 'detail');
    const detail = (isJsonObject(rawDetail) ? rawDetail : {}) as ErrorDetail;
    if (isKnownCode(code)) return new CleaveError(code, message, detail);
    return new CleaveError(codeForStatus(status), message, { ...detail, serverCode: code as string });
  }
  const snippet = text.slice(0, 120).replace(/\s+/g, ' ').trim();
  return new CleaveError(codeForStatus(status), `${where} answered ${status} without a Cleave error body${snippet ? `: ${JSON.stringify(snippet)}` : ''}`, { status });
}

/** Reads an error answer's body (bounded) and turns it into its CleaveError. */
export async function errorFromResponse(res: Response, where: string): Promise<CleaveError> {
  let text = '';
  try {
    text = (await res.text()).slice(0, MAX_ERROR_TEXT);
  } catch {
    // The status alone still says what happened.
  }
  return errorFromBody(res.status, text, where);
}

/**
 * A Retry-After header as a delay, ms: delta-seconds (`2`, `0.5` is read too) or an HTTP-date
 * (compared with `wallNow`, ms since the epoch). Undefined when absent or unreadable; never negative.
 */
export function retryAfterMs(header: string | null | undefined, wallNow: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const s = header.trim();
  if (/^[0-9]+(?:\.[0-9]+)?$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - wallNow) : undefined;
}
