/**
 * How a v2 REST body is laid out: all JSON, or (binary tensor data extension) a JSON header of
 * Inference-Header-Content-Length bytes followed by a binary tail. This file splits a body into
 * its parsed JSON object and its tail, enforcing the body and header limits first.
 */
import { CleaveError } from '../errors.js';
import { BinaryTail } from './binary-tail.js';
import { describeJson, isJsonObject, type JsonObject } from './json-fields.js';
import { findJsonSyntaxError } from './json-syntax.js';
import type { KServeLimits } from './limits.js';

/** HTTP header that gives the JSON header's length in bytes when a binary tail follows. */
export const HEADER_LENGTH_HEADER = 'Inference-Header-Content-Length';

/** Content type of an all-JSON body. */
export const JSON_CONTENT_TYPE = 'application/json';

/** Content type of a body with a binary tail. */
export const BINARY_CONTENT_TYPE = 'application/octet-stream';

/** Name of the extension in server metadata `extensions`, as Triton reports it. */
export const BINARY_TENSOR_DATA_EXTENSION = 'binary_tensor_data';

/**
 * The Inference-Header-Content-Length value of a request as a number: undefined when the header
 * is absent or empty, CLEAVE_E_BAD_ARGUMENT when it is not a plain decimal integer.
 */
export function parseHeaderLength(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const s = value.trim();
  if (s === '') return undefined;
  const n = /^[0-9]{1,16}$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${HEADER_LENGTH_HEADER} must be a non-negative integer, got ${describeJson(s)}`, { header: HEADER_LENGTH_HEADER });
  }
  return n;
}

/**
 * The `<version>` of a `/v2/models/<name>/versions/<version>` path: undefined when the path has
 * none, CLEAVE_E_BAD_ARGUMENT unless it is a positive integer (at most 9 digits).
 */
export function parseModelVersion(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(s)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model version "${s}" is not a positive integer`, { field: 'version' });
  return Number(s);
}

/** A body split into its JSON object and, when a header length was given, its binary tail. */
export interface SplitBody {
  readonly json: JsonObject;
  readonly tail: BinaryTail | undefined;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Splits and parses a body. `what` names it for messages ('request', 'response').
 * Errors: body over maxBodyBytes or header over maxHeaderBytes -> CLEAVE_E_TOO_LARGE; a header
 * length that is not an integer -> CLEAVE_E_BAD_ARGUMENT; one past the end of the body ->
 * CLEAVE_E_PROTOCOL; bad UTF-8, bad JSON (with its position) or a non-object -> CLEAVE_E_BAD_ARGUMENT.
 */
export function splitBody(body: Uint8Array, headerLength: number | undefined, limits: KServeLimits, what: string): SplitBody {
  if (body.length > limits.maxBodyBytes) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what} body is ${body.length} bytes, the limit is ${limits.maxBodyBytes}`, { bytes: body.length, limit: limits.maxBodyBytes });
  }
  let jsonBytes = body;
  let tail: BinaryTail | undefined;
  if (headerLength !== undefined) {
    if (!Number.isSafeInteger(headerLength) || headerLength < 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${HEADER_LENGTH_HEADER} must be a non-negative integer, got ${describeJson(headerLength)}`, { header: HEADER_LENGTH_HEADER });
    }
    if (headerLength > limits.maxHeaderBytes) {
      throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what} JSON header is ${headerLength} bytes, the limit is ${limits.maxHeaderBytes}`, { bytes: headerLength, limit: limits.maxHeaderBytes });
    }
    if (headerLength > body.length) {
      throw new CleaveError('CLEAVE_E_PROTOCOL', `${HEADER_LENGTH_HEADER} is ${headerLength} but the ${what} body has only ${body.length} bytes`, { headerLength, bytes: body.length });
    }
    jsonBytes = body.subarray(0, headerLength);
    tail = new BinaryTail(body.subarray(headerLength));
  }
  let text: string;
  try {
    text = UTF8.decode(jsonBytes);
  } catch (e) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} JSON is not valid UTF-8`, {}, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const where = findJsonSyntaxError(text) ?? { position: 0, reason: e instanceof Error ? e.message : String(e) };
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} is not valid JSON: ${where.reason} at position ${where.position}`, { position: where.position }, { cause: e });
  }
  if (!isJsonObject(json)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} JSON must be an object, got ${describeJson(json)}`, {});
  }
  return { json, tail };
}
