/**
 * Synthetic feature vectors for the MLPs: a mixture of 10 Gaussian clusters in D dimensions
 * (fixed centres per D), standardised-looking values the way tabular pipelines deliver them.
 */
import { createZooRng, type ZooRng } from '../prng.js';
import { seedOf } from '../fnv1a.js';

const CLUSTERS = 10;
const centres = new Map<number, Float64Array>();

function centresFor(dim: number): Float64Array {
  let c = centres.get(dim);
  if (!c) {
    const rng = createZooRng(seedOf(`tabular-centres/${dim}`));
    c = Float64Array.from({ length: CLUSTERS * dim }, () => rng.normal());
    centres.set(dim, c);
  }
  return c;
}

/** One random vector of `dim` features into `out` at `offset`. */
export function randomFeatureVector(rng: ZooRng, dim: number, out: Float32Array, offset: number): void {
  const c = centresFor(dim);
  const k = rng.int(0, CLUSTERS);
  const spread = rng.uniform(0.5, 1);
  for (let i = 0; i < dim; i++) out[offset + i] = c[k * dim + i]! + rng.normal() * spread;
}
