/**
 * Small checks for fields of parsed JSON bodies. Each names the field by its path in the body
 * (`inputs[1].shape[2]`) and quotes what it got, so a client sees exactly which value to fix.
 */
import { CleaveError } from '../errors.js';

/** A JSON object as JSON.parse returns it. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** A short, safe rendering of a JSON value for messages (at most about 40 characters). */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = typeof v === 'bigint' ? v.toString() : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** True for a JSON object (not an array, not null). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** CLEAVE_E_BAD_ARGUMENT: `<path> must be <expected>, got <value>`. */
export function badField(path: string, expected: string, got: unknown): CleaveError {
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${path} must be ${expected}, got ${describeJson(got)}`, { field: path });
}

/** The value of an own property (never one inherited from Object.prototype, e.g. `constructor`). */
export function own(o: JsonObject, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** An object field, or undefined when absent. */
export function optionalObject(o: JsonObject, key: string, path: string): JsonObject | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (!isJsonObject(v)) throw badField(`${path}${key}`, 'an object', v);
  return v;
}

/** A string field, or undefined when absent. */
export function optionalString(o: JsonObject, key: string, path: string): string | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badField(`${path}${key}`, 'a string', v);
  return v;
}

/** A non-empty string field that must be there. */
export function requiredName(o: JsonObject, key: string, path: string): string {
  const v = own(o, key);
  if (typeof v !== 'string' || v.length === 0) throw badField(`${path}${key}`, 'a non-empty string', v);
  return v;
}

/** A boolean field, or undefined when absent. */
export function optionalBoolean(o: JsonObject, key: string, path: string): boolean | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw badField(`${path}${key}`, 'true or false', v);
  return v;
}

/** Copies a JSON object into a null-prototype record, so no key (`__proto__` included) can reach a prototype. */
export function nullProtoCopy(o: JsonObject): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(o)) out[k] = o[k];
  return out;
}
