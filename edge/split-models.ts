/**
 * Models the edge can cut: it holds their bytes (a gateway's model folder has the cloud tier's
 * files too), so it can build the head of any cut itself with the split tool
 * (shared/onnx/split) and load it on its own backend. The cloud builds the matching tail under
 * the same name (splitPartName), so nothing but tensors crosses the link.
 *
 * Per model this keeps: the cut candidates (by default the "frontier": single-tensor cuts whose
 * activation is smaller than the input and than every earlier cut's, with a tail that still
 * computes something), the head sessions loaded so far, and each cut's int8 agreement, measured
 * once (profile()) by running head -> int8 round trip -> tail locally against the whole model on
 * the zoo's evaluation samples. Until a cut is profiled its int8 variant is not offered.
 */
import { CleaveError } from '../shared/errors.js';
import type { InferenceBackend, LoadedModel, LoadOptions } from '../shared/backend/backend.js';
import { decodeModel } from '../shared/onnx/decode.js';
import { dtypeSize, maybeDTypeFromCode } from '../shared/onnx/dtype.js';
import { encodeModel } from '../shared/onnx/encode.js';
import { listCutPoints, splitModel, type CutPoint } from '../shared/onnx/split/index.js';
import { splitPartName } from '../shared/onnx/split/part-name.js';
import type { ModelProto, ValueInfo } from '../shared/onnx/types.js';
import { dequantizeInt8, quantizeInt8 } from '../shared/protocol/int8-quant.js';
import type { TensorMap, TensorSpec } from '../shared/protocol/frames.js';
import { argmaxRows, type HostTensor } from '../shared/tensor.js';
import type { SplitParts } from '../shared/workflow/runtime.js';

/** A model the edge may cut, with where its bytes come from. */
export interface SplittableModel {
  readonly name: string;
  readonly version: number;
  readonly bytes: () => Promise<Uint8Array>;
  /** The model's contract (-1 for a dynamic dim), so workflows can be checked without a cloud. */
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Inputs to profile int8 agreement on (e.g. zoo evaluation samples); none: int8 never offered. */
  readonly samples?: () => TensorMap | undefined;
}

/** One cut the router may choose. */
export interface CutInfo {
  readonly tensor: string;
  /** Activation bytes per request row. */
  readonly bytesPerRow: number;
  readonly parts: SplitParts;
  /** Top-1 agreement with the whole model when the activation travels int8; undefined until profiled. */
  int8Agreement?: number;
}

interface Entry {
  readonly spec: SplittableModel;
  proto?: Promise<ModelProto>;
  cuts?: Promise<CutInfo[]>;
  /** Resolved cut list, for synchronous placement. */
  ready?: CutInfo[];
  /** Every single-tensor cut point by tensor, for cuts a workflow names. */
  points?: Map<string, CutPoint>;
  readonly heads: Map<string, Promise<LoadedModel>>;
  whole?: Promise<LoadedModel>;
  inputBytesPerRow?: number;
  outputBytesPerRow?: number;
}

/** The frontier of cut points: see the file comment. */
export function defaultCuts(points: readonly CutPoint[], inputBytesPerRow: number): CutPoint[] {
  const out: CutPoint[] = [];
  let best = inputBytesPerRow;
  for (const p of points) {
    if (p.tensors.length !== 1 || p.bytesPerSample === undefined || p.tailParamBytes === 0) continue;
    if (p.bytesPerSample < best) {
      out.push(p);
      best = p.bytesPerSample;
    }
  }
  return out;
}

export class SplitModels {
  private readonly entries = new Map<string, Entry>();

  constructor(models: readonly SplittableModel[], private readonly backend: InferenceBackend, private readonly loadOptions: LoadOptions = { intraOpThreads: 1 }) {
    for (const m of models) this.entries.set(m.name, { spec: m, heads: new Map() });
  }

  has(model: string): boolean {
    return this.entries.has(model);
  }

  /** The contract of a model this edge can cut; undefined for others. */
  contract(model: string): { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] } | undefined {
    const e = this.entries.get(model);
    return e ? { inputs: e.spec.inputs, outputs: e.spec.outputs } : undefined;
  }

  private entry(model: string): Entry {
    const e = this.entries.get(model);
    if (!e) throw new CleaveError('CLEAVE_E_NOT_FOUND', `model ${JSON.stringify(model)} cannot be cut at this edge: it does not hold its bytes (splittable here: ${[...this.entries.keys()].join(', ') || 'none'})`, { model });
    return e;
  }

  private proto(e: Entry): Promise<ModelProto> {
    e.proto ??= e.spec.bytes().then((b) => decodeModel(b));
    return e.proto;
  }

  /** The model's cut candidates, computed once. */
  cuts(model: string): Promise<CutInfo[]> {
    const e = this.entry(model);
    e.cuts ??= this.proto(e).then((m) => {
      const points = listCutPoints(m);
      const inputBytes = inputBytesOf(m);
      e.inputBytesPerRow = inputBytes;
      e.outputBytesPerRow = outputBytesOf(m);
      e.points = new Map(points.filter((p) => p.tensors.length === 1 && p.bytesPerSample !== undefined).map((p) => [p.tensors[0]!.name, p]));
      const cuts = defaultCuts(points, inputBytes).map((p) => this.cutInfo(e, p));
      e.ready = cuts;
      return cuts;
    });
    return e.cuts;
  }

  /**
   * Adds cuts a workflow names (`cuts: [["block2.pool_out"]]`) to the model's candidates.
   * CLEAVE_E_NOT_FOUND for a tensor that is not a single-tensor cut point with a known size.
   */
  async addCuts(model: string, cuts: readonly (readonly string[])[]): Promise<void> {
    const e = this.entry(model);
    await this.cuts(model);
    for (const cut of cuts) {
      const tensor = cut.length === 1 ? cut[0]! : undefined;
      const p = tensor === undefined ? undefined : e.points?.get(tensor);
      if (!p || tensor === undefined) {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `model ${JSON.stringify(model)} has no single-tensor cut point at ${JSON.stringify(cut.join(','))}; list them with \`cleave split <model.onnx> --list\``, { model, cut: cut.join(',') });
      }
      if (!e.ready!.some((c) => c.tensor === tensor)) e.ready!.push(this.cutInfo(e, p));
    }
  }

  private cutInfo(e: Entry, p: CutPoint): CutInfo {
    const tensor = p.tensors[0]!.name;
    return {
      tensor,
      bytesPerRow: p.transferBytesPerSample ?? p.bytesPerSample ?? 0,
      parts: {
        head: splitPartName(e.spec.name, 'head', [tensor]),
        tail: splitPartName(e.spec.name, 'tail', [tensor]),
        crossing: p.tensors.map((t) => t.name),
        passthroughInputs: p.passthroughInputs.map((t) => t.name),
      },
    };
  }

  /** Cuts known without waiting (after cuts() resolved once), else undefined. */
  readyCuts(model: string): readonly CutInfo[] | undefined {
    return this.entries.get(model)?.ready;
  }

  /** Bytes per row of the model's inputs and outputs, once cuts() resolved. */
  sizes(model: string): { inputBytesPerRow: number; outputBytesPerRow: number } | undefined {
    const e = this.entries.get(model);
    return e?.inputBytesPerRow !== undefined && e.outputBytesPerRow !== undefined ? { inputBytesPerRow: e.inputBytesPerRow, outputBytesPerRow: e.outputBytesPerRow } : undefined;
  }

  /** The parts of a cut by tensor name. */
  parts(model: string, tensor: string): SplitParts {
    const c = this.entry(model).ready?.find((x) => x.tensor === tensor);
    if (!c) throw new CleaveError('CLEAVE_E_NOT_FOUND', `model ${JSON.stringify(model)} has no prepared cut at ${JSON.stringify(tensor)}`, { model, cut: tensor });
    return c.parts;
  }

  /** Which model and cut a head part name belongs to; undefined for other names. */
  headOf(name: string): { model: string; tensor: string } | undefined {
    for (const [model, e] of this.entries) {
      const c = e.ready?.find((x) => x.parts.head === name);
      if (c) return { model, tensor: c.tensor };
    }
    return undefined;
  }

  /** The model a tail part name belongs to; undefined for other names. */
  tailOf(name: string): string | undefined {
    for (const [model, e] of this.entries) if (e.ready?.some((x) => x.parts.tail === name)) return model;
    return undefined;
  }

  /** Session of the whole model or of a head part (by its part name), loaded once. */
  session(name: string): Promise<LoadedModel> {
    const whole = this.entries.get(name);
    if (whole) {
      whole.whole ??= whole.spec.bytes().then((b) => this.backend.load(b, this.loadOptions));
      return whole.whole;
    }
    const h = this.headOf(name);
    if (!h) return Promise.reject(new CleaveError('CLEAVE_E_NOT_FOUND', `no split part ${JSON.stringify(name)} at this edge`, { model: name }));
    const e = this.entry(h.model);
    let s = e.heads.get(h.tensor);
    if (!s) {
      s = this.proto(e).then((m) => this.backend.load(encodeModel(splitModel(m, [h.tensor]).head), this.loadOptions));
      s.catch(() => e.heads.delete(h.tensor));
      e.heads.set(h.tensor, s);
    }
    return s;
  }

  /**
   * Loads and runs once (one sample row) the whole model and every cut's head, so the first
   * request's measurements are not a session load and a first-run warm-up: the router prices
   * a cut from its first measurement and would otherwise avoid it as slow for a long while.
   * Returns each cut's activation for one row, for warming the cloud's tails the same way.
   */
  async warm(model: string): Promise<{ cut: CutInfo; feeds: TensorMap }[]> {
    const e = this.entry(model);
    const cuts = await this.cuts(model);
    const all = e.spec.samples?.();
    if (!all) return [];
    const one: Record<string, HostTensor> = {};
    for (const [k, t] of Object.entries(all)) {
      const row = t.data.length / Math.max(1, t.dims[0] ?? 1);
      one[k] = { dtype: t.dtype, dims: [1, ...t.dims.slice(1)], data: t.data.slice(0, row) } as HostTensor;
    }
    await (await this.session(model)).run(one);
    const out: { cut: CutInfo; feeds: TensorMap }[] = [];
    for (const c of cuts) {
      const act = await (await this.session(c.parts.head)).run(one);
      const feeds: Record<string, HostTensor> = {};
      for (const t of c.parts.crossing) feeds[t] = act[t]!;
      for (const p of c.parts.passthroughInputs) feeds[p] = one[p]!;
      out.push({ cut: c, feeds });
    }
    return out;
  }

  /**
   * Measures each cut's int8 agreement on the model's samples: head, int8 round trip of the
   * activation, tail (loaded here for the measurement only), top-1 vs the whole model.
   */
  async profile(model: string): Promise<void> {
    const e = this.entry(model);
    const cuts = await this.cuts(model);
    const samples = e.spec.samples?.();
    if (!samples) return;
    const whole = await this.session(model);
    const ref = firstOutput(await whole.run(samples));
    const m = await this.proto(e);
    for (const c of cuts) {
      if (c.int8Agreement !== undefined) continue;
      const split = splitModel(m, [c.tensor]);
      const head = await this.session(c.parts.head);
      const tail = await this.backend.load(encodeModel(split.tail), this.loadOptions);
      try {
        const act = await head.run(samples);
        const feeds: Record<string, HostTensor> = {};
        for (const t of c.parts.crossing) {
          const v = act[t]!;
          feeds[t] = v.dtype === 'float32' ? dequantizeInt8(quantizeInt8(v)) : v;
        }
        for (const p of c.parts.passthroughInputs) feeds[p] = samples[p]!;
        const got = firstOutput(await tail.run(feeds));
        const a = argmaxRows(ref);
        const b = argmaxRows(got);
        c.int8Agreement = a.filter((x, i) => x === b[i]).length / a.length;
      } finally {
        await tail.dispose();
      }
    }
  }
}

function firstOutput(o: Record<string, HostTensor>): HostTensor {
  const v = Object.values(o)[0];
  if (!v) throw new CleaveError('CLEAVE_E_INTERNAL', 'a model run returned no outputs', {});
  return v;
}

/** Bytes of one row (every dim but the first; unknown dims count 1). */
function rowBytes(vi: ValueInfo): number {
  const tt = vi.type?.tensorType;
  const dtype = maybeDTypeFromCode(tt?.elemType ?? 1);
  let n = dtype === undefined || dtype === 'string' ? 4 : dtypeSize(dtype);
  (tt?.shape ?? []).forEach((d, i) => {
    if (i > 0 && d.value !== undefined && d.value > 0) n *= d.value;
  });
  return n;
}

function inputBytesOf(m: ModelProto): number {
  const inits = new Set(m.graph.initializer.map((t) => t.name));
  return m.graph.input.filter((i) => !inits.has(i.name)).reduce((s, i) => s + rowBytes(i), 0);
}

function outputBytesOf(m: ModelProto): number {
  return m.graph.output.reduce((s, o) => s + rowBytes(o), 0);
}
