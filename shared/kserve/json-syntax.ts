/**
 * Finds where a JSON text stops being valid. JSON.parse says so only in some engines and some
 * cases (V8 names the position for some errors, not others; Hermes differs again), so when it
 * fails the codec runs this scanner to report a position that is the same on every runtime.
 * It runs only on the failure path. It is iterative, so hostile nesting cannot overflow the stack.
 */

/** Why and where a JSON text is invalid: `position` is a 0-based UTF-16 code unit offset. */
export interface JsonSyntaxError {
  readonly position: number;
  readonly reason: string;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /[0-9a-fA-F]{4}/y;

type Want = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'comma-or-close' | 'end';

/** The first syntax error in `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  /** true for an object, false for an array. */
  const stack: boolean[] = [];
  let i = 0;
  let want: Want = 'value';

  const unexpected = (at: number): JsonSyntaxError =>
    at >= n ? { position: n, reason: 'unexpected end of input' } : { position: at, reason: `unexpected character ${JSON.stringify(text[at])}` };

  /** Scans a string starting at its opening quote; returns the offset after it, or an error. */
  const scanString = (start: number): number | JsonSyntaxError => {
    let j = start + 1;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x22) return j + 1;
      if (c < 0x20) return { position: j, reason: 'control character in string' };
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e === 'u') {
          HEX4.lastIndex = j + 2;
          if (!HEX4.test(text)) return { position: j, reason: 'bad \\u escape in string' };
          j += 6;
        } else if (e !== undefined && ESCAPES.has(e)) {
          j += 2;
        } else {
          return { position: j, reason: 'bad escape in string' };
        }
      } else {
        j++;
      }
    }
    return { position: n, reason: 'unterminated string' };
  };

  const afterValue = (): Want => (stack.length === 0 ? 'end' : 'comma-or-close');

  for (;;) {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
    if (i >= n) return want === 'end' ? undefined : unexpected(i);
    const c = text[i]!;
    switch (want) {
      case 'end':
        return { position: i, reason: 'unexpected text after the JSON value' };
      case 'colon':
        if (c !== ':') return unexpected(i);
        i++;
        want = 'value';
        break;
      case 'comma-or-close': {
        const inObject = stack[stack.length - 1];
        if (c === ',') {
          i++;
          want = inObject ? 'key' : 'value';
        } else if ((c === '}' && inObject) || (c === ']' && !inObject)) {
          i++;
          stack.pop();
          want = afterValue();
        } else {
          return unexpected(i);
        }
        break;
      }
      case 'key':
      case 'key-or-close':
        if (c === '}' && want === 'key-or-close') {
          i++;
          stack.pop();
          want = afterValue();
        } else if (c === '"') {
          const r = scanString(i);
          if (typeof r !== 'number') return r;
          i = r;
          want = 'colon';
        } else {
          return unexpected(i);
        }
        break;
      case 'value':
      case 'value-or-close':
        if (c === ']' && want === 'value-or-close') {
          i++;
          stack.pop();
          want = afterValue();
        } else if (c === '{' || c === '[') {
          stack.push(c === '{');
          i++;
          want = c === '{' ? 'key-or-close' : 'value-or-close';
        } else if (c === '"') {
          const r = scanString(i);
          if (typeof r !== 'number') return r;
          i = r;
          want = afterValue();
        } else {
          const literal = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
          if (literal !== undefined) {
            i += literal.length;
          } else {
            NUMBER.lastIndex = i;
            if (!NUMBER.test(text)) return unexpected(i);
            i = NUMBER.lastIndex;
          }
          want = afterValue();
        }
        break;
    }
  }
}
