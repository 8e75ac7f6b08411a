import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../shared/tensor.js';
import {
  audioFilterbank, ctcGreedyDecode, encodeText, FRAMES, IMAGE_MEAN, IMAGE_STD, logMelFeatures, MEL_BANDS,
  meanTop1Prob, powerSpectrum, preprocessImages, SAMPLE_RATE, softmax, tokenize, tokensToText, topK, wordId,
  AUDIO_TOKENS, CLS_ID, PAD_ID, SEP_ID, UNK_ID,
} from '../../shared/zoo/index.js';
import { fnv1a32String } from '../../shared/zoo/fnv1a.js';

describe('text tokenizer', () => {
  it('hashes words with 32-bit FNV-1a (published test vectors)', () => {
    expect(fnv1a32String('')).toBe(0x811c9dc5);
    expect(fnv1a32String('a')).toBe(0xe40c292c);
    expect(fnv1a32String('foobar')).toBe(0xbf9cf968);
  });

  it('gives known ids for a known sentence: lowercase, split on non-alphanumerics, CLS ... SEP, padded', () => {
    // 'hello' -> 4 + (0x4f9f2cab % 4092) = 2419, 'world' -> 1291.
    const ids = encodeText('Hello, World! hello-world');
    expect(ids).toHaveLength(32);
    expect(ids.slice(0, 6)).toEqual([CLS_ID, 2419, 1291, 2419, 1291, SEP_ID]);
    expect(ids.slice(6).every((i) => i === PAD_ID)).toBe(true);
  });

  it('truncates long texts to 30 words between CLS and SEP', () => {
    const ids = encodeText(Array.from({ length: 50 }, (_, i) => `w${i}`).join(' '));
    expect(ids).toHaveLength(32);
    expect(ids[0]).toBe(CLS_ID);
    expect(ids[31]).toBe(SEP_ID);
    expect(ids[30]).toBe(wordId('w29'));
  });

  it('maps over-long words to UNK and keeps every id inside the vocabulary', () => {
    expect(encodeText('x'.repeat(40))[1]).toBe(UNK_ID);
    const ids = encodeText('Ünïcode wörds 123 and ÉMOJI 🎉 café');
    for (const id of ids) expect(id).toBeGreaterThanOrEqual(0), expect(id).toBeLessThan(4096);
    expect(ids[1]).toBe(wordId('ünïcode'));
  });

  it('returns an int64 [N, 32] tensor', () => {
    const t = tokenize(['a b', 'c']);
    expect(t.dtype).toBe('int64');
    expect(t.dims).toEqual([2, 32]);
    expect(t.data[32]).toBe(BigInt(CLS_ID));
  });
});

describe('image preprocessing', () => {
  it('normalises a constant image to (v/255 - mean)/std in every pixel of each plane', () => {
    const w = 37, h = 23;
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([200, 100, 50, 255], i * 4);
    const t = preprocessImages([{ width: w, height: h, channels: 4, data }]);
    expect(t.dims).toEqual([1, 3, 64, 64]);
    [200, 100, 50].forEach((v, c) => {
      const want = (v / 255 - IMAGE_MEAN[c as 0])! / IMAGE_STD[c as 0]!;
      for (let i = 0; i < 64 * 64; i++) expect(t.data[c * 4096 + i]).toBeCloseTo(want, 5);
    });
  });

  it('keeps a 64x64 image pixel for pixel (no resampling blur)', () => {
    const data = new Uint8Array(64 * 64 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    const t = preprocessImages([{ width: 64, height: 64, channels: 3, data }], { resize: 'bilinear' });
    const n = preprocessImages([{ width: 64, height: 64, channels: 3, data }], { resize: 'nearest' });
    expect([...t.data]).toEqual([...n.data]);
    expect(t.data[1 * 4096 + 5]).toBeCloseTo((data[5 * 3 + 1]! / 255 - IMAGE_MEAN[1]) / IMAGE_STD[1], 5);
  });

  it('rejects data whose length does not match the dimensions', () => {
    expect(() => preprocessImages([{ width: 4, height: 4, channels: 3, data: new Uint8Array(10) }])).toThrow(/10 bytes/);
  });
});

describe('audio front end', () => {
  it('matches a direct DFT for the power spectrum', () => {
    const x = Array.from({ length: 400 }, (_, i) => Math.sin(i * 0.3) + 0.25 * Math.cos(i * 1.1));
    const p = powerSpectrum(x, 512);
    for (const k of [0, 1, 10, 24, 100, 256]) {
      let re = 0, im = 0;
      for (let j = 0; j < x.length; j++) {
        re += x[j]! * Math.cos((2 * Math.PI * j * k) / 512);
        im -= x[j]! * Math.sin((2 * Math.PI * j * k) / 512);
      }
      expect(p[k]).toBeCloseTo(re * re + im * im, 6);
    }
  });

  it('puts a pure 1 kHz tone in the mel band centred nearest 1 kHz, in every frame', () => {
    const pcm = Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / SAMPLE_RATE));
    const t = logMelFeatures([pcm]);
    expect(t.dims).toEqual([1, MEL_BANDS, FRAMES]);
    const centres = [...audioFilterbank().centersHz];
    const nearest = centres.reduce((best, c, i) => (Math.abs(c - 1000) < Math.abs(centres[best]! - 1000) ? i : best), 0);
    for (let f = 0; f < FRAMES; f++) {
      let best = 0;
      for (let b = 1; b < MEL_BANDS; b++) if (t.data[b * FRAMES + f]! > t.data[best * FRAMES + f]!) best = b;
      expect(best).toBe(nearest);
    }
  });

  it('treats a short clip as followed by silence (log floor) and always gives 100 frames', () => {
    const t = logMelFeatures([new Float32Array(1600).fill(0.1)]);
    expect(t.dims).toEqual([1, 40, 100]);
    expect(t.data[0 * 100 + 99]).toBeCloseTo(Math.log(1e-6), 3);
  });
});

describe('postprocessing', () => {
  it('softmax sums to one and is stable for large logits', () => {
    const p = softmax([1000, 1001, 1002]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[2]).toBeGreaterThan(p[1]!);
  });

  it('top-k ranks classes with labels and probabilities', () => {
    const logits = hostTensor('float32', [2, 3], Float32Array.from([0, 2, 1, 5, 0, 0]));
    const top = topK(logits, 2, ['a', 'b', 'c']);
    expect(top[0]!.map((p) => p.label)).toEqual(['b', 'c']);
    expect(top[1]![0]!.label).toBe('a');
    expect(top[1]![0]!.prob).toBeCloseTo(Math.exp(5) / (Math.exp(5) + 2), 6);
    expect(meanTop1Prob(logits)).toBeCloseTo((top[0]![0]!.prob + top[1]![0]!.prob) / 2, 12);
  });

  it('CTC greedy decoding collapses repeats and drops blanks, keeping repeats split by a blank', () => {
    // Frames' best tokens: h h _ e l l _ l o o _
    const best = [10, 10, 0, 7, 14, 14, 0, 14, 17, 17, 0];
    const v = AUDIO_TOKENS.length;
    const data = new Float32Array(best.length * v);
    best.forEach((k, f) => { data[f * v + k] = 5; });
    const ids = ctcGreedyDecode(hostTensor('float32', [1, best.length, v], data));
    expect(ids[0]).toEqual([10, 7, 14, 14, 17]);
    expect(tokensToText(ids[0]!, AUDIO_TOKENS)).toBe('hello');
  });
});
