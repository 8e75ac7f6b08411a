import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitFamilyChart, writeSplitCharts, type SplitResultsJson } from '../../../bench/split-charts.js';
import { barChart, escapeXml, formatTick, lineChart, logTicks, MAX_MARKS, niceTicks, PALETTE, scaleOf, type BarChartSpec } from '../../../shared/charts/svg-chart.js';

/**
 * Well-formedness without an XML parser (none is installed): every tag closes in order, attribute
 * values are quoted, and text holds no bare `<` or `&` that is not an entity. Returns the tag names
 * in document order.
 */
function checkWellFormed(svg: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let at = 0;
  for (let m = tag.exec(svg); m !== null; m = tag.exec(svg)) {
    const text = svg.slice(at, m.index);
    expect(text, `text before offset ${m.index}`).not.toMatch(/[<>]|&(?!(?:amp|lt|gt|quot|apos|#\d+);)/);
    at = m.index + m[0].length;
    const [, close, name, attrs, self] = m;
    for (const v of attrs!.matchAll(/="([^"]*)"/g)) expect(v[1]).not.toMatch(/&(?!(?:amp|lt|gt|quot|apos|#\d+);)/);
    if (close) expect(stack.pop(), `</${name}> at ${m.index}`).toBe(name);
    else {
      names.push(name!);
      if (!self) stack.push(name!);
    }
  }
  expect(svg.slice(at).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(names[0]).toBe('svg');
  return names;
}

const attrs = (svg: string, cls: string, attr: string): number[] =>
  [...svg.matchAll(new RegExp(`<[a-z]+ class="${cls}"[^>]*?\\s${attr}="([-\\d.]+)"`, 'g'))].map((m) => Number(m[1]));

const spec: BarChartSpec = {
  title: 'latency <by> cell & strategy',
  categories: ['10ms 1Mb idle', '150ms 1Mb idle', '50ms 10Mb busy'],
  series: [
    { name: 'edge', values: [35, 36, 124], whiskers: [60, 77, 212] },
    { name: '<b>&', values: [427, 566, 212], whiskers: [432, 609, 404] },
    { name: 'auto', values: [35.8, 36.2, 133], whiskers: [63.8, 55.4, 185] },
  ],
  yScale: 'log',
  xLabel: 'cell',
  yLabel: 'ms',
  unit: 'ms',
  note: 'note "quoted"',
};

describe('escapeXml', () => {
  it('escapes the five XML entities and replaces characters XML 1.0 forbids', () => {
    expect(escapeXml(`<b>&"'`)).toBe('&lt;b&gt;&amp;&quot;&apos;');
    expect(escapeXml('a\u0000b\u001Fc\td')).toBe('a\uFFFDb\uFFFDc\td');
  });
});

describe('niceTicks', () => {
  it.each([
    [0, 1], [0, 7.3], [0, 431.96], [0, 0.0123], [3, 97], [-12, 48], [0, 1e6 + 1], [5, 5], [0, 0],
  ])('ticks of [%d, %d] are multiples of a 1-2-5 step and cover the data', (min, max) => {
    const t = niceTicks(min, max);
    expect(t.values.length).toBeGreaterThanOrEqual(2);
    expect(t.values.length).toBeLessThanOrEqual(12);
    expect(t.min).toBeLessThanOrEqual(min);
    expect(t.max).toBeGreaterThanOrEqual(max);
    const step = t.values[1]! - t.values[0]!;
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-9)).toBe(true);
    for (const v of t.values) expect(Math.abs(v / step - Math.round(v / step))).toBeLessThan(1e-9);
    // Printed without float noise (0.30000000000000004).
    for (const v of t.values) expect(String(v).length).toBeLessThanOrEqual(8);
  });

  it('refuses a reversed or non-finite range, naming it', () => {
    expect(() => niceTicks(2, 1)).toThrow(/niceTicks\(2, 1\)/);
    expect(() => niceTicks(0, NaN)).toThrow(RangeError);
  });
});

describe('logTicks and the log scale', () => {
  it('uses decades over a wide span and 1-2-5 over a short one, covering the data', () => {
    expect(logTicks(9.75, 295).values).toEqual([1, 10, 100, 1000]);
    expect(logTicks(33, 720).values).toEqual([20, 50, 100, 200, 500, 1000]);
    expect(logTicks(0.012, 0.3).values).toEqual([0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
    expect(() => logTicks(0, 10)).toThrow(/logTicks\(0, 10\)/);
  });

  it('maps larger values higher on the chart (monotonic), decades evenly spaced', () => {
    const t = logTicks(1, 1000);
    const y = scaleOf('log', t, 300, 0);
    const vs = [1, 2, 5, 10, 35, 100, 427, 1000];
    const ys = vs.map(y);
    for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeLessThan(ys[i - 1]!);
    expect(y(1)).toBeCloseTo(300);
    expect(y(10) - y(1)).toBeCloseTo(y(1000) - y(100));
  });

  it('places bars on a log chart so a larger value is a taller bar', () => {
    const svg = barChart({ title: 't', categories: ['a'], series: [1, 10, 30, 100, 1000].map((v, i) => ({ name: `s${i}`, values: [v] })), yScale: 'log' });
    const tops = attrs(svg, 'bar', 'y');
    expect(tops).toHaveLength(5);
    for (let i = 1; i < tops.length; i++) expect(tops[i]!).toBeLessThan(tops[i - 1]!);
  });
});

describe('barChart', () => {
  it('is well-formed SVG with a title and desc for screen readers', () => {
    const svg = barChart(spec);
    const names = checkWellFormed(svg);
    expect(names.slice(0, 3)).toEqual(['svg', 'title', 'desc']);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* role="img" aria-labelledby="([\w-]+)-title \1-desc"/);
  });

  it('escapes every piece of text: title, series names, note', () => {
    const svg = barChart(spec);
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;b&gt;&amp;');
    expect(svg).toContain('latency &lt;by&gt; cell &amp; strategy');
    expect(svg).toContain('note &quot;quoted&quot;');
  });

  it('draws one bar per category and series, and a whisker per bar that has one', () => {
    const svg = barChart(spec);
    expect(attrs(svg, 'bar', 'x')).toHaveLength(3 * 3);
    expect(svg.match(/class="whisker"/g)).toHaveLength(9);
    const noWhiskers = barChart({ ...spec, series: spec.series.map(({ whiskers: _, ...s }) => s) });
    expect(noWhiskers).not.toContain('class="whisker"');
  });

  it('skips missing values (null, NaN, and <= 0 on a log axis) instead of drawing them', () => {
    const svg = barChart({ ...spec, series: [{ name: 'x', values: [null, NaN, 0] }, { name: 'y', values: [1, 2, 3] }] });
    expect(attrs(svg, 'bar', 'x')).toHaveLength(3);
  });

  it('colours series from the colour-blind-safe palette in order unless told', () => {
    const svg = barChart(spec);
    const fills = [...new Set([...svg.matchAll(/class="bar"[^>]* fill="(#[0-9A-F]{6})"/g)].map((m) => m[1]))];
    expect(fills).toEqual(PALETTE.slice(0, 3));
  });

  it('is deterministic: the same input gives the same string', () => {
    expect(barChart(spec)).toBe(barChart(structuredClone(spec) as BarChartSpec));
  });

  it('refuses series whose arrays do not match the categories, naming the series', () => {
    expect(() => barChart({ ...spec, series: [{ name: 'edge', values: [1, 2] }] })).toThrow(/series "edge" has 2 values, expected 3/);
    expect(() => barChart({ ...spec, series: [{ name: 'edge', values: [1, 2, 3], whiskers: [1] }] })).toThrow(/1 whiskers, expected 3/);
    expect(() => barChart({ title: 't', categories: Array.from({ length: MAX_MARKS + 1 }, String), series: [{ name: 's', values: Array.from({ length: MAX_MARKS + 1 }, () => 1) }] })).toThrow(RangeError);
    expect(() => barChart({ ...spec, width: 5 })).toThrow(/width 5/);
  });

  it('prints tick labels as round numbers', () => {
    expect(['1', '20', '500', '1k', '2.5k', '1M', '0.05', '-20'].join()).toBe([1, 20, 500, 1000, 2500, 1e6, 0.05, -20].map(formatTick).join());
    const labels = [...barChart({ ...spec, yScale: 'linear' }).matchAll(/text-anchor="end">([^<]*)</g)].map((m) => m[1]);
    expect(labels).toEqual(['0', '200', '400', '600', '800']);
  });
});

describe('lineChart', () => {
  const line = {
    title: 'QPS vs p99',
    xLabel: 'req/s',
    yLabel: 'p99, ms',
    series: [
      { name: 'edge', points: [[10, 12], [100, 20], [400, 900]] as [number, number][] },
      { name: '<b>&', points: [[10, 40], [100, 45], [400, 70], [NaN, 1]] as [number, number][] },
    ],
  };

  it('is well-formed, escaped and deterministic, with one marker per finite point', () => {
    const svg = lineChart(line);
    checkWellFormed(svg);
    expect(svg).toContain('&lt;b&gt;&amp;');
    expect(svg).toBe(lineChart(structuredClone(line)));
    expect(svg.match(/class="point"/g)).toHaveLength(6);
    expect(svg.match(/class="line"/g)).toHaveLength(2);
    expect(lineChart({ ...line, mode: 'scatter' })).not.toContain('class="line"');
  });

  it('maps x left to right and y bottom to top, on log axes too', () => {
    for (const yScale of ['linear', 'log'] as const) {
      const svg = lineChart({ ...line, series: [line.series[0]!], yScale, xScale: 'log' });
      const cx = attrs(svg, 'point', 'cx');
      const cy = attrs(svg, 'point', 'cy');
      expect(cx[0]!).toBeLessThan(cx[1]!);
      expect(cx[1]!).toBeLessThan(cx[2]!);
      expect(cy[0]!).toBeGreaterThan(cy[1]!);
      expect(cy[1]!).toBeGreaterThan(cy[2]!);
    }
  });
});

describe('split charts (bench/split-charts.ts)', () => {
  const strat = (label: string, kind: string, p50: number | null, p99: number | null) => ({ label, kind, p50, p99 });
  const results: SplitResultsJson = {
    machine: { cpu: 'Test CPU', cores: 2, node: 'v20' },
    options: { requests: 8, edgeBackend: 'onnxruntime-web' },
    cells: [
      { cell: { rttMs: 10, mbps: 1, busy: false }, families: [
        { family: 'cnn', strategies: [strat('edge', 'edge', 35, 60), strat('cloud', 'cloud', 427, 432), strat('cut:block3.pool_out', 'cut', 315, 341), strat('auto', 'auto', 36, 64)] },
        { family: 'text', strategies: [strat('edge', 'edge', 12, 45), strat('cloud', 'cloud', 27, 32), strat('auto', 'auto', null, null)] },
      ] },
      { cell: { rttMs: 150, mbps: 100, busy: true }, families: [
        { family: 'cnn', strategies: [strat('edge', 'edge', 34, 65), strat('cloud', 'cloud', 172, 183), strat('cut:block3.pool_out', 'cut', 187, 204), strat('auto', 'auto', 35, 53)] },
      ] },
    ],
  };

  it('draws a bar per cell and strategy with cells and short strategy names as labels', () => {
    const svg = splitFamilyChart(results, 'cnn', 'split CNN')!;
    checkWellFormed(svg);
    expect(attrs(svg, 'bar', 'x')).toHaveLength(2 * 4);
    expect(svg).toContain('>10ms 1Mb idle<');
    expect(svg).toContain('>cut b3<');
    // auto keeps its colour whatever comes before it.
    expect(svg).toMatch(new RegExp(`fill="${PALETTE[5]}"><title>auto, `));
    expect(splitFamilyChart(results, 'audio')).toBeUndefined();
  });

  it('writes one split-<family>.svg per family and returns the paths', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cleave-charts-'));
    try {
      const file = path.join(dir, 'split.json');
      await writeFile(file, JSON.stringify(results));
      const written = await writeSplitCharts(file, path.join(dir, 'img'));
      expect(written).toEqual([path.join(dir, 'img', 'split-cnn.svg'), path.join(dir, 'img', 'split-text.svg')]);
      const text = await readFile(written[1]!, 'utf8');
      checkWellFormed(text);
      expect(attrs(text, 'bar', 'x')).toHaveLength(2);
      expect(text).toContain('text cascade');
      await writeFile(file, '{"rows": []}');
      await expect(writeSplitCharts(file, dir)).rejects.toThrow(/no "cells" array/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
