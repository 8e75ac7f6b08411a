/**
 * Reading a request body under a byte limit. The app reads bodies through a BodyReader so a
 * runtime can use its cheapest path: the default reads the WHATWG body stream (workerd); the
 * Node entry reads Node's IncomingMessage directly, which spares @hono/node-server building a
 * full web Request (stream, AbortController) for every request, about 100 µs each (bench:edge).
 * A declared Content-Length over the limit is refused before a byte is read.
 */
import type { Context } from 'hono';
import { joinChunks, readBounded } from '../shared/bounded-read.js';
import { CleaveError } from '../shared/errors.js';

/** Reads the whole body of `c`'s request; CLEAVE_E_TOO_LARGE past `maxBytes`. */
export type BodyReader = (c: Context, maxBytes: number) => Promise<Uint8Array>;

/** CLEAVE_E_TOO_LARGE naming the limit. */
export function tooLarge(maxBytes: number): CleaveError {
  return new CleaveError('CLEAVE_E_TOO_LARGE', `request body exceeds ${maxBytes} bytes (--max-body-bytes)`, { limit: maxBytes });
}

/** Refuses a declared Content-Length over the limit (or a malformed one). */
export function checkDeclaredLength(header: string | undefined, maxBytes: number): void {
  if (header === undefined) return;
  const n = Number(header);
  if (!/^[0-9]+$/.test(header.trim()) || !Number.isSafeInteger(n)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `content-length ${JSON.stringify(header.slice(0, 40))} is not a byte count`, { field: 'content-length' });
  }
  if (n > maxBytes) throw tooLarge(maxBytes);
}

/** Joins chunks into one buffer (shared/bounded-read.ts); kept here for the Node entry's reader. */
export { joinChunks };

/** The runtime-neutral reader: the WHATWG body stream, counted as it arrives. */
export const webBodyReader: BodyReader = async (c, maxBytes) => {
  checkDeclaredLength(c.req.header('content-length'), maxBytes);
  const body = await readBounded(c.req.raw.body, maxBytes);
  if (body === undefined) throw tooLarge(maxBytes);
  return body;
};

/** The media type of a Content-Type header, lower-cased, without parameters; undefined when absent or empty. */
export function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return header.split(';')[0]!.trim().toLowerCase() || undefined;
}
