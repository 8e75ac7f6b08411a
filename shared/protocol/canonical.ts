/**
 * The encoder's side of frame-schema.ts: rebuilds a frame as plain maps whose keys follow the
 * canonical order (t, then the schema's order), dropping optional fields that are undefined and
 * fields the schema does not know. Equal frames thus give equal bytes whatever key order the caller
 * built them in. Maps keyed by names (tensors, LOAD models, error detail) keep the caller's order.
 */
import { CleaveError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { OutgoingTensor } from './extension-codec.js';
import { frameFields, frameName, knownTypes, type FieldKind, type Fields } from './frame-schema.js';
import type { Frame } from './frames.js';

type Plain = Record<string, unknown>;

/** The frame as ordered plain maps, tensors wrapped for the extension codec. */
export function canonicalFrame(frame: Frame, int8Floats: boolean): Plain {
  const fields = frameFields(frame.t);
  if (fields === undefined) {
    throw new CleaveError('CLEAVE_E_UNKNOWN_FRAME', `cannot encode frame type ${frame.t}; known types: ${knownTypes()}`, { t: frame.t });
  }
  const out: Plain = { t: frame.t };
  writeFields(out, frame as unknown as Plain, fields, int8Floats, frameName(frame.t));
  return out;
}

function writeFields(out: Plain, src: Plain, fields: Fields, int8: boolean, where: string): void {
  for (const f of fields) {
    const v = Object.hasOwn(src, f.name) ? src[f.name] : undefined;
    if (v === undefined) {
      if (!f.optional) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${where}: required field "${f.name}" is missing`, { field: f.name });
      continue;
    }
    out[f.name] = valueOut(v, f.kind, int8, `${where}.${f.name}`);
  }
}

function valueOut(v: unknown, kind: FieldKind, int8: boolean, where: string): unknown {
  switch (kind.type) {
    case 'tensors': {
      const out = namedMap(v, where);
      for (const [k, t] of Object.entries(v as Plain)) out[k] = new OutgoingTensor(t as HostTensor, int8);
      return out;
    }
    case 'record': {
      const out: Plain = {};
      writeFields(out, objectAt(v, where), kind.fields, int8, where);
      return out;
    }
    case 'list': {
      if (!Array.isArray(v)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${where} must be an array`);
      return v.map((item: unknown, i) => {
        const out: Plain = {};
        writeFields(out, objectAt(item, `${where}[${i}]`), kind.fields, int8, `${where}[${i}]`);
        return out;
      });
    }
    case 'dict': {
      const out = namedMap(v, where);
      for (const [k, item] of Object.entries(v as Plain)) {
        const o: Plain = {};
        writeFields(o, objectAt(item, `${where}["${k}"]`), kind.fields, int8, `${where}["${k}"]`);
        out[k] = o;
      }
      return out;
    }
    case 'nameMap': {
      // Names keep the caller's order, like tensors; a value that is not a string is the
      // caller's bug, reported here rather than by the peer's validator.
      const out = namedMap(v, where);
      for (const [k, item] of Object.entries(v as Plain)) {
        if (typeof item !== 'string') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${where}["${k}"] must be a string, got ${typeof item}`, { field: k });
        out[k] = item;
      }
      return out;
    }
    case 'detail': {
      const out = namedMap(v, where);
      for (const [k, item] of Object.entries(v as Plain)) {
        // Detail is diagnostics: coerce what msgpack cannot carry rather than fail the error report.
        if (item === undefined) continue;
        out[k] = typeof item === 'bigint' ? (Number.isSafeInteger(Number(item)) ? Number(item) : String(item)) : isDetailValue(item) ? item : String(item);
      }
      return out;
    }
    default:
      return v;
  }
}

function isDetailValue(v: unknown): boolean {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  return Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number');
}

function objectAt(v: unknown, where: string): Plain {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${where} must be an object`);
  return v as Plain;
}

/** A null-prototype map for name keys; refuses `__proto__`, which no decoder accepts. */
function namedMap(v: unknown, where: string): Plain {
  const src = objectAt(v, where);
  if (Object.hasOwn(src, '__proto__')) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${where}: the name "__proto__" is not allowed`);
  return Object.create(null) as Plain;
}
