/**
 * The zoo's own seeded random numbers. Every weight and every sample input comes from here, so
 * a model's bytes depend only on its name and the code. `shared/rng.ts` has the same surface for
 * the rest of the project; this frozen copy stays private to the zoo on purpose, so that a change
 * to the shared generator can never silently change every model's bytes.
 */

/** A deterministic random source. */
export interface ZooRng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Standard normal (mean 0, standard deviation 1), by Box-Muller. */
  normal(): number;
  /** Uniform integer in [lo, hi) (hi exclusive). */
  int(lo: number, hi: number): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

/**
 * mulberry32: a 32-bit state generator, fast in JavaScript (Math.imul only, no BigInt) and good
 * enough for weight initialisation and synthetic data; not for anything cryptographic.
 */
export function createZooRng(seed: number): ZooRng {
  let state = seed >>> 0;
  let spare: number | undefined;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (): number => u32() / 4294967296;
  const rng: ZooRng = {
    next,
    normal() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // (u32 + 0.5) / 2^32 is never 0, so the log below is always finite.
      const u1 = (u32() + 0.5) / 4294967296;
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
    int(lo, hi) {
      return lo + Math.floor(next() * (hi - lo));
    },
    uniform(lo, hi) {
      return lo + next() * (hi - lo);
    },
    pick(items) {
      return items[Math.floor(next() * items.length)]!;
    },
  };
  return rng;
}
