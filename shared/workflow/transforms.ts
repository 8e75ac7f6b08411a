/**
 * The `transform` nodes of a workflow: small tensor programs that run wherever the data is,
 * with no model (softmax, argmax, top-k, greedy CTC decoding, text templates). They are cheap
 * next to a model call, so the executor runs them inline on the edge and the router never
 * places them.
 *
 * Templates render text: each `{{...}}` is an expression of the condition language
 * (predicate.ts) evaluated to a scalar; `{{label(expr)}}` renders `labels[expr]`. A template
 * yields one string per request (batch rows are not rendered one by one: conditions and
 * templates read a request's tensors whole, so per-row text wants one row per request).
 */
import { CleaveError } from '../errors.js';
import { hostTensor, type HostTensor } from '../tensor.js';
import type { WorkflowNode } from './definition.js';
import { evaluateScalar, parsePredicate, type Predicate, type PredicateValue } from './predicate.js';

/** Text a template renders: a string tensor of one element per request. */
export interface TextTensor {
  readonly dtype: 'string';
  readonly dims: readonly number[];
  readonly text: readonly string[];
}

/** What flows between workflow nodes: numeric tensors, and text from templates. */
export type WorkflowValue = HostTensor | TextTensor;

export function isTextTensor(v: WorkflowValue): v is TextTensor {
  return v.dtype === 'string';
}

type TransformParams = Extract<WorkflowNode, { type: 'transform' }>['params'];

/** A template split into literal text and parsed expressions, once per deployed workflow. */
export interface CompiledTemplate {
  readonly parts: readonly (string | { readonly expr: Predicate; readonly label: boolean })[];
}

/** Largest text a template may render, characters. */
export const MAX_TEMPLATE_OUTPUT = 65_536;

const LABEL_CALL = /^\s*label\s*\(([\s\S]*)\)\s*$/;

/** Parses `{{...}}` holes; CLEAVE_E_BAD_ARGUMENT for an unclosed hole or a bad expression. */
export function compileTemplate(template: string): CompiledTemplate {
  const parts: CompiledTemplate['parts'][number][] = [];
  let at = 0;
  while (at < template.length) {
    const open = template.indexOf('{{', at);
    if (open < 0) {
      parts.push(template.slice(at));
      break;
    }
    if (open > at) parts.push(template.slice(at, open));
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `template has "{{" at offset ${open} with no closing "}}"`, { offset: open });
    const body = template.slice(open + 2, close);
    const m = LABEL_CALL.exec(body);
    parts.push({ expr: parsePredicate(m ? m[1]! : body, {}, 'expression'), label: m !== null });
    at = close + 2;
  }
  return { parts };
}

function numeric(name: string, v: WorkflowValue | undefined, node: string): HostTensor {
  if (v === undefined) throw new CleaveError('CLEAVE_E_NOT_FOUND', `transform "${node}" needs tensor "${name}", which did not arrive`, { node, tensor: name });
  if (isTextTensor(v) || v.dtype === 'bool') throw new CleaveError('CLEAVE_E_DTYPE', `transform "${node}" needs a numeric tensor "${name}", got ${v.dtype}`, { node, tensor: name });
  return v;
}

function lastDim(t: HostTensor, node: string): number {
  const c = t.dims[t.dims.length - 1];
  if (c === undefined || c === 0) throw new CleaveError('CLEAVE_E_SHAPE', `transform "${node}" works over the last dim; got shape [${t.dims.join(',')}]`, { node });
  return c;
}

function softmax(t: HostTensor, node: string): HostTensor {
  const c = lastDim(t, node);
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < t.data.length / c; r++) {
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, Number(t.data[r * c + j]));
    let sum = 0;
    for (let j = 0; j < c; j++) sum += out[r * c + j] = Math.exp(Number(t.data[r * c + j]) - max);
    for (let j = 0; j < c; j++) out[r * c + j]! /= sum;
  }
  return hostTensor('float32', t.dims, out);
}

/** Indexes of the k largest of each row, largest first (ties: lower index first), and their values. */
function topk(t: HostTensor, k: number, node: string): { idx: BigInt64Array; scores: Float32Array; dims: number[] } {
  const c = lastDim(t, node);
  if (k > c) throw new CleaveError('CLEAVE_E_SHAPE', `transform "${node}": k = ${k} but the last dim has ${c}`, { node });
  const rows = t.data.length / c;
  const idx = new BigInt64Array(rows * k);
  const scores = new Float32Array(rows * k);
  const order = Array.from({ length: c }, (_, j) => j);
  for (let r = 0; r < rows; r++) {
    const row = (j: number): number => Number(t.data[r * c + j]);
    const sorted = [...order].sort((a, b) => row(b) - row(a) || a - b);
    for (let i = 0; i < k; i++) {
      idx[r * k + i] = BigInt(sorted[i]!);
      scores[r * k + i] = row(sorted[i]!);
    }
  }
  return { idx, scores, dims: [...t.dims.slice(0, -1), k] };
}

function ctcDecode(t: HostTensor, length: number, blank: number, pad: number, node: string): HostTensor {
  if (t.dims.length < 2) throw new CleaveError('CLEAVE_E_SHAPE', `transform "${node}": ctc-decode needs [..., T, C] frame logits, got [${t.dims.join(',')}]`, { node });
  const c = lastDim(t, node);
  const frames = t.dims[t.dims.length - 2]!;
  const rows = t.data.length / (c * frames);
  const out = new BigInt64Array(rows * length).fill(BigInt(pad));
  for (let r = 0; r < rows; r++) {
    let n = 0;
    let prev = -1;
    for (let f = 0; f < frames && n < length; f++) {
      let best = 0;
      let bv = -Infinity;
      for (let j = 0; j < c; j++) {
        const v = Number(t.data[(r * frames + f) * c + j]);
        if (v > bv) { bv = v; best = j; }
      }
      if (best !== prev && best !== blank) out[r * length + n++] = BigInt(best);
      prev = best;
    }
  }
  return hostTensor('int64', [...t.dims.slice(0, -2), length], out);
}

function render(tpl: CompiledTemplate, labels: readonly string[] | undefined, lookup: (ref: string) => PredicateValue | undefined, node: string): string {
  let s = '';
  for (const p of tpl.parts) {
    if (typeof p === 'string') {
      s += p;
    } else {
      const v = evaluateScalar(p.expr, lookup);
      if (p.label) {
        const i = typeof v === 'number' ? v : Number.NaN;
        const label = Number.isInteger(i) ? labels?.[i] : undefined;
        if (label === undefined) {
          throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `transform "${node}": label(${p.expr.source}) = ${String(v)} is not an index into its ${labels?.length ?? 0} labels`, { node });
        }
        s += label;
      } else {
        s += typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v);
      }
    }
    if (s.length > MAX_TEMPLATE_OUTPUT) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `transform "${node}" rendered more than ${MAX_TEMPLATE_OUTPUT} characters`, { node });
  }
  return s;
}

/**
 * Runs one transform on the tensors that arrived at it. `refs` answers dotted references in a
 * template (`nlu.logits`); unqualified names are the arrivals. `template` is the node's
 * compiled template (compileTemplate), for op 'template'.
 */
export function runTransform(
  node: string,
  p: TransformParams,
  arrived: ReadonlyMap<string, WorkflowValue>,
  refs: (ref: string) => WorkflowValue | undefined,
  template?: CompiledTemplate,
): Map<string, WorkflowValue> {
  switch (p.op) {
    case 'softmax': return new Map([[p.output, softmax(numeric(p.input, arrived.get(p.input), node), node)]]);
    case 'argmax': {
      const t = numeric(p.input, arrived.get(p.input), node);
      const { idx, dims } = topk(t, 1, node);
      return new Map([[p.output, hostTensor('int64', dims.slice(0, -1), idx)]]);
    }
    case 'topk': {
      const { idx, scores, dims } = topk(numeric(p.input, arrived.get(p.input), node), p.k, node);
      return new Map<string, WorkflowValue>([[p.output, hostTensor('int64', dims, idx)], [`${p.output}_scores`, hostTensor('float32', dims, scores)]]);
    }
    case 'ctc-decode':
      return new Map([[p.output, ctcDecode(numeric(p.input, arrived.get(p.input), node), p.length, p.blank ?? 0, p.pad ?? 0, node)]]);
    case 'template': {
      const tpl = template ?? compileTemplate(p.template);
      const lookup = (ref: string): PredicateValue | undefined => {
        const v = arrived.get(ref) ?? refs(ref);
        return v === undefined || isTextTensor(v) ? undefined : v;
      };
      return new Map([[p.output, { dtype: 'string', dims: [1], text: [render(tpl, p.labels, lookup, node)] } satisfies TextTensor]]);
    }
  }
}
