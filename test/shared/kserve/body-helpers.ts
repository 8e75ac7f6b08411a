// Test-side encoders for v2 bodies, written independently of the parser under test where it
// matters (JSON text by hand, tails by concatenation).
import { expect } from 'vitest';
import { isCleaveError, type ErrorCode } from '../../../shared/errors.js';

const enc = new TextEncoder();

/** An all-JSON body. */
export function jsonBody(obj: unknown): Uint8Array {
  return enc.encode(JSON.stringify(obj));
}

/** A binary-extension body: JSON header then the tails, with the header length. */
export function binaryBody(header: unknown, tails: readonly Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const h = enc.encode(JSON.stringify(header));
  const total = tails.reduce((n, t) => n + t.length, h.length);
  const body = new Uint8Array(total);
  body.set(h, 0);
  let at = h.length;
  for (const t of tails) {
    body.set(t, at);
    at += t.length;
  }
  return { body, headerLength: h.length };
}

/** Bytes of a typed array (little-endian host). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

/** Runs fn and checks it throws a CleaveError with this code (and message, when given). */
export function expectCleave(fn: () => unknown, code: ErrorCode, message?: string | RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isCleaveError(thrown), `expected a CleaveError ${code}, got ${String(thrown)}`).toBe(true);
  const e = thrown as Error & { code: string };
  expect(e.code, e.message).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
}
