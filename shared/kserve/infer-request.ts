/**
 * Reads a v2 inference request body: `{ id?, parameters?, inputs: [...], outputs?: [...] }`,
 * all JSON or with a binary tail (the binary tensor data extension). The result is Cleave's
 * TensorMap plus what the client asked of the response (which outputs, which of them binary).
 */
import { CleaveError } from '../errors.js';
import type { TensorMap } from '../protocol/frames.js';
import { splitBody } from './framing.js';
import { badField, isJsonObject, nullProtoCopy, optionalBoolean, optionalObject, optionalString, own, requiredName, type JsonObject } from './json-fields.js';
import { resolveKServeLimits, type KServeLimits } from './limits.js';
import { readWireTensor } from './wire-tensor.js';

/** A parsed inference request. */
export interface ParsedInferRequest {
  /** The client's request id, echoed in the response. */
  readonly id?: string;
  /** Input tensors by name, in a null-prototype object (a `__proto__` input is an ordinary key). */
  readonly inputs: TensorMap;
  /** Output names the client listed, in its order; absent when it asked for every output (no list, or []). */
  readonly outputs?: string[];
  /**
   * Which outputs go back as binary: true for all, false for none, or the names. From the
   * request parameter `binary_data_output` (the default for every output) overridden by each
   * listed output's `parameters.binary_data`.
   */
  readonly binaryOutputs: boolean | Set<string>;
  /** Request-level `parameters`, as sent (null-prototype copy); {} when absent. */
  readonly parameters: Record<string, unknown>;
}

/** Options for parseInferRequest. */
export interface ParseInferRequestOptions {
  /** The Inference-Header-Content-Length value (see parseHeaderLength); absent for an all-JSON body. */
  readonly headerLength?: number;
  /** Limits; unset fields take DEFAULT_KSERVE_LIMITS. */
  readonly limits?: Partial<KServeLimits>;
}

function checkCount(arr: readonly unknown[], field: string, limit: number): void {
  if (arr.length > limit) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${field} has ${arr.length} entries, the limit is ${limit}`, { field, count: arr.length, limit });
  }
}

function readRequestedOutputs(raw: unknown, limits: KServeLimits, binaryDefault: boolean): { names: string[]; binary: Set<string> } {
  if (!Array.isArray(raw)) throw badField('outputs', 'an array', raw);
  checkCount(raw, 'outputs', limits.maxInputs);
  const names: string[] = [];
  const seen = new Set<string>();
  const binary = new Set<string>();
  raw.forEach((o: unknown, i) => {
    const path = `outputs[${i}]`;
    if (!isJsonObject(o)) throw badField(path, 'an object', o);
    const name = requiredName(o, 'name', `${path}.`);
    if (seen.has(name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path}.name: output ${JSON.stringify(name)} is requested twice`, { field: `${path}.name` });
    }
    seen.add(name);
    names.push(name);
    const params = optionalObject(o, 'parameters', `${path}.`);
    const asBinary = (params && optionalBoolean(params, 'binary_data', `${path}.parameters.`)) ?? binaryDefault;
    if (asBinary) binary.add(name);
  });
  return { names, binary };
}

/**
 * Parses a request body. Errors (all CleaveError): bad JSON (with its position), missing or
 * mistyped fields (named by path) and duplicate input or output names -> CLEAVE_E_BAD_ARGUMENT;
 * an unsupported datatype -> CLEAVE_E_DTYPE; element or byte counts that disagree with a shape ->
 * CLEAVE_E_SHAPE; limits -> CLEAVE_E_TOO_LARGE; a header length past the body, or a binary tail
 * too short or with bytes left over -> CLEAVE_E_PROTOCOL. Unknown top-level fields are ignored.
 */
export function parseInferRequest(body: Uint8Array, opts: ParseInferRequestOptions = {}): ParsedInferRequest {
  const limits = resolveKServeLimits(opts.limits);
  const { json, tail } = splitBody(body, opts.headerLength, limits, 'request');
  const id = optionalString(json, 'id', '');
  const params: JsonObject = optionalObject(json, 'parameters', '') ?? {};
  const binaryDefault = optionalBoolean(params, 'binary_data_output', 'parameters.') ?? false;

  const rawInputs = own(json, 'inputs');
  if (!Array.isArray(rawInputs)) throw badField('inputs', 'an array', rawInputs);
  checkCount(rawInputs, 'inputs', limits.maxInputs);
  const inputs = Object.create(null) as TensorMap;
  rawInputs.forEach((raw: unknown, i) => {
    const path = `inputs[${i}]`;
    const { name, tensor } = readWireTensor(raw, { role: 'input', path, limits, tail });
    if (Object.hasOwn(inputs, name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path}.name: input ${JSON.stringify(name)} appears twice`, { field: `${path}.name` });
    }
    inputs[name] = tensor;
  });
  tail?.finish('input');

  const rawOutputs = own(json, 'outputs');
  let outputs: string[] | undefined;
  let binaryOutputs: boolean | Set<string> = binaryDefault;
  // An empty list asks for nothing in particular, which v2 servers read as "every output".
  if (rawOutputs !== undefined && !(Array.isArray(rawOutputs) && rawOutputs.length === 0)) {
    const r = readRequestedOutputs(rawOutputs, limits, binaryDefault);
    outputs = r.names;
    binaryOutputs = r.binary.size === 0 ? false : r.binary;
  }
  return {
    ...(id === undefined ? {} : { id }),
    inputs,
    ...(outputs === undefined ? {} : { outputs }),
    binaryOutputs,
    parameters: nullProtoCopy(params),
  };
}
