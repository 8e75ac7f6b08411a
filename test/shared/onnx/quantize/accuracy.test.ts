/**
 * Quantized models in real onnxruntime sessions (onnxruntime-node and onnxruntime-web's wasm
 * build): they load, they run, and they agree with their fp32 originals.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../../../cli/backends.js';
import type { InferenceBackend } from '../../../../shared/backend/backend.js';
import { float } from '../../../../shared/onnx/attributes.js';
import { GraphBuilder } from '../../../../shared/onnx/builder.js';
import { encodeModel } from '../../../../shared/onnx/encode.js';
import { randomInputs } from '../../../../shared/onnx/eval-inputs.js';
import { evaluateQuantization, isWeightOnlyQdq, quantizeModel, type QuantizeMode } from '../../../../shared/onnx/quantize/index.js';
import type { ModelProto } from '../../../../shared/onnx/types.js';
import { hostTensor } from '../../../../shared/tensor.js';
import { createRng } from '../../../../shared/rng.js';
import { cnn, embeddingBag, mlp } from './models.js';

const MODES: readonly QuantizeMode[] = ['qdq-weight', 'dynamic-int8'];
let node: InferenceBackend;
let web: InferenceBackend;

beforeAll(async () => {
  const reg = await nodeBackends();
  node = reg.get('onnxruntime-node');
  web = reg.get('onnxruntime-web');
});

async function run(backend: InferenceBackend, m: ModelProto, feeds: Parameters<Awaited<ReturnType<InferenceBackend['load']>>['run']>[0]) {
  const loaded = await backend.load(encodeModel(m), { weightOnlyQdq: isWeightOnlyQdq(m) });
  try {
    return await loaded.run(feeds);
  } finally {
    await loaded.dispose();
  }
}

/** Mean over rows of the largest softmax probability. */
function meanTop1Probability(logits: Float32Array, classes: number): number {
  let sum = 0;
  const rows = logits.length / classes;
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const max = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    sum += 1 / z;
  }
  return sum / rows;
}

describe.each([
  ['MLP 256-512-512-10', () => mlp([256, 512, 512, 10])],
  ['small CNN', () => cnn()],
])('%s', (_name, build) => {
  const fp32 = build();
  const inputs = randomInputs(fp32, 1000, 11);

  it('has decisive fp32 outputs (mean top-1 softmax probability > 0.7)', async () => {
    const y = (await run(node, fp32, inputs)).logits!;
    expect(meanTop1Probability(y.data as Float32Array, 10)).toBeGreaterThan(0.7);
  });

  it.each(MODES)('%s: <= 0.3x the bytes and >= 98 percent top-1 agreement on 1000 inputs in onnxruntime-node', async (mode) => {
    const { model } = quantizeModel(fp32, { mode });
    const ev = await evaluateQuantization(fp32, model, { backend: node, inputs });
    expect(ev.samples).toBe(1000);
    expect(ev.sizeRatio).toBeLessThanOrEqual(0.3);
    expect(ev.top1Agreement).toBeGreaterThanOrEqual(0.98);
    expect(ev.maxAbsDiff).toBeGreaterThan(0);
    expect(ev.meanAbsDiff).toBeLessThan(ev.maxAbsDiff);
  });

  it.each(MODES)('%s: runs in onnxruntime-web with the same agreement on the same inputs', async (mode) => {
    const { model } = quantizeModel(fp32, { mode });
    const ev = await evaluateQuantization(fp32, model, { backend: web, inputs });
    expect(ev.top1Agreement).toBeGreaterThanOrEqual(0.98);
  });
});

describe('hand-checkable 2x3 weight in both runtimes', () => {
  const b = new GraphBuilder('tiny');
  const x = b.input('x', 'float32', ['N', 2]);
  b.output(b.op('MatMul', [x, b.weight('w', 'float32', [2, 3], [127, 5, 0, 2.5, -254, 0])]), 'y');
  const fp32 = b.build();
  // Identity rows read the dequantized weight back: column scales [1, 2, 1], values worked out in
  // quantize-model.test.ts. A wrong axis would mix the scales up.
  const eye = { x: hostTensor('float32', [2, 2], Float32Array.from([1, 0, 0, 1])) };
  const want = [127, 4, 0, 2, -254, 0];

  it.each(MODES.flatMap((m) => [[m, 'onnxruntime-node'], [m, 'onnxruntime-web']]))('%s in %s', async (mode, backendName) => {
    const { model } = quantizeModel(fp32, { mode: mode as QuantizeMode, minElements: 0 });
    const y = (await run(backendName === 'onnxruntime-node' ? node : web, model, eye)).y!;
    [...y.data].forEach((v, i) => expect(Number(v)).toBeCloseTo(want[i]!, 3));
  });
});

describe('Gemm rewritten for integer compute', () => {
  it('matches fp32 with transA, transB, alpha and beta set', async () => {
    const rng = createRng(5);
    const b = new GraphBuilder('gemm');
    const a = b.input('a', 'float32', [64, 'N']);
    const w = b.weight('w', 'float32', [48, 64], Float32Array.from({ length: 48 * 64 }, () => rng.normal()));
    const c = b.weight('c', 'float32', [48], Float32Array.from({ length: 48 }, () => rng.normal()));
    b.output(b.op('Gemm', [a, w, c], { transA: 1, transB: 1, alpha: 0.5, beta: float(2) }, { name: 'g' }), 'y');
    const fp32 = b.build();
    const { model } = quantizeModel(fp32, { mode: 'dynamic-int8' });
    const feeds = { a: hostTensor('float32', [64, 8], Float32Array.from({ length: 512 }, () => rng.normal())) };
    for (const backend of [node, web]) {
      const ref = (await run(backend, fp32, feeds)).y!;
      const got = (await run(backend, model, feeds)).y!;
      expect(got.dims).toEqual([8, 48]);
      let worst = 0;
      let scale = 0;
      ref.data.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(Number(v) - Number(got.data[i])));
        scale = Math.max(scale, Math.abs(Number(v)));
      });
      // int8 weights and uint8 activations: a few percent of the output range, not more.
      expect(worst / scale).toBeLessThan(0.03);
    }
  });
});

describe('embedding tables (Gather)', () => {
  const fp32 = embeddingBag();
  const inputs = randomInputs(fp32, 300, 4);

  it.each(MODES)('%s keeps token-classifier agreement >= 95 percent in both runtimes', async (mode) => {
    const { model, report } = quantizeModel(fp32, { mode });
    expect(report.quantized.map((q) => q.op)).toEqual(['Gather', 'MatMul']);
    for (const backend of [node, web]) {
      const ev = await evaluateQuantization(fp32, model, { backend, inputs });
      expect(ev.top1Agreement).toBeGreaterThanOrEqual(0.95);
    }
  });
});

describe('batched (rank-3) MatMul weights', () => {
  it.each(MODES)('%s runs in both runtimes and stays close to fp32', async (mode) => {
    const rng = createRng(8);
    const b = new GraphBuilder('batched');
    const x = b.input('x', 'float32', [4, 'N', 32]);
    b.output(b.op('MatMul', [x, b.weight('w', 'float32', [4, 32, 16], Float32Array.from({ length: 2048 }, () => rng.normal()))]), 'y');
    const fp32 = b.build();
    const { model } = quantizeModel(fp32, { mode });
    const feeds = { x: hostTensor('float32', [4, 3, 32], Float32Array.from({ length: 384 }, () => rng.normal())) };
    for (const backend of [node, web]) {
      const ref = (await run(backend, fp32, feeds)).y!;
      const got = (await run(backend, model, feeds)).y!;
      const worst = Math.max(...[...ref.data].map((v, i) => Math.abs(Number(v) - Number(got.data[i]))));
      expect(worst).toBeLessThan(0.2);
    }
  });
});

describe('integer MatMul at the extremes of the grid', () => {
  // All-ones activations quantize to 255 and all-ones weights to the top level: the case where
  // a saturating uint8 x int8 kernel (x86 without VNNI) returns about half the right sum.
  it.each(['onnxruntime-node', 'onnxruntime-web'])('sums exactly in %s', async (backendName) => {
    const b = new GraphBuilder('extreme');
    const x = b.input('x', 'float32', ['N', 64]);
    b.output(b.op('MatMul', [x, b.weight('w', 'float32', [64, 32], new Float32Array(2048).fill(1))]), 'y');
    const { model } = quantizeModel(b.build(), { mode: 'dynamic-int8' });
    const y = (await run(backendName === 'onnxruntime-node' ? node : web, model, { x: hostTensor('float32', [2, 64], new Float32Array(128).fill(1)) })).y!;
    for (const v of y.data) expect(Number(v)).toBeCloseTo(64, 3);
  });
});
