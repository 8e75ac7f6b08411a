/**
 * Mel filterbank (HTK mel scale, triangular filters of peak 1) mapping FFT power bins to bands.
 * Stored sparsely (each filter touches a few bins), which keeps the front end cheap.
 */

/** Hz -> mel (HTK: 2595 log10(1 + f/700)). */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

/** mel -> Hz. */
export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/** Triangular mel filters over FFT power bins, stored sparsely. */
export interface MelFilterbank {
  readonly bands: number;
  /** Centre frequency of each band, Hz. */
  readonly centersHz: Float64Array;
  /** For band b: the first bin it touches. */
  readonly firstBin: Int32Array;
  /** For band b: weights of bins firstBin[b]..firstBin[b]+weights[b].length-1. */
  readonly weights: readonly Float64Array[];
}

/**
 * Triangular filters spaced evenly in mel between `lowHz` and `highHz` over the bins of an
 * `fftSize`-point FFT at `sampleRate` Hz.
 */
export function melFilterbank(bands: number, fftSize: number, sampleRate: number, lowHz = 0, highHz = sampleRate / 2): MelFilterbank {
  const bins = fftSize / 2 + 1;
  const lo = hzToMel(lowHz);
  const hi = hzToMel(highHz);
  const edges = Array.from({ length: bands + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (bands + 1)));
  const centersHz = new Float64Array(bands);
  const firstBin = new Int32Array(bands);
  const weights: Float64Array[] = [];
  const binHz = sampleRate / fftSize;
  for (let b = 0; b < bands; b++) {
    const left = edges[b]!;
    const centre = edges[b + 1]!;
    const right = edges[b + 2]!;
    centersHz[b] = centre;
    const from = Math.max(0, Math.ceil(left / binHz));
    const to = Math.min(bins - 1, Math.floor(right / binHz));
    const w = new Float64Array(Math.max(0, to - from + 1));
    for (let k = from; k <= to; k++) {
      const f = k * binHz;
      w[k - from] = f <= centre ? (f - left) / (centre - left) : (right - f) / (right - centre);
    }
    firstBin[b] = from;
    weights.push(w);
  }
  return { bands, centersHz, firstBin, weights };
}

/** Band energies of one power spectrum into `out`. */
export function applyMel(fb: MelFilterbank, power: Float64Array, out: Float64Array): void {
  for (let b = 0; b < fb.bands; b++) {
    const w = fb.weights[b]!;
    const from = fb.firstBin[b]!;
    let s = 0;
    for (let i = 0; i < w.length; i++) s += w[i]! * power[from + i]!;
    out[b] = s;
  }
}
