/**
 * Reading a WHATWG byte stream to its end with a cap, for every body Cleave reads from a peer it
 * does not trust (request bodies at the edge, S3 answers in the model stores): the bytes are
 * counted as they arrive, so a lying or missing Content-Length cannot make the reader hold more
 * than the cap. Runtime-neutral.
 */

/** Concatenates `chunks` (`total` bytes in all); a single chunk is returned as is, not copied. */
export function joinChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The whole stream, or undefined once it passes `maxBytes` (the stream is then cancelled, so the
 * peer stops sending). A missing stream reads as empty.
 */
export async function readBounded(stream: ReadableStream<Uint8Array> | null | undefined, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return joinChunks(chunks, total);
}
