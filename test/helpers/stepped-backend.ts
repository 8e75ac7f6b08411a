// A real backend whose every run moves a ManualClock by a fixed step once it is done, so edge
// tests time real onnxruntime runs exactly.
import type { InferenceBackend } from '../../shared/backend/backend.js';
import type { ManualClock } from '../../shared/time.js';

/** `inner`, except that each run advances `clock` by `stepMs` after it completes. */
export function steppedBackend(inner: InferenceBackend, clock: ManualClock, stepMs: number): InferenceBackend {
  return {
    name: inner.name,
    priority: inner.priority,
    describe: () => inner.describe(),
    async load(bytes, opts) {
      const m = await inner.load(bytes, opts);
      return {
        inputNames: m.inputNames,
        outputNames: m.outputNames,
        async run(feeds, outputs) {
          const r = await m.run(feeds, outputs);
          clock.advance(stepMs);
          return r;
        },
        dispose: () => m.dispose(),
      };
    },
  };
}
