/**
 * Realistic, deterministic model inputs made through the same preprocessing the edge uses:
 * sentences through the tokenizer, synthetic photos through the image pipeline, synthetic clips
 * through the log-mel front end. The zoo calibrates and evaluates its heads on them, the
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
  }
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
