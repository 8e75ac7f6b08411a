/**
 * Serves split tails next to the models they come from. An edge that runs a model's head itself
 * sends the cut tensor to the cloud and asks for the tail by its splitPartName; this decorator
 * makes every such tail a model of the repository without anyone writing it to disk:
 *
 *   list(): the underlying models, plus `<model>.tail.<tensor>` for every single-tensor cut point
 *           of every float (not quantized) model with a batch dim;
 *   read(): for a tail, the base model's bytes cut with splitModel and encoded again.
 *
 * Tails are `onDemand`: loadAll does not warm the dozens of them (the zoo alone has over a
 * hundred) and WELCOME does not offer them; a RUN names one and the repository loads it then.
 *
 * Only cuts with a known per-sample size whose crossing tensor is batch-major (dim 0 symbolic)
 * are listed: the tail's config must say dim 0 is the batch so the dynamic batcher can stack
 * requests, which a `[50, N, 128]` GRU activation does not allow.
 *
 * Listing decodes each base version once and keeps its cut points keyed by a fingerprint of its
 * bytes: later lists still read the bytes (a source has no cheaper way to say a file changed)
 * but skip the decode and the cut analysis. The fingerprint is the length plus a SHA-256 of the
 * first and last 64 KiB, not of the whole file: hashing the zoo's 21 MB MLP took 170 ms on a
 * busy 2-core machine, on every list. Cut points depend on the graph, not the weight values, and
 * an encoded model keeps its nodes near the start and its inputs and outputs at the end, so a
 * changed graph of the same length shows there. Built tails, which do hold the weights, are
 * checked against a SHA-256 of the whole base file when read (a load, which is rare), and kept in
 * a small LRU by count and bytes, since a tail evicted from memory comes back through read().
 */
import { createHash } from 'node:crypto';
import { CleaveError, toCleaveError } from '../../shared/errors.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { QUANTIZATION_METADATA_KEY } from '../../shared/onnx/quantize/index.js';
import { listCutPoints, splitModel, splitPartName } from '../../shared/onnx/split/index.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import type { TensorSpec } from '../../shared/protocol/frames.js';
import { parseModelConfig, type ModelConfig } from './model-config.js';
import type { ModelSource } from './model-source.js';

export interface SplitSourceOptions {
  /** Most built tails kept encoded in memory. Default 4. */
  readonly maxCachedParts?: number;
  /** Most bytes of built tails kept in memory. Default 128 MiB. */
  readonly maxCachedBytes?: number;
  /** Reports base models whose cut points could not be listed. Default console.warn. */
  readonly warn?: (msg: string) => void;
}

/** One listable tail cut of a base model version, as the analysis found it. */
interface TailCut {
  readonly tensor: string;
  readonly crossing: TensorSpec;
  readonly bytesPerSample: number;
  readonly passthroughInputs: readonly string[];
  readonly passthroughOutputs: readonly string[];
}

interface Analysis {
  /** fingerprint() of the base bytes analysed. */
  readonly fingerprint: string;
  readonly cuts: readonly TailCut[];
}

/** Where a tail comes from. */
interface PartRef {
  readonly base: string;
  readonly tensor: string;
  readonly versions: readonly number[];
}

/** Ops whose presence means integer compute or quantized weights: not an fp32 model. */
const QUANTIZED_OPS = new Set([
  'DequantizeLinear', 'QuantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger',
  'QLinearMatMul', 'QLinearConv', 'MatMulNBits', 'QAttention', 'DynamicQuantizeMatMul',
]);

/** True for a model with float weights and float compute (the quantizer's models are left out). */
export function isFloatModel(model: ModelProto): boolean {
  if (model.metadataProps.some((e) => e.key === QUANTIZATION_METADATA_KEY)) return false;
  return !model.graph.node.some((n) => QUANTIZED_OPS.has(n.opType));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes hashed at each end of a file for the listing fingerprint. */
const FINGERPRINT_SPAN = 64 * 1024;

/** Length plus a hash of both ends: see the file comment for why not the whole file. */
function fingerprint(bytes: Uint8Array): string {
  if (bytes.length <= 2 * FINGERPRINT_SPAN) return `${bytes.length}:${sha256(bytes)}`;
  const h = createHash('sha256').update(bytes.subarray(0, FINGERPRINT_SPAN)).update(bytes.subarray(bytes.length - FINGERPRINT_SPAN));
  return `${bytes.length}:${h.digest('hex')}`;
}

/** A ModelSource decorator that adds split tails: see the file comment. */
export class SplitSource implements ModelSource {
  readonly description: string;
  private readonly base: ModelSource;
  private readonly maxParts: number;
  private readonly maxBytes: number;
  private readonly warn: (msg: string) => void;
  /** `name@version` -> cut analysis of that base version. */
  private analyses = new Map<string, Analysis>();
  /** Tail name -> where it comes from, as of the last list(). */
  private parts = new Map<string, PartRef>();
  private listed = false;
  /** `name@version` -> encoded tail and the SHA-256 of the base bytes it was cut from, least recently used first. */
  private readonly built = new Map<string, { bytes: Uint8Array; sha256: string }>();
  private builtBytes = 0;

  constructor(base: ModelSource, opts: SplitSourceOptions = {}) {
    this.base = base;
    this.description = `${base.description} + split tails`;
    this.maxParts = opts.maxCachedParts ?? 4;
    this.maxBytes = opts.maxCachedBytes ?? 128 * 1024 * 1024;
    this.warn = opts.warn ?? ((m) => console.warn(m));
  }

  async list(): Promise<ModelConfig[]> {
    const configs = await this.base.list();
    const taken = new Set(configs.map((c) => c.name));
    const analyses = new Map<string, Analysis>();
    const parts = new Map<string, PartRef>();
    const out = [...configs];
    for (const c of configs) {
      if (c.maxBatchSize === 0 || c.onDemand === true) continue;
      const version = c.versions[c.versions.length - 1]!;
      const analysis = await this.analyse(c.name, version);
      if (!analysis) continue;
      analyses.set(`${c.name}@${version}`, analysis);
      for (const cut of analysis.cuts) {
        const name = splitPartName(c.name, 'tail', [cut.tensor]);
        // A model of that name in the underlying source wins; it was there first.
        if (taken.has(name)) continue;
        const config = this.tailConfig(c, version, cut, name);
        if (!config) continue;
        taken.add(name);
        parts.set(name, { base: c.name, tensor: cut.tensor, versions: c.versions });
        out.push(config);
      }
    }
    this.analyses = analyses;
    this.parts = parts;
    this.listed = true;
    for (const k of this.built.keys()) if (!parts.has(k.slice(0, k.lastIndexOf('@')))) this.dropBuilt(k);
    return out;
  }

  async read(name: string, version: number): Promise<Uint8Array> {
    if (!this.listed) await this.list();
    const ref = this.parts.get(name);
    if (!ref) return this.base.read(name, version);
    if (!ref.versions.includes(version)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `split tail "${name}" has no version ${version}; have: ${ref.versions.join(', ')}`, { model: name, version });
    }
    const k = `${name}@${version}`;
    const baseBytes = await this.base.read(ref.base, version);
    const baseSha = sha256(baseBytes);
    const hit = this.built.get(k);
    if (hit?.sha256 === baseSha) {
      this.built.delete(k);
      this.built.set(k, hit);
      return hit.bytes;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeModel(splitModel(decodeModel(baseBytes), [ref.tensor]).tail);
    } catch (e) {
      const err = toCleaveError(e, 'CLEAVE_E_SPLIT');
      throw new CleaveError(err.code, `split tail "${name}": cutting "${ref.base}" version ${version} at "${ref.tensor}": ${err.message}`, { ...err.detail, model: name, version }, { cause: e });
    }
    this.keep(k, { bytes, sha256: baseSha });
    return bytes;
  }

  /** Cut analysis of one base version, from the cache when its bytes are unchanged. */
  private async analyse(name: string, version: number): Promise<Analysis | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await this.base.read(name, version);
    } catch (e) {
      this.warn(`split tails of "${name}" version ${version} not listed: ${(e as Error).message}`);
      return undefined;
    }
    const print = fingerprint(bytes);
    const known = this.analyses.get(`${name}@${version}`);
    if (known?.fingerprint === print) return known;
    try {
      const model = decodeModel(bytes);
      return { fingerprint: print, cuts: isFloatModel(model) ? tailCuts(model) : [] };
    } catch (e) {
      this.warn(`split tails of "${name}" version ${version} not listed: ${(e as Error).message}`);
      // Remember the failure too, so an unsplittable model is not analysed on every list.
      return { fingerprint: print, cuts: [] };
    }
  }

  private tailConfig(base: ModelConfig, version: number, cut: TailCut, name: string): ModelConfig | undefined {
    const passthrough = cut.passthroughInputs.map((n) => base.inputs.find((s) => s.name === n));
    if (passthrough.some((s) => s === undefined)) return undefined;
    const outputs = base.outputs.filter((o) => !cut.passthroughOutputs.includes(o.name));
    if (outputs.length === 0) return undefined;
    const sends = [cut.tensor, ...cut.passthroughInputs].map((n) => `"${n}"`).join(' and ');
    const raw = {
      name,
      versions: base.versions,
      inputs: [cut.crossing, ...(passthrough as TensorSpec[])],
      outputs,
      maxBatchSize: base.maxBatchSize,
      ...(base.dynamicBatching !== undefined ? { dynamicBatching: base.dynamicBatching } : {}),
      warmup: base.warmup,
      ...(base.priority !== undefined ? { priority: base.priority } : {}),
      description: `split tail of "${base.name}" cut at "${cut.tensor}" (${cut.bytesPerSample} bytes per sample cross the cut): `
        + `the edge runs the head (splitModel(model, ["${cut.tensor}"]).head) and sends ${sends}`,
      onDemand: true,
    };
    try {
      return parseModelConfig(raw, `${this.description} (tail "${name}" of "${base.name}" version ${version})`);
    } catch (e) {
      this.warn(`split tail "${name}" not listed: ${(e as Error).message}`);
      return undefined;
    }
  }

  private keep(k: string, entry: { bytes: Uint8Array; sha256: string }): void {
    this.dropBuilt(k);
    if (entry.bytes.length > this.maxBytes || this.maxParts === 0) return;
    this.built.set(k, entry);
    this.builtBytes += entry.bytes.length;
    for (const oldest of this.built.keys()) {
      if (this.built.size <= this.maxParts && this.builtBytes <= this.maxBytes) break;
      this.dropBuilt(oldest);
    }
  }

  private dropBuilt(k: string): void {
    const b = this.built.get(k);
    if (!b) return;
    this.built.delete(k);
    this.builtBytes -= b.bytes.length;
  }
}

/** The single-tensor, batch-major cuts of a float model with a known size per sample. */
function tailCuts(model: ModelProto): TailCut[] {
  const out: TailCut[] = [];
  for (const cp of listCutPoints(model)) {
    const t = cp.tensors[0];
    if (cp.tensors.length !== 1 || !t || cp.bytesPerSample === undefined || !t.type?.shape) continue;
    const shape = t.type.shape;
    if (shape.length === 0 || typeof shape[0] === 'number') continue;
    out.push({
      tensor: t.name,
      crossing: { name: t.name, dtype: t.type.dtype, shape: shape.map((d) => (typeof d === 'number' ? d : -1)) },
      bytesPerSample: cp.bytesPerSample,
      passthroughInputs: cp.passthroughInputs.map((p) => p.name),
      passthroughOutputs: cp.passthroughOutputs,
    });
  }
  return out;
}
