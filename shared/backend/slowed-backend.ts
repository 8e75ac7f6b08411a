/**
 * Compute emulation for benchmarks: a backend whose every run takes `factor` times as long as the
 * wrapped one's, the extra time spent waiting (not computing), so a bench on one box can give the
 * edge the speed of a weaker device without taking CPU from the cloud beside it. The compute
 * counterpart of the link proxy's WAN emulation (bench/link-proxy.ts); never on by default.
 */
import { CleaveError } from '../errors.js';
import type { Clock, Timers } from '../time.js';
import type { InferenceBackend, LoadedModel } from './backend.js';

/** Largest slowdown accepted: beyond it an emulation says nothing useful. */
export const MAX_SLOWDOWN = 1000;

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
      return {
        inputNames: m.inputNames,
        outputNames: m.outputNames,
        dispose: () => m.dispose(),
        async run(feeds, outputs) {
          const t0 = clock.now();
          const out = await m.run(feeds, outputs);
          const extra = (factor - 1) * (clock.now() - t0);
          if (extra > 0) await wait(extra);
          return out;
        },
      };
    },
  };
}
