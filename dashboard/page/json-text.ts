/**
 * JSON text of a draft: parse with a line and column on errors, print the way the editor shows it.
 * Engines word JSON.parse errors differently and V8 often gives no position at all ("Unexpected
 * token '}', ... is not valid JSON"), so the position comes from a small scanner of the JSON
 * grammar that stops at the first character that cannot continue the text. Pure.
 */

export type Parsed = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string; readonly line: number; readonly column: number };

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

/** Deepest nesting the scanner follows; deeper text is reported there (JSON.parse has its own limit). */
const MAX_DEPTH = 512;

/** The offset of the first syntax error in `text` and what was expected there; undefined when it is valid JSON. */
export function jsonSyntaxError(text: string): { offset: number; expected: string } | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const fail = (expected: string): never => {
    throw { offset: i, expected };
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail('a value');
  };
  const string = (): void => {
    i++;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '"') {
        i++;
        return;
      }
      if (ch < ' ') fail('a closing quote (a string cannot span lines)');
      if (ch === '\\') {
        i++;
        const e = text[i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('four hex digits after \\u');
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX');
      } else i++;
    }
    fail('a closing quote');
  };
  const number = (): void => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-' || m[0] === '') fail('a value');
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('a property name in double quotes');
        string();
        ws();
        if (text[i] !== ':') fail('":" after the property name');
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('"," or "}"');
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('"," or "]"');
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    return number();
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('the end of the document');
    return undefined;
  } catch (e) {
    return e as { offset: number; expected: string };
  }
}

/** JSON.parse, with the first error's line, column and what was expected there. */
export function parseJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const found = jsonSyntaxError(text);
    const offset = found?.offset ?? text.length;
    const at = offset < text.length ? `found ${JSON.stringify(text[offset])}` : 'found the end of the text';
    return { ok: false, message: found ? `expected ${found.expected}, ${at}` : (e as Error).message, ...lineColumn(text, offset) };
  }
}

/** The editor's print: two-space indent and a final newline. */
export function printJson(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}
