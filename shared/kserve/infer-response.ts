/**
 * Writes and reads v2 inference response bodies: `{ model_name, model_version?, id?, parameters?,
 * outputs: [{ name, datatype, shape, data | parameters.binary_data_size }] }`, followed by a
 * binary tail when any output goes back binary. Servers call buildInferResponse; clients and
 * tests read answers with parseInferResponse.
 */
import { CleaveError } from '../errors.js';
import type { TensorMap } from '../protocol/frames.js';
import { checkTensorBytes, tensorPayload } from './binary-tail.js';
import { kserveFromDType, type KServeDatatype } from './datatype.js';
import { BINARY_CONTENT_TYPE, JSON_CONTENT_TYPE, splitBody } from './framing.js';
import { badField, nullProtoCopy, optionalObject, optionalString, own, requiredName } from './json-fields.js';
import { resolveKServeLimits, type KServeLimits } from './limits.js';
import { writeJsonData, type JsonElement } from './tensor-values.js';
import { readWireTensor } from './wire-tensor.js';

/** What a server answers with. */
export interface InferResponseArgs {
  readonly modelName: string;
  readonly modelVersion?: string;
  /** The request's id, echoed. */
  readonly id?: string;
  /** Output tensors in the order they are to be written. */
  readonly outputs: TensorMap;
  /** Which outputs go binary: true for all, false for none, or the names (ParsedInferRequest.binaryOutputs). */
  readonly binary: boolean | Set<string>;
  /** Response-level `parameters`, written as given. */
  readonly parameters?: Record<string, unknown>;
}

/** A response body ready to send. */
export interface InferResponseBody {
  readonly body: Uint8Array;
  /** application/octet-stream with a binary tail, application/json otherwise. */
  readonly contentType: string;
  /** Bytes of JSON before the tail, for the Inference-Header-Content-Length header; set only when some output is binary. */
  readonly headerLength?: number;
}

interface ResponseOutputJson {
  name: string;
  datatype: KServeDatatype;
  shape: number[];
  parameters?: { binary_data_size: number };
  data?: JsonElement[];
}

const UTF8 = new TextEncoder();

/**
 * Builds a response body. JSON data is flat and row-major, as KServe specifies; INT64/UINT64
 * values are numbers while safe (|v| <= 2^53 - 1) and decimal strings beyond; FP16/BF16 are
 * decoded to numbers; non-finite floats are the strings "NaN", "Infinity", "-Infinity"; -0 and NaN
 * payloads are lost in JSON (JSON.stringify writes 0), so clients wanting exact bits ask for binary.
 * Errors: a 'string' tensor -> CLEAVE_E_DTYPE; data that does not fit its dims -> CLEAVE_E_SHAPE.
 */
export function buildInferResponse(args: InferResponseArgs): InferResponseBody {
  const outputs: ResponseOutputJson[] = [];
  const tail: Uint8Array[] = [];
  let tailBytes = 0;
  for (const name of Object.keys(args.outputs)) {
    const t = args.outputs[name]!;
    const what = `output ${JSON.stringify(name)}`;
    const datatype = kserveFromDType(t.dtype, what);
    const asBinary = args.binary === true || (args.binary instanceof Set && args.binary.has(name));
    if (asBinary) {
      const payload = tensorPayload(t, what);
      tail.push(payload);
      tailBytes += payload.length;
      outputs.push({ name, datatype, shape: [...t.dims], parameters: { binary_data_size: payload.length } });
    } else {
      // A data/dims mismatch would otherwise be written as a wrong element count, silently.
      checkTensorBytes(t, what);
      outputs.push({ name, datatype, shape: [...t.dims], data: writeJsonData(t.dtype, t.data) });
    }
  }
  const json = {
    model_name: args.modelName,
    ...(args.modelVersion === undefined ? {} : { model_version: args.modelVersion }),
    ...(args.id === undefined ? {} : { id: args.id }),
    ...(args.parameters === undefined ? {} : { parameters: args.parameters }),
    outputs,
  };
  const header = UTF8.encode(JSON.stringify(json));
  if (tail.length === 0) return { body: header, contentType: JSON_CONTENT_TYPE };
  const body = new Uint8Array(header.length + tailBytes);
  body.set(header, 0);
  let at = header.length;
  for (const p of tail) {
    body.set(p, at);
    at += p.length;
  }
  return { body, contentType: BINARY_CONTENT_TYPE, headerLength: header.length };
}

/** A response as a client reads it. */
export interface ParsedInferResponse {
  readonly modelName: string;
  readonly modelVersion?: string;
  readonly id?: string;
  /** Output tensors by name, in a null-prototype object. */
  readonly outputs: TensorMap;
  /** Response-level `parameters`, when present (null-prototype copy). */
  readonly parameters?: Record<string, unknown>;
}

/**
 * Reads a response body; `headerLength` is its Inference-Header-Content-Length, absent for all
 * JSON. Enforces the same limits and raises the same error codes as parseInferRequest.
 */
export function parseInferResponse(body: Uint8Array, headerLength?: number, limits?: Partial<KServeLimits>): ParsedInferResponse {
  const lim = resolveKServeLimits(limits);
  const { json, tail } = splitBody(body, headerLength, lim, 'response');
  const modelName = requiredName(json, 'model_name', '');
  const modelVersion = optionalString(json, 'model_version', '');
  const id = optionalString(json, 'id', '');
  const params = optionalObject(json, 'parameters', '');
  const raw = own(json, 'outputs');
  if (!Array.isArray(raw)) throw badField('outputs', 'an array', raw);
  if (raw.length > lim.maxInputs) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `outputs has ${raw.length} entries, the limit is ${lim.maxInputs}`, { field: 'outputs', count: raw.length, limit: lim.maxInputs });
  }
  const outputs = Object.create(null) as TensorMap;
  raw.forEach((o: unknown, i) => {
    const path = `outputs[${i}]`;
    const { name, tensor } = readWireTensor(o, { role: 'output', path, limits: lim, tail });
    if (Object.hasOwn(outputs, name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path}.name: output ${JSON.stringify(name)} appears twice`, { field: `${path}.name` });
    }
    outputs[name] = tensor;
  });
  tail?.finish('output');
  return {
    modelName,
    ...(modelVersion === undefined ? {} : { modelVersion }),
    ...(id === undefined ? {} : { id }),
    outputs,
    ...(params === undefined ? {} : { parameters: nullProtoCopy(params) }),
  };
}
