/**
 * Weight initialisers for the zoo's generated networks. The scales are the ones trained networks
 * start from, so activations neither explode nor vanish through a dozen layers and the fitted
 * heads see features with a healthy spread.
 */
import type { ZooRng } from './prng.js';

/** Normal weights with the given standard deviation. */
export function normalWeights(rng: ZooRng, count: number, std: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * std;
  return out;
}

/** He (Kaiming) normal: std = sqrt(2 / fanIn), for layers followed by ReLU or GELU. */
export function heNormal(rng: ZooRng, count: number, fanIn: number): Float32Array {
  return normalWeights(rng, count, Math.sqrt(2 / fanIn));
}

/** Xavier (Glorot) normal: std = sqrt(2 / (fanIn + fanOut)), for linear, tanh and attention projections. */
export function xavierNormal(rng: ZooRng, count: number, fanIn: number, fanOut: number): Float32Array {
  return normalWeights(rng, count, Math.sqrt(2 / (fanIn + fanOut)));
}

/** Small uniform biases in [-scale, scale): a trained network's biases are rarely all zero. */
export function smallBias(rng: ZooRng, count: number, scale = 0.05): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.uniform(-scale, scale);
  return out;
}

/** `count` copies of `value` (LayerNorm gains, for instance). */
export function filled(count: number, value: number): Float32Array {
  return new Float32Array(count).fill(value);
}
