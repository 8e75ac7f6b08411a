/**
 * 32-bit FNV-1a: the tokenizer's word hash and the zoo's way of turning stable names into seeds.
 * Chosen because it is tiny, has no tables, and gives the same value in every runtime.
 */

const OFFSET_BASIS = 0x811c9dc5;
const PRIME = 0x01000193;

/** FNV-1a over bytes, as an unsigned 32-bit integer. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = OFFSET_BASIS;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, PRIME);
  }
  return h >>> 0;
}

const encoder = new TextEncoder();

/** FNV-1a over the UTF-8 bytes of a string. */
export function fnv1a32String(s: string): number {
  return fnv1a32(encoder.encode(s));
}

/** A seed derived from a stable name, e.g. `seedOf('text-tiny/body')`. */
export function seedOf(name: string): number {
  return fnv1a32String(name);
}
