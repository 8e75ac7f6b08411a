/**
 * Realistic, deterministic model inputs made through the same preprocessing the edge uses:
 * sentences through the tokenizer, synthetic photos through the image pipeline, synthetic clips
 * through the log-mel front end (exit heads, which read another model's activation, get
 * shape-correct stand-ins). The zoo calibrates and evaluates its heads on them, the
 * quantizer measures int8 agreement on them, benchmarks and tests feed them.
 */
import { hostTensor, type HostTensor } from '../../tensor.js';
import { zooModel, type ZooModelSpec } from '../catalogue.js';
import { seedOf } from '../fnv1a.js';
import { logMelFeatures } from '../preprocess/audio.js';
import { preprocessImages } from '../preprocess/image.js';
import { tokenize } from '../preprocess/tokenizer.js';
import { createZooRng, type ZooRng } from '../prng.js';
import { randomClip } from './audio.js';
import { randomImage } from './image.js';
import { randomFeatureVector } from './tabular.js';
import { randomSentences } from './text.js';

/** Inputs for a spec: `n` samples from the stream named by `seed` (same seed, same samples). */
export function sampleInputsFor(spec: ZooModelSpec, n: number, seed: number): Record<string, HostTensor> {
  // Models of one family share a stream, so text-tiny and text-base see the same sentences.
  const rng: ZooRng = createZooRng(seedOf(`samples/${spec.arch.family}/${seed}`));
  const input = spec.inputs[0]!.name;
  switch (spec.arch.family) {
    case 'text':
      return { [input]: tokenize(randomSentences(rng, n)) };
    case 'cnn':
      return { [input]: preprocessImages(Array.from({ length: n }, () => randomImage(rng))) };
    case 'audio':
      return { [input]: logMelFeatures(Array.from({ length: n }, () => randomClip(rng))) };
    case 'mlp': {
      const dim = spec.arch.widths[0]!;
      const data = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) randomFeatureVector(rng, dim, data, i * dim);
      return { [input]: hostTensor('float32', [n, dim], data) };
    }
    case 'exit':
      return { [input]: activationStandIns(rng, n, spec.inputs[0]!.shape) };
  }
}

/**
 * Shape-correct stand-ins for an exit head's input (a ReLU + max-pool activation): non-negative,
 * about 40% zeros, channel levels that differ, like cnn-large's block3.pool_out. They are NOT
 * the base model's activations (making those needs a runtime, and this file has none): they
 * exercise an exit head's kernels; its accuracy figures come from real activations (build.ts).
 */
function activationStandIns(rng: ZooRng, n: number, shape: readonly (number | string)[]): HostTensor {
  const [, channels, h, w] = shape as [string, number, number, number];
  const level = Array.from({ length: channels }, () => rng.uniform(-1.5, 1.5));
  const data = new Float32Array(n * channels * h * w);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < channels; c++) {
      const base = (r * channels + c) * h * w;
      for (let i = 0; i < h * w; i++) data[base + i] = Math.max(0, level[c]! + 1.3 * rng.normal());
    }
  }
  return hostTensor('float32', [n, channels, h, w], data);
}

/**
 * `n` realistic inputs for the named zoo model, keyed by input name; undefined for a name the
 * zoo does not know. Deterministic in (model family, n, seed). About 1 ms per audio clip and
 * far less for the others, so 1,000 samples are cheap.
 */
export function zooSampleInputs(modelName: string, n: number, seed: number): Record<string, HostTensor> | undefined {
  const spec = zooModel(modelName);
  return spec ? sampleInputsFor(spec, n, seed) : undefined;
}
