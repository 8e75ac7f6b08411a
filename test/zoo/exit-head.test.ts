/**
 * The zoo's early-exit head (cnn-large-exit): its manifest entry and curve, its graph and
 * metadata, and its figures reproduced the way an edge would use it: cnn-large cut at
 * block3.pool_out with splitModel, the head part run in onnxruntime-node, the exit head on that
 * real activation, compared with the full cnn-large.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { splitModel } from '../../shared/onnx/split/index.js';
import { argmaxRows, type HostTensor } from '../../shared/tensor.js';
import { exitCurve, EXIT_THRESHOLDS } from '../../shared/zoo/exit-curve.js';
import { EVALUATION_SEED, ZOO_MODELS, zooSampleInputs, type Manifest, type ManifestEntry } from '../../shared/zoo/index.js';
import { EXIT_BASE_KEY, EXIT_CUT_KEY } from '../../shared/zoo/models/exit.js';
import { zooManifest, zooModelBytes } from '../helpers/zoo.js';

const EXIT = 'cnn-large-exit';
const CUT = 'block3.pool_out';

let manifest: Manifest;
let entry: ManifestEntry;

beforeAll(async () => {
  manifest = await zooManifest();
  entry = manifest.models.find((m) => m.name === EXIT)!;
});

async function run(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const m = await (await nodeBackends()).get('onnxruntime-node').load(bytes, { intraOpThreads: 1 });
  try {
    return await m.run(feeds);
  } finally {
    await m.dispose();
  }
}

/** cnn-large's activation at the cut (its split head) and its final logits on `n` images of `seed`. */
async function baseOn(n: number, seed: number): Promise<{ activation: HostTensor; logits: HostTensor }> {
  const bytes = await zooModelBytes('cnn-large');
  const feeds = zooSampleInputs('cnn-large', n, seed)!;
  const { head } = splitModel(decodeModel(bytes), [CUT]);
  const activation = (await run(encodeModel(head), feeds))[CUT]!;
  const logits = (await run(bytes, feeds)).logits!;
  return { activation, logits };
}

describe('cnn-large-exit in the manifest', () => {
  it('is catalogued as an edge exit head of cnn-large at block3.pool_out', () => {
    const spec = ZOO_MODELS.find((m) => m.name === EXIT)!;
    expect(spec.exitOf).toEqual({ model: 'cnn-large', cut: [CUT] });
    expect(entry.exitOf).toEqual({ model: 'cnn-large', cut: [CUT] });
    expect(entry.tier).toBe('edge');
    expect(entry.labels).toEqual(manifest.models.find((m) => m.name === 'cnn-large')!.labels);
    expect(entry.inputs).toEqual([{ name: CUT, dtype: 'float32', shape: ['N', 128, 8, 8] }]);
    expect(entry.params).toBe(128 * 10 + 10);
  });

  it('has an exit curve at the manifest thresholds: exit rate non-increasing, agreements in [0, 1]', () => {
    const curve = entry.exitCurve!;
    expect(curve.map((p) => p.threshold)).toEqual(EXIT_THRESHOLDS);
    for (let i = 1; i < curve.length; i++) expect(curve[i]!.exitRate).toBeLessThanOrEqual(curve[i - 1]!.exitRate);
    for (const p of curve) {
      expect(p.exitRate).toBeGreaterThanOrEqual(0);
      expect(p.exitRate).toBeLessThanOrEqual(1);
      if (p.agreement === null) expect(p.exitRate).toBe(0);
      else {
        expect(p.agreement).toBeGreaterThanOrEqual(0);
        expect(p.agreement).toBeLessThanOrEqual(1);
      }
      expect(p.overallAgreement).toBeGreaterThanOrEqual(0);
      expect(p.overallAgreement).toBeLessThanOrEqual(1);
      // Non-exited samples get the full model's answer, so overall >= among exited.
      expect(p.overallAgreement).toBeGreaterThanOrEqual(p.agreement ?? 0);
    }
    expect(entry.top1AgreementWithBase).toBeGreaterThan(0);
    expect(entry.top1AgreementWithBase).toBeLessThanOrEqual(1);
  });

  it('means its confidence: at 0.9 it exits at least 20% of samples and agrees on at least 80% of them', () => {
    const at90 = entry.exitCurve!.find((p) => p.threshold === 0.9)!;
    expect(at90.exitRate).toBeGreaterThanOrEqual(0.2);
    expect(at90.agreement).toBeGreaterThanOrEqual(0.8);
    // More confidence, better answers: agreement among exited at 0.9 beats agreement on all.
    expect(at90.agreement!).toBeGreaterThan(entry.top1AgreementWithBase!);
  });
});

describe('cnn-large-exit file', () => {
  it('is GlobalAveragePool -> Flatten -> MatMul -> Add and names its base and cut', async () => {
    const m = decodeModel(await zooModelBytes(EXIT));
    expect(m.graph.node.map((n) => n.opType)).toEqual(['GlobalAveragePool', 'Flatten', 'MatMul', 'Add', 'Identity']);
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(meta[EXIT_BASE_KEY]).toBe('cnn-large');
    expect(meta[EXIT_CUT_KEY]).toBe(CUT);
    expect(meta['cleave.zoo.model']).toBe(EXIT);
  });
});

describe('cnn-large-exit on real cnn-large activations (onnxruntime-node)', () => {
  it('reproduces the manifest\'s agreement and curve on the evaluation samples', async () => {
    const { activation, logits } = await baseOn(256, EVALUATION_SEED);
    expect(activation.dims).toEqual([256, 128, 8, 8]);
    const exit = (await run(await zooModelBytes(EXIT), { [CUT]: activation })).logits!;
    const a = argmaxRows(exit);
    const b = argmaxRows(logits);
    const agreement = a.filter((v, i) => v === b[i]).length / a.length;
    expect(Math.abs(agreement - entry.top1AgreementWithBase!)).toBeLessThanOrEqual(0.02);
    const curve = exitCurve(exit, logits);
    curve.forEach((p, i) => {
      expect(Math.abs(p.exitRate - entry.exitCurve![i]!.exitRate), `exit rate at ${p.threshold}`).toBeLessThanOrEqual(0.02);
    });
  }, 60_000);

  it('keeps its confidence meaningful on samples neither fitted nor measured on (seed 3)', async () => {
    const { activation, logits } = await baseOn(128, 3);
    const exit = (await run(await zooModelBytes(EXIT), { [CUT]: activation })).logits!;
    const at90 = exitCurve(exit, logits, [0.9])[0]!;
    expect(at90.exitRate).toBeGreaterThanOrEqual(0.2);
    expect(at90.agreement).toBeGreaterThanOrEqual(0.8);
  }, 60_000);
});
