/**
 * The generated zoo on disk: manifest contract, checksums, model metadata and signatures, the
 * decisiveness of the fitted heads, and the activation sizes the split planner relies on.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { isWeightOnlyQdq } from '../../shared/onnx/quantize/index.js';
import { bytesPerSample, valueTypeOf } from '../../shared/onnx/shape/value-type.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import {
  formatManifest, maxClassShare, meanTop1Prob, sha256Hex, ZOO_MODELS, ZOO_VERSION, zooSampleInputs, type Manifest,
} from '../../shared/zoo/index.js';
import { zooDir, zooManifest, zooModelBytes } from '../helpers/zoo.js';

let manifest: Manifest;
let dir: string;

beforeAll(async () => {
  manifest = await zooManifest();
  dir = await zooDir();
});

async function model(name: string): Promise<ModelProto> {
  return decodeModel(await zooModelBytes(name));
}

describe('zoo manifest', () => {
  it('lists every catalogue model in catalogue order, written by this zoo version', () => {
    expect(manifest.zooVersion).toBe(ZOO_VERSION);
    expect(manifest.models.map((m) => m.name)).toEqual(ZOO_MODELS.map((m) => m.name));
  });

  it('is written in canonical form (stable key order, pretty, trailing newline)', async () => {
    const text = await readFile(path.join(dir, 'manifest.json'), 'utf8');
    expect(text).toBe(formatManifest(JSON.parse(text) as Manifest));
  });

  it('records each file\'s size and SHA-256', async () => {
    for (const e of manifest.models) {
      const bytes = await readFile(path.join(dir, e.file));
      expect(bytes.length, e.name).toBe(e.bytes);
      expect(await sha256Hex(bytes), e.name).toBe(e.sha256);
    }
  });

  it('carries the catalogue contract: tier, quantization, labels, inputs and outputs', () => {
    for (const spec of ZOO_MODELS) {
      const e = manifest.models.find((m) => m.name === spec.name)!;
      expect(e.tier).toBe(spec.tier);
      expect(e.quantization).toBe(spec.quantization);
      expect(e.labels).toEqual(spec.labels);
      expect(e.labels).toHaveLength(spec.outputs[0]!.shape.at(-1) as number);
      expect(e.inputs).toEqual(spec.inputs);
      expect(e.outputs).toEqual(spec.outputs);
      expect(e.params).toBeGreaterThan(0);
    }
  });
});

describe('zoo model files', () => {
  it('are opset 17 with zoo metadata and the catalogue signature (symbolic batch N)', async () => {
    for (const spec of ZOO_MODELS) {
      const m = await model(spec.name);
      expect(m.opsetImport.find((o) => o.domain === '')?.version, spec.name).toBe(17);
      const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
      expect(meta['cleave.zoo.model']).toBe(spec.name);
      expect(meta['cleave.zoo.version']).toBe(String(spec.version));
      const sig = (vs: typeof m.graph.input) => vs.map((v) => ({ name: v.name, ...valueTypeOf(v)! }));
      expect(sig(m.graph.input)).toEqual(spec.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })));
      expect(sig(m.graph.output)).toEqual(spec.outputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })));
    }
  });

  it('int8 variants use the promised kernels', async () => {
    const qdq = await model('cnn-small-int8');
    expect(isWeightOnlyQdq(qdq)).toBe(true);
    const dyn = await model('text-tiny-int8');
    expect(dyn.graph.node.some((n) => n.opType === 'MatMulInteger')).toBe(true);
    const e = manifest.models.find((m) => m.name === 'cnn-small-int8')!;
    expect(e.bytes).toBeLessThan(manifest.models.find((m) => m.name === 'cnn-small')!.bytes / 2);
  });

  it('cnn-small offers cuts both larger and smaller than its input', async () => {
    const m = await model('cnn-small');
    const size = (name: string): number => {
      const v = [...m.graph.valueInfo, ...m.graph.input].find((i) => i.name === name);
      return bytesPerSample(valueTypeOf(v!)!)!;
    };
    const input = size('image');
    expect(size('block1.relu1_out')).toBeGreaterThan(input);
    expect(size('block2.pool_out')).toBeLessThan(input);
    expect(size('block3.pool_out')).toBeLessThan(size('block2.pool_out'));
  });
});

describe('zoo heads are decisive and balanced like trained ones', () => {
  // Fresh samples (seed 3), not the calibration (1) or manifest evaluation (2) sets.
  for (const spec of ZOO_MODELS) {
    it(`${spec.name}: mean top-1 probability in [0.6, 0.97], no class above 40% of answers`, async () => {
      const e = manifest.models.find((m) => m.name === spec.name)!;
      expect(e.meanTop1Prob).toBeGreaterThanOrEqual(0.6);
      expect(e.meanTop1Prob).toBeLessThanOrEqual(0.97);
      expect(e.maxClassShare).toBeLessThan(0.4);
      // Exit heads agree with their base only where confident; exit-head.test.ts checks them on
      // real activations (their sample inputs are shape-only stand-ins, see samples/index.ts).
      if (spec.exitOf) return;
      if (e.top1AgreementWithBase !== undefined) expect(e.top1AgreementWithBase).toBeGreaterThan(0.9);

      const loaded = await (await nodeBackends()).get('onnxruntime-node').load(await zooModelBytes(spec.name), { intraOpThreads: 1 });
      const out = (await loaded.run(zooSampleInputs(spec.name, 128, 3)!))[spec.outputs[0]!.name]!;
      await loaded.dispose();
      const p = meanTop1Prob(out);
      expect(p).toBeGreaterThanOrEqual(0.6);
      expect(p).toBeLessThanOrEqual(0.97);
      expect(maxClassShare(out)).toBeLessThan(0.4);
    });
  }
});
