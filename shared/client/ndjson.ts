/**
 * Lines of an NDJSON answer as they arrive, each parsed as JSON. Reads the fetch body stream
 * where the runtime has one (Node, browsers, workerd); React Native's fetch has no streaming body,
 * so there the whole text is read and split: the same events, only not early.
 */
import { CleaveError } from '../errors.js';

/** Longest line held while waiting for its newline, characters. Default 64 Mi. */
export const MAX_NDJSON_LINE = 64 * 1024 * 1024;

/**
 * Parsed lines of `res`'s body. Returning early (a consumer's `break`) cancels the body stream.
 * Errors: a line that is not JSON -> CLEAVE_E_PROTOCOL naming the line number; a line longer than
 * `maxLine` -> CLEAVE_E_TOO_LARGE.
 */
export async function* ndjsonLines(res: Response, maxLine = MAX_NDJSON_LINE): AsyncGenerator<unknown, void, undefined> {
  let n = 0;
  const parse = (line: string): unknown => {
    n++;
    try {
      return JSON.parse(line);
    } catch (e) {
      throw new CleaveError('CLEAVE_E_PROTOCOL', `NDJSON line ${n} is not JSON: ${JSON.stringify(line.slice(0, 80))}`, { line: n }, { cause: e });
    }
  };
  const body = res.body;
  if (!body) {
    for (const line of (await res.text()).split('\n')) if (line.trim() !== '') yield parse(line);
    return;
  }
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== '') yield parse(line);
      }
      if (buf.length > maxLine) {
        throw new CleaveError('CLEAVE_E_TOO_LARGE', `NDJSON line ${n + 1} exceeds ${maxLine} characters without a newline`, { limit: maxLine });
      }
      if (done) break;
    }
    if (buf.trim() !== '') yield parse(buf);
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    else reader.releaseLock();
  }
}
