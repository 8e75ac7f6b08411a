/**
 * A small builder for ONNX graphs in TypeScript. Each op call infers its output types with the
 * shape rules, so mistakes (non-matching inner dims, wrong channel counts) fail where they are
 * written, and the built model carries value_info for every intermediate, which the split
 * planner reads to size activations.
 *
 *   const b = new GraphBuilder('mlp');
 *   const x = b.input('x', 'float32', ['N', 512]);
 *   const h = b.op('Relu', [b.op('MatMul', [x, b.weight('w1', 'float32', [512, 64], w1)])]);
 *   b.output(h, 'y');
 *   const model = b.build();
 */
import { CleaveError } from '../errors.js';
import { makeAttribute, type AttrInput } from './attributes.js';
import { dtypeFromCode, type DType, type NumericArray } from './dtype.js';
import { makeTensor, tensorValues } from './tensor-data.js';
import { shapeRule, type RuleContext } from './shape/rules.js';
import { valueInfoOf, type Dim, type ValueType } from './shape/value-type.js';
import type { ModelProto, NodeProto, StringStringEntry, TensorProto, ValueInfo } from './types.js';

/** ONNX opset the builder targets by default: 17 has LayerNormalization and per-axis QDQ. */
export const DEFAULT_OPSET = 17;
/** IR version matching opset 17 (ONNX 1.12 wrote IR 8). */
export const DEFAULT_IR_VERSION = 8;

/** A value in the graph being built. */
export interface Value {
  readonly name: string;
  readonly type: ValueType | undefined;
}

export interface OpOptions {
  /** Node name; defaults to `<op>_<n>`. */
  name?: string;
  /** Output names; defaults to `<node name>_out<k>`. */
  outputs?: readonly string[];
  /** Number of outputs when names are not given. Default 1. */
  outputCount?: number;
  domain?: string;
}

export interface BuildOptions {
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  modelVersion?: number;
  metadata?: Readonly<Record<string, string>>;
  /** Extra opset imports (custom domains). */
  extraOpsets?: readonly { domain: string; version: number }[];
}

export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  private readonly nodes: NodeProto[] = [];
  private readonly inits: TensorProto[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly types = new Map<string, ValueType>();
  private readonly consts = new Map<string, NumericArray>();
  private readonly counters = new Map<string, number>();
  private readonly ctx: RuleContext;

  constructor(name: string, opset = DEFAULT_OPSET) {
    this.name = name;
    this.opset = opset;
    this.ctx = { opset, constant: (n) => this.consts.get(n) };
  }

  private claim(name: string): string {
    if (this.types.has(name) || this.consts.has(name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `graph "${this.name}" already has a value named "${name}"`, { name });
    }
    return name;
  }

  /** Unique name with a prefix: `prefix_0`, `prefix_1`, ... */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name = `${prefix}_${n}`;
    while (this.types.has(name)) name = `${prefix}_${++n}`;
    this.counters.set(prefix, n + 1);
    return name;
  }

  /** Declares a graph input. Dims are numbers, symbolic names, or null for unknown. */
  input(name: string, dtype: DType, shape: readonly Dim[]): Value {
    const type: ValueType = { dtype, shape: [...shape] };
    this.types.set(this.claim(name), type);
    this.inputs.push(valueInfoOf(name, type));
    return { name, type };
  }

  /** Adds an initializer (weights or constants) from values. */
  weight(name: string, dtype: DType, dims: readonly number[], data: NumericArray | readonly number[] | readonly bigint[]): Value {
    return this.addInitializer(makeTensor(this.claim(name), dtype, dims, data));
  }

  /** Adds a ready-made TensorProto as an initializer. */
  addInitializer(t: TensorProto): Value {
    const type: ValueType = { dtype: dtypeFromCode(t.dataType), shape: [...t.dims] };
    this.types.set(t.name, type);
    this.consts.set(t.name, tensorValues(t));
    this.inits.push(t);
    return { name: t.name, type };
  }

  /** An int64 constant, handy for Reshape targets and axes. */
  int64s(values: readonly number[], name = this.fresh('const')): Value {
    return this.weight(name, 'int64', [values.length], values.map((v) => BigInt(v)));
  }

  /** A float32 scalar constant. */
  scalar(value: number, name = this.fresh('scalar')): Value {
    return this.weight(name, 'float32', [], [value]);
  }

  /** Adds a node with one output and returns it. */
  op(opType: string, inputs: readonly (Value | null)[], attrs: Readonly<Record<string, AttrInput>> = {}, opts: OpOptions = {}): Value {
    return this.opMulti(opType, inputs, attrs, opts)[0]!;
  }

  /** Adds a node and returns all its outputs. */
  opMulti(opType: string, inputs: readonly (Value | null)[], attrs: Readonly<Record<string, AttrInput>> = {}, opts: OpOptions = {}): Value[] {
    const nodeName = opts.name ?? this.fresh(opType);
    const outNames = opts.outputs ?? Array.from({ length: opts.outputCount ?? 1 }, (_, k) => (k === 0 ? `${nodeName}_out` : `${nodeName}_out${k}`));
    const node: NodeProto = {
      input: inputs.map((v) => v?.name ?? ''),
      output: outNames.map((n) => this.claim(n)),
      name: nodeName,
      opType,
      attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
    };
    if (opts.domain) node.domain = opts.domain;
    const rule = shapeRule(opType, opts.domain ?? '');
    const outTypes = rule ? rule(node, inputs.map((v) => v?.type), this.ctx) : [];
    this.nodes.push(node);
    return outNames.map((name, k) => {
      const t = outTypes[k];
      if (t) this.types.set(name, t);
      else this.types.set(name, { dtype: 'float32', shape: null });
      return { name, type: t };
    });
  }

  /** Marks a value as a graph output, renaming it through Identity when a name is given. */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name !== undefined && name !== v.name) out = this.op('Identity', [v], {}, { name: `${name}_identity`, outputs: [name] });
    if (!out.type) throw new CleaveError('CLEAVE_E_SHAPE', `output "${out.name}" has no inferred type; give its producer a shape rule`, { name: out.name });
    this.outputs.push(valueInfoOf(out.name, out.type));
    return out;
  }

  /** Type of a value built so far. */
  typeOf(v: Value | string): ValueType | undefined {
    return this.types.get(typeof v === 'string' ? v : v.name);
  }

  build(opts: BuildOptions = {}): ModelProto {
    const outputNames = new Set(this.outputs.map((o) => o.name));
    const inputNames = new Set(this.inputs.map((i) => i.name));
    const initNames = new Set(this.inits.map((t) => t.name));
    const valueInfo: ValueInfo[] = [];
    for (const n of this.nodes) {
      for (const o of n.output) {
        const t = this.types.get(o);
        if (o && t && t.shape && !outputNames.has(o) && !inputNames.has(o) && !initNames.has(o)) valueInfo.push(valueInfoOf(o, t));
      }
    }
    const metadataProps: StringStringEntry[] = Object.entries(opts.metadata ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value }));
    const m: ModelProto = {
      irVersion: DEFAULT_IR_VERSION,
      opsetImport: [{ domain: '', version: this.opset }, ...(opts.extraOpsets ?? []).map((o) => ({ ...o }))],
      producerName: opts.producerName ?? 'cleave',
      graph: {
        name: this.name,
        node: [...this.nodes],
        initializer: [...this.inits],
        input: [...this.inputs],
        output: [...this.outputs],
        valueInfo,
      },
      metadataProps,
    };
    if (opts.producerVersion !== undefined) m.producerVersion = opts.producerVersion;
    if (opts.docString !== undefined) m.docString = opts.docString;
    if (opts.modelVersion !== undefined) m.modelVersion = opts.modelVersion;
    return m;
  }
}
