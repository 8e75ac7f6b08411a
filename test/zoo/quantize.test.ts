// The quantizer's acceptance figures on the zoo's real models: for both modes, the int8 file is
// at most 0.3x the fp32 file and agrees with fp32 on the top-1 class for >= 98% of 1,000
// realistic inputs (made through the zoo's preprocessing), in onnxruntime-node.
import { describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { evaluateQuantization, quantizeModel, type QuantizeMode } from '../../shared/onnx/quantize/index.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';
import { zooModelBytes } from '../helpers/zoo.js';

const SAMPLES = 1000;

// cnn-small is small enough (24k weights) that protobuf structure matters; its first conv and
// classifier (432 and 640 weights) are quantized too, as the zoo's cnn-small-int8 does.
const cases: { model: string; mode: QuantizeMode; minElements?: number }[] = [
  { model: 'text-tiny', mode: 'qdq-weight' },
  { model: 'text-tiny', mode: 'dynamic-int8' },
  { model: 'cnn-small', mode: 'qdq-weight', minElements: 256 },
  { model: 'cnn-small', mode: 'dynamic-int8', minElements: 256 },
  { model: 'mlp-large', mode: 'dynamic-int8' },
];

describe('int8 quantization of zoo models', () => {
  for (const c of cases) {
    it(`${c.model} ${c.mode}: <= 0.3x the bytes, >= 98% top-1 agreement on ${SAMPLES} inputs`, async () => {
      const fp32 = await zooModelBytes(c.model);
      const { model: q } = quantizeModel(decodeModel(fp32), { mode: c.mode, ...(c.minElements ? { minElements: c.minElements } : {}) });
      const int8 = encodeModel(q);
      const backend = (await nodeBackends()).get('onnxruntime-node');
      const ev = await evaluateQuantization(fp32, int8, { backend, inputs: zooSampleInputs(c.model, SAMPLES, 11)! });
      expect(ev.samples).toBe(SAMPLES);
      expect(ev.sizeRatio).toBeLessThanOrEqual(0.3);
      expect(ev.top1Agreement).toBeGreaterThanOrEqual(0.98);
    });
  }
});
