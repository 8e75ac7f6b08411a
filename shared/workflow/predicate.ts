/**
 * The condition language of Cleave's DAG workflows: the test on a conditional edge, a loop's exit
 * and an early-exit check, e.g. `max(softmax(cnn.logits)) >= 0.9 and iteration < 4`.
 *
 * Conditions arrive in workflow documents, so they are data, never code: a hand-written
 * recursive-descent parser turns the source into a small AST and an interpreter walks it over
 * node outputs. No `eval`, no `new Function` (Workers refuse both, and they would let a workflow
 * author run code).
 *
 * Grammar (EBNF; lowest precedence first; whitespace, tabs and newlines separate tokens freely):
 *
 *   predicate  = or_expr EOF ;
 *   or_expr    = and_expr { ( "or" | "||" ) and_expr } ;
 *   and_expr   = not_expr { ( "and" | "&&" ) not_expr } ;
 *   not_expr   = ( "not" | "!" ) not_expr | comparison ;
 *   comparison = sum [ ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) sum ] ;   (* no chaining *)
 *   sum        = product { ( "+" | "-" ) product } ;
 *   product    = unary { ( "*" | "/" | "%" ) unary } ;
 *   unary      = "-" unary | postfix ;
 *   postfix    = primary { "[" sum "]" } ;                 (* flat row-major element index *)
 *   primary    = number | "true" | "false" | call | reference | "(" or_expr ")" ;
 *   call       = function "(" [ sum { "," sum } ] ")" ;
 *   reference  = name { "." name } ;                       (* logits, cnn.logits, iteration *)
 *   name       = ( letter | "_" ) { letter | digit | "_" } ;
 *   number     = ( digits [ "." digits ] | "." digits ) [ ( "e" | "E" ) [ "+" | "-" ] digits ] ;
 *   function   = "abs" | "argmax" | "argmin" | "clamp" | "exp" | "len" | "log" | "max" | "mean"
 *              | "min" | "softmax" | "sqrt" | "sum" | "top2margin" ;
 *
 * `and`, `or`, `not`, `true` and `false` are keywords and cannot name a reference (they can
 * after a dot: `node.not` is a reference). `not` binds looser than a comparison, as in Python:
 * `not argmax(x) == 0` is `not (argmax(x) == 0)`; `!` is the same operator. Numbers have no hex
 * form and no trailing dot. Function arguments and indexes are arithmetic (`sum`), so a missing
 * `)` in `max(probs < 0.8` is reported where it is missing.
 *
 * Values are numbers, booleans and tensors. Comparisons, `and`, `or` and `not` take scalars: a
 * tensor of one element counts as a scalar (a boolean one if its dtype is bool); a larger tensor
 * there is an error that tells the author to reduce or index it. Arithmetic works elementwise
 * between a tensor and a scalar, or two tensors of equal element count, with IEEE semantics (x/0
 * is Infinity, `%` is JS remainder). `and`/`or` short-circuit, so the right side's references are
 * not even looked up when the left decides.
 *
 * Limits (PREDICATE_LIMITS, each refused with CLEAVE_E_BAD_ARGUMENT naming it): 1024 characters
 * of source, 32 levels of nesting (each parenthesis, call, index and prefix operator is a level),
 * 256 AST nodes. Columns in messages are 1-based UTF-16 offsets into the whole source (newlines
 * included), with a caret excerpt below the first line of the message.
 */
import { CleaveError } from '../errors.js';
import { fromBFloat16Bits, fromFloat16Bits } from '../kserve/half-float.js';
import type { HostTensor } from '../tensor.js';

/** A parsed condition. Plain data: it can be logged or serialised; its AST stays private. */
export interface Predicate {
  readonly source: string;
  /** References in order of first appearance: 'logits', 'cnn.logits', and 'iteration' if used. */
  readonly references: readonly string[];
}

/** What a reference resolves to: a node output (any numeric dtype), a number or a boolean. */
export type PredicateValue = HostTensor | number | boolean;

/** Bounds on what parsePredicate accepts; hostile workflow documents meet these first. */
export interface PredicateLimits {
  /** Characters of source (UTF-16 code units). Default 1024. */
  readonly maxSourceLength: number;
  /** Nesting levels: parentheses, calls, indexes and prefix operators. Default 32. */
  readonly maxDepth: number;
  /** AST nodes (literals, references, operators, calls). Default 256. */
  readonly maxNodes: number;
}

/** The default limits. */
export const PREDICATE_LIMITS: Readonly<PredicateLimits> = Object.freeze({ maxSourceLength: 1024, maxDepth: 32, maxNodes: 256 });

// ---------------------------------------------------------------------------------------------
// Functions

interface FunctionInfo {
  readonly arity: number;
}

/** Every function takes numbers or tensors; arity is checked when parsing. */
const FUNCTIONS = new Map<string, FunctionInfo>([
  ['abs', { arity: 1 }],
  ['argmax', { arity: 1 }],
  ['argmin', { arity: 1 }],
  ['clamp', { arity: 3 }],
  ['exp', { arity: 1 }],
  ['len', { arity: 1 }],
  ['log', { arity: 1 }],
  ['max', { arity: 1 }],
  ['mean', { arity: 1 }],
  ['min', { arity: 1 }],
  ['softmax', { arity: 1 }],
  ['sqrt', { arity: 1 }],
  ['sum', { arity: 1 }],
  ['top2margin', { arity: 1 }],
]);

const KNOWN_FUNCTIONS = [...FUNCTIONS.keys()].sort().join(', ');

// ---------------------------------------------------------------------------------------------
// AST

type ArithOp = '+' | '-' | '*' | '/' | '%';
type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

interface Span {
  /** 0-based offset of the first character. */
  readonly start: number;
  /** 0-based offset past the last character. */
  readonly end: number;
}

type Node = Span &
  (
    | { readonly k: 'num'; readonly value: number }
    | { readonly k: 'bool'; readonly value: boolean }
    | { readonly k: 'ref'; readonly name: string }
    | { readonly k: 'call'; readonly fn: string; readonly args: readonly Node[] }
    | { readonly k: 'index'; readonly target: Node; readonly index: Node }
    | { readonly k: 'neg'; readonly operand: Node }
    | { readonly k: 'not'; readonly operand: Node }
    | { readonly k: 'arith'; readonly op: ArithOp; readonly left: Node; readonly right: Node }
    | { readonly k: 'cmp'; readonly op: CompareOp; readonly left: Node; readonly right: Node }
    | { readonly k: 'and' | 'or'; readonly left: Node; readonly right: Node }
  );

/** What the parser can tell about a node's value without data: references could be anything. */
type StaticKind = 'num' | 'bool' | 'any';

function staticKind(n: Node): StaticKind {
  switch (n.k) {
    case 'num': case 'call': case 'neg': case 'arith': return 'num';
    case 'bool': case 'cmp': case 'not': case 'and': case 'or': return 'bool';
    case 'ref': case 'index': return 'any';
  }
}

/** The AST of each Predicate made here; a look-alike object is parsed again from its source. */
const ASTS = new WeakMap<Predicate, Node>();

// ---------------------------------------------------------------------------------------------
// Errors with a column and a caret

const EXCERPT_WIDTH = 72;

/** Two lines: the source (windowed around `offset` when long) and a caret under `offset`. */
function caretExcerpt(src: string, offset: number): string {
  // Control characters (newlines, tabs) print as one space each, so the caret stays aligned.
  const flat = src.replace(/[\u0000-\u001f\u007f]/g, ' ');
  let from = 0;
  let to = flat.length;
  if (flat.length > EXCERPT_WIDTH) {
    from = Math.max(0, Math.min(offset - EXCERPT_WIDTH / 2, flat.length - EXCERPT_WIDTH));
    to = Math.min(flat.length, from + EXCERPT_WIDTH);
  }
  const head = from > 0 ? '...' : '';
  const tail = to < flat.length ? '...' : '';
  return `  ${head}${flat.slice(from, to)}${tail}\n  ${' '.repeat(head.length + offset - from)}^`;
}

function parseError(src: string, offset: number, message: string, expected: string, extra: Record<string, string | number> = {}): CleaveError {
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${message}\n${caretExcerpt(src, offset)}`, { column: offset + 1, expected, ...extra });
}

// ---------------------------------------------------------------------------------------------
// Lexer

type TokenKind = 'num' | 'name' | 'op' | 'eof';

interface Token extends Span {
  readonly kind: TokenKind;
  readonly text: string;
  /** The literal's value for 'num' tokens; 0 otherwise. */
  readonly value: number;
}

const OPERATORS = ['<=', '>=', '==', '!=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '%', '(', ')', '[', ']', ','] as const;
const NUMBER = /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const NUMBER_TAIL = /[A-Za-z0-9_.]+/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /[ \t\r\n]*/y;
const LONE_HINTS: Readonly<Record<string, string>> = { '=': '==', '&': '&&', '|': '||' };

function describeToken(t: Token): string {
  return t.kind === 'eof' ? 'end of input' : JSON.stringify(t.text);
}

class Lexer {
  private pos = 0;

  constructor(private readonly src: string) {}

  next(): Token {
    const src = this.src;
    SPACE.lastIndex = this.pos;
    SPACE.test(src);
    const start = SPACE.lastIndex;
    this.pos = start;
    if (start >= src.length) return { kind: 'eof', text: '', start, end: start, value: 0 };
    const c = src.charAt(start);

    NUMBER.lastIndex = start;
    const num = NUMBER.exec(src);
    if (num !== null) {
      let end = NUMBER.lastIndex;
      // `0x1f`, `1e`, `1.2.3`, `3abc`: one malformed number, not a number followed by a name.
      NUMBER_TAIL.lastIndex = end;
      if (NUMBER_TAIL.exec(src) !== null) {
        end = NUMBER_TAIL.lastIndex;
        const text = src.slice(start, end);
        const hint = /^0[xX]/.test(text) ? '; hex numbers are not supported' : '';
        throw parseError(src, start, `malformed number ${JSON.stringify(text)} at column ${start + 1}${hint}`, 'a number', { found: text });
      }
      const text = src.slice(start, end);
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw parseError(src, start, `number ${text} at column ${start + 1} is out of range`, 'a finite number', { found: text });
      }
      this.pos = end;
      return { kind: 'num', text, start, end, value };
    }

    NAME.lastIndex = start;
    if (NAME.exec(src) !== null) {
      let end = NAME.lastIndex;
      while (src.charAt(end) === '.') {
        NAME.lastIndex = end + 1;
        if (NAME.exec(src) === null) {
          const found = end + 1 < src.length ? JSON.stringify(src.charAt(end + 1)) : 'end of input';
          throw parseError(src, end + 1, `expected a name after "." at column ${end + 2}, found ${found}`, 'a name');
        }
        end = NAME.lastIndex;
      }
      this.pos = end;
      return { kind: 'name', text: src.slice(start, end), start, end, value: 0 };
    }

    for (const op of OPERATORS) {
      if (src.startsWith(op, start)) {
        this.pos = start + op.length;
        return { kind: 'op', text: op, start, end: this.pos, value: 0 };
      }
    }
    const hint = LONE_HINTS[c];
    const tail = hint === undefined ? '' : `; did you mean "${hint}"?`;
    throw parseError(src, start, `unexpected character ${JSON.stringify(c)} at column ${start + 1}${tail}`, hint === undefined ? 'an expression or operator' : `"${hint}"`, { found: c });
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false']);
const COMPARE_OPS = new Set<string>(['<', '<=', '>', '>=', '==', '!=']);

function isWord(t: Token, word: string, symbol: string): boolean {
  return (t.kind === 'name' && t.text === word) || (t.kind === 'op' && t.text === symbol);
}

function isOp(t: Token, ...ops: string[]): boolean {
  return t.kind === 'op' && ops.includes(t.text);
}

class Parser {
  private tok: Token;
  private depth = 0;
  private nodes = 0;
  readonly references = new Set<string>();
  private readonly lexer: Lexer;

  constructor(private readonly src: string, private readonly limits: PredicateLimits, private readonly expression = false) {
    this.lexer = new Lexer(src);
    this.tok = this.lexer.next();
  }

  parse(): Node {
    const root = this.parseOr();
    if (this.tok.kind !== 'eof') {
      const t = this.tok;
      throw this.fail(t.start, `expected an operator or end of input at column ${t.start + 1}, found ${describeToken(t)}`, 'an operator or end of input', t);
    }
    if (!this.expression && staticKind(root) === 'num') {
      const text = this.text(root);
      throw this.fail(root.start, `the condition \`${text}\` at column ${root.start + 1} is a number, not true/false; compare it, e.g. \`${text} > 0.5\``, 'a condition');
    }
    return root;
  }

  private fail(offset: number, message: string, expected: string, found?: Token): CleaveError {
    return parseError(this.src, offset, message, expected, found === undefined || found.kind === 'eof' ? {} : { found: found.text });
  }

  private text(n: Span): string {
    return this.src.slice(n.start, n.end);
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private expect(op: string): Token {
    const t = this.tok;
    if (t.kind !== 'op' || t.text !== op) {
      throw this.fail(t.start, `expected "${op}" at column ${t.start + 1}, found ${describeToken(t)}`, `"${op}"`, t);
    }
    return this.advance();
  }

  /** One level deeper; the limit keeps both the parser's and the interpreter's stacks small. */
  private enter(at: Token): void {
    if (++this.depth > this.limits.maxDepth) {
      throw this.fail(at.start, `nesting deeper than ${this.limits.maxDepth} levels (maxDepth) at column ${at.start + 1}`, `at most ${this.limits.maxDepth} levels of nesting`, at);
    }
  }

  private leave(): void {
    this.depth--;
  }

  private make(n: Node): Node {
    if (++this.nodes > this.limits.maxNodes) {
      throw this.fail(n.start, `expression has more than ${this.limits.maxNodes} nodes (maxNodes) at column ${n.start + 1}`, `at most ${this.limits.maxNodes} nodes`);
    }
    return n;
  }

  /** `n` feeds and/or/not: a node that is surely a number is a mistake worth reporting now. */
  private needCondition(n: Node, op: Token): void {
    if (staticKind(n) !== 'num') return;
    const text = this.text(n);
    throw this.fail(n.start, `\`${text}\` at column ${n.start + 1} is a number, not true/false; "${op.text}" needs conditions (compare it, e.g. \`${text} > 0.5\`)`, 'a condition');
  }

  /** `n` feeds arithmetic, a call, an index or an ordering: a condition there is a mistake. */
  private needNumber(n: Node, where: string): void {
    if (staticKind(n) !== 'bool') return;
    throw this.fail(n.start, `\`${this.text(n)}\` at column ${n.start + 1} is true/false, not a number; ${where} needs numbers or tensors`, 'a number or tensor');
  }

  private parseOr(): Node {
    let left = this.parseAnd();
    while (isWord(this.tok, 'or', '||')) {
      const op = this.advance();
      const right = this.parseAnd();
      this.needCondition(left, op);
      this.needCondition(right, op);
      left = this.make({ k: 'or', left, right, start: left.start, end: right.end });
    }
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseNot();
    while (isWord(this.tok, 'and', '&&')) {
      const op = this.advance();
      const right = this.parseNot();
      this.needCondition(left, op);
      this.needCondition(right, op);
      left = this.make({ k: 'and', left, right, start: left.start, end: right.end });
    }
    return left;
  }

  private parseNot(): Node {
    if (!isWord(this.tok, 'not', '!')) return this.parseComparison();
    const op = this.advance();
    this.enter(op);
    const operand = this.parseNot();
    this.leave();
    this.needCondition(operand, op);
    return this.make({ k: 'not', operand, start: op.start, end: operand.end });
  }

  private parseComparison(): Node {
    const left = this.parseSum();
    if (this.tok.kind !== 'op' || !COMPARE_OPS.has(this.tok.text)) return left;
    const op = this.advance();
    const right = this.parseSum();
    const t = this.tok;
    if (t.kind === 'op' && COMPARE_OPS.has(t.text)) {
      throw this.fail(t.start, `comparisons do not chain: unexpected ${describeToken(t)} at column ${t.start + 1}; write \`a < b and b < c\``, 'and, or, ) or end of input', t);
    }
    if (op.text === '==' || op.text === '!=') {
      const kl = staticKind(left);
      const kr = staticKind(right);
      if ((kl === 'num' && kr === 'bool') || (kl === 'bool' && kr === 'num')) {
        throw this.fail(op.start, `"${op.text}" at column ${op.start + 1} compares a number with true/false`, 'operands of one kind');
      }
    } else {
      this.needNumber(left, `"${op.text}"`);
      this.needNumber(right, `"${op.text}"`);
    }
    return this.make({ k: 'cmp', op: op.text as CompareOp, left, right, start: left.start, end: right.end });
  }

  private parseSum(): Node {
    let left = this.parseProduct();
    while (isOp(this.tok, '+', '-')) {
      const op = this.advance();
      const right = this.parseProduct();
      this.needNumber(left, `"${op.text}"`);
      this.needNumber(right, `"${op.text}"`);
      left = this.make({ k: 'arith', op: op.text as ArithOp, left, right, start: left.start, end: right.end });
    }
    return left;
  }

  private parseProduct(): Node {
    let left = this.parseUnary();
    while (isOp(this.tok, '*', '/', '%')) {
      const op = this.advance();
      const right = this.parseUnary();
      this.needNumber(left, `"${op.text}"`);
      this.needNumber(right, `"${op.text}"`);
      left = this.make({ k: 'arith', op: op.text as ArithOp, left, right, start: left.start, end: right.end });
    }
    return left;
  }

  private parseUnary(): Node {
    if (!isOp(this.tok, '-')) return this.parsePostfix();
    const op = this.advance();
    this.enter(op);
    const operand = this.parseUnary();
    this.leave();
    this.needNumber(operand, 'unary "-"');
    // A negative literal is one node, so `-1` costs no more of the node budget than `1`.
    if (operand.k === 'num') return { k: 'num', value: -operand.value, start: op.start, end: operand.end };
    return this.make({ k: 'neg', operand, start: op.start, end: operand.end });
  }

  private parsePostfix(): Node {
    let target = this.parsePrimary();
    while (isOp(this.tok, '[')) {
      const open = this.advance();
      this.enter(open);
      const index = this.parseSum();
      const close = this.expect(']');
      this.leave();
      this.needNumber(target, 'indexing');
      this.needNumber(index, 'an index');
      target = this.make({ k: 'index', target, index, start: target.start, end: close.end });
    }
    return target;
  }

  private parsePrimary(): Node {
    const t = this.tok;
    if (t.kind === 'num') {
      this.advance();
      return this.make({ k: 'num', value: t.value, start: t.start, end: t.end });
    }
    if (isOp(t, '(')) {
      this.advance();
      this.enter(t);
      const inner = this.parseOr();
      const close = this.expect(')');
      this.leave();
      // Widen the span so messages quote `(a or b)` as written.
      return { ...inner, start: t.start, end: close.end };
    }
    if (t.kind === 'name') {
      if (t.text === 'true' || t.text === 'false') {
        this.advance();
        return this.make({ k: 'bool', value: t.text === 'true', start: t.start, end: t.end });
      }
      if (!KEYWORDS.has(t.text)) {
        this.advance();
        if (isOp(this.tok, '(')) return this.parseCall(t);
        this.references.add(t.text);
        return this.make({ k: 'ref', name: t.text, start: t.start, end: t.end });
      }
    }
    throw this.fail(t.start, `expected an expression at column ${t.start + 1}, found ${describeToken(t)}`, 'an expression', t);
  }

  private parseCall(name: Token): Node {
    const info = FUNCTIONS.get(name.text);
    if (info === undefined) {
      throw this.fail(name.start, `unknown function ${JSON.stringify(name.text)} at column ${name.start + 1}; known: ${KNOWN_FUNCTIONS}`, `one of ${KNOWN_FUNCTIONS}`, name);
    }
    const open = this.advance();
    this.enter(open);
    const args: Node[] = [];
    if (!isOp(this.tok, ')')) {
      args.push(this.parseSum());
      while (isOp(this.tok, ',')) {
        this.advance();
        args.push(this.parseSum());
      }
    }
    const close = this.expect(')');
    this.leave();
    if (args.length !== info.arity) {
      const plural = info.arity === 1 ? 'argument' : 'arguments';
      throw this.fail(name.start, `"${name.text}" takes ${info.arity} ${plural}, got ${args.length} at column ${name.start + 1}`, `${info.arity} ${plural}`);
    }
    for (const a of args) this.needNumber(a, `"${name.text}"`);
    return this.make({ k: 'call', fn: name.text, args, start: name.start, end: close.end });
  }
}

/**
 * Parses a condition. Throws CleaveError CLEAVE_E_BAD_ARGUMENT with the 1-based column and a
 * caret excerpt in the message, detail `{ column, expected }` (and `found` when there was a
 * token). `limits` defaults to PREDICATE_LIMITS. `kind` 'expression' accepts a number as the
 * result (a template's `{{argmax(logits)}}`); a condition must come out true or false.
 */
export function parsePredicate(source: string, limits: Partial<PredicateLimits> = {}, kind: 'condition' | 'expression' = 'condition'): Predicate {
  const lim: PredicateLimits = { ...PREDICATE_LIMITS, ...limits };
  if (typeof source !== 'string') {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `a predicate must be a string, got ${source === null ? 'null' : typeof source}`, { expected: 'a string' });
  }
  if (source.length > lim.maxSourceLength) {
    throw new CleaveError(
      'CLEAVE_E_BAD_ARGUMENT',
      `predicate source is ${source.length} characters, more than the limit of ${lim.maxSourceLength} (maxSourceLength)`,
      { column: lim.maxSourceLength + 1, expected: `at most ${lim.maxSourceLength} characters`, limit: 'maxSourceLength' },
    );
  }
  const parser = new Parser(source, lim, kind === 'expression');
  const root = parser.parse();
  const p: Predicate = Object.freeze({ source, references: Object.freeze([...parser.references]) });
  ASTS.set(p, root);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Interpreter

/** A tensor as the interpreter sees it: elements widened to float64, dims kept for softmax. */
interface Tens {
  readonly values: Float64Array;
  readonly dims: readonly number[];
  /** Elements are 0/1 truth values (dtype bool): a 1-element one reads as true/false. */
  readonly bool: boolean;
}

type Val = number | boolean | Tens;
type Num = number | Tens;

function isHostTensor(v: unknown): v is HostTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'dims' in v && 'data' in v;
}

function describeVal(v: Val): string {
  if (typeof v === 'number') return `a number (${v})`;
  if (typeof v === 'boolean') return `true/false (${v})`;
  return `a tensor of ${v.values.length} elements`;
}

class Interpreter {
  private readonly resolved = new Map<string, Val>();

  constructor(private readonly src: string, private readonly lookup: (reference: string) => PredicateValue | undefined) {}

  private text(n: Span): string {
    return this.src.slice(n.start, n.end);
  }

  private error(code: 'CLEAVE_E_BAD_ARGUMENT' | 'CLEAVE_E_SHAPE', n: Node, message: string): CleaveError {
    return new CleaveError(code, message, { column: n.start + 1, expression: this.text(n) });
  }

  /** An expression for a template: a scalar (number or boolean). */
  scalarOf(root: Node): number | boolean {
    return this.scalar(root);
  }

  /** The whole predicate: it must come out true or false. */
  condition(root: Node): boolean {
    const v = this.scalar(root);
    if (typeof v === 'boolean') return v;
    const text = this.text(root);
    throw this.error('CLEAVE_E_BAD_ARGUMENT', root, `the condition \`${text}\` gave a number (${v}), not true/false; compare it, e.g. \`${text} > 0.5\``);
  }

  private value(n: Node): Val {
    switch (n.k) {
      case 'num': case 'bool': return n.value;
      case 'ref': return this.resolve(n, n.name);
      case 'call': return this.call(n, n.fn, n.args);
      case 'index': return this.index(n, n.target, n.index);
      case 'neg': return map(this.numeric(n.operand, n), (x) => -x);
      case 'not': return !this.truth(n.operand, 'not');
      case 'and': return this.truth(n.left, 'and') && this.truth(n.right, 'and');
      case 'or': return this.truth(n.left, 'or') || this.truth(n.right, 'or');
      case 'arith': return this.arith(n, n.op, this.numeric(n.left, n), this.numeric(n.right, n));
      case 'cmp': return this.compare(n, n.op, n.left, n.right);
    }
  }

  private resolve(n: Node, name: string): Val {
    const hit = this.resolved.get(name);
    if (hit !== undefined) return hit;
    const raw = this.lookup(name);
    if (raw === undefined) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `unknown reference "${name}" at column ${n.start + 1}: no node output or variable by that name`, { reference: name, column: n.start + 1 });
    }
    let v: Val;
    if (typeof raw === 'number' || typeof raw === 'boolean') v = raw;
    else if (isHostTensor(raw)) v = toTens(raw, name);
    else {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `reference "${name}" resolved to ${raw === null ? 'null' : typeof raw}; expected a tensor, a number or a boolean`, { reference: name });
    }
    this.resolved.set(name, v);
    return v;
  }

  /** A value where one number or truth value is needed; a 1-element tensor qualifies. */
  private scalar(n: Node): number | boolean {
    const v = this.value(n);
    if (typeof v !== 'object') return v;
    const first = v.values[0];
    if (v.values.length === 1 && first !== undefined) return v.bool ? first !== 0 : first;
    throw this.error(
      'CLEAVE_E_BAD_ARGUMENT',
      n,
      `\`${this.text(n)}\` is a tensor of ${v.values.length} elements; reduce it with max(), argmax(), mean(), top2margin(), ... or index it`,
    );
  }

  private truth(n: Node, op: string): boolean {
    const v = this.scalar(n);
    if (typeof v === 'boolean') return v;
    const text = this.text(n);
    throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${text}\` is a number (${v}), not true/false; "${op}" needs conditions (compare it, e.g. \`${text} > 0.5\`)`);
  }

  /** A number or tensor operand of `user` (arithmetic, a call, an index). */
  private numeric(n: Node, user: Node): Num {
    const v = this.value(n);
    if (typeof v !== 'boolean') return v;
    throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${this.text(n)}\` is true/false, not a number, in \`${this.text(user)}\``);
  }

  private scalarNumber(n: Node, user: Node): number {
    const v = this.scalar(n);
    if (typeof v === 'number') return v;
    throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${this.text(n)}\` is true/false, not a number, in \`${this.text(user)}\``);
  }

  private compare(n: Node, op: CompareOp, left: Node, right: Node): boolean {
    const a = this.scalar(left);
    const b = this.scalar(right);
    if (typeof a !== typeof b) {
      throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${this.text(n)}\` compares ${describeVal(a)} with ${describeVal(b)}`);
    }
    if (typeof a === 'boolean' && op !== '==' && op !== '!=') {
      throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${this.text(n)}\` orders true/false values; "${op}" needs numbers`);
    }
    switch (op) {
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      case '>=': return a >= b;
      case '==': return a === b;
      case '!=': return a !== b;
    }
  }

  private arith(n: Node, op: ArithOp, a: Num, b: Num): Num {
    const f = ARITH[op];
    if (typeof a === 'number' && typeof b === 'number') return f(a, b);
    if (typeof a === 'number') return map(b, (y) => f(a, y));
    if (typeof b === 'number') return map(a, (x) => f(x, b));
    const na = a.values.length;
    const nb = b.values.length;
    if (na === nb) {
      const out = new Float64Array(na);
      for (let i = 0; i < na; i++) out[i] = f(a.values[i] as number, b.values[i] as number);
      return { values: out, dims: a.dims, bool: false };
    }
    // A 1-element tensor is a scalar here too.
    if (na === 1) return this.arith(n, op, a.values[0] as number, b);
    if (nb === 1) return this.arith(n, op, a, b.values[0] as number);
    throw this.error('CLEAVE_E_SHAPE', n, `\`${this.text(n)}\` combines tensors of ${na} and ${nb} elements; elementwise "${op}" needs equal counts`);
  }

  private index(n: Node, target: Node, index: Node): number | boolean {
    const t = this.numeric(target, n);
    const i = this.scalarNumber(index, n);
    if (typeof t === 'number') {
      throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${this.text(target)}\` is a number, not a tensor; only tensors can be indexed`);
    }
    const count = t.values.length;
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw this.error('CLEAVE_E_SHAPE', n, `\`${this.text(n)}\`: index ${i} is not an element of a tensor of ${count} elements (0..${count - 1})`);
    }
    const v = t.values[i] as number;
    return t.bool ? v !== 0 : v;
  }

  private call(n: Node, fn: string, args: readonly Node[]): Num {
    const [a0, a1, a2] = args;
    if (a0 === undefined) throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `"${fn}" got no arguments`);
    const x = this.numeric(a0, n);
    const all = (): Float64Array => (typeof x === 'number' ? Float64Array.of(x) : x.values);
    const nonEmpty = (): Float64Array => {
      const v = all();
      if (v.length === 0) throw this.error('CLEAVE_E_SHAPE', n, `\`${this.text(n)}\`: \`${this.text(a0)}\` has no elements`);
      return v;
    };
    switch (fn) {
      case 'max': return reduceExtreme(nonEmpty(), 1, false);
      case 'min': return reduceExtreme(nonEmpty(), -1, false);
      case 'argmax': return reduceExtreme(nonEmpty(), 1, true);
      case 'argmin': return reduceExtreme(nonEmpty(), -1, true);
      case 'sum': return sum(all());
      case 'mean': {
        const v = nonEmpty();
        return sum(v) / v.length;
      }
      case 'len': return all().length;
      case 'abs': return map(x, Math.abs);
      case 'exp': return map(x, Math.exp);
      case 'log': return map(x, Math.log);
      case 'sqrt': return map(x, Math.sqrt);
      case 'softmax': return softmax(x);
      case 'top2margin': {
        const v = all();
        if (v.length < 2) throw this.error('CLEAVE_E_SHAPE', n, `\`${this.text(n)}\` needs at least 2 elements; \`${this.text(a0)}\` has ${v.length}`);
        return top2margin(v);
      }
      case 'clamp': {
        if (a1 === undefined || a2 === undefined) throw this.error('CLEAVE_E_BAD_ARGUMENT', n, '"clamp" takes 3 arguments');
        const lo = this.scalarNumber(a1, n);
        const hi = this.scalarNumber(a2, n);
        if (!(lo <= hi)) throw this.error('CLEAVE_E_BAD_ARGUMENT', n, `\`${this.text(n)}\`: lower bound ${lo} is above upper bound ${hi}`);
        return map(x, (v) => Math.min(Math.max(v, lo), hi));
      }
      default:
        // parsePredicate admits only known functions; reaching here is a bug.
        throw new CleaveError('CLEAVE_E_INTERNAL', `predicate function "${fn}" has no implementation`);
    }
  }
}

const ARITH: Readonly<Record<ArithOp, (a: number, b: number) => number>> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

function map(x: Num, f: (v: number) => number): Num {
  if (typeof x === 'number') return f(x);
  const out = new Float64Array(x.values.length);
  for (let i = 0; i < out.length; i++) out[i] = f(x.values[i] as number);
  return { values: out, dims: x.dims, bool: false };
}

function sum(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] as number;
  return s;
}

/** max/min (sign 1/-1) or their flat index; a NaN wins, as in numpy, so it is never hidden. */
function reduceExtreme(v: Float64Array, sign: 1 | -1, wantIndex: boolean): number {
  let best = 0;
  let bv = v[0] as number;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (Number.isNaN(x)) return wantIndex ? i : NaN;
    if (sign * x > sign * bv) {
      bv = x;
      best = i;
    }
  }
  return wantIndex ? best : bv;
}

/** Largest minus second largest element; ties give 0. */
function top2margin(v: Float64Array): number {
  let a = -Infinity;
  let b = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (Number.isNaN(x)) return NaN;
    if (x > a) {
      b = a;
      a = x;
    } else if (x > b) b = x;
  }
  return a - b;
}

/** Softmax over the last axis, shifted by each row's max so large logits do not overflow exp. */
function softmax(x: Num): Num {
  if (typeof x === 'number') return Number.isNaN(x) ? NaN : 1;
  const c = x.dims.length === 0 ? 1 : (x.dims[x.dims.length - 1] as number);
  const out = new Float64Array(x.values.length);
  for (let r = 0; c > 0 && r < out.length; r += c) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x.values[r + j] as number);
    let s = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp((x.values[r + j] as number) - m);
      out[r + j] = e;
      s += e;
    }
    for (let j = 0; j < c; j++) out[r + j] = (out[r + j] as number) / s;
  }
  return { values: out, dims: x.dims, bool: false };
}

/** A HostTensor as float64 elements; int64/uint64 through Number(), float16/bfloat16 decoded. */
function toTens(t: HostTensor, name: string): Tens {
  if (t.dtype === 'string') {
    throw new CleaveError('CLEAVE_E_DTYPE', `reference "${name}" is a string tensor; conditions read numeric tensors`, { reference: name, dtype: t.dtype });
  }
  if (!Array.isArray(t.dims) || !ArrayBuffer.isView(t.data)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `reference "${name}" is not a well-formed tensor (dims array and typed-array data needed)`, { reference: name });
  }
  let count = 1;
  for (const d of t.dims) count *= d;
  if (!t.dims.every((d) => Number.isInteger(d) && d >= 0) || count !== t.data.length) {
    throw new CleaveError('CLEAVE_E_SHAPE', `reference "${name}" has shape [${t.dims.join(',')}] but ${t.data.length} elements`, { reference: name, dims: [...t.dims] });
  }
  const values = new Float64Array(count);
  const data = t.data;
  const decode = t.dtype === 'float16' ? fromFloat16Bits : t.dtype === 'bfloat16' ? fromBFloat16Bits : Number;
  for (let i = 0; i < count; i++) values[i] = decode(Number(data[i]));
  return { values, dims: [...t.dims], bool: t.dtype === 'bool' };
}

/**
 * Evaluates a predicate over node outputs. `lookup` answers each reference ('logits',
 * 'cnn.logits', 'iteration') or undefined; each is asked at most once per evaluation and only
 * when reached (and/or short-circuit). An unknown reference is CLEAVE_E_NOT_FOUND naming it; a
 * type mistake (a tensor compared, a number where a condition belongs) is CLEAVE_E_BAD_ARGUMENT,
 * a size mismatch CLEAVE_E_SHAPE, each quoting the offending expression.
 */
export function evaluatePredicate(p: Predicate, lookup: (reference: string) => PredicateValue | undefined): boolean {
  let root = ASTS.get(p);
  if (root === undefined) {
    // A Predicate that went through JSON (or was written by hand): parse its source again.
    const fresh = parsePredicate(p.source);
    root = ASTS.get(fresh) as Node;
  }
  return new Interpreter(p.source, lookup).condition(root);
}

/**
 * Evaluates an expression of the same language to a scalar (a number or a boolean), for
 * templates: `{{argmax(logits)}}` renders the class index. A tensor of more than one element is
 * CLEAVE_E_BAD_ARGUMENT (reduce or index it), as in a condition.
 */
export function evaluateScalar(p: Predicate, lookup: (reference: string) => PredicateValue | undefined): number | boolean {
  let root = ASTS.get(p);
  if (root === undefined) {
    const fresh = parsePredicate(p.source, {}, 'expression');
    root = ASTS.get(fresh) as Node;
  }
  return new Interpreter(p.source, lookup).scalarOf(root);
}
