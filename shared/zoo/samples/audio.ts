/**
 * Synthetic 1.0 s clips for the audio models: one to three tones or linear chirps with up to
 * three harmonics, each switched on and off over the clip (so frames differ the way speech
 * segments do), with a slow tremolo, on a noise floor of random level.
 *
 * Oscillators are rotating phasors (complex multiplies, no trig per sample) and the noise comes
 * from a table of Gaussian values: about a millisecond per clip, so 1,000 clips stay cheap.
 */
import { SAMPLE_RATE } from '../preprocess/audio.js';
import { createZooRng, type ZooRng } from '../prng.js';

const NOISE_TABLE_SIZE = 4096;
let noiseTable: Float64Array | undefined;

function gaussianTable(): Float64Array {
  if (!noiseTable) {
    const rng = createZooRng(0x5eed);
    noiseTable = Float64Array.from({ length: NOISE_TABLE_SIZE }, () => rng.normal());
  }
  return noiseTable;
}

/** One random clip of `SAMPLE_RATE` samples, values within [-1, 1]. */
export function randomClip(rng: ZooRng): Float32Array {
  const n = SAMPLE_RATE;
  const pcm = new Float64Array(n);
  const sources = rng.int(1, 4);
  for (let s = 0; s < sources; s++) {
    const f0 = rng.uniform(100, 3000);
    const f1 = rng.next() < 0.5 ? f0 : rng.uniform(100, 3000);
    const amp = rng.uniform(0.05, 0.3);
    const harmonics = rng.int(1, 4);
    const start = Math.floor(rng.uniform(0, 0.5) * n);
    const end = Math.min(n, Math.floor(start + rng.uniform(0.3, 1) * n));
    const tremolo = (2 * Math.PI * rng.uniform(2, 8)) / SAMPLE_RATE;
    // Phase step at sample i is d0 + i * dd (a linear chirp); p is the oscillator, q its step,
    // r the step's own rotation, t the tremolo phasor and u its step.
    const d0 = (2 * Math.PI * f0) / SAMPLE_RATE;
    const dd = (2 * Math.PI * (f1 - f0)) / (n * SAMPLE_RATE);
    let pr = 1, pi = 0;
    let qr = Math.cos(d0 + start * dd), qi = Math.sin(d0 + start * dd);
    const rr = Math.cos(dd), ri = Math.sin(dd);
    let tr = Math.cos(tremolo * start), ti = Math.sin(tremolo * start);
    const ur = Math.cos(tremolo), ui = Math.sin(tremolo);
    for (let i = start; i < end; i++) {
      let a = pr * qr - pi * qi;
      pi = pr * qi + pi * qr;
      pr = a;
      a = qr * rr - qi * ri;
      qi = qr * ri + qi * rr;
      qr = a;
      const env = amp * (0.6 + 0.4 * ti);
      a = tr * ur - ti * ui;
      ti = tr * ui + ti * ur;
      tr = a;
      // sin(2x) and sin(3x) from sin x and cos x by the angle-sum identities.
      let v = pi;
      if (harmonics > 1) {
        const s2 = 2 * pi * pr;
        v += s2 / 2;
        if (harmonics > 2) v += (s2 * pr + (pr * pr - pi * pi) * pi) / 3;
      }
      pcm[i] = pcm[i]! + env * v;
    }
  }
  const noise = rng.uniform(0.002, 0.03);
  const table = gaussianTable();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = pcm[i]! + table[Math.floor(rng.next() * NOISE_TABLE_SIZE)]! * noise;
    out[i] = v > 1 ? 1 : v < -1 ? -1 : v;
  }
  return out;
}
