/**
 * The decoder's side of frame-schema.ts: turns the plain value msgpack produced into a typed
 * Frame, checking every field's presence, type and range, and decoding tensors with their names
 * in hand. The result is rebuilt from the schema, so unknown extra fields are dropped (forward
 * compatibility: a newer peer may add optional fields) and name-keyed maps (tensors, LOAD models,
 * error detail) are null-prototype objects, safe to index with any name.
 *
 * Every error carries `detail.t` and, when it could be read, `detail.id`, so the server can fail
 * one stream and keep the connection. Unknown error code strings (a newer peer may append codes)
 * become CLEAVE_E_INTERNAL; in an ERROR frame the original string is kept as `detail.wireCode`.
 */
import { CleaveError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../errors.js';
import { isDType } from '../onnx/dtype.js';
import type { HostTensor } from '../tensor.js';
import { ExtType, FrameType, type ProtocolLimits } from './constants.js';
import { WireTensor } from './extension-codec.js';
import { frameFields, frameName, knownTypes, type FieldKind, type Fields } from './frame-schema.js';
import type { Frame } from './frames.js';
import { headDetail, type FrameHead } from './msgpack-scan.js';
import { decodeTensor, decodeTensorInt8 } from './tensor-codec.js';

type Plain = Record<string, unknown>;

interface Ctx {
  readonly limits: ProtocolLimits;
  /** "RUN (id 7)": the frame named in every message. */
  readonly where: string;
  /** t and id, merged into every error's detail. */
  readonly base: ErrorDetail;
  /** An error code string this peer does not know, seen in the frame. */
  unknownCode?: string;
}

/** Checks a decoded msgpack value against the frame schema and returns the typed frame. */
export function validateFrame(raw: unknown, limits: ProtocolLimits): Frame {
  if (!isMap(raw)) throw new CleaveError('CLEAVE_E_PROTOCOL', `a frame must be a msgpack map, got ${describe(raw)}`);
  const head: FrameHead = {};
  const rt = own(raw, 't');
  const rid = own(raw, 'id');
  if (typeof rt === 'number') head.t = rt;
  if (typeof rid === 'number') head.id = rid;
  const base = headDetail(head);
  if (rt === undefined) throw new CleaveError('CLEAVE_E_PROTOCOL', 'frame has no "t" field (the frame type)', base);
  if (typeof rt !== 'number' || !Number.isInteger(rt)) {
    throw new CleaveError('CLEAVE_E_PROTOCOL', `field "t" must be an integer frame type, got ${describe(rt)}`, { ...base, field: 't' });
  }
  const fields = frameFields(rt);
  if (fields === undefined) {
    throw new CleaveError('CLEAVE_E_UNKNOWN_FRAME', `unknown frame type ${rt}; known types: ${knownTypes()}`, base);
  }
  const idPart = base.id !== undefined && fields.some((f) => f.name === 'id') ? ` (id ${base.id})` : '';
  const ctx: Ctx = { limits, where: `${frameName(rt)}${idPart}`, base };
  const out: Plain = { t: rt };
  readFields(out, raw, fields, '', ctx);
  if (rt === FrameType.RUN) checkStageIds(out, ctx);
  if (ctx.unknownCode !== undefined && rt === FrameType.ERROR) {
    const detail: Plain = Object.assign(Object.create(null) as Plain, out.detail as Plain | undefined);
    detail.wireCode = ctx.unknownCode;
    out.detail = detail;
  }
  return out as unknown as Frame;
}

function readFields(out: Plain, src: Plain, fields: Fields, prefix: string, ctx: Ctx): void {
  for (const f of fields) {
    const path = prefix + f.name;
    const v = own(src, f.name);
    if (v === undefined) {
      if (!f.optional) fail(ctx, `required field "${path}" is missing`, path);
      continue;
    }
    out[f.name] = readValue(v, f.kind, path, ctx);
  }
}

function readValue(v: unknown, kind: FieldKind, path: string, ctx: Ctx): unknown {
  switch (kind.type) {
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v) && v >= kind.min && v <= kind.max) return v;
      return mistyped(ctx, path, `an integer in ${kind.min}..${kind.max}`, v);
    case 'number':
      if (typeof v === 'number' && Number.isFinite(v) && v >= kind.min) return v;
      return mistyped(ctx, path, kind.min === -Infinity ? 'a finite number' : `a finite number >= ${kind.min}`, v);
    case 'string':
      if (typeof v === 'string' && (!kind.nonEmpty || v.length > 0)) return v;
      return mistyped(ctx, path, kind.nonEmpty ? 'a non-empty string' : 'a string', v);
    case 'bool':
      if (typeof v === 'boolean') return v;
      return mistyped(ctx, path, 'a boolean', v);
    case 'strings':
      if (Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0)) return v as string[];
      return mistyped(ctx, path, 'an array of non-empty strings', v);
    case 'errorCode':
      if (typeof v !== 'string') return mistyped(ctx, path, 'an error code string', v);
      if (Object.hasOwn(ERROR_CODES, v)) return v as ErrorCode;
      ctx.unknownCode = v;
      return 'CLEAVE_E_INTERNAL' satisfies ErrorCode;
    case 'dtype':
      if (typeof v === 'string' && isDType(v)) return v;
      return mistyped(ctx, path, 'a dtype name such as "float32"', v);
    case 'shape':
      if (!Array.isArray(v) || !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= -1 && d <= 0xffff_ffff)) {
        return mistyped(ctx, path, 'an array of integers >= -1 (-1 is a dynamic dim)', v);
      }
      if (v.length > ctx.limits.maxRank) tooLarge(ctx, path, `has ${v.length} dims`, 'maxRank', v.length);
      return v as number[];
    case 'ident':
      if (typeof v === 'string' && kind.pattern.test(v)) return v;
      return mistyped(ctx, path, kind.expected, v);
    case 'nameMap':
      return readNameMap(v, kind.maxLength, path, ctx);
    case 'tensors':
      return readTensors(v, path, ctx);
    case 'detail':
      return readDetail(v, path, ctx);
    case 'record': {
      if (!isMap(v)) return mistyped(ctx, path, 'a map', v);
      const out: Plain = {};
      readFields(out, v, kind.fields, `${path}.`, ctx);
      return out;
    }
    case 'list': {
      if (!Array.isArray(v) || (kind.nonEmpty && v.length === 0)) return mistyped(ctx, path, kind.nonEmpty ? 'a non-empty array of maps' : 'an array of maps', v);
      return v.map((item: unknown, i) => {
        const p = `${path}[${i}]`;
        if (!isMap(item)) return mistyped(ctx, p, 'a map', item);
        const out: Plain = {};
        readFields(out, item, kind.fields, `${p}.`, ctx);
        return out;
      });
    }
    case 'dict': {
      if (!isMap(v)) return mistyped(ctx, path, 'a map of name to map', v);
      const out = Object.create(null) as Plain;
      for (const [k, item] of Object.entries(v)) {
        const p = `${path}["${k}"]`;
        if (!isMap(item)) return mistyped(ctx, p, 'a map', item);
        const o: Plain = {};
        readFields(o, item, kind.fields, `${p}.`, ctx);
        out[k] = o;
      }
      return out;
    }
  }
}

function readNameMap(v: unknown, maxLength: number, path: string, ctx: Ctx): Record<string, string> {
  if (!isMap(v)) return mistyped(ctx, path, 'a map of name to name', v);
  const names = Object.keys(v);
  if (names.length > ctx.limits.maxTensors) tooLarge(ctx, path, `has ${names.length} entries`, 'maxTensors', names.length);
  const out = Object.create(null) as Record<string, string>;
  for (const k of names) {
    const p = `${path}["${k.length > 40 ? `${k.slice(0, 40)}...` : k}"]`;
    if (k.length === 0 || k.length > maxLength) fail(ctx, `field "${path}" has a name of ${k.length} characters, expected 1 to ${maxLength}`, path);
    const target = v[k];
    if (typeof target !== 'string' || target.length === 0 || target.length > maxLength) {
      return mistyped(ctx, p, `a string of 1 to ${maxLength} characters`, target);
    }
    out[k] = target;
  }
  return out;
}

/** Stage ids name pool keys, so two stages with one id would overwrite each other's outputs. */
function checkStageIds(run: Plain, ctx: Ctx): void {
  const stages = run.stages as readonly Plain[] | undefined;
  if (!stages) return;
  const seen = new Map<string, number>();
  stages.forEach((st, i) => {
    const id = st.id as string | undefined;
    if (id === undefined) return;
    const first = seen.get(id);
    if (first !== undefined) fail(ctx, `field "stages[${i}].id" repeats the id "${id}" of stages[${first}]; stage ids must be unique in a run`, `stages[${i}].id`);
    seen.set(id, i);
  });
}

function readTensors(v: unknown, path: string, ctx: Ctx): Record<string, HostTensor> {
  if (!isMap(v)) return mistyped(ctx, path, 'a map of tensor name to tensor', v);
  const names = Object.keys(v);
  if (names.length > ctx.limits.maxTensors) tooLarge(ctx, path, `has ${names.length} tensors`, 'maxTensors', names.length);
  const out = Object.create(null) as Record<string, HostTensor>;
  for (const name of names) {
    const p = `${path}["${name}"]`;
    if (name.length === 0) fail(ctx, `field "${path}" has a tensor with an empty name`, path);
    const w = v[name];
    if (!(w instanceof WireTensor)) return mistyped(ctx, p, 'a tensor (msgpack extension 1 or 2)', w);
    try {
      out[name] = w.type === ExtType.TENSOR_INT8 ? decodeTensorInt8(w.data, ctx.limits) : decodeTensor(w.data, ctx.limits);
    } catch (e) {
      if (!(e instanceof CleaveError)) throw e;
      throw new CleaveError(e.code, `${ctx.where}: tensor ${p}: ${e.message}`, { ...e.detail, ...ctx.base, field: path, tensor: name }, { cause: e });
    }
  }
  return out;
}

function readDetail(v: unknown, path: string, ctx: Ctx): ErrorDetail {
  if (!isMap(v)) return mistyped(ctx, path, 'a map', v);
  const out = Object.create(null) as Record<string, ErrorDetail[string]>;
  for (const [k, item] of Object.entries(v)) {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') out[k] = item;
    else if (Array.isArray(item) && item.every((x) => typeof x === 'string' || typeof x === 'number')) out[k] = item as (string | number)[];
    else mistyped(ctx, `${path}["${k}"]`, 'a string, number, boolean or array of strings and numbers', item);
  }
  return out;
}

function isMap(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof WireTensor) && !ArrayBuffer.isView(v);
}

/** An own property only: msgpack maps are plain objects, and inherited names must not count. */
function own(o: Plain, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function fail(ctx: Ctx, message: string, field: string): never {
  throw new CleaveError('CLEAVE_E_PROTOCOL', `${ctx.where}: ${message}`, { ...ctx.base, field });
}

function mistyped(ctx: Ctx, path: string, expected: string, got: unknown): never {
  return fail(ctx, `field "${path}" must be ${expected}, got ${describe(got)}`, path);
}

function tooLarge(ctx: Ctx, path: string, what: string, limit: keyof ProtocolLimits, value: number): never {
  const max = ctx.limits[limit];
  throw new CleaveError('CLEAVE_E_TOO_LARGE', `${ctx.where}: field "${path}" ${what}, exceeds ${limit} (${max})`, { ...ctx.base, field: path, limit, value, max });
}

/** A short description of a wrong value for messages: `"abc" (string)`, `nil`, `an array of 3`. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return `${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)} (string)`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${v} (${typeof v})`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof WireTensor) return 'a tensor';
  if (ArrayBuffer.isView(v)) return `bin of ${v.byteLength} bytes`;
  return 'a map';
}
