// The compute emulation for benches: every run takes `factor` times the wrapped run, by waiting.
import { describe, expect, it } from 'vitest';
import { slowedBackend } from '../../../shared/backend/slowed-backend.js';
import type { InferenceBackend } from '../../../shared/backend/backend.js';
import { ManualClock } from '../../../shared/time.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

describe('slowedBackend', () => {
  const clock = new ManualClock();
  const waits: number[] = [];
  const timers = { setTimeout: (f: () => void, ms: number) => { waits.push(ms); f(); return 0; }, clearTimeout: () => undefined } as never;
  const inner: InferenceBackend = {
    name: 'inner', priority: 1,
    describe: () => ({ name: 'inner', providers: ['cpu'] }),
    load: () => Promise.resolve({
      inputNames: ['x'], outputNames: ['y'], dispose: () => Promise.resolve(),
      run: () => { clock.advance(10); return Promise.resolve({}); },
    }),
  };

  it('waits (factor - 1) x the measured run after each run', async () => {
    const m = await slowedBackend(inner, 4, clock, timers).load(new Uint8Array());
    await m.run({});
    expect(waits).toEqual([30]);
  });

  it('says so in describe(), and refuses factors below 1 or not finite', () => {
    expect(slowedBackend(inner, 2, clock, timers).describe().name).toBe('inner (emulated 2x slower)');
    expect(cleaveErrorOf(() => slowedBackend(inner, 0.5, clock, timers)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(cleaveErrorOf(() => slowedBackend(inner, Number.NaN, clock, timers)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });
});
