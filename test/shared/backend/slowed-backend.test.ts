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

  it('scales the median of recent runs per batch size, so one slow run is not multiplied', async () => {
    const durations = [10, 10, 90, 10, 30];
    const waits2: number[] = [];
    const t2 = { setTimeout: (f: () => void, ms: number) => { waits2.push(ms); f(); return 0; }, clearTimeout: () => undefined } as never;
    const varying: InferenceBackend = {
      ...inner,
      load: () => Promise.resolve({
        inputNames: ['x'], outputNames: ['y'], dispose: () => Promise.resolve(),
        run: (feeds) => { clock.advance(feeds.x!.dims[0] === 1 ? durations.shift()! : 50); return Promise.resolve({}); },
      }),
    };
    const m = await slowedBackend(varying, 4, clock, t2).load(new Uint8Array());
    const x = (rows: number) => ({ x: { dtype: 'float32', dims: [rows, 2], data: new Float32Array(rows * 2) } }) as never;
    for (let i = 0; i < 4; i++) await m.run(x(1));
    await m.run(x(8));
    await m.run(x(1));
    // medians: [10]=10, [10,10]=10, [10,10,90]=10 (the 90 ms run waits 30, not 270), [10,10,90,10]=10;
    // batch 8 keeps its own window (50); then [10,10,90,10,30]=10.
    expect(waits2).toEqual([30, 30, 30, 30, 150, 30]);
  });

  it('says so in describe(), and refuses factors below 1 or not finite', () => {
    expect(slowedBackend(inner, 2, clock, timers).describe().name).toBe('inner (emulated 2x slower)');
    expect(cleaveErrorOf(() => slowedBackend(inner, 0.5, clock, timers)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(cleaveErrorOf(() => slowedBackend(inner, Number.NaN, clock, timers)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });
});
