/**
 * How an early-exit head trades cloud calls for agreement: for each confidence threshold, the
 * share of requests it would answer at the edge (max softmax >= threshold) and how often those
 * answers match the full model's. The router picks a threshold from this curve; the zoo writes
 * it into the manifest, measured on held-out samples.
 */
import { CleaveError } from '../errors.js';
import { argmaxRows, type HostTensor } from '../tensor.js';
import { softmax } from './preprocess/postprocess.js';

/** Thresholds the manifest's curve is measured at (max softmax probability of the exit head). */
export const EXIT_THRESHOLDS: readonly number[] = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99];

/** One point of an exit curve. */
export interface ExitCurvePoint {
  /** Minimum max-softmax probability of the exit head for a request to exit. */
  readonly threshold: number;
  /** Share of samples that exit (0..1). */
  readonly exitRate: number;
  /** Among the exited samples, share whose top-1 equals the full model's; null when none exit. */
  readonly agreement: number | null;
  /** Exited answers from the exit head, the rest from the full model, against the full model. */
  readonly overallAgreement: number;
}

/**
 * The curve of `exit` logits against the `full` model's logits on the same rows ([N, C] both),
 * unrounded. Throws CLEAVE_E_SHAPE when the two do not match.
 */
export function exitCurve(exit: HostTensor, full: HostTensor, thresholds: readonly number[] = EXIT_THRESHOLDS): ExitCurvePoint[] {
  const classes = exit.dims[exit.dims.length - 1] ?? 0;
  if (exit.dims.length !== 2 || full.dims.length !== 2 || exit.dims[0] !== full.dims[0] || exit.dims[1] !== full.dims[1] || classes === 0) {
    throw new CleaveError('CLEAVE_E_SHAPE', `exit curve: exit logits [${exit.dims.join(',')}] and full-model logits [${full.dims.join(',')}] must both be [N, C]`);
  }
  const rows = exit.dims[0]!;
  const a = argmaxRows(exit);
  const b = argmaxRows(full);
  const conf = Array.from({ length: rows }, (_, r) => Math.max(...softmax(exit.data, r * classes, classes)));
  return thresholds.map((threshold) => {
    let exited = 0;
    let agree = 0;
    for (let r = 0; r < rows; r++) {
      if (conf[r]! < threshold) continue;
      exited++;
      if (a[r] === b[r]) agree++;
    }
    return {
      threshold,
      exitRate: rows ? exited / rows : 0,
      agreement: exited ? agree / exited : null,
      // Samples that do not exit get the full model's answer, which agrees with itself.
      overallAgreement: rows ? (agree + rows - exited) / rows : 1,
    };
  });
}
