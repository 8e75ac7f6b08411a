/**
 * Bodies of the edge's native inference endpoint, `POST /v1/models/:name[/versions/:v]/infer`,
 * in msgpack or JSON (content negotiation). Both encodings carry the same logical body:
 *
 *   request:  { inputs: { <name>: <tensor> }, outputs?, cache?, deadlineMs?, priority?, id?, int8Outputs? }
 *   response: { model, version, servedBy, cache, degraded?, timing, requestId, id?, outputs: { <name>: <tensor> } }
 *
 * A msgpack tensor is the protocol's tensor extension (ext 1 TENSOR, or 2 TENSOR_INT8 for a float32
 * sent as int8), so a msgpack body is decoded exactly like a protocol frame: size check, the
 * structural pre-scan (msgpack-scan.ts, before @msgpack/msgpack allocates anything), decoding,
 * then field checks. Tensor payloads are 8-byte aligned from the body's first byte, so a body held
 * at an aligned address is read without copying its tensors. A JSON tensor is
 * `{ dtype: 'float32' | 'int64' | ..., dims: number[], data: flat or nested array }` read with the
 * KServe codec's element rules (tensor-values.ts): int64/uint64 are numbers while safe and decimal
 * strings beyond, floats may be "NaN"/"Infinity"/"-Infinity", float16/bfloat16 are plain numbers.
 *
 * Requests are read strictly: an unknown field is refused, since a typo such as `input` must not
 * be silently ignored. `null` reads as absent for optional fields, as most client serializers write
 * unset values that way. Responses are read leniently: unknown fields are dropped, so an older
 * client keeps working when the edge adds one.
 *
 * Runtime-neutral (Node, workerd): no Node API.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { CleaveError, type ErrorCode, type ErrorDetail } from '../shared/errors.js';
import { JSON_CONTENT_TYPE } from '../shared/kserve/framing.js';
import { badField, describeJson, isJsonObject, own } from '../shared/kserve/json-fields.js';
import { findJsonSyntaxError } from '../shared/kserve/json-syntax.js';
import { readJsonData, writeJsonData } from '../shared/kserve/tensor-values.js';
import { DTYPES, dtypeSize, isDType, type DType } from '../shared/onnx/dtype.js';
import { DEFAULT_LIMITS, ExtType, type ProtocolLimits } from '../shared/protocol/constants.js';
import { OutgoingTensor, TensorExtensionCodec, WireTensor } from '../shared/protocol/extension-codec.js';
import type { TensorMap } from '../shared/protocol/frames.js';
import { scanFrame } from '../shared/protocol/msgpack-scan.js';
import { decodeTensor, decodeTensorInt8, maxTensorExtBytes } from '../shared/protocol/tensor-codec.js';
import type { HostTensor } from '../shared/tensor.js';
import type { Degraded, EdgeTiming } from './edge-service.js';

/** Content type of JSON bodies (the KServe codec's constant), re-exported for the endpoint. */
export { JSON_CONTENT_TYPE };

/** The two encodings of a native body. */
export type NativeFormat = 'msgpack' | 'json';

/** Content type of msgpack bodies the edge writes. */
export const MSGPACK_CONTENT_TYPE = 'application/msgpack';

/** Content types read as msgpack: the registered name first, then two names clients still send. */
export const MSGPACK_CONTENT_TYPES: readonly string[] = Object.freeze([MSGPACK_CONTENT_TYPE, 'application/x-msgpack', 'application/vnd.msgpack']);

/** Cache modes a request may ask for (result-cache.ts CacheMode). */
export const NATIVE_CACHE_MODES = Object.freeze(['default', 'bypass', 'refresh'] as const);
/** One of NATIVE_CACHE_MODES. */
export type NativeCacheMode = (typeof NATIVE_CACHE_MODES)[number];

/** What the result cache did for a request (result-cache.ts CacheStatus). */
export const NATIVE_CACHE_STATUSES = Object.freeze(['hit', 'miss', 'coalesced', 'bypass', 'refresh'] as const);
/** One of NATIVE_CACHE_STATUSES. */
export type NativeCacheStatus = (typeof NATIVE_CACHE_STATUSES)[number];

/** Which tier computed an answer (edge-service.ts ServedBy). */
export const NATIVE_SERVED_BY = Object.freeze(['edge', 'cloud'] as const);
/** One of NATIVE_SERVED_BY. */
export type NativeServedBy = (typeof NATIVE_SERVED_BY)[number];

/**
 * Limits a native body is read under; the protocol's limits, applied to both encodings:
 * maxFrameBytes bounds the whole body; maxTensors the inputs (outputs) map and the `outputs` list;
 * maxRank and maxTensorBytes (elements x dtype size) each tensor; maxStringBytes (UTF-8) every
 * tensor name, output name and `id`; maxArrayLength / maxMapLength every msgpack container
 * (in JSON, `data` arrays are bounded by maxTensorBytes and maxFrameBytes instead). maxStreams
 * is unused here. Defaults: DEFAULT_LIMITS (64 MiB body and tensor, 64 tensors, rank 8).
 */
// An interface, not an alias, so the endpoint's documentation has a name to point at.
export interface NativeLimits extends ProtocolLimits {}

/** Default limits of native bodies: the protocol's DEFAULT_LIMITS. */
export const DEFAULT_NATIVE_LIMITS: NativeLimits = DEFAULT_LIMITS;

/** A native inference request. */
export interface NativeRequest {
  /** Input tensors by name, in a null-prototype object when parsed. */
  readonly inputs: TensorMap;
  /** Outputs to return, in order; absent for every output (an empty list reads as absent, as in KServe v2). */
  readonly outputs?: string[];
  /** Result cache mode. Default 'default'. */
  readonly cache?: NativeCacheMode;
  /** Budget from arrival, ms, > 0. Default: the edge's configured default. */
  readonly deadlineMs?: number;
  /** Scheduling priority, an integer >= 1 (1 is the most urgent, as in Triton). */
  readonly priority?: number;
  /** The client's id, echoed in the response. */
  readonly id?: string;
  /** Asks for float32 outputs as TENSOR_INT8 (msgpack responses only; error at most scale/2). Default false. */
  readonly int8Outputs?: boolean;
}

/** Where a request's time went, ms: the Server-Timing segments (edge-service.ts). */
export type NativeTiming = EdgeTiming;

/** A cloud model answered at the edge (edge-service.ts); the reason is read as any string, so a client keeps working when a newer edge sends a code it does not know. */
export type NativeDegraded = Omit<Degraded, 'reason'> & { readonly reason: string };

/** A native inference response. */
export interface NativeResponse {
  readonly model: string;
  readonly version: number;
  /** Output tensors by name, in a null-prototype object when decoded. */
  readonly outputs: TensorMap;
  readonly servedBy: NativeServedBy;
  readonly cache: NativeCacheStatus;
  readonly degraded?: NativeDegraded;
  readonly timing: NativeTiming;
  /** The edge's id for the request (also in logs and traces). */
  readonly requestId: string;
  /** The request's `id`, echoed. */
  readonly id?: string;
}

/** An encoded body and the Content-Type to send it with. */
export interface NativeBody {
  readonly body: Uint8Array;
  readonly contentType: string;
}

const REQUEST_FIELDS = ['inputs', 'outputs', 'cache', 'deadlineMs', 'priority', 'id', 'int8Outputs'] as const;
const JSON_TENSOR_FIELDS = ['dtype', 'dims', 'data'] as const;
const TIMING_FIELDS = ['cacheMs', 'edgeMs', 'linkMs', 'cloudQueueMs', 'cloudComputeMs', 'totalMs'] as const;
const JSON_DTYPES = DTYPES.filter((d) => d !== 'string');
const MAX_DIM = 0xffff_ffff;

// ---------------------------------------------------------------------------------------------
// Content negotiation

const ACCEPTED_TYPES = `${MSGPACK_CONTENT_TYPE} (or ${MSGPACK_CONTENT_TYPES.slice(1).join(', ')}) or ${JSON_CONTENT_TYPE}`;

/**
 * Format of a request body from its Content-Type. Parameters are allowed ('; charset=utf-8'), but
 * a JSON body in a charset other than UTF-8 is refused (JSON is UTF-8, RFC 8259). Throws
 * CLEAVE_E_MEDIA_TYPE (415) for a missing, empty or other type, naming it and the accepted ones.
 */
export function requestFormat(contentType: string | null | undefined): NativeFormat {
  const accepted = [...MSGPACK_CONTENT_TYPES, JSON_CONTENT_TYPE];
  if (contentType === null || contentType === undefined || contentType.trim() === '') {
    throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `request has no Content-Type; send ${ACCEPTED_TYPES}`, { accepted });
  }
  const [type = '', ...params] = contentType.split(';');
  const mediaType = type.trim().toLowerCase();
  if (MSGPACK_CONTENT_TYPES.includes(mediaType)) return 'msgpack';
  if (mediaType === JSON_CONTENT_TYPE) {
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
      const charset = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
      if (charset !== 'utf-8' && charset !== 'utf8') {
        throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `${JSON_CONTENT_TYPE} bodies must be UTF-8, got charset ${describeJson(charset)}`, { contentType, accepted });
      }
    }
    return 'json';
  }
  throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `Content-Type ${describeJson(contentType)} is not accepted; send ${ACCEPTED_TYPES}`, { contentType, accepted });
}

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

/** How much an Accept header wants a type: its q-value and how specific the range giving it was (2 exact, 1 type/*, 0 *\/*, -1 none). */
interface Preference {
  readonly q: number;
  readonly specificity: number;
}

const TOKEN = "[a-z0-9!#$%&'*+.^_`|~-]+";
const MEDIA_RANGE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** Media ranges of an Accept header; a range that does not parse, or has a malformed q, is skipped. */
function parseAccept(accept: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';');
    const m = MEDIA_RANGE.exec(range.trim().toLowerCase());
    if (!m) continue;
    let q = 1;
    let ok = true;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      const v = p.slice(eq + 1).trim();
      if (!QVALUE.test(v)) ok = false;
      else q = Number(v);
    }
    if (ok) out.push({ type: m[1]!, subtype: m[2]!, q });
  }
  return out;
}

/** The preference for `mediaType`: the q of the most specific matching range (RFC 9110 §12.5.1). */
function preference(ranges: readonly MediaRange[], mediaType: string): Preference {
  const [type, subtype] = mediaType.split('/') as [string, string];
  let best: Preference = { q: 0, specificity: -1 };
  for (const r of ranges) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
    if (specificity < 0 || specificity < best.specificity) continue;
    if (specificity > best.specificity || r.q > best.q) best = { q: r.q, specificity };
  }
  return best;
}

/**
 * Response format from an Accept header: the one it prefers by q-value; on equal q, the one named
 * by the more specific range (`application/json, *\/*` picks JSON); otherwise the request's format.
 * So an absent or empty header, `*\/*` and `application/*` answer in the request's format. A header
 * that accepts neither (only unsupported types, or both at q=0) also gets the request's format
 * rather than a 406: a client that can read what it sent is better served than refused.
 */
export function responseFormat(accept: string | null | undefined, requestFormat: NativeFormat): NativeFormat {
  if (accept === null || accept === undefined || accept.trim() === '') return requestFormat;
  const ranges = parseAccept(accept);
  let mp: Preference = { q: 0, specificity: -1 };
  for (const t of MSGPACK_CONTENT_TYPES) {
    const p = preference(ranges, t);
    if (p.q > mp.q || (p.q === mp.q && p.specificity > mp.specificity)) mp = p;
  }
  const js = preference(ranges, JSON_CONTENT_TYPE);
  if (mp.q === 0 && js.q === 0) return requestFormat;
  if (mp.q !== js.q) return mp.q > js.q ? 'msgpack' : 'json';
  if (mp.specificity !== js.specificity) return mp.specificity > js.specificity ? 'msgpack' : 'json';
  return requestFormat;
}

// ---------------------------------------------------------------------------------------------
// Reading

type Plain = Record<string, unknown>;

interface ReadCtx {
  readonly format: NativeFormat;
  readonly limits: NativeLimits;
}

/**
 * Parses a request body. Errors (CleaveError): an empty body, a missing or mistyped field, an
 * unknown field, bad JSON (with its position) -> CLEAVE_E_BAD_ARGUMENT with `detail.field` naming
 * the path (`inputs.image.dims[1]`); malformed msgpack or a bad tensor extension -> CLEAVE_E_PROTOCOL;
 * an unknown dtype -> CLEAVE_E_DTYPE; data that does not fit the dims -> CLEAVE_E_SHAPE; a limit ->
 * CLEAVE_E_TOO_LARGE. Tensor data of a msgpack body are views of `body` where alignment allows,
 * so keep `body` unchanged while the request is in use.
 */
export function parseNativeRequest(body: Uint8Array, format: NativeFormat, limits?: Partial<NativeLimits>): NativeRequest {
  const ctx: ReadCtx = { format, limits: resolveNativeLimits(limits) };
  const o = decodeBody(body, ctx, 'request');
  const known: readonly string[] = REQUEST_FIELDS;
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw unknownField(k, '', known);
  }
  const rawInputs = own(o, 'inputs');
  if (rawInputs === undefined || rawInputs === null) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'inputs is missing: give a map of input name to tensor', { field: 'inputs' });
  }
  const inputs = readTensorMap(rawInputs, 'inputs', 'input', ctx);
  const outputs = readOutputNames(optional(o, 'outputs'), ctx);
  const cache = optional(o, 'cache');
  if (cache !== undefined && !(NATIVE_CACHE_MODES as readonly unknown[]).includes(cache)) throw bad('cache', `one of ${NATIVE_CACHE_MODES.join(', ')}`, cache);
  const deadlineMs = optional(o, 'deadlineMs');
  if (deadlineMs !== undefined && !(typeof deadlineMs === 'number' && Number.isFinite(deadlineMs) && deadlineMs > 0)) {
    throw bad('deadlineMs', 'a number of milliseconds > 0', deadlineMs);
  }
  const priority = optional(o, 'priority');
  if (priority !== undefined && !(typeof priority === 'number' && Number.isSafeInteger(priority) && priority >= 1)) {
    throw bad('priority', 'an integer >= 1', priority);
  }
  const rawId = optional(o, 'id');
  const id = rawId === undefined ? undefined : readString(rawId, 'id', ctx, false);
  const int8Outputs = optional(o, 'int8Outputs');
  if (int8Outputs !== undefined && typeof int8Outputs !== 'boolean') throw bad('int8Outputs', 'true or false', int8Outputs);
  return {
    inputs,
    ...(outputs === undefined ? {} : { outputs }),
    ...(cache === undefined ? {} : { cache: cache as NativeCacheMode }),
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
    ...(priority === undefined ? {} : { priority }),
    ...(id === undefined ? {} : { id }),
    ...(int8Outputs === undefined ? {} : { int8Outputs }),
  };
}

/**
 * Decodes a response body (either format) under the same limits and pre-scan as requests, for
 * clients and tests. Unknown fields are ignored (see the file comment); errors as parseNativeRequest.
 */
export function decodeNativeResponse(body: Uint8Array, format: NativeFormat, limits?: Partial<NativeLimits>): NativeResponse {
  const ctx: ReadCtx = { format, limits: resolveNativeLimits(limits) };
  const o = decodeBody(body, ctx, 'response');
  const model = readString(own(o, 'model'), 'model', ctx, true);
  const version = own(o, 'version');
  if (!(typeof version === 'number' && Number.isSafeInteger(version) && version >= 0)) throw bad('version', 'an integer >= 0', version);
  const servedBy = own(o, 'servedBy');
  if (!(NATIVE_SERVED_BY as readonly unknown[]).includes(servedBy)) throw bad('servedBy', `one of ${NATIVE_SERVED_BY.join(', ')}`, servedBy);
  const cache = own(o, 'cache');
  if (!(NATIVE_CACHE_STATUSES as readonly unknown[]).includes(cache)) throw bad('cache', `one of ${NATIVE_CACHE_STATUSES.join(', ')}`, cache);
  const rawDegraded = optional(o, 'degraded');
  let degraded: NativeDegraded | undefined;
  if (rawDegraded !== undefined) {
    if (!isMap(rawDegraded)) throw bad('degraded', 'a map with fallback and reason', rawDegraded);
    degraded = {
      fallback: readString(own(rawDegraded, 'fallback'), 'degraded.fallback', ctx, true),
      reason: readString(own(rawDegraded, 'reason'), 'degraded.reason', ctx, true),
    };
  }
  const timing = readTiming(own(o, 'timing'));
  const requestId = readString(own(o, 'requestId'), 'requestId', ctx, false);
  const rawId = optional(o, 'id');
  const id = rawId === undefined ? undefined : readString(rawId, 'id', ctx, false);
  const outputs = readTensorMap(own(o, 'outputs'), 'outputs', 'output', ctx);
  return {
    model,
    version,
    outputs,
    servedBy: servedBy as NativeServedBy,
    cache: cache as NativeCacheStatus,
    ...(degraded === undefined ? {} : { degraded }),
    timing,
    requestId,
    ...(id === undefined ? {} : { id }),
  };
}

/** Fills in DEFAULT_NATIVE_LIMITS; CLEAVE_E_BAD_ARGUMENT when a given limit is not a positive integer. */
export function resolveNativeLimits(partial: Partial<NativeLimits> = {}): NativeLimits {
  const merged: NativeLimits = { ...DEFAULT_NATIVE_LIMITS, ...partial };
  for (const [k, v] of Object.entries(merged)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `native limit ${k} must be a positive integer, got ${String(v)}`, { limit: k });
  }
  return merged;
}

/** The body as a map: size checks, then the msgpack pre-scan and decode, or UTF-8 and JSON.parse. */
function decodeBody(body: Uint8Array, ctx: ReadCtx, what: string): Plain {
  const n = body.byteLength;
  if (n === 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} body is empty; expected a ${ctx.format === 'json' ? 'JSON object' : 'msgpack map'}`, {});
  const max = ctx.limits.maxFrameBytes;
  if (n > max) throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what} body of ${n} bytes exceeds maxFrameBytes (${max})`, { limit: 'maxFrameBytes', value: n, max });
  const raw = ctx.format === 'json' ? parseJson(body, what) : decodeMsgpack(body, ctx.limits, what);
  if (!isMap(raw)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} body must be a ${ctx.format === 'json' ? 'JSON object' : 'msgpack map'}, got ${describe(raw)}`, {});
  }
  return raw;
}

const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true });
const UTF8_ENCODER = new TextEncoder();

function parseJson(body: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = UTF8_DECODER.decode(body);
  } catch (e) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} JSON is not valid UTF-8`, {}, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const where = findJsonSyntaxError(text) ?? { position: 0, reason: e instanceof Error ? e.message : String(e) };
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} is not valid JSON: ${where.reason} at position ${where.position}`, { position: where.position }, { cause: e });
  }
}

function decodeMsgpack(body: Uint8Array, limits: NativeLimits, what: string): unknown {
  try {
    scanFrame(body, limits);
  } catch (e) {
    // The scanner speaks of frames; here the frame is an HTTP body.
    if (e instanceof CleaveError) throw new CleaveError(e.code, `${what} body: ${e.message}`, e.detail, { cause: e });
    throw e;
  }
  try {
    return decoderFor(limits).decode(body);
  } catch (e) {
    if (e instanceof CleaveError) throw e;
    throw new CleaveError('CLEAVE_E_PROTOCOL', `${what} body is malformed msgpack: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
}

const CODEC = new TensorExtensionCodec();
/** Decoders by limits: the edge passes the same configured limits on every request. */
const decoders = new Map<string, Decoder>();

function decoderFor(limits: NativeLimits): Decoder {
  const key = `${limits.maxStringBytes}/${limits.maxArrayLength}/${limits.maxMapLength}/${limits.maxTensorBytes}/${limits.maxRank}`;
  let d = decoders.get(key);
  if (d === undefined) {
    if (decoders.size >= 16) decoders.clear();
    // scanFrame enforces the same limits with better messages; these are the library's backstop.
    // The library applies maxBinLength to ext data too, so it must admit the largest tensor ext.
    d = new Decoder({
      extensionCodec: CODEC,
      maxStrLength: limits.maxStringBytes,
      maxBinLength: maxTensorExtBytes(limits),
      maxArrayLength: limits.maxArrayLength,
      maxMapLength: limits.maxMapLength,
      maxExtLength: maxTensorExtBytes(limits),
      mapKeyConverter: stringKey,
    });
    decoders.set(key, d);
  }
  return d;
}

function stringKey(key: unknown): string {
  if (typeof key === 'string') return key;
  throw new CleaveError('CLEAVE_E_PROTOCOL', `map keys must be strings, got ${typeof key}`);
}

/** A name-keyed map of tensors into a null-prototype object; `role` is 'input' or 'output'. */
function readTensorMap(raw: unknown, path: string, role: string, ctx: ReadCtx): TensorMap {
  if (!isMap(raw)) throw bad(path, `a map of ${role} name to tensor`, raw);
  const names = Object.keys(raw);
  const max = ctx.limits.maxTensors;
  if (names.length > max) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${path} has ${names.length} tensors, exceeds maxTensors (${max})`, { field: path, limit: 'maxTensors', value: names.length, max });
  }
  const out = Object.create(null) as TensorMap;
  for (const name of names) {
    const p = fieldPath(path, name);
    // JSON.parse makes `__proto__` an ordinary own key; refuse it anyway so no consumer that copies
    // the map into a plain object can be surprised (the msgpack pre-scan refuses it as a key).
    if (name === '__proto__') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${p}: "__proto__" is not allowed as an ${role} name`, { field: p });
    if (name.length === 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path} has an ${role} with an empty name`, { field: path });
    checkStringBytes(name, p, ctx);
    const what = `${role} ${JSON.stringify(name)}`;
    const v = raw[name];
    out[name] = ctx.format === 'json' ? readJsonTensor(v, p, what, ctx.limits) : readWireTensor(v, p, what, ctx.limits);
  }
  return out;
}

function readWireTensor(v: unknown, path: string, what: string, limits: NativeLimits): HostTensor {
  if (!(v instanceof WireTensor)) {
    const hint = isMap(v) ? ' ({dtype, dims, data} maps are the application/json form)' : '';
    throw bad(path, `a tensor (msgpack extension type ${ExtType.TENSOR} TENSOR or ${ExtType.TENSOR_INT8} TENSOR_INT8)${hint}`, v);
  }
  try {
    return v.type === ExtType.TENSOR_INT8 ? decodeTensorInt8(v.data, limits) : decodeTensor(v.data, limits);
  } catch (e) {
    throw named(e, path, what);
  }
}

function readJsonTensor(v: unknown, path: string, what: string, limits: NativeLimits): HostTensor {
  if (!isMap(v)) throw bad(path, 'a tensor {dtype, dims, data}', v);
  const known: readonly string[] = JSON_TENSOR_FIELDS;
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw unknownField(k, path, known);
  }
  const rawDtype = own(v, 'dtype');
  if (typeof rawDtype !== 'string') throw bad(`${path}.dtype`, 'a dtype name such as "float32"', rawDtype);
  if (!isDType(rawDtype) || rawDtype === 'string') {
    throw new CleaveError('CLEAVE_E_DTYPE', `${path}.dtype must be one of ${JSON_DTYPES.join(', ')}, got ${describeJson(rawDtype)}`, { field: `${path}.dtype`, dtype: rawDtype });
  }
  const dtype: DType = rawDtype;
  const rawDims = own(v, 'dims');
  if (!Array.isArray(rawDims)) throw bad(`${path}.dims`, `an array of integers in 0..${MAX_DIM}`, rawDims);
  if (rawDims.length > limits.maxRank) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what}: ${path}.dims has rank ${rawDims.length}, exceeds maxRank (${limits.maxRank})`, {
      field: `${path}.dims`, limit: 'maxRank', value: rawDims.length, max: limits.maxRank,
    });
  }
  const dims: number[] = [];
  for (let i = 0; i < rawDims.length; i++) {
    const d: unknown = rawDims[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DIM) throw bad(`${path}.dims[${i}]`, `an integer in 0..${MAX_DIM}`, d);
    dims.push(d);
  }
  // Multiply only while under the limit, so [1e9,1e9] is refused by arithmetic, not by allocation.
  const size = dtypeSize(dtype);
  let bytes = dims.includes(0) ? 0 : size;
  for (const d of bytes === 0 ? [] : dims) {
    bytes *= d;
    if (bytes > limits.maxTensorBytes) {
      const total = dims.reduce((a, b) => a * b, size);
      throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what}: dims [${dims.join(',')}] of ${dtype} need ${total} bytes, exceeds maxTensorBytes (${limits.maxTensorBytes})`, {
        field: `${path}.dims`, limit: 'maxTensorBytes', value: total, max: limits.maxTensorBytes, dims: [...dims],
      });
    }
  }
  const data = own(v, 'data');
  if (data === undefined || data === null) throw bad(`${path}.data`, 'an array of elements (flat or nested)', data);
  try {
    return { dtype, dims, data: readJsonData(data, { dtype, datatype: dtype, dims, count: bytes / size, path: `${path}.data`, what }) };
  } catch (e) {
    throw named(e, path, what);
  }
}

function readOutputNames(raw: unknown, ctx: ReadCtx): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw bad('outputs', 'an array of output names', raw);
  const max = ctx.limits.maxTensors;
  if (raw.length > max) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `outputs lists ${raw.length} names, exceeds maxTensors (${max})`, { field: 'outputs', limit: 'maxTensors', value: raw.length, max });
  }
  // An empty list asks for nothing in particular: every output, as in KServe v2. Dropping it keeps
  // the cache key the same as for a request without the field.
  if (raw.length === 0) return undefined;
  const seen = new Set<string>();
  return raw.map((v: unknown, i) => {
    const p = `outputs[${i}]`;
    const name = readString(v, p, ctx, true);
    if (seen.has(name)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${p}: output ${JSON.stringify(name)} is listed twice`, { field: p });
    seen.add(name);
    return name;
  });
}

function readTiming(raw: unknown): NativeTiming {
  if (!isMap(raw)) throw bad('timing', 'a map of milliseconds (cacheMs, totalMs, ...)', raw);
  const out: Record<string, number> = {};
  for (const k of TIMING_FIELDS) {
    const required = k === 'cacheMs' || k === 'totalMs';
    const v = required ? own(raw, k) : optional(raw, k);
    if (v === undefined && !required) continue;
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw bad(`timing.${k}`, 'a number of milliseconds >= 0', v);
    out[k] = v;
  }
  return out as unknown as NativeTiming;
}

/** A string field within maxStringBytes; `nonEmpty` refuses ''. */
function readString(v: unknown, path: string, ctx: ReadCtx, nonEmpty: boolean): string {
  if (typeof v !== 'string' || (nonEmpty && v.length === 0)) throw bad(path, nonEmpty ? 'a non-empty string' : 'a string', v);
  checkStringBytes(v, path, ctx);
  return v;
}

/** maxStringBytes for JSON strings (the msgpack pre-scan has checked every msgpack string). */
function checkStringBytes(s: string, path: string, ctx: ReadCtx): void {
  const max = ctx.limits.maxStringBytes;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most strings need no count at all.
  if (ctx.format === 'msgpack' || s.length * 3 <= max) return;
  const n = utf8Length(s);
  if (n > max) throw new CleaveError('CLEAVE_E_TOO_LARGE', `${path} is ${n} bytes of UTF-8, exceeds maxStringBytes (${max})`, { field: path, limit: 'maxStringBytes', value: n, max });
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** An optional field: absent and null (what most serializers write for "unset") both read as undefined. */
function optional(o: Plain, key: string): unknown {
  const v = own(o, key);
  return v === null ? undefined : v;
}

function isMap(v: unknown): v is Plain {
  return isJsonObject(v) && !(v instanceof WireTensor) && !ArrayBuffer.isView(v);
}

/** `inputs.image` for identifier-like names, `inputs["input:0"]` otherwise. */
function fieldPath(parent: string, name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `${parent}.${name}` : `${parent}[${JSON.stringify(name)}]`;
}

/** A value for messages; tensors and bins get their own words, the rest as describeJson. */
function describe(v: unknown): string {
  if (v instanceof WireTensor) return `a tensor extension (type ${v.type})`;
  if (ArrayBuffer.isView(v)) return `bin of ${v.byteLength} bytes`;
  return describeJson(v);
}

/** CLEAVE_E_BAD_ARGUMENT: `<path> must be <expected>, got <value>`, with detail.field. */
function bad(path: string, expected: string, got: unknown): CleaveError {
  if (got instanceof WireTensor || ArrayBuffer.isView(got)) return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path} must be ${expected}, got ${describe(got)}`, { field: path });
  return badField(path, expected, got);
}

function unknownField(key: string, parent: string, known: readonly string[]): CleaveError {
  const path = parent === '' ? key : fieldPath(parent, key);
  const near = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  const hint = near === undefined ? '' : ` (did you mean ${near}?)`;
  const name = parent === '' ? JSON.stringify(key) : path;
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `unknown field ${name}${hint}; known fields: ${known.join(', ')}`, { field: path, known: [...known] });
}

/** Levenshtein distance, for typo hints; field names are short and the body's keys are bounded. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || b.length > 64) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** A tensor codec error, prefixed with the tensor and given its field path. */
function named(e: unknown, path: string, what: string): unknown {
  if (!(e instanceof CleaveError)) return e;
  const detail: ErrorDetail = { ...e.detail, field: typeof e.detail.field === 'string' ? e.detail.field : path };
  const message = e.message.startsWith(what) || e.message.startsWith(path) ? e.message : `${what} (${path}): ${e.message}`;
  return new CleaveError(e.code, message, detail, { cause: e });
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Tensor payload at which a msgpack body gets its own exactly sized buffer, bytes (as frame-codec.ts). */
const LARGE_BODY_BYTES = 64 * 1024;
/** Room for the fields and tensor headers of a large body, bytes; more just grows the buffer. */
const LARGE_BODY_SLACK = 16 * 1024;

const sharedEncoder = new Encoder({ extensionCodec: CODEC });

/**
 * Encodes a response. msgpack: tensors as TENSOR extensions with payloads 8-byte aligned from
 * the body's first byte, and with `opts.int8Outputs` float32 outputs as TENSOR_INT8 (error at most
 * scale/2; a float32 output holding NaN or ±Infinity still goes as TENSOR, losslessly). JSON:
 * tensors as `{ dtype, dims, data }` with flat row-major data written by writeJsonData: int64 and
 * uint64 as numbers while safe (|v| <= 2^53 - 1) and decimal strings beyond, bool as true/false,
 * float16/bfloat16 as numbers, non-finite floats as "NaN"/"Infinity"/"-Infinity"; -0 becomes 0.
 * JSON has no int8 form, so int8Outputs does not apply to it. The body is a fresh array at offset
 * 0 of its buffer. Errors: a string tensor, or data of another element size -> CLEAVE_E_DTYPE;
 * data that does not fit its dims -> CLEAVE_E_SHAPE; a `__proto__` or empty name -> CLEAVE_E_BAD_ARGUMENT.
 */
export function encodeNativeResponse(res: NativeResponse, format: NativeFormat, opts: { readonly int8Outputs?: boolean } = {}): NativeBody {
  const int8 = opts.int8Outputs === true;
  const t = res.timing;
  const timing: Plain = {};
  for (const k of TIMING_FIELDS) {
    const v = t[k];
    if (v !== undefined) timing[k] = v;
  }
  // Small fields first, tensors last: a reader (or a person with a hex dump) sees what it is before the bulk.
  const plain: Plain = {
    model: res.model,
    version: res.version,
    servedBy: res.servedBy,
    cache: res.cache,
    ...(res.degraded === undefined ? {} : { degraded: { fallback: res.degraded.fallback, reason: res.degraded.reason } }),
    timing,
    requestId: res.requestId,
    ...(res.id === undefined ? {} : { id: res.id }),
    outputs: writeTensorMap(res.outputs, 'outputs', 'output', format, int8),
  };
  return encodeBody(plain, format, payloadBytes(res.outputs, int8 && format === 'msgpack'));
}

/**
 * Encodes a request, for clients, tests and benches. `opts.int8Inputs` sends float32 inputs as
 * TENSOR_INT8 (msgpack only). Fields are written as given (parseNativeRequest checks them);
 * tensor errors as encodeNativeResponse.
 */
export function encodeNativeRequest(req: NativeRequest, format: NativeFormat, opts: { readonly int8Inputs?: boolean } = {}): NativeBody {
  const int8 = opts.int8Inputs === true;
  const plain: Plain = {
    inputs: writeTensorMap(req.inputs, 'inputs', 'input', format, int8),
    ...(req.outputs === undefined ? {} : { outputs: [...req.outputs] }),
    ...(req.cache === undefined ? {} : { cache: req.cache }),
    ...(req.deadlineMs === undefined ? {} : { deadlineMs: req.deadlineMs }),
    ...(req.priority === undefined ? {} : { priority: req.priority }),
    ...(req.id === undefined ? {} : { id: req.id }),
    ...(req.int8Outputs === undefined ? {} : { int8Outputs: req.int8Outputs }),
  };
  return encodeBody(plain, format, payloadBytes(req.inputs, int8 && format === 'msgpack'));
}

function writeTensorMap(map: TensorMap, path: string, role: string, format: NativeFormat, int8: boolean): Plain {
  const out = Object.create(null) as Plain;
  for (const name of Object.keys(map)) {
    const p = fieldPath(path, name);
    if (name === '__proto__' || name.length === 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${p}: ${JSON.stringify(name)} cannot be sent as an ${role} name (no decoder accepts it)`, { field: p });
    }
    const t = map[name]!;
    checkOutgoing(t, p, `${role} ${JSON.stringify(name)}`);
    out[name] = format === 'msgpack' ? new OutgoingTensor(t, int8 && t.dtype === 'float32') : { dtype: t.dtype, dims: [...t.dims], data: writeJsonData(t.dtype, t.data) };
  }
  return out;
}

/** Named checks before encoding: the codec's own errors would not say which tensor was wrong. */
function checkOutgoing(t: HostTensor, path: string, what: string): void {
  const fail = (code: ErrorCode, message: string): never => {
    throw new CleaveError(code, `${what}: ${message}`, { field: path, dims: t.dims.map((d) => (Number.isFinite(d) ? d : -1)) });
  };
  if (t.dtype === 'string' || !isDType(t.dtype)) fail('CLEAVE_E_DTYPE', `dtype ${t.dtype} cannot be sent; expected one of ${JSON_DTYPES.join(', ')}`);
  const size = dtypeSize(t.dtype);
  if (t.data.BYTES_PER_ELEMENT !== size) fail('CLEAVE_E_DTYPE', `a ${t.dtype} tensor needs ${size}-byte elements, its data is a ${t.data.constructor.name}`);
  let count = 1;
  for (const d of t.dims) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_DIM) fail('CLEAVE_E_SHAPE', `dims [${t.dims.join(',')}] must be integers in 0..${MAX_DIM}`);
    count *= d;
  }
  if (t.data.length !== count) fail('CLEAVE_E_SHAPE', `dims [${t.dims.join(',')}] need ${count} elements, its data has ${t.data.length}`);
}

function payloadBytes(map: TensorMap, int8: boolean): number {
  let n = 0;
  for (const t of Object.values(map)) n += int8 && t.dtype === 'float32' ? t.data.byteLength / 4 : t.data.byteLength;
  return n;
}

function encodeBody(plain: Plain, format: NativeFormat, payload: number): NativeBody {
  if (format === 'json') return { body: UTF8_ENCODER.encode(JSON.stringify(plain)), contentType: JSON_CONTENT_TYPE };
  try {
    if (payload < LARGE_BODY_BYTES) return { body: sharedEncoder.encode(plain), contentType: MSGPACK_CONTENT_TYPE };
    // Large bodies: a one-off Encoder sized for the body, whose buffer can be handed out as is
    // (the shared encoder reuses its buffer, so it would need a final copy of every payload).
    const once = new Encoder({ extensionCodec: CODEC, initialBufferSize: payload + LARGE_BODY_SLACK });
    return { body: once.encodeSharedRef(plain), contentType: MSGPACK_CONTENT_TYPE };
  } catch (e) {
    if (e instanceof CleaveError) throw e;
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cannot encode body as msgpack: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
}
