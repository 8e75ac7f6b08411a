/**
 * Per-operator shape and type rules for the operators Cleave's tools must understand (the model
 * zoo's, the quantizer's and those common in exported CNN/transformer graphs). A rule maps input
 * types to output types; an unknown input dimension propagates as null rather than failing, and
 * a real mismatch (non-broadcastable sizes) is a coded CLEAVE_E_SHAPE naming the node.
 */
import { CleaveError } from '../../errors.js';
import { attrInt, attrInts, findAttr } from '../attributes.js';
import { dtypeFromCode, toNumbers, type DType, type NumericArray } from '../dtype.js';
import type { NodeProto } from '../types.js';
import type { Dim, ValueType } from './value-type.js';

/** What a rule can see besides input types. */
export interface RuleContext {
  /** Values of a constant input (initializer or Constant output), if known. */
  constant(name: string): NumericArray | undefined;
  /** Opset version of the default domain. */
  readonly opset: number;
}

export type ShapeRule = (node: NodeProto, inputs: readonly (ValueType | undefined)[], ctx: RuleContext) => (ValueType | undefined)[];

const rules = new Map<string, ShapeRule>();

/** Registers a rule for `domain::opType` ('' for the default domain). */
export function registerShapeRule(opType: string, rule: ShapeRule, domain = ''): void {
  rules.set(`${domain}::${opType}`, rule);
}

export function shapeRule(opType: string, domain = ''): ShapeRule | undefined {
  return rules.get(`${domain === 'ai.onnx' ? '' : domain}::${opType}`);
}

/** Ops known to every Cleave tool: those with a rule. */
export function knownOps(): string[] {
  return [...rules.keys()].map((k) => k.replace(/^::/, ''));
}

function fail(node: NodeProto, msg: string): never {
  throw new CleaveError('CLEAVE_E_SHAPE', `${node.opType} node "${node.name ?? node.output[0]}": ${msg}`, { op: node.opType, node: node.name ?? node.output[0] ?? '' });
}

function dimStr(s: readonly Dim[]): string {
  return `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/** Numpy-style broadcast of two shapes. */
export function broadcast(node: NodeProto, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const y = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (x === y) out.push(x);
    else if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (typeof x === 'number' && typeof y === 'number') fail(node, `shapes ${dimStr(a)} and ${dimStr(b)} do not broadcast`);
    else if (typeof x === 'number') out.push(x);
    else if (typeof y === 'number') out.push(y);
    else out.push(null);
  }
  return out;
}

function first(inputs: readonly (ValueType | undefined)[]): ValueType | undefined {
  return inputs[0];
}

const sameAsFirst: ShapeRule = (_n, inputs) => [first(inputs)];

function normAxis(node: NodeProto, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

const elementwise: ShapeRule = (node, inputs) => {
  const known = inputs.filter((t): t is ValueType => t !== undefined);
  if (known.length !== inputs.length || known.length === 0) return [known[0] ? { dtype: known[0].dtype, shape: null } : undefined];
  let shape: Dim[] | null = known[0]!.shape ? [...known[0]!.shape] : null;
  for (const t of known.slice(1)) shape = shape && t.shape ? broadcast(node, shape, t.shape) : null;
  return [{ dtype: known[0]!.dtype, shape }];
};

const compare: ShapeRule = (node, inputs, ctx) => [{ dtype: 'bool', shape: elementwise(node, inputs, ctx)[0]?.shape ?? null }];

for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean']) registerShapeRule(op, elementwise);
for (const op of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or']) registerShapeRule(op, compare);
for (const op of ['Relu', 'Tanh', 'Sigmoid', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Identity', 'Softmax', 'LogSoftmax',
  'LeakyRelu', 'Gelu', 'Clip', 'Dropout', 'HardSigmoid', 'Reciprocal', 'Not', 'BatchNormalization', 'InstanceNormalization']) {
  registerShapeRule(op, sameAsFirst);
}

registerShapeRule('Where', (node, inputs) => {
  const [, x, y] = inputs;
  const c = inputs[0];
  if (!c || !x || !y) return [x ?? y];
  return [{ dtype: x.dtype, shape: c.shape && x.shape && y.shape ? broadcast(node, broadcast(node, c.shape, x.shape), y.shape) : null }];
});

registerShapeRule('Cast', (node, inputs) => {
  const to = dtypeFromCode(attrInt(node, 'to', 0));
  return [{ dtype: to, shape: inputs[0]?.shape ?? null }];
});

registerShapeRule('LayerNormalization', (_n, inputs) => [inputs[0], undefined, undefined]);

function matmulShape(node: NodeProto, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) fail(node, 'MatMul inputs must not be scalars');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    fail(node, `inner dimensions differ: ${dimStr(a)} x ${dimStr(b)}`);
  }
  const batch = broadcast(node, a2.slice(0, -2), b2.slice(0, -2));
  const out: Dim[] = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

registerShapeRule('MatMul', (node, [a, b]) => {
  if (!a || !b) return [undefined];
  return [{ dtype: a.dtype, shape: a.shape && b.shape ? matmulShape(node, a.shape, b.shape) : null }];
});

registerShapeRule('MatMulInteger', (node, [a, b]) => {
  if (!a || !b) return [{ dtype: 'int32', shape: null }];
  return [{ dtype: 'int32', shape: a.shape && b.shape ? matmulShape(node, a.shape, b.shape) : null }];
});

registerShapeRule('Gemm', (node, [a, b]) => {
  if (!a || !b || !a.shape || !b.shape) return [a ? { dtype: a.dtype, shape: null } : undefined];
  if (a.shape.length !== 2 || b.shape.length !== 2) fail(node, `Gemm needs 2-D inputs, got ${dimStr(a.shape)} and ${dimStr(b.shape)}`);
  const ta = attrInt(node, 'transA', 0);
  const tb = attrInt(node, 'transB', 0);
  const m = ta ? a.shape[1]! : a.shape[0]!;
  const k1 = ta ? a.shape[0]! : a.shape[1]!;
  const k2 = tb ? b.shape[1]! : b.shape[0]!;
  const n = tb ? b.shape[0]! : b.shape[1]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) fail(node, `inner dimensions differ: ${dimStr(a.shape)} x ${dimStr(b.shape)}`);
  return [{ dtype: a.dtype, shape: [m, n] }];
});

registerShapeRule('Transpose', (node, [x]) => {
  if (!x?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
  const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
  if (perm.length !== x.shape.length) fail(node, `perm has ${perm.length} axes, input has rank ${x.shape.length}`);
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![normAxis(node, p, perm.length)]!) }];
});

registerShapeRule('Reshape', (node, [x], ctx) => {
  if (!x) return [undefined];
  const target = ctx.constant(node.input[1] ?? '');
  if (!target) return [{ dtype: x.dtype, shape: null }];
  const want = toNumbers(target);
  const allowZero = attrInt(node, 'allowzero', 0);
  const out: Dim[] = want.map((d, i) => (d === 0 && !allowZero ? (x.shape?.[i] ?? null) : d === -1 ? null : d));
  const minus = want.indexOf(-1);
  if (minus >= 0 && x.shape && x.shape.every((d) => typeof d === 'number')) {
    const total = (x.shape as number[]).reduce((p, d) => p * d, 1);
    const rest = out.reduce<number>((p, d, i) => (i === minus ? p : p * (typeof d === 'number' ? d : NaN)), 1);
    if (Number.isFinite(rest)) {
      if (total % rest !== 0) fail(node, `cannot reshape ${dimStr(x.shape)} to [${want.join(',')}]`);
      out[minus] = total / rest;
    }
  } else if (minus >= 0 && x.shape) {
    // Symbolic input: solve -1 when every other dim matches the input's except one fixed product.
    const known = x.shape.filter((d) => typeof d === 'number').reduce<number>((p, d) => p * (d as number), 1);
    const sym = x.shape.filter((d) => typeof d !== 'number');
    const outSym = out.filter((d, i) => i !== minus && typeof d !== 'number');
    const outKnown = out.reduce<number>((p, d, i) => (i === minus || typeof d !== 'number' ? p : p * d), 1);
    if (sym.length === outSym.length && sym.every((d, i) => d !== null && d === outSym[i]) && known % outKnown === 0) {
      out[minus] = known / outKnown;
    }
  }
  return [{ dtype: x.dtype, shape: out }];
});

registerShapeRule('Flatten', (node, [x]) => {
  if (!x?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
  const r = x.shape.length;
  const axis = attrInt(node, 'axis', 1);
  const a = axis < 0 ? axis + r : axis;
  const prod = (ds: readonly Dim[]): Dim => (ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, d) => p * d, 1) : ds.length === 1 ? ds[0]! : null);
  return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, a)), prod(x.shape.slice(a))] }];
});

function axesOf(node: NodeProto, ctx: RuleContext, inputIndex: number): number[] | undefined {
  const fromAttr = attrInts(node, 'axes');
  if (fromAttr) return fromAttr;
  const name = node.input[inputIndex];
  if (!name) return undefined;
  const c = ctx.constant(name);
  return c ? toNumbers(c) : undefined;
}

registerShapeRule('Unsqueeze', (node, [x], ctx) => {
  if (!x?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
  const axes = axesOf(node, ctx, 1);
  if (!axes) return [{ dtype: x.dtype, shape: null }];
  const r = x.shape.length + axes.length;
  const norm = axes.map((a) => normAxis(node, a, r)).sort((p, q) => p - q);
  const out: Dim[] = [...x.shape];
  for (const a of norm) out.splice(a, 0, 1);
  return [{ dtype: x.dtype, shape: out }];
});

registerShapeRule('Squeeze', (node, [x], ctx) => {
  if (!x?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
  const axes = axesOf(node, ctx, 1);
  const r = x.shape.length;
  const drop = new Set(axes ? axes.map((a) => normAxis(node, a, r)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !drop.has(i)) }];
});

function reduce(node: NodeProto, x: ValueType | undefined, axes: number[] | undefined): ValueType | undefined {
  if (!x?.shape) return x ? { dtype: x.dtype, shape: null } : undefined;
  const keep = attrInt(node, 'keepdims', 1);
  const r = x.shape.length;
  const set = new Set(axes && axes.length ? axes.map((a) => normAxis(node, a, r)) : x.shape.map((_, i) => i));
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return { dtype: x.dtype, shape: out };
}

for (const op of ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2']) {
  registerShapeRule(op, (node, [x], ctx) => [reduce(node, x, axesOf(node, ctx, 1))]);
}

registerShapeRule('ArgMax', (node, [x]) => {
  const r = reduce(node, x, [attrInt(node, 'axis', 0)]);
  return [r ? { dtype: 'int64', shape: r.shape } : undefined];
});

registerShapeRule('Gather', (node, [data, idx]) => {
  if (!data?.shape || !idx?.shape) return [data ? { dtype: data.dtype, shape: null } : undefined];
  const axis = normAxis(node, attrInt(node, 'axis', 0), data.shape.length);
  return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)] }];
});

registerShapeRule('Concat', (node, inputs) => {
  const ts = inputs.filter((t): t is ValueType => t !== undefined);
  if (ts.length !== inputs.length || ts.some((t) => !t.shape)) return [ts[0] ? { dtype: ts[0].dtype, shape: null } : undefined];
  const r = ts[0]!.shape!.length;
  const axis = normAxis(node, attrInt(node, 'axis', 0), r);
  const out: Dim[] = [...ts[0]!.shape!];
  let sum: Dim = 0;
  for (const t of ts) {
    if (t.shape!.length !== r) fail(node, `inputs have ranks ${ts.map((u) => u.shape!.length).join(', ')}`);
    const d = t.shape![axis]!;
    sum = typeof sum === 'number' && typeof d === 'number' ? sum + d : null;
  }
  out[axis] = sum;
  return [{ dtype: ts[0]!.dtype, shape: out }];
});

/** Spatial output size of a convolution or pooling window. */
function windowOut(d: Dim, k: number, s: number, padBegin: number, padEnd: number, dil: number, ceil: boolean): Dim {
  if (typeof d !== 'number') return null;
  const eff = (k - 1) * dil + 1;
  const span = d + padBegin + padEnd - eff;
  return (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
}

function windowShape(node: NodeProto, x: ValueType, kernel: readonly number[], channels: Dim): ValueType {
  const spatial = x.shape!.length - 2;
  if (kernel.length !== spatial) fail(node, `kernel has ${kernel.length} dims, input ${dimStr(x.shape!)} has ${spatial} spatial dims`);
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const dil = attrInts(node, 'dilations') ?? kernel.map(() => 1);
  const pads = attrInts(node, 'pads') ?? kernel.flatMap(() => [0, 0]).slice(0, 2 * spatial);
  const autoPad = findAttr(node, 'auto_pad');
  const ap = autoPad?.s ? new TextDecoder().decode(autoPad.s) : 'NOTSET';
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const out: Dim[] = [x.shape![0]!, channels];
  for (let i = 0; i < spatial; i++) {
    const d = x.shape![i + 2]!;
    if (ap === 'SAME_UPPER' || ap === 'SAME_LOWER') out.push(typeof d === 'number' ? Math.ceil(d / strides[i]!) : null);
    else if (ap === 'VALID') out.push(windowOut(d, kernel[i]!, strides[i]!, 0, 0, dil[i]!, false));
    else out.push(windowOut(d, kernel[i]!, strides[i]!, pads[i]!, pads[i + spatial]!, dil[i]!, ceil));
  }
  return { dtype: x.dtype, shape: out };
}

registerShapeRule('Conv', (node, [x, w]) => {
  if (!x?.shape || !w?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
  const kernel = attrInts(node, 'kernel_shape') ?? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  if (kernel.some((k) => Number.isNaN(k))) return [{ dtype: x.dtype, shape: null }];
  const group = attrInt(node, 'group', 1);
  const cin = x.shape[1];
  const wc = w.shape[1];
  if (typeof cin === 'number' && typeof wc === 'number' && cin !== wc * group) {
    fail(node, `input has ${cin} channels, weight ${dimStr(w.shape)} with group ${group} expects ${wc * group}`);
  }
  return [windowShape(node, x, kernel, w.shape[0]!)];
});

registerShapeRule('ConvInteger', (node, [x, w]) => {
  if (!x?.shape || !w?.shape) return [{ dtype: 'int32', shape: null }];
  const kernel = attrInts(node, 'kernel_shape') ?? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  return [{ ...windowShape(node, x, kernel, w.shape[0]!), dtype: 'int32' }];
});

for (const op of ['MaxPool', 'AveragePool']) {
  registerShapeRule(op, (node, [x]) => {
    if (!x?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
    const kernel = attrInts(node, 'kernel_shape');
    if (!kernel) fail(node, 'kernel_shape is required');
    return [windowShape(node, x, kernel, x.shape[1]!)];
  });
}

for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
  registerShapeRule(op, (_node, [x]) => {
    if (!x?.shape) return [x ? { dtype: x.dtype, shape: null } : undefined];
    return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] }];
  });
}

registerShapeRule('Shape', (_n, [x]) => [{ dtype: 'int64', shape: [x?.shape ? x.shape.length : null] }]);

registerShapeRule('Constant', (node) => {
  const t = findAttr(node, 'value')?.t;
  if (!t) return [undefined];
  return [{ dtype: dtypeFromCode(t.dataType), shape: [...t.dims] }];
});

registerShapeRule('QuantizeLinear', (node, [x, , zp]) => {
  const dtype: DType = zp?.dtype ?? 'uint8';
  return [{ dtype, shape: x?.shape ?? null }];
});

registerShapeRule('DequantizeLinear', (_n, [x, scale]) => [{ dtype: scale?.dtype ?? 'float32', shape: x?.shape ?? null }]);

registerShapeRule('DynamicQuantizeLinear', (_n, [x]) => [
  { dtype: 'uint8', shape: x?.shape ?? null },
  { dtype: 'float32', shape: [] },
  { dtype: 'uint8', shape: [] },
]);

registerShapeRule('GRU', (node, [x, w]) => {
  if (!x?.shape || !w?.shape) return [undefined, undefined];
  const hidden = attrInt(node, 'hidden_size', typeof w.shape[1] === 'number' ? w.shape[1] / 3 : 0);
  const dirs = w.shape[0]!;
  const layout = attrInt(node, 'layout', 0);
  const [seq, batch] = layout ? [x.shape[1]!, x.shape[0]!] : [x.shape[0]!, x.shape[1]!];
  const y: Dim[] = layout ? [batch, seq, dirs, hidden] : [seq, dirs, batch, hidden];
  const yh: Dim[] = layout ? [batch, dirs, hidden] : [dirs, batch, hidden];
  return [{ dtype: x.dtype, shape: y }, { dtype: x.dtype, shape: yh }];
});
