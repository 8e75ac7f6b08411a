/**
 * The workflow's transform nodes on hand-made tensors: greedy CTC decoding, top-k, softmax,
 * argmax and text templates, and the coded errors each gives for input it cannot take.
 */
import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { hostTensor, type HostTensor } from '../../../shared/tensor.js';
import type { WorkflowNode } from '../../../shared/workflow/definition.js';
import { compileTemplate, isTextTensor, MAX_TEMPLATE_OUTPUT, runTransform, type WorkflowValue } from '../../../shared/workflow/transforms.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

type Params = Extract<WorkflowNode, { type: 'transform' }>['params'];

function f32(dims: number[], data: number[]): HostTensor {
  return hostTensor('float32', dims, Float32Array.from(data));
}

function run(p: Params, arrived: Record<string, WorkflowValue>, refs: Record<string, WorkflowValue> = {}): Map<string, WorkflowValue> {
  return runTransform('t', p, new Map(Object.entries(arrived)), (r) => refs[r]);
}

function numbers(v: WorkflowValue | undefined): number[] {
  if (v === undefined || isTextTensor(v)) throw new Error('expected a numeric tensor');
  return Array.from(v.data, Number);
}

function text(v: WorkflowValue | undefined): readonly string[] {
  if (v === undefined || !isTextTensor(v)) throw new Error('expected text');
  return v.text;
}

/** [rows, T, C] frame logits whose argmax per frame is `ids` (one list per row). */
function frames(ids: number[][], c: number): HostTensor {
  const t = ids[0]!.length;
  const data: number[] = [];
  for (const r of ids) for (const id of r) for (let j = 0; j < c; j++) data.push(j === id ? 2 + j * 0.1 : -1 - j * 0.01);
  return f32([ids.length, t, c], data);
}

describe('ctc-decode', () => {
  const ctc = (length: number, extra: { blank?: number; pad?: number } = {}): Params => ({ op: 'ctc-decode', input: 'f', output: 'ids', length, ...extra });

  it('collapses repeats, drops the blank and pads to the length', () => {
    const out = run(ctc(6), { f: frames([[1, 1, 0, 1, 2, 2, 0, 0, 3]], 4) }).get('ids');
    // 1 1 -> 1; blank; 1 again after a blank counts; 2 2 -> 2; 3.
    expect(numbers(out)).toEqual([1, 1, 2, 3, 0, 0]);
    expect(out).toMatchObject({ dtype: 'int64', dims: [1, 6] });
  });

  it('honours a blank and pad other than 0, and cuts at the length', () => {
    expect(numbers(run(ctc(5, { blank: 3, pad: 9 }), { f: frames([[0, 0, 3, 0, 1, 3, 3]], 4) }).get('ids'))).toEqual([0, 0, 1, 9, 9]);
    expect(numbers(run(ctc(2), { f: frames([[1, 2, 3, 1]], 4) }).get('ids'))).toEqual([1, 2]);
  });

  it('decodes each row of a batch on its own', () => {
    const out = run(ctc(3), { f: frames([[1, 1, 2], [0, 3, 3]], 4) }).get('ids');
    expect(out).toMatchObject({ dims: [2, 3] });
    expect(numbers(out)).toEqual([1, 2, 0, 3, 0, 0]);
  });

  it('takes [T, C] frames without a batch dim, and refuses a 1-D tensor', () => {
    const two = f32([3, 2], [0, 1, 1, 0, 0, 1]);
    const out = run(ctc(4), { f: two }).get('ids');
    expect(out).toMatchObject({ dims: [4] });
    expect(numbers(out)).toEqual([1, 1, 0, 0]);
    expect(cleaveErrorOf(() => run(ctc(4), { f: f32([3], [0, 1, 2]) })).code).toBe('CLEAVE_E_SHAPE');
  });
});

describe('topk, argmax and softmax', () => {
  it('topk gives the k largest per row, largest first, ties to the lower index, with their scores', () => {
    const out = run({ op: 'topk', input: 'x', k: 2, output: 'top' }, { x: f32([2, 4], [0.1, 0.5, 0.5, 0.2, 3, -1, 4, 3]) });
    expect(out.get('top')).toMatchObject({ dtype: 'int64', dims: [2, 2] });
    expect(numbers(out.get('top'))).toEqual([1, 2, 2, 0]);
    expect(out.get('top_scores')).toMatchObject({ dtype: 'float32', dims: [2, 2] });
    expect(numbers(out.get('top_scores'))).toEqual([0.5, 0.5, 4, 3]);
    expect(cleaveErrorOf(() => run({ op: 'topk', input: 'x', k: 5, output: 'top' }, { x: f32([1, 4], [1, 2, 3, 4]) })).code).toBe('CLEAVE_E_SHAPE');
  });

  it('argmax drops the last dim; softmax keeps the shape and each row sums to 1', () => {
    const x = f32([2, 3], [1, 3, 2, -5, -7, -6]);
    const am = run({ op: 'argmax', input: 'x', output: 'k' }, { x }).get('k');
    expect(am).toMatchObject({ dtype: 'int64', dims: [2] });
    expect(numbers(am)).toEqual([1, 0]);
    const sm = numbers(run({ op: 'softmax', input: 'x', output: 'p' }, { x }).get('p'));
    const e = [Math.exp(-2), 1, Math.exp(-1)];
    const s = e[0]! + e[1]! + e[2]!;
    // Each row is shift-invariant: the second row is the first shifted by -6, permuted.
    [e[0]! / s, e[1]! / s, e[2]! / s, e[1]! / s, e[0]! / s, e[2]! / s].forEach((want, i) => expect(sm[i]).toBeCloseTo(want, 6));
  });

  it('names the tensor that is missing or not numeric', () => {
    const missing = cleaveErrorOf(() => run({ op: 'softmax', input: 'logits', output: 'p' }, {}));
    expect(missing.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(missing.message).toContain('"logits"');
    const txt = { dtype: 'string', dims: [1], text: ['hi'] } as const;
    expect(cleaveErrorOf(() => run({ op: 'argmax', input: 'logits', output: 'k' }, { logits: txt })).code).toBe('CLEAVE_E_DTYPE');
  });
});

describe('template', () => {
  const labels = ['cat', 'dog', 'bird'];
  const logits = f32([1, 3], [0.5, 2.5, 1]);

  it('renders labels, integers as they are and other numbers with four decimals', () => {
    const out = run({ op: 'template', template: 'a {{label(argmax(logits))}} (#{{argmax(logits)}}, p={{max(softmax(logits))}}, {{1 + 1}})', output: 'text', labels }, { logits });
    const e = [Math.exp(0.5), Math.exp(2.5), Math.exp(1)];
    const p = e[1]! / (e[0]! + e[1]! + e[2]!);
    expect(text(out.get('text'))).toEqual([`a dog (#1, p=${p.toFixed(4)}, 2)`]);
    expect(out.get('text')).toMatchObject({ dtype: 'string', dims: [1] });
  });

  it('reads other nodes\' outputs by dotted reference', () => {
    const out = run({ op: 'template', template: '{{label(argmax(nlu.logits))}}', output: 'text', labels }, {}, { 'nlu.logits': f32([1, 3], [9, 0, 0]) });
    expect(text(out.get('text'))).toEqual(['cat']);
  });

  it('refuses a label index outside its labels, an unclosed hole and a runaway output', () => {
    const far = cleaveErrorOf(() => run({ op: 'template', template: '{{label(argmax(logits) + 5)}}', output: 'text', labels }, { logits }));
    expect(far.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(far.message).toContain('3 labels');
    const open = cleaveErrorOf(() => compileTemplate('hello {{argmax(logits)'));
    expect(open).toBeInstanceOf(CleaveError);
    expect(open.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(open.detail).toMatchObject({ offset: 6 });
    const big = 'x'.repeat(4000);
    const long = cleaveErrorOf(() => run({ op: 'template', template: `${big}{{label(0)}}`, output: 'text', labels: [big.repeat(17)] }, {}));
    expect(long.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(long.message).toContain(String(MAX_TEMPLATE_OUTPUT));
  });
});
