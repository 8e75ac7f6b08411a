/**
 * The audio models' front end: mono PCM at 16 kHz -> 25 ms Hann windows every 10 ms -> 512-point
 * power spectrum -> 40 mel bands (20 Hz to 8 kHz) -> natural log -> float32 [N, 40, 100]
 * (band-major: the bands are the Conv channels, the frames its length).
 *
 * Frame t always covers samples [160 t, 160 t + 400): a clip shorter than 1.0 s is treated as
 * followed by silence and a longer one is cut, so every clip gives exactly 100 frames.
 */
import { CleaveError } from '../../errors.js';
import { hostTensor, type HostTensor } from '../../tensor.js';
import { powerSpectrum, spectrumScratch } from './fft.js';
import { applyMel, melFilterbank, type MelFilterbank } from './mel.js';

/** Sample rate the audio models expect, Hz. */
export const SAMPLE_RATE = 16_000;
/** Window length: 25 ms at 16 kHz, samples. */
export const WINDOW_SAMPLES = 400;
/** Hop between frames: 10 ms at 16 kHz, samples. */
export const HOP_SAMPLES = 160;
/** FFT size (the window is zero-padded to it). */
export const FFT_SIZE = 512;
/** Mel bands (the models' input channels). */
export const MEL_BANDS = 40;
/** Frames per clip (1.0 s). */
export const FRAMES = 100;
/** Added to band energy before the log, so silence gives log(1e-6) ~ -13.8 rather than -Infinity. */
export const LOG_FLOOR = 1e-6;

let bank: MelFilterbank | undefined;
let hann: Float64Array | undefined;

/** The filterbank the models were made for (40 bands, 20 Hz to 8 kHz, 512-point FFT at 16 kHz). */
export function audioFilterbank(): MelFilterbank {
  bank ??= melFilterbank(MEL_BANDS, FFT_SIZE, SAMPLE_RATE, 20, SAMPLE_RATE / 2);
  return bank;
}

function hannWindow(): Float64Array {
  // Periodic Hann (denominator n, not n-1), as in most STFT front ends.
  hann ??= Float64Array.from({ length: WINDOW_SAMPLES }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WINDOW_SAMPLES));
  return hann;
}

/** Log-mel features of one clip into `out` at `offset` ([40, 100], band-major). */
export function logMelInto(pcm: Float32Array | Float64Array, out: Float32Array, offset: number): void {
  const fb = audioFilterbank();
  const win = hannWindow();
  const frame = new Float64Array(WINDOW_SAMPLES);
  const power = new Float64Array(FFT_SIZE / 2 + 1);
  const scratch = spectrumScratch(FFT_SIZE);
  const bands = new Float64Array(MEL_BANDS);
  for (let t = 0; t < FRAMES; t++) {
    const start = t * HOP_SAMPLES;
    for (let i = 0; i < WINDOW_SAMPLES; i++) {
      const s = start + i;
      frame[i] = s < pcm.length ? pcm[s]! * win[i]! : 0;
    }
    powerSpectrum(frame, FFT_SIZE, power, scratch);
    applyMel(fb, power, bands);
    for (let b = 0; b < MEL_BANDS; b++) out[offset + b * FRAMES + t] = Math.log(bands[b]! + LOG_FLOOR);
  }
}

/** A batch of clips (mono, 16 kHz, values in [-1, 1]) as the float32 [N, 40, 100] tensor `features`. */
export function logMelFeatures(clips: readonly (Float32Array | Float64Array)[]): HostTensor {
  const per = MEL_BANDS * FRAMES;
  const data = new Float32Array(clips.length * per);
  clips.forEach((pcm, i) => {
    if (pcm.length === 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `audio clip ${i} is empty; expected up to ${SAMPLE_RATE} samples at ${SAMPLE_RATE} Hz`);
    logMelInto(pcm, data, i * per);
  });
  return hostTensor('float32', [clips.length, MEL_BANDS, FRAMES], data);
}
