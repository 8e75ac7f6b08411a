import { describe, expect, it } from 'vitest';
import { elementCount } from '../../shared/onnx/tensor-data.js';
import { CLS_ID, SEP_ID, ZOO_MODELS, zooSampleInputs } from '../../shared/zoo/index.js';

describe('zooSampleInputs', () => {
  it('gives each model its inputs with the catalogue dtype and shape', () => {
    for (const spec of ZOO_MODELS) {
      const feeds = zooSampleInputs(spec.name, 3, 1)!;
      expect(Object.keys(feeds)).toEqual(spec.inputs.map((i) => i.name));
      for (const i of spec.inputs) {
        const t = feeds[i.name]!;
        expect(t.dtype).toBe(i.dtype);
        expect(t.dims).toEqual([3, ...i.shape.slice(1)]);
        expect(t.data.length).toBe(elementCount(t.dims));
      }
    }
  });

  it('is deterministic in (family, n, seed), differs by seed, and shares streams within a family', () => {
    const a = zooSampleInputs('cnn-small', 4, 9)!.image!.data;
    expect([...zooSampleInputs('cnn-small', 4, 9)!.image!.data]).toEqual([...a]);
    expect([...zooSampleInputs('cnn-large', 4, 9)!.image!.data]).toEqual([...a]);
    expect([...zooSampleInputs('cnn-small', 4, 10)!.image!.data]).not.toEqual([...a]);
  });

  it('makes realistic values: token sequences framed by CLS/SEP, finite audio and image features', () => {
    const ids = zooSampleInputs('text-tiny', 20, 2)!.input_ids!.data as BigInt64Array;
    for (let r = 0; r < 20; r++) {
      expect(ids[r * 32]).toBe(BigInt(CLS_ID));
      expect([...ids.slice(r * 32, r * 32 + 32)]).toContain(BigInt(SEP_ID));
    }
    for (const name of ['audio-small', 'cnn-small', 'mlp-large']) {
      const t = Object.values(zooSampleInputs(name, 4, 2)!)[0]!;
      const v = [...(t.data as Float32Array)];
      expect(v.every(Number.isFinite)).toBe(true);
      expect(Math.max(...v) - Math.min(...v)).toBeGreaterThan(1);
    }
  });

  it('returns undefined for a name the zoo does not know', () => {
    expect(zooSampleInputs('resnet-50', 1, 1)).toBeUndefined();
  });

  it('makes 1,000 samples of every family quickly (the quantizer evaluates on that many)', () => {
    for (const name of ['text-tiny', 'cnn-small', 'audio-small', 'mlp-large']) {
      const t0 = performance.now();
      const feeds = zooSampleInputs(name, 1000, 4)!;
      const ms = performance.now() - t0;
      expect(Object.values(feeds)[0]!.dims[0]).toBe(1000);
      // Generous bound for a loaded 2-core box; typical: audio 2.5 s, images 1 s, others < 0.2 s.
      expect(ms, name).toBeLessThan(20_000);
    }
  });
});
