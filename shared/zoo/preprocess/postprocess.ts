/**
 * Turning logits into answers: softmax and top-k for the classifiers, greedy CTC decoding for the
 * audio models' per-frame tokens. Runtime-neutral and allocation-light; used by the edge and by
 * the zoo itself (mean top-1 probability).
 */
import { CleaveError } from '../../errors.js';
import type { HostTensor } from '../../tensor.js';

/** Numerically stable softmax of `logits[offset .. offset+count)` into a new Float64Array. */
export function softmax(logits: ArrayLike<number | bigint>, offset = 0, count = logits.length - offset): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, Number(logits[offset + i]));
  const out = new Float64Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const e = Math.exp(Number(logits[offset + i]) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < count; i++) out[i] = out[i]! / sum;
  return out;
}

/** One ranked class. */
export interface Prediction {
  readonly index: number;
  /** Label from the manifest; the index as a string when there are no labels. */
  readonly label: string;
  /** Softmax probability in [0, 1]. */
  readonly prob: number;
}

function rows(t: HostTensor): { rows: number; classes: number } {
  const classes = t.dims[t.dims.length - 1];
  if (classes === undefined || classes === 0) throw new CleaveError('CLEAVE_E_SHAPE', `logits have shape [${t.dims.join(',')}], expected [..., classes]`);
  return { rows: t.data.length / classes, classes };
}

/** The k most probable classes of each row of [..., C] logits, best first (ties: lower index first). */
export function topK(logits: HostTensor, k = 1, labels: readonly string[] = []): Prediction[][] {
  const { rows: n, classes } = rows(logits);
  const out: Prediction[][] = [];
  for (let r = 0; r < n; r++) {
    const p = softmax(logits.data, r * classes, classes);
    const order = Array.from({ length: classes }, (_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
    out.push(order.slice(0, Math.min(k, classes)).map((i) => ({ index: i, label: labels[i] ?? String(i), prob: p[i]! })));
  }
  return out;
}

/** Mean over rows of the largest softmax probability: how decisive a model is (1/C .. 1). */
export function meanTop1Prob(logits: HostTensor): number {
  const { rows: n, classes } = rows(logits);
  let s = 0;
  for (let r = 0; r < n; r++) {
    const p = softmax(logits.data, r * classes, classes);
    let m = 0;
    for (let i = 0; i < classes; i++) m = Math.max(m, p[i]!);
    s += m;
  }
  return n ? s / n : 0;
}

/** Blank token of the audio models' CTC vocabulary. */
export const CTC_BLANK = 0;

/**
 * Greedy CTC decoding of [N, T, V] token logits: the best token per frame, repeats merged, blanks
 * dropped (`a a _ a` -> `a a`, because the blank separates the two).
 */
export function ctcGreedyDecode(logits: HostTensor, blank = CTC_BLANK): number[][] {
  if (logits.dims.length !== 3) throw new CleaveError('CLEAVE_E_SHAPE', `CTC logits have shape [${logits.dims.join(',')}], expected [N, T, V]`);
  const [n, t, v] = logits.dims as [number, number, number];
  const out: number[][] = [];
  for (let b = 0; b < n; b++) {
    const ids: number[] = [];
    let prev = -1;
    for (let f = 0; f < t; f++) {
      const base = (b * t + f) * v;
      let best = 0;
      let bv = -Infinity;
      for (let k = 0; k < v; k++) {
        const x = Number(logits.data[base + k]);
        if (x > bv) { bv = x; best = k; }
      }
      if (best !== prev && best !== blank) ids.push(best);
      prev = best;
    }
    out.push(ids);
  }
  return out;
}

/** Decoded token ids as text through a vocabulary (index -> string). */
export function tokensToText(ids: readonly number[], vocabulary: readonly string[]): string {
  return ids.map((i) => vocabulary[i] ?? '').join('');
}
