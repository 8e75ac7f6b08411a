/**
 * Compute emulation for benchmarks: a backend whose runs take about `factor` times as long as the
 * wrapped one's, the extra time spent waiting (not computing), so a bench on one box can give the
 * edge the speed of a weaker device without taking CPU from the cloud beside it. The compute
 * counterpart of the link proxy's WAN emulation (bench/link-proxy.ts); never on by default.
 *
 * The extra wait is (factor - 1) x the MEDIAN of the last runs of that model at that batch size,
 * not of the run just measured: scaling each sample multiplied the host's scheduling jitter by
 * the factor too (a 2.5 ms hiccup became 20 ms at 8x), which made the emulated edge bimodal and
 * swamped the differences the split bench measures. A slower device has its own jitter, but not
 * the bench box's amplified; this way the host's jitter passes through once.
 */
import { CleaveError } from '../errors.js';
import type { Clock, Timers } from '../time.js';
import type { InferenceBackend, LoadedModel } from './backend.js';

/** Largest slowdown accepted: beyond it an emulation says nothing useful. */
export const MAX_SLOWDOWN = 1000;

/** Runs remembered per model and batch size for the median the extra wait scales (16). */
export const SLOWDOWN_WINDOW = 16;

/** The median of the last SLOWDOWN_WINDOW samples pushed, per key. */
class RunningMedian {
  private readonly windows = new Map<number, number[]>();

  push(key: number, ms: number): number {
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = []));
    w.push(ms);
    if (w.length > SLOWDOWN_WINDOW) w.shift();
    const sorted = [...w].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
}

/** Rows of the first feed (its leading dim), the batch size the median is kept per. */
function rowsOf(feeds: Readonly<Record<string, { dims: readonly number[] }>>): number {
  for (const t of Object.values(feeds)) return t.dims[0] ?? 1;
  return 1;
}

export function slowedBackend(inner: InferenceBackend, factor: number, clock: Clock, timers: Timers): InferenceBackend {
  if (!(Number.isFinite(factor) && factor >= 1 && factor <= MAX_SLOWDOWN)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `compute slowdown = ${factor}: expected a number from 1 to ${MAX_SLOWDOWN}`, { slowdown: String(factor) });
  }
  const wait = (ms: number): Promise<void> => new Promise((resolve) => timers.setTimeout(resolve, ms));
  return {
    name: inner.name,
    priority: inner.priority,
    describe: () => {
      const d = inner.describe();
      return { ...d, name: `${d.name} (emulated ${factor}x slower)` };
    },
    async load(model, opts): Promise<LoadedModel> {
      const m = await inner.load(model, opts);
      const median = new RunningMedian();
      return {
        inputNames: m.inputNames,
        outputNames: m.outputNames,
        dispose: () => m.dispose(),
        async run(feeds, outputs) {
          const t0 = clock.now();
          const out = await m.run(feeds, outputs);
          const extra = (factor - 1) * median.push(rowsOf(feeds), clock.now() - t0);
          if (extra > 0) await wait(extra);
          return out;
        },
      };
    },
  };
}
