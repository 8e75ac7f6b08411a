import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CleaveError, isCleaveError, type ErrorCode } from '../../../shared/errors.js';
import { toFloat16Bits } from '../../../shared/kserve/half-float.js';
import { hostTensor, type HostTensor } from '../../../shared/tensor.js';
import { evaluatePredicate, parsePredicate, PREDICATE_LIMITS, type PredicateValue } from '../../../shared/workflow/predicate.js';

const LOGITS = [0.1, -1.2, 2.5, 0.3, 0.0, 1.9, -0.7, 0.4, 0.2, 0.05];
/** Batch-1 classifier output, argmax 2. */
const logits = hostTensor('float32', [1, 10], Float32Array.from(LOGITS));
const ids = hostTensor('int64', [1, 4], BigInt64Array.from([101n, 2054n, 2003n, 102n]));

function env(values: Record<string, PredicateValue>): (ref: string) => PredicateValue | undefined {
  return (ref) => (Object.hasOwn(values, ref) ? values[ref] : undefined);
}

function run(source: string, values: Record<string, PredicateValue> = {}): boolean {
  return evaluatePredicate(parsePredicate(source), env(values));
}

function thrown(fn: () => unknown): CleaveError {
  try {
    fn();
  } catch (e) {
    expect(isCleaveError(e), `expected a CleaveError, got ${String(e)}`).toBe(true);
    return e as CleaveError;
  }
  throw new Error('expected a throw');
}

function parseError(source: string): CleaveError {
  const e = thrown(() => parsePredicate(source));
  expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
  return e;
}

function evalError(source: string, values: Record<string, PredicateValue>, code: ErrorCode): CleaveError {
  const p = parsePredicate(source);
  const e = thrown(() => evaluatePredicate(p, env(values)));
  expect(e.code, e.message).toBe(code);
  return e;
}

const firstLine = (e: Error): string => e.message.split('\n')[0] ?? '';

describe('parsePredicate: accepted sources', () => {
  const cases: ReadonlyArray<readonly [string, readonly string[]]> = [
    ['max(probs) < 0.8', ['probs']],
    ['argmax(logits) == 3', ['logits']],
    ['max(softmax(cnn.logits)) >= 0.9 and iteration < 4', ['cnn.logits', 'iteration']],
    ['not (argmax(logits) == 0 or argmax(logits) == 7)', ['logits']],
    ['mean(abs(x)) > 1e-3', ['x']],
    ['logits[2] > logits[5]', ['logits']],
    ['len(tokens) > 0', ['tokens']],
    ['top2margin(logits) > 0.5 && !(iteration >= 3) || done', ['logits', 'iteration', 'done']],
    ['clamp(x, -1, 1)[0] <= .5E+1', ['x']],
    ['x[1 + 2 * k] != -y', ['x', 'k', 'y']],
    ['a.b.c == 1 and node.not', ['a.b.c', 'node.not']],
    ['true', []],
    ['false == (a < b)', ['a', 'b']],
    ['sqrt(exp(log(sum(x)))) % 2 > 0', ['x']],
    ['\n  max( probs )\t<\r\n 0.8 \n', ['probs']],
  ];
  it.each(cases)('%j', (source, references) => {
    const p = parsePredicate(source);
    expect(p.source).toBe(source);
    expect(p.references).toEqual(references);
  });

  it('is plain, frozen data: the AST is not enumerable and JSON carries only source and references', () => {
    const p = parsePredicate('max(x) > 1');
    expect(Object.isFrozen(p)).toBe(true);
    expect(JSON.parse(JSON.stringify(p))).toEqual({ source: 'max(x) > 1', references: ['x'] });
  });
});

describe('parsePredicate: refused sources name the column', () => {
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ['argmax(logits< 3', 'expected ")" at column 14, found "<"', 14],
    ['max(a < b) > 1', 'expected ")" at column 7, found "<"', 7],
    ['maxx(probs) > 0.5', 'unknown function "maxx" at column 1; known: abs, argmax, argmin, clamp, exp, len, log, max, mean, min, softmax, sqrt, sum, top2margin', 1],
    ['x > 1 and iteration(2) > 1', 'unknown function "iteration" at column 11; known: abs, argmax, argmin, clamp, exp, len, log, max, mean, min, softmax, sqrt, sum, top2margin', 11],
    ['constructor(x) > 1', 'unknown function "constructor" at column 1; known: abs, argmax, argmin, clamp, exp, len, log, max, mean, min, softmax, sqrt, sum, top2margin', 1],
    ['max(x, y) > 1', '"max" takes 1 argument, got 2 at column 1', 1],
    ['1 < top2margin()', '"top2margin" takes 1 argument, got 0 at column 5', 5],
    ['clamp(x, 0) > 1', '"clamp" takes 3 arguments, got 2 at column 1', 1],
    ['a < b < c', 'comparisons do not chain: unexpected "<" at column 7; write `a < b and b < c`', 7],
    ['max(x)', 'the condition `max(x)` at column 1 is a number, not true/false; compare it, e.g. `max(x) > 0.5`', 1],
    ['  logits[0] + 1', 'the condition `logits[0] + 1` at column 3 is a number, not true/false; compare it, e.g. `logits[0] + 1 > 0.5`', 3],
    ['-x', 'the condition `-x` at column 1 is a number, not true/false; compare it, e.g. `-x > 0.5`', 1],
    ['x > 1 and mean(y)', '`mean(y)` at column 11 is a number, not true/false; "and" needs conditions (compare it, e.g. `mean(y) > 0.5`)', 11],
    ['not 3', '`3` at column 5 is a number, not true/false; "not" needs conditions (compare it, e.g. `3 > 0.5`)', 5],
    ['(a < b) + 1 > 2', '`(a < b)` at column 1 is true/false, not a number; "+" needs numbers or tensors', 1],
    ['max((a < b)) > 1', '`(a < b)` at column 5 is true/false, not a number; "max" needs numbers or tensors', 5],
    ['1 == true', '"==" at column 3 compares a number with true/false', 3],
    ['true < false', '`true` at column 1 is true/false, not a number; "<" needs numbers or tensors', 1],
    ['0x1f > 2', 'malformed number "0x1f" at column 1; hex numbers are not supported', 1],
    ['x > 1e', 'malformed number "1e" at column 5', 5],
    ['x > 1.2.3', 'malformed number "1.2.3" at column 5', 5],
    ['x > 1.', 'malformed number "1." at column 5', 5],
    ['x > 3abc', 'malformed number "3abc" at column 5', 5],
    ['x > 1e999', 'number 1e999 at column 5 is out of range', 5],
    ['x = 1', 'unexpected character "=" at column 3; did you mean "=="?', 3],
    ['a > 1 & b > 1', 'unexpected character "&" at column 7; did you mean "&&"?', 7],
    ['a > 1 | b > 1', 'unexpected character "|" at column 7; did you mean "||"?', 7],
    ['a $ b', 'unexpected character "$" at column 3', 3],
    ['', 'expected an expression at column 1, found end of input', 1],
    ['   ', 'expected an expression at column 4, found end of input', 4],
    ['max(x) > ', 'expected an expression at column 10, found end of input', 10],
    ['(a < b', 'expected ")" at column 7, found end of input', 7],
    ['x[1 > 0', 'expected "]" at column 5, found ">"', 5],
    ['a > 1 and', 'expected an expression at column 10, found end of input', 10],
    ['and a', 'expected an expression at column 1, found "and"', 1],
    ['a == not b', 'expected an expression at column 6, found "not"', 6],
    ['max(x) > 1 y', 'expected an operator or end of input at column 12, found "y"', 12],
    ['cnn. > 1', 'expected a name after "." at column 5, found " "', 5],
    ['max(x,) > 1', 'expected an expression at column 7, found ")"', 7],
    // Columns count every character, newlines included: "$" is the 13th character.
    ['a\n  <\n  b\n  $', 'unexpected character "$" at column 13', 13],
  ];
  it.each(cases)('%j', (source, message, column) => {
    const e = parseError(source);
    expect(firstLine(e)).toBe(message);
    expect(e.detail['column']).toBe(column);
    expect(typeof e.detail['expected']).toBe('string');
  });

  it('puts a caret under the column', () => {
    const e = parseError('argmax(logits< 3');
    expect(e.message).toBe('expected ")" at column 14, found "<"\n  argmax(logits< 3\n               ^');
  });

  it('windows the excerpt of a long source around the column', () => {
    const source = `${'x > 1 and '.repeat(30)}y $ 1`;
    const e = parseError(source);
    const [, excerpt, caret] = e.message.split('\n');
    expect(excerpt?.length).toBeLessThan(90);
    expect(excerpt?.startsWith('  ...')).toBe(true);
    expect(excerpt?.charAt(caret?.indexOf('^') ?? -1)).toBe('$');
  });

  it('refuses a non-string', () => {
    expect(thrown(() => parsePredicate(42 as unknown as string)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });
});

describe('parsePredicate: limits', () => {
  it('accepts 1024 characters and refuses 1025, naming maxSourceLength', () => {
    expect(parsePredicate(`x > 0${' '.repeat(1019)}`).references).toEqual(['x']);
    const e = parseError(`x > 0${' '.repeat(1020)}`);
    expect(e.message).toContain('maxSourceLength');
    expect(e.message).toContain('1024');
    expect(e.detail['limit']).toBe('maxSourceLength');
  });

  it('refuses 40 nested parentheses at the 33rd, naming maxDepth', () => {
    const e = parseError(`${'('.repeat(40)}x > 0${')'.repeat(40)}`);
    expect(firstLine(e)).toBe('nesting deeper than 32 levels (maxDepth) at column 33');
    expect(parsePredicate(`${'('.repeat(32)}x > 0${')'.repeat(32)}`).references).toEqual(['x']);
  });

  it('counts prefix operators, calls and indexes as nesting too', () => {
    expect(firstLine(parseError(`${'not '.repeat(40)}x`))).toContain('(maxDepth)');
    expect(firstLine(parseError(`${'-'.repeat(40)}x > 0`))).toContain('(maxDepth)');
    expect(firstLine(parseError(`${'abs('.repeat(40)}x${')'.repeat(40)} > 0`))).toContain('(maxDepth)');
    expect(firstLine(parseError(`x${'[x'.repeat(40)}${']'.repeat(40)} > 0`))).toContain('(maxDepth)');
  });

  it('refuses more than 256 nodes, naming maxNodes', () => {
    // Each "x > 0" is 3 nodes, each "and" 1: 60 clauses are 239 nodes, 70 are 279.
    const clauses = (n: number): string => Array.from({ length: n }, () => 'x > 0').join(' and ');
    expect(parsePredicate(clauses(60)).references).toEqual(['x']);
    const e = parseError(clauses(70));
    expect(firstLine(e)).toMatch(/^expression has more than 256 nodes \(maxNodes\) at column \d+$/);
  });

  it('takes tighter limits from the caller', () => {
    expect(firstLine(thrown(() => parsePredicate('((x > 0))', { maxDepth: 1 })))).toContain('deeper than 1 levels');
    expect(thrown(() => parsePredicate('x > 0 and y > 0', { maxNodes: 4 })).message).toContain('more than 4 nodes');
    expect(thrown(() => parsePredicate('x > 10', { maxSourceLength: 5 })).message).toContain('limit of 5');
    expect(PREDICATE_LIMITS).toEqual({ maxSourceLength: 1024, maxDepth: 32, maxNodes: 256 });
  });
});

describe('evaluatePredicate over tensors', () => {
  it('answers the documented examples on a batch-1 [1,10] float32 logits tensor', () => {
    const values = { logits, probs: logits, 'cnn.logits': logits, x: logits, tokens: ids, iteration: 2 };
    expect(run('max(probs) < 0.8', values)).toBe(false);
    expect(run('max(probs) < 2.6', values)).toBe(true);
    expect(run('argmax(logits) == 2', values)).toBe(true);
    expect(run('argmax(logits) == 3', values)).toBe(false);
    expect(run('max(softmax(cnn.logits)) >= 0.45 and iteration < 4', values)).toBe(true);
    expect(run('max(softmax(cnn.logits)) >= 0.9 and iteration < 4', values)).toBe(false);
    expect(run('not (argmax(logits) == 0 or argmax(logits) == 7)', values)).toBe(true);
    expect(run('mean(abs(x)) > 1e-3', values)).toBe(true);
    expect(run('logits[2] > logits[5]', values)).toBe(true);
    expect(run('logits[5] > logits[2]', values)).toBe(false);
    expect(run('len(tokens) > 0', values)).toBe(true);
  });

  it('reduces: max, min, sum, mean, argmax, argmin, len', () => {
    const v = { logits };
    expect(run('argmin(logits) == 1 and len(logits) == 10', v)).toBe(true);
    expect(run('min(logits) == logits[1] and max(logits) == logits[2]', v)).toBe(true);
    const sum = LOGITS.reduce((a, b) => a + Math.fround(b), 0);
    expect(run(`abs(sum(logits) - ${sum}) < 1e-9 and abs(mean(logits) - ${sum / 10}) < 1e-9`, v)).toBe(true);
    expect(run('max(logits * 2) == 2 * max(logits) and max(-logits) == -min(logits)', v)).toBe(true);
  });

  it('reads int64 ids through Number(), and other dtypes', () => {
    expect(run('ids[0] == 101 and argmax(ids) == 1 and len(ids) == 4 and sum(ids) == 4260', { ids })).toBe(true);
    const big = hostTensor('int64', [2], BigInt64Array.from([2n ** 40n, -3n]));
    expect(run('big[0] == 1099511627776 and min(big) == -3', { big })).toBe(true);
    expect(run('u[1] == 7', { u: hostTensor('uint64', [2], BigUint64Array.from([1n, 7n])) })).toBe(true);
    expect(run('sum(i) == -2', { i: hostTensor('int32', [3], Int32Array.from([1, -4, 1])) })).toBe(true);
    expect(run('d[0] == 0.1', { d: hostTensor('float64', [1], Float64Array.of(0.1)) })).toBe(true);
    const h = hostTensor('float16', [3], Uint16Array.from([0.5, -2, 1.5].map(toFloat16Bits)));
    expect(run('h[0] == 0.5 and argmin(h) == 1 and max(h) == 1.5', { h })).toBe(true);
  });

  it('treats a 1-element tensor as a scalar, a bool one as true/false', () => {
    const score = hostTensor('float32', [1, 1], Float32Array.of(0.75));
    expect(run('score > 0.5', { score })).toBe(true);
    const done = hostTensor('bool', [1], Uint8Array.of(1));
    expect(run('done', { done })).toBe(true);
    expect(run('!done or score > 1', { done, score })).toBe(false);
    const mask = hostTensor('bool', [3], Uint8Array.from([0, 1, 0]));
    expect(run('mask[1] and not mask[2] and sum(mask) == 1', { mask })).toBe(true);
  });

  it('computes softmax over the last axis like a float64 reference', () => {
    const reference = (row: readonly number[]): number[] => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const ref = reference(LOGITS.map(Math.fround));
    for (let i = 0; i < 10; i++) {
      expect(run(`abs(softmax(logits)[${i}] - r) < 1e-12`, { logits, r: ref[i] as number })).toBe(true);
    }
    expect(run('abs(sum(softmax(logits)) - 1) < 1e-12', { logits })).toBe(true);
    // Rows of a [2,3] tensor are normalised separately; huge logits do not overflow.
    const two = hostTensor('float32', [2, 3], Float32Array.from([1, 2, 3, 1000, 1000, 1000]));
    const r0 = reference([1, 2, 3]);
    expect(run(`abs(softmax(t)[2] - ${r0[2]}) < 1e-12 and abs(softmax(t)[4] - 1 / 3) < 1e-12`, { t: two })).toBe(true);
    expect(run('abs(sum(softmax(t)) - 2) < 1e-12', { t: two })).toBe(true);
    expect(run('softmax(3) == 1', {})).toBe(true);
  });

  it('measures top2margin as largest minus second largest', () => {
    expect(run('abs(top2margin(logits) - 0.6) < 1e-6', { logits })).toBe(true);
    expect(run('top2margin(t) == 0', { t: hostTensor('float32', [3], Float32Array.from([5, 1, 5])) })).toBe(true);
    expect(run('top2margin(t) == 3', { t: hostTensor('int64', [2], BigInt64Array.from([-4n, -1n])) })).toBe(true);
    const e = evalError('top2margin(t) > 0', { t: hostTensor('float32', [1], Float32Array.of(1)) }, 'CLEAVE_E_SHAPE');
    expect(e.message).toBe('`top2margin(t)` needs at least 2 elements; `t` has 1');
  });

  it('maps exp, log, sqrt, abs and clamp over scalars and tensors', () => {
    expect(run('exp(0) == 1 and sqrt(16) == 4 and abs(-2) == 2 and abs(log(exp(2)) - 2) < 1e-12')).toBe(true);
    expect(run('max(clamp(logits, 0, 1)) == 1 and min(clamp(logits, 0, 1)) == 0', { logits })).toBe(true);
    expect(run('clamp(5, 0, 1) == 1 and clamp(-5, 0, 1) == 0')).toBe(true);
    expect(run('sum(sqrt(t)) == 6', { t: hostTensor('float32', [3], Float32Array.from([1, 4, 9])) })).toBe(true);
    expect(evalError('clamp(x, 1, 0) > 0', { x: 1 }, 'CLEAVE_E_BAD_ARGUMENT').message).toBe('`clamp(x, 1, 0)`: lower bound 1 is above upper bound 0');
  });

  it('does elementwise arithmetic with scalars and with equal-sized tensors', () => {
    const a = hostTensor('float32', [1, 3], Float32Array.from([1, 2, 3]));
    const b = hostTensor('int64', [3], BigInt64Array.from([10n, 20n, 30n]));
    expect(run('sum(a + b) == 66 and sum(b / a) == 30 and sum(b % 7) == 11 and max(a - 1) == 2', { a, b })).toBe(true);
    const one = hostTensor('float32', [1], Float32Array.of(2));
    expect(run('sum(a * one) == 12', { a, one })).toBe(true);
    const c = hostTensor('float32', [2], Float32Array.from([1, 2]));
    const e = evalError('sum(a + c) > 0', { a, c }, 'CLEAVE_E_SHAPE');
    expect(e.message).toBe('`a + c` combines tensors of 3 and 2 elements; elementwise "+" needs equal counts');
  });

  it('follows precedence: not over and over or, arithmetic over comparison', () => {
    expect(run('true or false and false')).toBe(true);
    expect(run('not true or true')).toBe(true);
    expect(run('not false and false')).toBe(false);
    expect(run('! 1 > 2')).toBe(true);
    expect(run('1 + 2 * 3 == 7 and -2 * -3 == 6 and 7 - 2 - 1 == 4 and 8 / 2 / 2 == 2')).toBe(true);
  });

  it('uses iteration when the caller provides it, and reports it missing otherwise', () => {
    const p = parsePredicate('iteration < 4');
    expect(p.references).toEqual(['iteration']);
    expect([0, 1, 2, 3, 4, 5].map((iteration) => evaluatePredicate(p, env({ iteration })))).toEqual([true, true, true, true, false, false]);
    const e = thrown(() => evaluatePredicate(p, env({})));
    expect(e.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(e.message).toBe('unknown reference "iteration" at column 1: no node output or variable by that name');
    expect(e.detail['reference']).toBe('iteration');
  });

  it('resolves dotted references by their full name, each once per evaluation', () => {
    const asked: string[] = [];
    const lookup = (ref: string): PredicateValue | undefined => {
      asked.push(ref);
      return ref === 'cnn.logits' ? logits : ref === 'text.logits' ? ids : undefined;
    };
    const p = parsePredicate('cnn.logits[2] > cnn.logits[5] and argmax(text.logits) == 1');
    expect(evaluatePredicate(p, lookup)).toBe(true);
    expect(asked).toEqual(['cnn.logits', 'text.logits']);
  });

  it('tolerates whitespace and newlines between every token', () => {
    expect(run('\n\tmax (\n softmax ( logits ) )\r\n  >=\n0.45\n  and\n\titeration\n<\n4\n', { logits, iteration: 0 })).toBe(true);
  });

  it('evaluates a Predicate that went through JSON by parsing its source again', () => {
    const p = JSON.parse(JSON.stringify(parsePredicate('argmax(logits) == 2')));
    expect(evaluatePredicate(p, env({ logits }))).toBe(true);
  });
});

describe('evaluatePredicate: short-circuit', () => {
  const strict = (values: Record<string, PredicateValue>) => (ref: string): PredicateValue => {
    if (!Object.hasOwn(values, ref)) throw new Error(`looked up ${ref}`);
    return values[ref] as PredicateValue;
  };

  it('never looks up the right side when the left decides', () => {
    expect(evaluatePredicate(parsePredicate('not (iteration >= 4) and max(missing) > 0'), strict({ iteration: 5 }))).toBe(false);
    expect(evaluatePredicate(parsePredicate('iteration < 4 and max(missing) > 0'), strict({ iteration: 5 }))).toBe(false);
    expect(evaluatePredicate(parsePredicate('iteration >= 4 or max(missing) > 0'), strict({ iteration: 5 }))).toBe(true);
    expect(evaluatePredicate(parsePredicate('false && missing[3] > 1 || true'), strict({}))).toBe(true);
  });

  it('reports the right side missing as NOT_FOUND when it is reached', () => {
    const e = evalError('iteration < 4 and max(cnn.logits) > 0', { iteration: 1 }, 'CLEAVE_E_NOT_FOUND');
    expect(e.message).toBe('unknown reference "cnn.logits" at column 23: no node output or variable by that name');
  });
});

describe('evaluatePredicate: type errors quote the expression', () => {
  it('refuses to compare a tensor of more than one element', () => {
    const e = evalError('logits > 0.5', { logits }, 'CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toMatch(/^`logits` is a tensor of 10 elements; reduce it with max\(\), argmax\(\), .* or index it$/);
    expect(e.detail['expression']).toBe('logits');
    expect(evalError('abs(logits) == 1', { logits }, 'CLEAVE_E_BAD_ARGUMENT').message).toMatch(/^`abs\(logits\)` is a tensor of 10/);
    expect(evalError('logits and true', { logits }, 'CLEAVE_E_BAD_ARGUMENT').message).toMatch(/^`logits` is a tensor of 10/);
    expect(evalError('x', { x: logits }, 'CLEAVE_E_BAD_ARGUMENT').message).toMatch(/^`x` is a tensor of 10/);
  });

  it('refuses a number where the predicate or and/or/not needs true/false', () => {
    expect(evalError('logits[2]', { logits }, 'CLEAVE_E_BAD_ARGUMENT').message).toBe('the condition `logits[2]` gave a number (2.5), not true/false; compare it, e.g. `logits[2] > 0.5`');
    expect(evalError('k', { k: 3 }, 'CLEAVE_E_BAD_ARGUMENT').message).toMatch(/gave a number \(3\)/);
    expect(evalError('k and true', { k: 3 }, 'CLEAVE_E_BAD_ARGUMENT').message).toBe('`k` is a number (3), not true/false; "and" needs conditions (compare it, e.g. `k > 0.5`)');
    expect(evalError('not k', { k: 0 }, 'CLEAVE_E_BAD_ARGUMENT').message).toMatch(/"not" needs conditions/);
  });

  it('refuses booleans in arithmetic and mixed comparisons', () => {
    expect(evalError('flag + 1 > 0', { flag: true }, 'CLEAVE_E_BAD_ARGUMENT').message).toBe('`flag` is true/false, not a number, in `flag + 1`');
    expect(evalError('flag == 1', { flag: true }, 'CLEAVE_E_BAD_ARGUMENT').message).toBe('`flag == 1` compares true/false (true) with a number (1)');
    expect(evalError('flag < other', { flag: true, other: false }, 'CLEAVE_E_BAD_ARGUMENT').message).toMatch(/orders true\/false values/);
    expect(run('flag == other or flag != other', { flag: true, other: false })).toBe(true);
  });

  it('checks indexes: integers in range, on tensors only', () => {
    expect(evalError('logits[10] > 0', { logits }, 'CLEAVE_E_SHAPE').message).toBe('`logits[10]`: index 10 is not an element of a tensor of 10 elements (0..9)');
    evalError('logits[-1] > 0', { logits }, 'CLEAVE_E_SHAPE');
    evalError('logits[1.5] > 0', { logits }, 'CLEAVE_E_SHAPE');
    expect(evalError('iteration[0] > 0', { iteration: 1 }, 'CLEAVE_E_BAD_ARGUMENT').message).toBe('`iteration` is a number, not a tensor; only tensors can be indexed');
    expect(run('logits[k * 2] == logits[2]', { logits, k: 1 })).toBe(true);
  });

  it('refuses reductions over nothing, and odd lookup answers', () => {
    const empty = hostTensor('float32', [1, 0], new Float32Array(0));
    expect(evalError('max(e) > 0', { e: empty }, 'CLEAVE_E_SHAPE').message).toBe('`max(e)`: `e` has no elements');
    expect(run('len(e) == 0 and sum(e) == 0', { e: empty })).toBe(true);
    evalError('x > 0', { x: 'hello' as unknown as PredicateValue }, 'CLEAVE_E_BAD_ARGUMENT');
    evalError('len(x) > 0', { x: { dtype: 'string', dims: [1], data: new Uint8Array(1) } as unknown as HostTensor }, 'CLEAVE_E_DTYPE');
    evalError('len(x) > 0', { x: { dtype: 'float32', dims: [2, 2], data: new Float32Array(3) } }, 'CLEAVE_E_SHAPE');
  });

  it('lets a NaN through max and argmax rather than hiding it', () => {
    const t = hostTensor('float32', [3], Float32Array.from([1, Number.NaN, 3]));
    expect(run('max(t) >= 0 or max(t) < 0', { t })).toBe(false);
    expect(run('argmax(t) == 1', { t })).toBe(true);
  });
});

describe('properties', () => {
  const TOKENS = ['max', 'softmax', 'clamp', 'top2margin', 'x', 'cnn.logits', 'iteration', '(', ')', '[', ']', ',', '<', '<=', '==', '!=', '!', '&&', '||',
    'and', 'or', 'not', '+', '-', '*', '/', '%', '0', '1.5', '1e-3', '.', 'true', 'false', '=', '&', ' ', '\n', '0x1', '"', 'é'];

  const lookup = (ref: string): PredicateValue | undefined =>
    ref === 'iteration' ? 2 : ref === 'x' ? hostTensor('float32', [1, 3], Float32Array.from([0.2, 0.5, 0.3])) : ref.length % 2 === 0 ? 1 : undefined;

  function onlyCleaveErrors(source: string): void {
    let p;
    try {
      p = parsePredicate(source);
    } catch (e) {
      expect(e).toBeInstanceOf(CleaveError);
      const c = (e as CleaveError).detail['column'];
      if (source.length <= PREDICATE_LIMITS.maxSourceLength) expect(c).toBeGreaterThanOrEqual(1);
      return;
    }
    try {
      expect(typeof evaluatePredicate(p, lookup)).toBe('boolean');
    } catch (e) {
      expect(e).toBeInstanceOf(CleaveError);
    }
  }

  it('random strings make parsePredicate (and evaluatePredicate) throw nothing but CleaveError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), onlyCleaveErrors), { numRuns: 500 });
    fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 120 }).map((t) => t.join('')), onlyCleaveErrors), { numRuns: 1000 });
    fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 300 }).map((t) => t.join(' ')), onlyCleaveErrors), { numRuns: 500 });
  });

  // A condition tree with its own truth value, written with words or with symbols.
  interface Env { a: number; b: number; t: number[]; flag: boolean }
  type Cond =
    | { k: 'atom'; text: string; truth: (e: Env) => boolean }
    | { k: 'not'; c: Cond }
    | { k: 'and' | 'or'; l: Cond; r: Cond };

  const OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
  const cmp = (op: (typeof OPS)[number], x: number, y: number): boolean =>
    op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : op === '>=' ? x >= y : op === '==' ? x === y : x !== y;
  const argmax = (xs: number[]): number => xs.indexOf(Math.max(...xs));

  const atom: fc.Arbitrary<Cond> = fc.oneof(
    fc.tuple(fc.constantFrom(...OPS), fc.integer({ min: -6, max: 6 })).map(([op, k]): Cond => ({ k: 'atom', text: `a${op}${k}`, truth: (e) => cmp(op, e.a, k) })),
    fc.tuple(fc.constantFrom(...OPS), fc.integer({ min: -6, max: 6 })).map(([op, k]): Cond => ({ k: 'atom', text: `a+b${op}${k}`, truth: (e) => cmp(op, e.a + e.b, k) })),
    fc.tuple(fc.constantFrom(...OPS), fc.integer({ min: -6, max: 6 })).map(([op, k]): Cond => ({ k: 'atom', text: `max(t)${op}${k}`, truth: (e) => cmp(op, Math.max(...e.t), k) })),
    fc.integer({ min: 0, max: 3 }).map((k): Cond => ({ k: 'atom', text: `argmax(t)==${k}`, truth: (e) => argmax(e.t) === k })),
    fc.tuple(fc.constantFrom(...OPS), fc.integer({ min: 0, max: 3 })).map(([op, i]): Cond => ({ k: 'atom', text: `t[${i}]${op}b`, truth: (e) => cmp(op, e.t[i] as number, e.b) })),
    fc.constant<Cond>({ k: 'atom', text: 'flag', truth: (e) => e.flag }),
    fc.boolean().map((v): Cond => ({ k: 'atom', text: String(v), truth: () => v })),
  );

  function condArb(depth: number): fc.Arbitrary<Cond> {
    if (depth === 0) return atom;
    const sub = condArb(depth - 1);
    return fc.oneof(
      { arbitrary: atom, weight: 2 },
      { arbitrary: sub.map((c): Cond => ({ k: 'not', c })), weight: 1 },
      { arbitrary: fc.tuple(fc.constantFrom('and' as const, 'or' as const), sub, sub).map(([k, l, r]): Cond => ({ k, l, r })), weight: 3 },
    );
  }

  const PREC = { or: 1, and: 2, not: 3, atom: 4 } as const;
  const WORDS = { or: ' or ', and: ' and ', not: 'not ' };
  const SYMBOLS = { or: '||', and: '&&', not: '!' };

  /** Writes `c` with the fewest parentheses its shape needs, so precedence is exercised too. */
  function render(c: Cond, style: typeof WORDS, min = 0): string {
    const prec = PREC[c.k];
    const body =
      c.k === 'atom' ? c.text
      : c.k === 'not' ? `${style.not}${render(c.c, style, PREC.not)}`
      : `${render(c.l, style, prec)}${style[c.k]}${render(c.r, style, prec + 1)}`;
    return prec < min ? `(${body})` : body;
  }

  function truth(c: Cond, e: Env): boolean {
    if (c.k === 'atom') return c.truth(e);
    if (c.k === 'not') return !truth(c.c, e);
    return c.k === 'and' ? truth(c.l, e) && truth(c.r, e) : truth(c.l, e) || truth(c.r, e);
  }

  const envArb: fc.Arbitrary<Env> = fc.record({
    a: fc.integer({ min: -5, max: 5 }),
    b: fc.integer({ min: -5, max: 5 }),
    t: fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 4, maxLength: 4 }),
    flag: fc.boolean(),
  });

  it('well-formed conditions give the same truth with and/or/not as with &&/||/!, and the right one', () => {
    fc.assert(
      fc.property(condArb(5), envArb, (c, e) => {
        const values = { a: e.a, b: e.b, flag: e.flag, t: hostTensor('float32', [1, 4], Float32Array.from(e.t)) };
        const words = run(render(c, WORDS), values);
        const symbols = run(render(c, SYMBOLS), values);
        expect(words).toBe(truth(c, e));
        expect(symbols).toBe(words);
      }),
      { numRuns: 500 },
    );
  });
});
