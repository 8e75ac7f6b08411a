/**
 * The one error family of Cleave. Every failure that crosses a module boundary is a CleaveError
 * with a stable `code`; the HTTP status and WebSocket close code it maps to live in one table
 * here, so the edge, the cloud and the CLI answer the same failure the same way.
 */

/** How a code is reported on each transport. */
export interface ErrorCodeInfo {
  /** HTTP status for REST endpoints. */
  readonly http: number;
  /** WebSocket close code when the failure ends a connection (RFC 6455 or 4000-4999). */
  readonly wsClose: number;
  /** One line for docs and `--help`. */
  readonly summary: string;
}

/** Stable error codes. Append only: clients match on these strings. */
export const ERROR_CODES = {
  CLEAVE_E_BAD_ARGUMENT: { http: 400, wsClose: 1008, summary: 'an argument or option had a wrong value' },
  CLEAVE_E_NOT_FOUND: { http: 404, wsClose: 1008, summary: 'a model, file or tensor named in the request does not exist' },
  CLEAVE_E_ONNX_DECODE: { http: 400, wsClose: 1007, summary: 'bytes are not a well-formed ONNX protobuf' },
  CLEAVE_E_ONNX_LIMIT: { http: 413, wsClose: 1009, summary: 'an ONNX model exceeds a decoder limit (size, nesting, counts)' },
  CLEAVE_E_ONNX_INVALID: { http: 422, wsClose: 1007, summary: 'an ONNX graph is structurally invalid (dangling inputs, duplicate outputs, cycles)' },
  CLEAVE_E_UNSUPPORTED_OP: { http: 422, wsClose: 1007, summary: 'an operator is not known to the tool that has to understand it' },
  CLEAVE_E_SHAPE: { http: 400, wsClose: 1007, summary: 'a tensor shape does not match what was expected' },
  CLEAVE_E_DTYPE: { http: 400, wsClose: 1007, summary: 'a tensor element type does not match what was expected' },
  CLEAVE_E_SPLIT: { http: 422, wsClose: 1007, summary: 'a cut does not separate the graph into a head and a tail' },
  CLEAVE_E_QUANTIZE: { http: 422, wsClose: 1007, summary: 'a model cannot be quantized as asked' },
  CLEAVE_E_BACKEND: { http: 500, wsClose: 1011, summary: 'the inference backend failed to load or run a model' },
  CLEAVE_E_INTERNAL: { http: 500, wsClose: 1011, summary: 'a bug in Cleave: please report it with the trace id' },
  CLEAVE_E_PROTOCOL: { http: 400, wsClose: 1002, summary: 'a protocol frame is malformed: bad msgpack, a missing or mistyped field, a reused stream id' },
  CLEAVE_E_UNKNOWN_FRAME: { http: 400, wsClose: 1003, summary: 'a protocol frame has a type this peer does not know' },
  CLEAVE_E_TOO_LARGE: { http: 413, wsClose: 1009, summary: 'a frame, body or tensor exceeds a configured limit' },
  CLEAVE_E_TOO_MANY_STREAMS: { http: 429, wsClose: 1008, summary: 'more requests in flight than the credits granted allow' },
  CLEAVE_E_UNAUTHORIZED: { http: 401, wsClose: 4401, summary: 'a token is missing or wrong' },
  CLEAVE_E_VERSION: { http: 400, wsClose: 4426, summary: 'no protocol version both peers speak' },
  CLEAVE_E_OVERLOADED: { http: 503, wsClose: 1013, summary: 'a queue is full or a request waited past its queue timeout and was rejected' },
  CLEAVE_E_DEADLINE: { http: 504, wsClose: 1011, summary: 'a request\'s deadline passed before it could be answered' },
  CLEAVE_E_CANCELLED: { http: 499, wsClose: 1000, summary: 'the client cancelled the request' },
  CLEAVE_E_UNAVAILABLE: { http: 503, wsClose: 1001, summary: 'the server or model is not ready, shutting down, or unreachable' },
  CLEAVE_E_MEDIA_TYPE: { http: 415, wsClose: 1003, summary: 'a request body has a content type the endpoint does not read' },
  CLEAVE_E_WORKFLOW_INVALID: { http: 400, wsClose: 1007, summary: 'a workflow document has problems; detail.problems lists every one as { at, message }' },
  CLEAVE_E_PLUGIN_INVALID: { http: 400, wsClose: 1008, summary: 'a plugin manifest or module has problems; detail.problems lists every one as { at, value, message }' },
  CLEAVE_E_FORBIDDEN: { http: 403, wsClose: 4403, summary: 'the credentials are valid but do not allow this: a missing scope, or a tenant header naming another tenant' },
  CLEAVE_E_RATE_LIMITED: { http: 429, wsClose: 4429, summary: 'a tenant is over its rate limit or concurrency quota; retry after detail.retryAfterS seconds' },
} as const satisfies Record<string, ErrorCodeInfo>;

/** One of the stable error code strings. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** A flat record inside an error detail list, e.g. one workflow problem `{ at, message }`. */
export type ErrorDetailRecord = Readonly<Record<string, string | number | boolean>>;

/**
 * Structured detail attached to an error (offsets, names, expected values). Lists of flat records
 * are for HTTP answers (CLEAVE_E_WORKFLOW_INVALID's `problems`); the WebSocket protocol's ERROR
 * frame carries only scalars and lists of strings and numbers (shared/protocol/validate.ts).
 */
export type ErrorDetail = Readonly<Record<string, string | number | boolean | readonly (string | number)[] | readonly ErrorDetailRecord[]>>;

/** The Cleave error: a message for people, a code for programs, detail for both. */
export class CleaveError extends Error {
  override readonly name = 'CleaveError';
  readonly code: ErrorCode;
  readonly detail: ErrorDetail;

  constructor(code: ErrorCode, message: string, detail: ErrorDetail = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.detail = detail;
  }

  /** HTTP status this error maps to. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  /** WebSocket close code this error maps to. */
  get wsCloseCode(): number {
    return ERROR_CODES[this.code].wsClose;
  }

  /** Wire form used by every endpoint: `{ code, message, detail }`. */
  toJSON(): { code: ErrorCode; message: string; detail: ErrorDetail } {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

/** True when `e` is a CleaveError, optionally with the given code. */
export function isCleaveError(e: unknown, code?: ErrorCode): e is CleaveError {
  return e instanceof CleaveError && (code === undefined || e.code === code);
}

/** Wraps anything thrown into a CleaveError, keeping coded errors as they are. */
export function toCleaveError(e: unknown, fallback: ErrorCode = 'CLEAVE_E_INTERNAL'): CleaveError {
  if (e instanceof CleaveError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CleaveError(fallback, message, {}, { cause: e });
}
