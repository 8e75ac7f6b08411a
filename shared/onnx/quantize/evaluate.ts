/**
 * How much a quantized model departs from its fp32 original: both run on the same evaluation
 * batch in one backend, and one output is compared element by element and by top-1 class.
 * Runtime-neutral: the caller hands in the backend (onnxruntime-node, -web, ...).
 */
import type { InferenceBackend, LoadedModel } from '../../backend/backend.js';
import { CleaveError } from '../../errors.js';
import { argmaxRows, hostTensor, type HostTensor } from '../../tensor.js';
import { decodeModel } from '../decode.js';
import { encodeModel } from '../encode.js';
import { valueTypeOf } from '../shape/value-type.js';
import type { ModelProto } from '../types.js';
import { isWeightOnlyQdq } from './qdq-weight.js';

/** Samples per run by default: large enough to amortize a call, small enough for edge memory. */
export const DEFAULT_EVAL_CHUNK = 100;

export interface EvaluateOptions {
  backend: InferenceBackend;
  /** n samples per input, stacked along dimension 0 (as `randomInputs` makes them). */
  inputs: Readonly<Record<string, HostTensor>>;
  /** Output to compare. Default: the model's first output. */
  output?: string;
  /** Samples per run. Default 100; 1 when an input has a fixed first dimension. */
  chunk?: number;
}

export interface QuantizationEvaluation {
  /** Output that was compared. */
  output: string;
  /** Samples evaluated. */
  samples: number;
  /** Encoded sizes, bytes. */
  fp32Bytes: number;
  int8Bytes: number;
  /** int8Bytes / fp32Bytes. */
  sizeRatio: number;
  /**
   * Fraction of rows whose argmax over the last dimension agrees. For [N,T,C] outputs a row is
   * one position, so agreement is per token. NaN when the output has no class dimension
   * (rank < 2 or a last dimension of 1).
   */
  top1Agreement: number;
  /** Largest |fp32 - int8| over every output element. */
  maxAbsDiff: number;
  /** Mean |fp32 - int8| over every output element. */
  meanAbsDiff: number;
}

function asBoth(m: ModelProto | Uint8Array): { model: ModelProto; bytes: Uint8Array } {
  return m instanceof Uint8Array ? { model: decodeModel(m), bytes: m } : { model: m, bytes: encodeModel(m) };
}

/**
 * How an input is batched: `rows` rows per sample (1 for a symbolic batch, d for a fixed first
 * dimension d, which also forces one sample per run); undefined for a scalar, fed whole.
 */
function batching(model: ModelProto, name: string): { rows: number; fixed: boolean } | undefined {
  const v = model.graph.input.find((i) => i.name === name);
  const shape = v ? valueTypeOf(v)?.shape : undefined;
  if (shape && shape.length === 0) return undefined;
  const d = shape?.[0];
  return typeof d === 'number' ? { rows: d, fixed: true } : { rows: 1, fixed: false };
}

/** Rows [from, from + count) of a tensor along dimension 0, copied (runtimes want own buffers). */
function sliceRows(t: HostTensor, from: number, count: number): HostTensor {
  const row = t.dims.slice(1).reduce((p, d) => p * d, 1);
  return hostTensor(t.dtype, [count, ...t.dims.slice(1)], t.data.slice(from * row, (from + count) * row));
}

/**
 * Runs `fp32` and `int8` on the same inputs, `chunk` samples at a time, and compares one
 * output. The int8 model is loaded with `weightOnlyQdq` when it holds DequantizeLinear weights.
 * Throws CLEAVE_E_NOT_FOUND for an output the models lack, CLEAVE_E_SHAPE for inputs whose
 * sample counts disagree.
 */
export async function evaluateQuantization(fp32: ModelProto | Uint8Array, int8: ModelProto | Uint8Array, opts: EvaluateOptions): Promise<QuantizationEvaluation> {
  const a = asBoth(fp32);
  const b = asBoth(int8);
  const output = opts.output ?? a.model.graph.output[0]?.name;
  const outputs = a.model.graph.output.map((o) => o.name);
  if (output === undefined || !outputs.includes(output) || !b.model.graph.output.some((o) => o.name === output)) {
    throw new CleaveError('CLEAVE_E_NOT_FOUND', `output "${output ?? ''}" is not an output of both models; fp32 outputs: ${outputs.join(', ')}`, { output: output ?? '' });
  }

  // Count samples and decide how many go into one run.
  let samples: number | undefined;
  let fixedBatch = false;
  const rows = new Map<string, number>();
  for (const [name, t] of Object.entries(opts.inputs)) {
    const how = batching(a.model, name);
    if (how === undefined) continue;
    const r = how.rows;
    fixedBatch ||= how.fixed;
    rows.set(name, r);
    const n = (t.dims[0] ?? 0) / r;
    if (!Number.isInteger(n) || (samples !== undefined && samples !== n)) {
      throw new CleaveError('CLEAVE_E_SHAPE', `input "${name}" has ${t.dims[0]} rows, which is not the ${samples ?? '?'} samples of ${r} row(s) the other inputs hold`, { input: name });
    }
    samples = n;
  }
  if (!samples) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'evaluation needs at least one batched input with at least one sample');
  const chunk = fixedBatch ? 1 : Math.max(1, opts.chunk ?? DEFAULT_EVAL_CHUNK);

  const loaded: LoadedModel[] = [];
  try {
    const ma = await opts.backend.load(a.bytes);
    loaded.push(ma);
    const mb = await opts.backend.load(b.bytes, { weightOnlyQdq: isWeightOnlyQdq(b.model) });
    loaded.push(mb);
    let agree = 0;
    let compared = 0;
    let maxAbs = 0;
    let sumAbs = 0;
    let elements = 0;
    for (let s = 0; s < samples; s += chunk) {
      const count = Math.min(chunk, samples - s);
      const feeds: Record<string, HostTensor> = {};
      for (const [name, t] of Object.entries(opts.inputs)) {
        const r = rows.get(name);
        feeds[name] = r === undefined ? t : sliceRows(t, s * r, count * r);
      }
      const ya = (await ma.run(feeds, [output]))[output]!;
      const yb = (await mb.run(feeds, [output]))[output]!;
      if (ya.data.length !== yb.data.length) {
        throw new CleaveError('CLEAVE_E_SHAPE', `output "${output}" is [${ya.dims.join(',')}] in fp32 but [${yb.dims.join(',')}] in int8`, { output });
      }
      for (let i = 0; i < ya.data.length; i++) {
        const d = Math.abs(Number(ya.data[i]) - Number(yb.data[i]));
        // NaN must not hide behind Math.max.
        maxAbs = Number.isNaN(d) || d > maxAbs ? d : maxAbs;
        sumAbs += d;
      }
      elements += ya.data.length;
      const classes = ya.dims.length >= 2 ? ya.dims[ya.dims.length - 1]! : 0;
      if (classes > 1) {
        const pa = argmaxRows(ya);
        const pb = argmaxRows(yb);
        for (let i = 0; i < pa.length; i++) if (pa[i] === pb[i]) agree++;
        compared += pa.length;
      }
    }
    return {
      output,
      samples,
      fp32Bytes: a.bytes.length,
      int8Bytes: b.bytes.length,
      sizeRatio: b.bytes.length / a.bytes.length,
      top1Agreement: compared ? agree / compared : NaN,
      maxAbsDiff: maxAbs,
      meanAbsDiff: elements ? sumAbs / elements : 0,
    };
  } finally {
    for (const m of loaded) await m.dispose();
  }
}
