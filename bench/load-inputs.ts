/**
 * Request bodies for `cleave bench load`: KServe v2 JSON at batch 1 for a zoo model, either all
 * distinct (every request a cache miss, honestly: a new input, not `x-cleave-cache: bypass`) or
 * drawn from a Zipf distribution over a fixed set of inputs, so repeats hit the result cache the
 * way popular inputs would. Bodies are made before a run starts, so the load generator spends no
 * time on JSON while it measures.
 */
import { createRng, type Rng } from '../shared/rng.js';
import type { Manifest } from '../shared/zoo/manifest.js';

/** Shape of the float32 inputs of one zoo model, batch dims set to 1. */
export interface BodyShape {
  readonly inputs: readonly { readonly name: string; readonly shape: readonly number[]; readonly size: number }[];
}

/** The batch-1 input shapes of `model`; throws for an unknown model or a non-float32 input. */
export function bodyShape(manifest: Manifest, model: string): BodyShape {
  const entry = manifest.models.find((m) => m.name === model);
  if (!entry) throw new Error(`zoo manifest has no model ${model}`);
  return {
    inputs: entry.inputs.map((s) => {
      if (s.dtype !== 'float32') throw new Error(`${model} input ${s.name} is ${s.dtype}; this bench sends FP32 only`);
      const shape = s.shape.map((d) => (typeof d === 'number' ? d : 1));
      return { name: s.name, shape, size: shape.reduce((a, b) => a * b, 1) };
    }),
  };
}

/**
 * One request body: seeded normals rounded to 4 decimals, as bench/edge.ts sends. 64 such values
 * make a repeat between two independent bodies practically impossible (the edge's /v1/status
 * miss count is the proof the bench prints).
 */
function makeBody(shape: BodyShape, rng: Rng): Buffer {
  const inputs = shape.inputs.map((s) => ({
    name: s.name, shape: s.shape, datatype: 'FP32',
    data: Array.from({ length: s.size }, () => Math.round(rng.normal() * 1e4) / 1e4),
  }));
  return Buffer.from(JSON.stringify({ inputs }));
}

/** An endless stream of distinct bodies: every `take` continues where the last stopped. */
export class DistinctBodies {
  private readonly rng: Rng;
  /** Bodies handed out so far. */
  taken = 0;

  constructor(private readonly shape: BodyShape, seed: number) {
    this.rng = createRng(seed);
  }

  /** The next `n` bodies, none seen before. */
  take(n: number): Buffer[] {
    this.taken += n;
    return Array.from({ length: n }, () => makeBody(this.shape, this.rng));
  }
}

/**
 * Bodies drawn from Zipf(s) over `items` distinct inputs: rank k (1-based) comes with probability
 * proportional to 1 / k^s. Keeps the set of ranks drawn so far, so each batch also says how many
 * of its requests an ideal cache (unbounded, no TTL, warm from every earlier batch) would have
 * answered: the figure the edge's measured hit rate is compared with.
 */
export class ZipfBodies {
  private readonly cdf: Float64Array;
  private readonly pool: Buffer[];
  private readonly rng: Rng;
  private readonly seen = new Set<number>();

  /** `s` > 0; `items` >= 1; the pool of bodies and the draws have their own seeds. */
  constructor(shape: BodyShape, readonly items: number, readonly s: number, seed: number) {
    if (!(items >= 1) || !Number.isInteger(items)) throw new RangeError(`Zipf items ${items}: expected an integer >= 1`);
    if (!(s > 0)) throw new RangeError(`Zipf exponent ${s}: expected > 0`);
    this.cdf = new Float64Array(items);
    let sum = 0;
    for (let k = 1; k <= items; k++) {
      sum += 1 / k ** s;
      this.cdf[k - 1] = sum;
    }
    for (let i = 0; i < items; i++) this.cdf[i]! /= sum;
    const poolRng = createRng(seed);
    this.pool = Array.from({ length: items }, () => makeBody(shape, poolRng));
    this.rng = createRng(seed + 1);
  }

  /** A 0-based rank drawn from the distribution (binary search over the CDF). */
  private draw(): number {
    const u = this.rng.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The next `n` draws, and how many of them an ideal warm cache would have hit. */
  take(n: number): { bodies: Buffer[]; idealHits: number } {
    let idealHits = 0;
    const bodies = Array.from({ length: n }, () => {
      const k = this.draw();
      if (this.seen.has(k)) idealHits++;
      else this.seen.add(k);
      return this.pool[k]!;
    });
    return { bodies, idealHits };
  }
}
