// Split equivalence on the zoo's CNN and text models: for EVERY listed single cut, running the
// head then the tail gives the full model's outputs within 1e-5. All three are loaded at the
// 'basic' optimization level so they do the same arithmetic (at 'all', onnxruntime fuses
// Add + LayerNormalization in the whole model but cannot across a cut: ~1e-5 of rounding that
// is not the split's doing).
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../../shared/onnx/decode.js';
import { listCutPoints } from '../../shared/onnx/split/index.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';
import { expectSplitEquivalent } from '../helpers/split-check.js';
import { zooModelBytes } from '../helpers/zoo.js';

const BATCH = 4;

describe('zoo models split at every cut point', () => {
  for (const name of ['cnn-small', 'text-tiny']) {
    it(`${name}: head -> tail equals the full model for every listed cut`, async () => {
      const bytes = await zooModelBytes(name);
      const feeds = zooSampleInputs(name, BATCH, 7)!;
      const report = await expectSplitEquivalent(bytes, feeds, { load: { graphOptimization: 'basic' }, absolute: true, tolerance: 1e-5 });
      expect(report.checks.length).toBe(report.cutPoints.length);
      expect(report.cutPoints.length).toBeGreaterThanOrEqual(name === 'cnn-small' ? 10 : 6);
    });
  }

  it('cnn-small offers cuts both larger and much smaller than its input', async () => {
    const model = decodeModel(await zooModelBytes('cnn-small'));
    const cuts = listCutPoints(model);
    const input = 3 * 64 * 64 * 4;
    expect(cuts.some((c) => (c.bytesPerSample ?? 0) > input)).toBe(true);
    expect(cuts.some((c) => (c.bytesPerSample ?? Infinity) < input / 10)).toBe(true);
    // Listed in topological order.
    expect(cuts.map((c) => c.position)).toEqual([...cuts.map((c) => c.position)].sort((a, b) => a - b));
  });
});
