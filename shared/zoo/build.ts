/**
 * Generating the zoo: for each model, build the body, run it on calibration samples through the
 * injected runner, fit the head (fit-head.ts), build the whole model, and measure it on a
 * held-out evaluation batch; quantized variants are made from their fp32 base with the int8
 * quantizer; early-exit heads are fitted to their base's final logits from its activation at the
 * cut (fit-exit-head.ts), which the base's own calibration and evaluation runs expose as extra
 * outputs, so an exit head costs no extra run of its base. The runner is the only contact with a runtime, so this file stays runtime-neutral;
 * the Node CLI passes onnxruntime-node with one intra-op thread so results repeat exactly.
 */
import { CleaveError } from '../errors.js';
import { dtypeFromCode } from '../onnx/dtype.js';
import { encodeModel } from '../onnx/encode.js';
import { quantizeModel } from '../onnx/quantize/index.js';
import { elementCount } from '../onnx/tensor-data.js';
import type { ModelProto, StringStringEntry } from '../onnx/types.js';
import { argmaxRows, hostTensor, type HostTensor } from '../tensor.js';
import { ZOO_MODELS, zooModel, type ZooModelSpec } from './catalogue.js';
import { exitCurve } from './exit-curve.js';
import { fitExitHead, globalAveragePool } from './fit-exit-head.js';
import { fitHead, type FittedHead } from './fit-head.js';
import { manifestEntry, sha256Hex, type ManifestEntry } from './manifest.js';
import { buildExitHead, withProbeOutputs } from './models/exit.js';
import { buildBody, buildNetwork, classCount, FEATURES_OUTPUT, headProjection, zooMetadata } from './models/network.js';
import { meanTop1Prob } from './preprocess/postprocess.js';
import { sampleInputsFor } from './samples/index.js';

/** Runs a model (ONNX bytes) on feeds and returns every output. Supplied by the host runtime. */
export type ZooRunner = (model: Uint8Array, feeds: Record<string, HostTensor>) => Promise<Record<string, HostTensor>>;

/** Seed of the calibration samples the heads are fitted on. */
export const CALIBRATION_SEED = 1;
/** Seed of the held-out samples the figures in the manifest are measured on. */
export const EVALUATION_SEED = 2;
/** Default calibration samples per model (audio: x 50 frames). */
export const DEFAULT_CALIBRATION_SAMPLES = 256;
/** Default evaluation samples per model. */
export const DEFAULT_EVALUATION_SAMPLES = 256;

/** What to build and how much data to fit and measure on. */
export interface BuildZooOptions {
  /** Names to build (quantized variants build their base too, without returning it). Default all. */
  only?: readonly string[];
  /** Samples the heads are fitted on. Default DEFAULT_CALIBRATION_SAMPLES (256). */
  calibrationSamples?: number;
  /** Held-out samples the figures are measured on. Default DEFAULT_EVALUATION_SAMPLES (256). */
  evaluationSamples?: number;
  /** Clock for `buildMs`, ms. Default performance.now. */
  now?: () => number;
  /** Called as each requested model is done, for progress output. */
  onBuilt?: (model: BuiltZooModel) => void;
}

/** One built model: its bytes and its manifest entry. */
export interface BuiltZooModel {
  readonly name: string;
  /** The encoded model. */
  readonly bytes: Uint8Array;
  readonly entry: ManifestEntry;
  /** Wall time spent on this model (its base's excluded), ms. */
  readonly buildMs: number;
}

/** What one built model yields besides its bytes: its proto and its evaluation outputs. */
interface Built {
  readonly model: ModelProto;
  readonly bytes: Uint8Array;
  readonly evaluation: HostTensor;
  /** Intermediate tensors its exit heads read, from the same runs (absent when none asked). */
  readonly probes?: Probes;
}

/** A base model's activations at its exit cuts, and its final logits on the calibration rows. */
interface Probes {
  readonly calibration: Record<string, HostTensor>;
  readonly calibrationLogits: HostTensor;
  readonly evaluation: Record<string, HostTensor>;
}

/** features [rows, f] @ head.weight [f, c] + head.bias, in float64: the head's logits without a run. */
function headLogits(features: HostTensor, featureDim: number, head: FittedHead, classes: number): HostTensor {
  const rows = features.data.length / featureDim;
  const x = features.data as Float32Array;
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < classes; j++) {
      let s = head.bias[j]!;
      for (let k = 0; k < featureDim; k++) s += x[r * featureDim + k]! * head.weight[k * classes + j]!;
      out[r * classes + j] = s;
    }
  }
  return hostTensor('float32', [rows, classes], out);
}

function pick(spec: ZooModelSpec, outs: Record<string, HostTensor>, names: readonly string[]): Record<string, HostTensor> {
  return Object.fromEntries(names.map((n) => [n, onlyOutput(spec, outs, n)]));
}

/** Weight elements: float and 8-bit initializers (int64 shape and index constants excluded). */
export function countParams(model: ModelProto): number {
  let n = 0;
  for (const t of model.graph.initializer) {
    const d = dtypeFromCode(t.dataType);
    if (d === 'float32' || d === 'float16' || d === 'int8' || d === 'uint8') n += elementCount(t.dims);
  }
  return n;
}

/** Largest share of rows that one class wins. */
export function maxClassShare(logits: HostTensor): number {
  const counts = new Map<number, number>();
  const winners = argmaxRows(logits);
  for (const w of winners) counts.set(w, (counts.get(w) ?? 0) + 1);
  return winners.length ? Math.max(...counts.values()) / winners.length : 0;
}

function onlyOutput(spec: ZooModelSpec, outs: Record<string, HostTensor>, name: string): HostTensor {
  const t = outs[name];
  if (!t) throw new CleaveError('CLEAVE_E_BACKEND', `running zoo model "${spec.name}" gave outputs [${Object.keys(outs).join(', ')}], expected "${name}"`);
  return t;
}

/** Zoo metadata on a derived model, replacing its base's. */
function retag(model: ModelProto, spec: ZooModelSpec): ModelProto {
  const own = zooMetadata(spec);
  const props: StringStringEntry[] = [
    ...model.metadataProps.filter((e) => !Object.hasOwn(own, e.key)),
    ...Object.entries(own).map(([key, value]) => ({ key, value })),
  ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { ...model, docString: spec.description, graph: { ...model.graph, name: spec.name }, metadataProps: props };
}

/** Which specs to build, in catalogue order; unknown names are a CLEAVE_E_NOT_FOUND. */
export function selectZooModels(only?: readonly string[]): ZooModelSpec[] {
  if (!only) return [...ZOO_MODELS];
  const unknown = only.filter((n) => !zooModel(n));
  if (unknown.length) {
    throw new CleaveError('CLEAVE_E_NOT_FOUND', `no zoo model named ${unknown.map((n) => `"${n}"`).join(', ')}; have: ${ZOO_MODELS.map((m) => m.name).join(', ')}`, { names: unknown });
  }
  return ZOO_MODELS.filter((m) => only.includes(m.name));
}

/**
 * Builds zoo models (all, or `opts.only`) in catalogue order. Deterministic for a given runner:
 * the same code and the same runtime give the same bytes.
 */
export async function buildZoo(runner: ZooRunner, opts: BuildZooOptions = {}): Promise<BuiltZooModel[]> {
  const specs = selectZooModels(opts.only);
  const nCal = opts.calibrationSamples ?? DEFAULT_CALIBRATION_SAMPLES;
  const nEval = opts.evaluationSamples ?? DEFAULT_EVALUATION_SAMPLES;
  const now = opts.now ?? (() => performance.now());
  const built = new Map<string, Built>();
  // Models of one family share their sample streams; audio samples cost about a second per 256.
  const samples = new Map<string, Record<string, HostTensor>>();
  const inputs = (spec: ZooModelSpec, n: number, seed: number): Record<string, HostTensor> => {
    const key = `${spec.arch.family}/${spec.inputs[0]!.shape.join('x')}/${n}/${seed}`;
    let s = samples.get(key);
    if (!s) samples.set(key, (s = sampleInputsFor(spec, n, seed)));
    return s;
  };
  const evaluate = async (spec: ZooModelSpec, bytes: Uint8Array): Promise<HostTensor> =>
    onlyOutput(spec, await runner(bytes, inputs(spec, nEval, EVALUATION_SEED)), spec.outputs[0]!.name);

  // Cut tensors that the requested exit heads read from `base`.
  const probesOf = (base: string): string[] => [...new Set(specs.flatMap((m) => (m.exitOf?.model === base ? m.exitOf.cut : [])))];

  const buildFp32 = async (spec: ZooModelSpec): Promise<Built> => {
    const probes = probesOf(spec.name);
    const body = buildBody(spec);
    const calOuts = await runner(encodeModel(withProbeOutputs(body.model, probes)), inputs(spec, nCal, CALIBRATION_SEED));
    const features = onlyOutput(spec, calOuts, FEATURES_OUTPUT);
    const head = fitHead({
      features: features.data as Float32Array,
      rows: features.data.length / body.featureDim,
      featureDim: body.featureDim,
      classes: classCount(spec),
      projection: headProjection(spec, body.featureDim),
    });
    const model = buildNetwork(spec, head);
    const bytes = encodeModel(model);
    if (probes.length === 0) return { model, bytes, evaluation: await evaluate(spec, bytes) };
    const evalOuts = await runner(encodeModel(withProbeOutputs(model, probes)), inputs(spec, nEval, EVALUATION_SEED));
    return {
      model, bytes,
      evaluation: onlyOutput(spec, evalOuts, spec.outputs[0]!.name),
      probes: {
        calibration: pick(spec, calOuts, probes),
        calibrationLogits: headLogits(features, body.featureDim, head, classCount(spec)),
        evaluation: pick(spec, evalOuts, probes),
      },
    };
  };

  const baseOf = async (spec: ZooModelSpec, name: string): Promise<Built> => {
    let b = built.get(name);
    if (!b) {
      const baseSpec = zooModel(name);
      if (!baseSpec || baseSpec.quantization !== 'none' || baseSpec.exitOf) {
        throw new CleaveError('CLEAVE_E_INTERNAL', `zoo model "${spec.name}" names base "${name}", which is not an fp32 model of the catalogue`);
      }
      built.set(name, (b = await buildFp32(baseSpec)));
    }
    return b;
  };

  const buildExit = async (spec: ZooModelSpec, base: Built): Promise<Built> => {
    const cut = spec.exitOf!.cut;
    const input = spec.inputs[0]!;
    if (cut.length !== 1 || cut[0] !== input.name || spec.arch.family !== 'exit') {
      throw new CleaveError('CLEAVE_E_INTERNAL', `zoo exit head "${spec.name}" must read one cut tensor named like its input "${input.name}", has [${cut.join(', ')}]`);
    }
    const channels = spec.arch.channels;
    const act = base.probes?.calibration[input.name];
    if (!act || act.dims[1] !== channels || act.dims.length !== 4) {
      throw new CleaveError('CLEAVE_E_INTERNAL', `zoo exit head "${spec.name}": base activation "${input.name}" is [${act?.dims.join(',') ?? 'missing'}], catalogue says [${input.shape.join(',')}]`);
    }
    const rows = act.dims[0]!;
    const head = fitExitHead({
      features: globalAveragePool(act.data as Float32Array, rows, channels, act.dims[2]! * act.dims[3]!),
      rows,
      featureDim: channels,
      targets: base.probes!.calibrationLogits.data as Float32Array,
      classes: classCount(spec),
    });
    const model = buildExitHead(spec, head);
    const bytes = encodeModel(model);
    const outs = await runner(bytes, { [input.name]: base.probes!.evaluation[input.name]! });
    return { model, bytes, evaluation: onlyOutput(spec, outs, spec.outputs[0]!.name) };
  };

  const out: BuiltZooModel[] = [];
  for (const spec of specs) {
    let base: Built | undefined;
    if (spec.quantization !== 'none') base = await baseOf(spec, spec.baseModel!);
    else if (spec.exitOf) base = await baseOf(spec, spec.exitOf.model);
    const t0 = now();
    let b: Built;
    if (spec.exitOf) {
      b = await buildExit(spec, base!);
    } else if (spec.quantization === 'none') {
      b = built.get(spec.name) ?? (await buildFp32(spec));
    } else {
      // Weight-only QDQ is folded at load, so even small weights (a first conv, a classifier)
      // cost nothing at run time; quantizing them keeps small models under 0.3x the fp32 file.
      const minElements = spec.quantization === 'qdq-weight' ? 256 : 1024;
      const q = retag(quantizeModel(base!.model, { mode: spec.quantization, minElements }).model, spec);
      const bytes = encodeModel(q);
      b = { model: q, bytes, evaluation: await evaluate(spec, bytes) };
    }
    built.set(spec.name, b);
    let agreement: number | undefined;
    if (base) {
      const a = argmaxRows(base.evaluation);
      const q = argmaxRows(b.evaluation);
      agreement = a.filter((v, i) => v === q[i]).length / a.length;
    }
    const entry = manifestEntry(spec, {
      bytes: b.bytes,
      sha256: await sha256Hex(b.bytes),
      params: countParams(b.model),
      meanTop1Prob: meanTop1Prob(b.evaluation),
      maxClassShare: maxClassShare(b.evaluation),
      ...(agreement !== undefined ? { top1AgreementWithBase: agreement } : {}),
      ...(spec.exitOf ? { exitCurve: exitCurve(b.evaluation, base!.evaluation) } : {}),
    });
    const result: BuiltZooModel = { name: spec.name, bytes: b.bytes, entry, buildMs: now() - t0 };
    opts.onBuilt?.(result);
    out.push(result);
  }
  return out;
}
