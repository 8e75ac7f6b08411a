import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, wantsBar } from '../../cli/progress.js';

/** A stream that keeps what is written; `isTTY` as given. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string; columns: number } {
  const chunks: string[] = [];
  const s = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string; columns: number; cursorTo: () => boolean; clearLine: () => boolean; moveCursor: () => boolean };
  s.isTTY = isTTY;
  s.columns = 120;
  // What cli-progress calls on a TTY stream.
  s.cursorTo = () => true;
  s.clearLine = () => true;
  s.moveCursor = () => true;
  s.text = () => chunks.join('');
  return s;
}

describe('progress', () => {
  it('draws a bar only on a terminal and not under CI', () => {
    expect(wantsBar({ isTTY: true }, {})).toBe(true);
    expect(wantsBar({ isTTY: true }, { CI: 'true' })).toBe(false);
    expect(wantsBar({ isTTY: true }, { CI: '1' })).toBe(false);
    expect(wantsBar({ isTTY: true }, { CI: 'false' })).toBe(true);
    expect(wantsBar({ isTTY: false }, {})).toBe(false);
    expect(wantsBar({}, {})).toBe(false);
  });

  it('writes one plain line per step, and the time taken from the injected clock, when not on a terminal', () => {
    const err = sink(false);
    const out = sink(false);
    let t = 1000;
    const p = createProgress({ stream: err, out, env: {}, now: () => t });
    p.start('building model zoo', 2);
    p.tick('mlp-small 120 ms');
    p.log('a result line');
    p.tick('cnn-small 900 ms');
    t += 2500;
    p.stop();
    p.stop(); // once only
    expect(err.text()).toBe('building model zoo 1/2: mlp-small 120 ms\nbuilding model zoo 2/2: cnn-small 900 ms\nbuilding model zoo: done in 2.5 s\n');
    expect(out.text()).toBe('a result line\n');
  });

  it('prints a bench\'s own lines once in plain mode (they are the steps already)', () => {
    const err = sink(false);
    const out = sink(false);
    const p = createProgress({ stream: err, out, env: {}, now: () => 0 });
    p.start('bench onnx');
    p.note('round 1/3');
    p.stop();
    expect(out.text()).toBe('round 1/3\n');
    expect(err.text()).toBe('bench onnx: done in 0.0 s\n');
  });

  it('draws on a terminal and keeps output lines apart from the bar', () => {
    const err = sink(true);
    const out = sink(false);
    const p = createProgress({ stream: err, out, env: {} });
    p.start('profiling cnn-small', 3);
    p.tick('onnxruntime-node batch 1');
    p.note('a table line');
    p.stop();
    expect(err.text()).toContain('profiling cnn-small');
    // stdout is not the terminal here: its lines go straight to it, not through the bar.
    expect(out.text()).toBe('a table line\n');
  });

  it('is silent when asked, still printing output lines', () => {
    const err = sink(true);
    const out = sink(true);
    const p = createProgress({ stream: err, out, mode: 'silent' });
    p.start('x', 1);
    p.tick('y');
    p.log('z');
    p.stop();
    expect(err.text()).toBe('');
    expect(out.text()).toBe('z\n');
  });
});
