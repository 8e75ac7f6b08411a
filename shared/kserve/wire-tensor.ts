/**
 * One tensor object of a v2 body, `{ name, shape, datatype, parameters?, data? }`, as it appears
 * in request `inputs` and response `outputs`. Its data is inline JSON, or with the binary
 * extension `parameters.binary_data_size` bytes taken from the tail at the running offset.
 * Shape and element limits are checked before anything is allocated.
 */
import { CleaveError } from '../errors.js';
import { dtypeSize, typedArrayFor } from '../onnx/dtype.js';
import type { HostTensor } from '../tensor.js';
import type { BinaryTail } from './binary-tail.js';
import { dtypeFromKServe } from './datatype.js';
import { HEADER_LENGTH_HEADER } from './framing.js';
import { badField, describeJson, isJsonObject, optionalObject, own, requiredName } from './json-fields.js';
import type { KServeLimits } from './limits.js';
import { readJsonData } from './tensor-values.js';

/** Context for reading one tensor object. */
export interface WireTensorContext {
  /** 'input' or 'output', for messages. */
  readonly role: string;
  /** Field path of the object, e.g. `inputs[1]`. */
  readonly path: string;
  readonly limits: KServeLimits;
  /** The binary tail, or undefined when the body had no header length (all JSON). */
  readonly tail: BinaryTail | undefined;
}

/** A named tensor read from a body. */
export interface WireTensor {
  readonly name: string;
  readonly tensor: HostTensor;
}

/** Checks a shape and returns its element count; CLEAVE_E_TOO_LARGE past the rank or element limit. */
function readShape(raw: unknown, path: string, what: string, limits: KServeLimits): { dims: number[]; count: number } {
  if (!Array.isArray(raw)) throw badField(`${path}.shape`, 'an array of non-negative integers', raw);
  if (raw.length > limits.maxRank) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what}: shape has rank ${raw.length}, the limit is ${limits.maxRank}`, { rank: raw.length, limit: limits.maxRank });
  }
  const dims: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const d: unknown = raw[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw badField(`${path}.shape[${i}]`, 'a non-negative integer', d);
    dims.push(d);
  }
  // Multiply only while under the limit, so [1e9,1e9] is refused by arithmetic, not by allocation.
  let count = dims.includes(0) ? 0 : 1;
  for (const d of count === 0 ? [] : dims) {
    count *= d;
    if (count > limits.maxElements) {
      throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what}: shape [${dims.join(',')}] has more than ${limits.maxElements} elements, the limit`, {
        dims,
        limit: limits.maxElements,
      });
    }
  }
  return { dims, count };
}

/**
 * Reads one tensor object. Errors name the field path (`inputs[1].shape[2]`) or the tensor
 * (`input "image"`): bad fields -> CLEAVE_E_BAD_ARGUMENT, unsupported datatype -> CLEAVE_E_DTYPE,
 * element or byte counts that disagree with the shape -> CLEAVE_E_SHAPE, limits ->
 * CLEAVE_E_TOO_LARGE, a tail too short -> CLEAVE_E_PROTOCOL.
 */
export function readWireTensor(raw: unknown, ctx: WireTensorContext): WireTensor {
  const { path, limits } = ctx;
  if (!isJsonObject(raw)) throw badField(path, 'an object', raw);
  const name = requiredName(raw, 'name', `${path}.`);
  const what = `${ctx.role} ${JSON.stringify(name)}`;
  const datatype = own(raw, 'datatype');
  if (typeof datatype !== 'string') throw badField(`${path}.datatype`, 'a string such as "FP32"', datatype);
  const dtype = dtypeFromKServe(datatype, what);
  const { dims, count } = readShape(own(raw, 'shape'), path, what, limits);
  const params = optionalObject(raw, 'parameters', `${path}.`);
  const binarySize = params === undefined ? undefined : own(params, 'binary_data_size');
  const data = own(raw, 'data');

  if (binarySize === undefined) {
    if (data === undefined) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path}.data is missing: give data or parameters.binary_data_size`, { field: `${path}.data` });
    }
    const values = readJsonData(data, { dtype, datatype, dims, count, path: `${path}.data`, what });
    return { name, tensor: { dtype, dims, data: values } };
  }

  const sizePath = `${path}.parameters.binary_data_size`;
  if (typeof binarySize !== 'number' || !Number.isSafeInteger(binarySize) || binarySize < 0) throw badField(sizePath, 'a non-negative integer', binarySize);
  if (data !== undefined) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path} has both data and parameters.binary_data_size; give one`, { field: `${path}.data` });
  }
  if (ctx.tail === undefined) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${sizePath} is set but the body came without ${HEADER_LENGTH_HEADER}`, { field: sizePath });
  }
  const needed = count * dtypeSize(dtype);
  if (binarySize !== needed) {
    throw new CleaveError('CLEAVE_E_SHAPE', `${what}: shape [${dims.join(',')}] of ${datatype} needs ${needed} bytes, binary_data_size is ${describeJson(binarySize)}`, {
      dims,
      bytes: binarySize,
      needed,
    });
  }
  const bytes = ctx.tail.take(needed, what);
  if (dtype === 'bool') {
    const bad = bytes.findIndex((b) => b > 1);
    if (bad >= 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what}: binary BOOL element ${bad} is ${bytes[bad]}, must be 0 or 1`, { element: bad });
    }
  }
  return { name, tensor: { dtype, dims, data: typedArrayFor(dtype, bytes.buffer, 0, count) } };
}
