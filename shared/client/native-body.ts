/**
 * The client's side of the edge's native endpoint, `POST /v1/models/:name/infer` (docs/edge.md):
 * requests written in msgpack or JSON, responses read back into typed tensors. The edge's own
 * reader and writer (edge/native-codec.ts) stay in edge/, which shared/ must not import; this
 * file builds the same bodies from the same shared pieces (the protocol's tensor extension, the
 * KServe element rules), and test/client/native-body.test.ts checks both directions against the
 * edge's codec so the two cannot drift apart.
 *
 * Responses are read leniently, as the edge promises: unknown fields are dropped, so this client
 * keeps working when a newer edge adds one. Limits: the protocol's DEFAULT_LIMITS (64 MiB body
 * and tensor, 64 tensors, rank 8), checked by the msgpack pre-scan before anything is allocated.
 */
import type { EdgeTiming } from '../server-timing.js';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { CleaveError } from '../errors.js';
import { describeJson, isJsonObject, own } from '../kserve/json-fields.js';
import { readJsonData, writeJsonData } from '../kserve/tensor-values.js';
import { dtypeSize, isDType } from '../onnx/dtype.js';
import { DEFAULT_LIMITS, ExtType, type ProtocolLimits } from '../protocol/constants.js';
import { OutgoingTensor, TensorExtensionCodec, WireTensor } from '../protocol/extension-codec.js';
import { scanFrame } from '../protocol/msgpack-scan.js';
import { decodeTensor, decodeTensorInt8, maxTensorExtBytes } from '../protocol/tensor-codec.js';
import type { HostTensor } from '../tensor.js';
import type { TypedTensor } from './typed-tensor.js';

/** The two encodings of a native body. */
export type WireFormat = 'msgpack' | 'json';

/** Content type of msgpack bodies. */
export const MSGPACK_TYPE = 'application/msgpack';
/** Content type of JSON bodies. */
export const JSON_TYPE = 'application/json';

/** Cache modes a request may ask for: `bypass` neither reads nor writes the edge's result cache, `refresh` recomputes and stores. */
export type CacheMode = 'default' | 'bypass' | 'refresh';

/** Fields of a native request besides the inputs (the deadline travels as a header, see cleave-client.ts). */
export interface NativeRequestFields {
  readonly outputs?: readonly string[];
  readonly cache?: CacheMode;
  readonly priority?: number;
  readonly id?: string;
  /** Ask for float32 outputs as TENSOR_INT8 (msgpack only; error at most scale/2). */
  readonly int8Outputs?: boolean;
}

export type { EdgeTiming };

/** A native response as read. */
export interface NativeAnswer {
  readonly model: string;
  readonly version: number;
  readonly outputs: Record<string, TypedTensor>;
  /** 'edge' or 'cloud' (any string a newer edge sends). */
  readonly servedBy: string;
  /** 'hit', 'miss', 'coalesced', 'bypass' or 'refresh'. */
  readonly cache: string;
  readonly degraded?: { readonly fallback: string; readonly reason: string };
  readonly timing: EdgeTiming;
  readonly requestId: string;
  readonly id?: string;
}

const CODEC = new TensorExtensionCodec();
const LIMITS: ProtocolLimits = DEFAULT_LIMITS;
const UTF8 = new TextEncoder();
const TIMING_FIELDS = ['cacheMs', 'edgeMs', 'linkMs', 'cloudQueueMs', 'cloudComputeMs', 'totalMs'] as const;

/** Encodes a request body; tensors are checked by the caller (toTypedTensor). */
export function encodeNativeBody(inputs: Readonly<Record<string, HostTensor>>, fields: NativeRequestFields, format: WireFormat): Uint8Array {
  const tensors = Object.create(null) as Record<string, unknown>;
  for (const [name, t] of Object.entries(inputs)) {
    tensors[name] = format === 'msgpack' ? new OutgoingTensor(t, false) : { dtype: t.dtype, dims: [...t.dims], data: writeJsonData(t.dtype, t.data) };
  }
  const plain: Record<string, unknown> = {
    inputs: tensors,
    ...(fields.outputs !== undefined && fields.outputs.length > 0 ? { outputs: [...fields.outputs] } : {}),
    ...(fields.cache !== undefined && fields.cache !== 'default' ? { cache: fields.cache } : {}),
    ...(fields.priority !== undefined ? { priority: fields.priority } : {}),
    ...(fields.id !== undefined ? { id: fields.id } : {}),
    ...(fields.int8Outputs === true && format === 'msgpack' ? { int8Outputs: true } : {}),
  };
  if (format === 'json') return UTF8.encode(JSON.stringify(plain));
  // One Encoder per body: its result is then a fresh buffer with payloads aligned from byte 0.
  return new Encoder({ extensionCodec: CODEC }).encode(plain);
}

/** The body as a plain object: the msgpack pre-scan and decode, or UTF-8 and JSON.parse. */
export function decodeBodyObject(body: Uint8Array, format: WireFormat, what: string): Record<string, unknown> {
  if (body.byteLength > LIMITS.maxFrameBytes) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what} of ${body.byteLength} bytes exceeds maxFrameBytes (${LIMITS.maxFrameBytes})`, { limit: 'maxFrameBytes', value: body.byteLength });
  }
  let raw: unknown;
  if (format === 'json') {
    try {
      raw = JSON.parse(new TextDecoder().decode(body));
    } catch (e) {
      throw new CleaveError('CLEAVE_E_PROTOCOL', `${what} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    }
  } else {
    try {
      scanFrame(body, LIMITS);
      raw = msgpackDecoder().decode(body);
    } catch (e) {
      if (e instanceof CleaveError) throw new CleaveError(e.code, `${what}: ${e.message}`, e.detail, { cause: e });
      throw new CleaveError('CLEAVE_E_PROTOCOL', `${what} is malformed msgpack: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    }
  }
  if (!isJsonObject(raw) || raw instanceof WireTensor) throw new CleaveError('CLEAVE_E_PROTOCOL', `${what} must be a map, got ${describeJson(raw)}`);
  return raw as Record<string, unknown>;
}

let decoder: Decoder | undefined;
function msgpackDecoder(): Decoder {
  decoder ??= new Decoder({
    extensionCodec: CODEC,
    maxStrLength: LIMITS.maxStringBytes,
    maxBinLength: maxTensorExtBytes(LIMITS),
    maxExtLength: maxTensorExtBytes(LIMITS),
    maxArrayLength: LIMITS.maxArrayLength,
    maxMapLength: LIMITS.maxMapLength,
  });
  return decoder;
}

/** Reads a native response body. Errors: CLEAVE_E_PROTOCOL naming the field that is missing or mistyped. */
export function decodeNativeAnswer(body: Uint8Array, format: WireFormat): NativeAnswer {
  const o = decodeBodyObject(body, format, 'response body');
  const model = str(o, 'model');
  const version = num(o, 'version');
  const servedBy = str(o, 'servedBy');
  const cache = str(o, 'cache');
  const requestId = str(o, 'requestId');
  const id = own(o, 'id');
  const rawTiming = own(o, 'timing');
  if (!isJsonObject(rawTiming)) throw malformed('timing', 'a map of milliseconds', rawTiming);
  const timing: Record<string, number> = {};
  for (const k of TIMING_FIELDS) {
    const v = own(rawTiming, k);
    if (typeof v === 'number') timing[k] = v;
  }
  if (timing.cacheMs === undefined || timing.totalMs === undefined) throw malformed('timing', 'cacheMs and totalMs', rawTiming);
  const d = own(o, 'degraded');
  const degraded = isJsonObject(d) && typeof own(d, 'fallback') === 'string' && typeof own(d, 'reason') === 'string'
    ? { fallback: own(d, 'fallback') as string, reason: own(d, 'reason') as string } : undefined;
  return {
    model, version, servedBy, cache, requestId,
    timing: timing as unknown as EdgeTiming,
    outputs: readTensors(own(o, 'outputs'), format),
    ...(degraded ? { degraded } : {}),
    ...(typeof id === 'string' ? { id } : {}),
  };
}

/** A map of output name to tensor, msgpack extensions or JSON `{dtype, dims, data}` (dtype 'string' not allowed here). */
export function readTensors(raw: unknown, format: WireFormat, path = 'outputs'): Record<string, TypedTensor> {
  if (!isJsonObject(raw) || raw instanceof WireTensor) throw malformed(path, 'a map of name to tensor', raw);
  const out = Object.create(null) as Record<string, TypedTensor>;
  for (const [name, v] of Object.entries(raw)) {
    const p = `${path}.${name}`;
    out[name] = (format === 'msgpack' ? readWireTensor(v, p) : readJsonTensor(v, p)) as TypedTensor;
  }
  return out;
}

function readWireTensor(v: unknown, path: string): HostTensor {
  if (!(v instanceof WireTensor)) throw malformed(path, `a tensor extension (type ${ExtType.TENSOR} or ${ExtType.TENSOR_INT8})`, v);
  try {
    return v.type === ExtType.TENSOR_INT8 ? decodeTensorInt8(v.data, LIMITS) : decodeTensor(v.data, LIMITS);
  } catch (e) {
    if (e instanceof CleaveError) throw new CleaveError(e.code, `${path}: ${e.message}`, e.detail, { cause: e });
    throw e;
  }
}

/** A JSON tensor `{ dtype, dims, data }` read with the KServe element rules (int64 as numbers or strings, "NaN"...). */
export function readJsonTensor(v: unknown, path: string): HostTensor {
  if (!isJsonObject(v)) throw malformed(path, 'a tensor {dtype, dims, data}', v);
  const dtype = own(v, 'dtype');
  if (typeof dtype !== 'string' || !isDType(dtype) || dtype === 'string') {
    throw new CleaveError('CLEAVE_E_DTYPE', `${path}.dtype ${describeJson(dtype)} is not a numeric dtype`, { field: `${path}.dtype` });
  }
  const dims = own(v, 'dims');
  if (!Array.isArray(dims) || dims.length > LIMITS.maxRank || !dims.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw malformed(`${path}.dims`, `an array of at most ${LIMITS.maxRank} integers >= 0`, dims);
  }
  const count = (dims as number[]).reduce((a, b) => a * b, 1);
  if (count * dtypeSize(dtype) > LIMITS.maxTensorBytes) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${path}: dims [${dims.join(',')}] exceed maxTensorBytes (${LIMITS.maxTensorBytes})`, { field: `${path}.dims` });
  }
  const data = readJsonData(own(v, 'data'), { dtype, datatype: dtype, dims: dims as number[], count, path: `${path}.data`, what: path });
  return { dtype, dims: dims as number[], data };
}

function str(o: Record<string, unknown>, key: string): string {
  const v = own(o, key);
  if (typeof v !== 'string') throw malformed(key, 'a string', v);
  return v;
}

function num(o: Record<string, unknown>, key: string): number {
  const v = own(o, key);
  if (typeof v !== 'number') throw malformed(key, 'a number', v);
  return v;
}

function malformed(path: string, expected: string, got: unknown): CleaveError {
  return new CleaveError('CLEAVE_E_PROTOCOL', `response field ${path} must be ${expected}, got ${got instanceof WireTensor ? 'a tensor' : describeJson(got)}`, { field: path });
}
