/**
 * The zoo manifest (`models/manifest.json`): one entry per generated file with its checksum,
 * contract and quality figures. Written with a fixed key order so the file itself is
 * byte-identical from run to run, and hashed with WebCrypto, which Node, browsers and workerd
 * all have.
 */
import type { ZooExitOf, ZooModelSpec, ZooPostprocess, ZooPreprocess, ZooQuantization, ZooTask, ZooTensorSpec, ZooTier } from './catalogue.js';
import type { ExitCurvePoint } from './exit-curve.js';

/** One generated model file. */
export interface ManifestEntry {
  readonly name: string;
  readonly version: number;
  /** File name relative to the manifest, `<name>.onnx`. */
  readonly file: string;
  /** File size, bytes. */
  readonly bytes: number;
  /** Lowercase hex SHA-256 of the file. */
  readonly sha256: string;
  readonly tier: ZooTier;
  readonly task: ZooTask;
  readonly description: string;
  readonly quantization: ZooQuantization;
  /** The fp32 model a quantized variant was made from. */
  readonly baseModel?: string;
  /** Early-exit heads: the model whose activation they read, and the cut tensors. */
  readonly exitOf?: ZooExitOf;
  /** Weight elements (float and int8 initializers; shape constants not counted). */
  readonly params: number;
  /** Mean top-1 softmax probability on the held-out evaluation batch (per frame for audio). */
  readonly meanTop1Prob: number;
  /** Largest share of evaluation rows any one class wins (1 / classes when balanced). */
  readonly maxClassShare: number;
  /**
   * Quantized variants and exit heads: fraction of evaluation rows whose top-1 class matches the
   * base model's (for an exit head, on every row, whatever its confidence).
   */
  readonly top1AgreementWithBase?: number;
  /** Exit heads: exit rate and agreement with the base per confidence threshold (EXIT_THRESHOLDS). */
  readonly exitCurve?: readonly ExitCurvePoint[];
  readonly inputs: readonly ZooTensorSpec[];
  readonly outputs: readonly ZooTensorSpec[];
  readonly labels: readonly string[];
  readonly preprocess: ZooPreprocess;
  readonly postprocess: ZooPostprocess;
}

/** The whole `manifest.json`. */
export interface Manifest {
  /** ZOO_VERSION of the code that wrote it. */
  readonly zooVersion: number;
  /** Entries in catalogue order. */
  readonly models: readonly ManifestEntry[];
}

/** The figures a build measures for one model. */
export interface MeasuredModel {
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly params: number;
  readonly meanTop1Prob: number;
  readonly maxClassShare: number;
  readonly top1AgreementWithBase?: number;
  readonly exitCurve?: readonly ExitCurvePoint[];
}

function tensorSpec(t: ZooTensorSpec): ZooTensorSpec {
  return { name: t.name, dtype: t.dtype, shape: [...t.shape] };
}

/** An entry with its keys in the canonical order (so JSON.stringify is stable). */
export function canonicalEntry(e: ManifestEntry): ManifestEntry {
  return {
    name: e.name,
    version: e.version,
    file: e.file,
    bytes: e.bytes,
    sha256: e.sha256,
    tier: e.tier,
    task: e.task,
    description: e.description,
    quantization: e.quantization,
    ...(e.baseModel !== undefined ? { baseModel: e.baseModel } : {}),
    ...(e.exitOf !== undefined ? { exitOf: { model: e.exitOf.model, cut: [...e.exitOf.cut] } } : {}),
    params: e.params,
    meanTop1Prob: e.meanTop1Prob,
    maxClassShare: e.maxClassShare,
    ...(e.top1AgreementWithBase !== undefined ? { top1AgreementWithBase: e.top1AgreementWithBase } : {}),
    ...(e.exitCurve !== undefined ? { exitCurve: e.exitCurve.map(curvePoint) } : {}),
    inputs: e.inputs.map(tensorSpec),
    outputs: e.outputs.map(tensorSpec),
    labels: [...e.labels],
    preprocess: e.preprocess,
    postprocess: e.postprocess,
  };
}

function curvePoint(p: ExitCurvePoint): ExitCurvePoint {
  return { threshold: p.threshold, exitRate: p.exitRate, agreement: p.agreement, overallAgreement: p.overallAgreement };
}

/** Rounds a measured figure to 4 decimals: run-to-run float noise should not churn the manifest. */
function fig(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/** The manifest entry for a built model. */
export function manifestEntry(spec: ZooModelSpec, m: MeasuredModel): ManifestEntry {
  return canonicalEntry({
    name: spec.name,
    version: spec.version,
    file: `${spec.name}.onnx`,
    bytes: m.bytes.length,
    sha256: m.sha256,
    tier: spec.tier,
    task: spec.task,
    description: spec.description,
    quantization: spec.quantization,
    ...(spec.baseModel !== undefined ? { baseModel: spec.baseModel } : {}),
    ...(spec.exitOf !== undefined ? { exitOf: spec.exitOf } : {}),
    params: m.params,
    meanTop1Prob: fig(m.meanTop1Prob),
    maxClassShare: fig(m.maxClassShare),
    ...(m.top1AgreementWithBase !== undefined ? { top1AgreementWithBase: fig(m.top1AgreementWithBase) } : {}),
    ...(m.exitCurve !== undefined
      ? { exitCurve: m.exitCurve.map((p) => ({ ...p, exitRate: fig(p.exitRate), agreement: p.agreement === null ? null : fig(p.agreement), overallAgreement: fig(p.overallAgreement) })) }
      : {}),
    inputs: spec.inputs,
    outputs: spec.outputs,
    labels: spec.labels,
    preprocess: spec.preprocess,
    postprocess: spec.postprocess,
  });
}

/** The manifest as written to disk: canonical key order, 2-space indent, trailing newline. */
export function formatManifest(m: Manifest): string {
  return `${JSON.stringify({ zooVersion: m.zooVersion, models: m.models.map(canonicalEntry) }, null, 2)}\n`;
}

/** Lowercase hex SHA-256 of bytes, by WebCrypto (`crypto.subtle`, present in Node 20, browsers and workerd). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
