// The split-inference bench (bench/split.ts) in short, as CI runs it: cleave cloud <- link proxy
// <- cleave edge as real processes, split CNN only, two cells (a fast link, 10 ms / 100 Mbit/s,
// and a slow one, 150 ms / 1 Mbit/s), about 10 requests per strategy. The claim checked is the
// weakest one that must hold on a busy 2-core box: auto's median is never worse than the worse
// of edge-only and cloud-only (with slack for noise). Which one wins, and by how much, is the
// full bench's business.
import { describe, expect, it } from 'vitest';
import { runSplitBench } from '../../bench/split.js';

/** auto p50 may exceed the worse fixed p50 by this factor plus SLACK_MS before the test fails. */
const SLACK_RATIO = 1.2;
const SLACK_MS = 10;

describe('cleave bench split (short)', () => {
  it('auto is never worse than the worse of edge-only and cloud-only, on a fast and on a slow link', async () => {
    const lines: string[] = [];
    const t0 = performance.now();
    const r = await runSplitBench({
      cells: '10:100,150:1', families: ['cnn'], cuts: ['block4.pool_out'], requests: 10, warmup: 2, out: '',
      log: (l) => lines.push(l),
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(lines.join('\n'));
    const report = lines.join('\n');
    expect(r.cells).toHaveLength(2);
    for (const c of r.cells) {
      const cnn = c.families.find((f) => f.family === 'cnn')!;
      const p50 = (kind: string): number => cnn.strategies.find((s) => s.kind === kind)!.p50;
      for (const s of cnn.strategies) expect(s.errors, `${s.label} errors\n${report}`).toBe(0);
      const worse = Math.max(p50('edge'), p50('cloud'));
      expect(p50('auto'), `cell ${c.cell.rttMs} ms / ${c.cell.mbps} Mbit/s: auto p50 vs worse of edge/cloud ${worse.toFixed(1)} ms\n${report}`)
        .toBeLessThanOrEqual(worse * SLACK_RATIO + SLACK_MS);
    }
    expect(seconds).toBeLessThan(90);
  }, 90_000);
});
