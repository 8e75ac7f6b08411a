/**
 * Parsers for settings that arrive as strings (flags, `CLEAVE_*` environment variables, Worker
 * vars): each validates and names the setting, the value and what was expected. Shared by the
 * cloud's and the edge's configuration. Runtime-neutral.
 */
import { CleaveError } from './errors.js';

/** Throws CLEAVE_E_BAD_ARGUMENT: `setting <key> = <value> is not valid; expected <expected>`. */
export function bad(key: string, value: unknown, expected: string): never {
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `setting ${key} = ${JSON.stringify(value)} is not valid; expected ${expected}`, { setting: key });
}

/** The value when it is a string. */
export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** An integer in [min, max], or undefined when unset. */
export function int(v: string | boolean | undefined, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  if (!/^-?[0-9]+$/.test(s)) bad(key, v, `an integer from ${min} to ${max}`);
  const n = Number(s);
  if (n < min || n > max) bad(key, v, `an integer from ${min} to ${max}`);
  return n;
}

/** on/off, true/false, 1/0, yes/no, or undefined when unset. */
export function bool(v: string | boolean | undefined, key: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  const s = v.toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(s)) return true;
  if (['0', 'false', 'off', 'no'].includes(s)) return false;
  return bad(key, v, 'on or off');
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Bytes with an optional unit: 1048576, 64MiB, 2GB. */
export function bytes(v: string | boolean | undefined, key: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(String(v));
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) return bad(key, v, 'a byte count such as 1048576, 64MiB or 2GB');
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n)) return bad(key, v, 'a byte count below 2^53');
  return n;
}
