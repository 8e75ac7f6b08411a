/**
 * A tiny seeded pseudo-random generator for everything in Cleave that must be reproducible:
 * synthetic weights, evaluation inputs, benchmark data. Not for anything secret.
 *
 * mulberry32 (32-bit state, period 2^32) is plenty for test data and small enough to read;
 * normals come from Box-Muller. The same seed gives the same sequence on every runtime, since
 * only 32-bit integer math (Math.imul) and IEEE doubles are involved.
 */

/** A seeded stream of random numbers. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Uniform integer in [lo, hi) (hi exclusive); lo when hi <= lo. */
  int(lo: number, hi: number): number;
}

/**
 * Scrambles a seed so that nearby seeds (1, 2, 3) start far apart in mulberry32's sequence,
 * which otherwise steps its state by a fixed constant.
 */
function mixSeed(seed: number): number {
  let z = (seed >>> 0) ^ 0x9e3779b9;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Creates a generator; `seed` is taken as a 32-bit unsigned integer. */
export function createRng(seed: number): Rng {
  let state = mixSeed(seed);
  let spare: number | undefined;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // 1 - next() is in (0, 1], so the log never sees 0.
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const theta = 2 * Math.PI * next();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
    int(lo, hi) {
      if (hi <= lo) return lo;
      return lo + Math.floor(next() * (hi - lo));
    },
  };
}
