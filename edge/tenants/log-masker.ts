/**
 * Masks named fields in log events before they are written (setting `logMask`, e.g.
 * `authorization,apiKey,input`): wherever a key of that name appears, at any depth, its value is
 * replaced by `"***"`. Names match case-insensitively, so `Authorization` and `authorization`
 * are one field. Events are copied, never changed in place (the caller may still hold them).
 * Runtime-neutral.
 */

/** What a masked value becomes. */
export const MASKED = '***';

/** Deepest nesting walked; deeper values are replaced whole, so a cyclic or hostile event cannot hang the logger. */
const MAX_DEPTH = 8;

/** A function that returns a masked copy of an event; the identity when `fields` is empty. */
export function logMasker(fields: readonly string[]): (event: Record<string, unknown>) => Record<string, unknown> {
  const names = new Set(fields.map((f) => f.trim().toLowerCase()).filter((f) => f !== ''));
  if (names.size === 0) return (e) => e;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (depth >= MAX_DEPTH) return '[too deep]';
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    // Typed arrays, dates and the like are left to the serializer.
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // defineProperty: a "__proto__" key stays a key.
      Object.defineProperty(out, k, { value: names.has(k.toLowerCase()) ? MASKED : walk(x, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  return (event) => walk(event, 0) as Record<string, unknown>;
}

/** `log` with every event masked first; undefined stays undefined. */
export function maskedLog(log: ((event: Record<string, unknown>) => void) | undefined, fields: readonly string[]): ((event: Record<string, unknown>) => void) | undefined {
  if (!log || fields.length === 0) return log;
  const mask = logMasker(fields);
  return (event) => log(mask(event));
}
