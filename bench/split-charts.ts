/**
 * Charts of `cleave bench split`: one SVG per workflow family from the raw results
 * (bench/results/split.json), for docs/benchmarks.md. Per cell (RTT, bandwidth, idle/busy) a group
 * of bars, one per strategy: the bar is p50 end-to-end latency, the whisker p99, log y (a slow
 * cell's cloud-only CNN is 20x the edge's). The oracle is not drawn: it is one of the bars.
 *
 *   npx tsx bench/split-charts.ts [results.json] [outDir]     (default bench/results/split.json docs/img)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart, PALETTE, type BarSeries } from '../shared/charts/svg-chart.js';
import { cellName, type SplitCell, shortLabel } from './split-report.js';
import { splitFamilies } from './split-workflows.js';

/** What the charts read of split.json (SplitBenchResult as JSON: NaN was written as null). */
export interface SplitResultsJson {
  readonly machine?: { cpu?: string; cores?: number; node?: string };
  readonly options?: { requests?: number; edgeBackend?: string };
  readonly cells: readonly {
    readonly cell: SplitCell;
    readonly families: readonly { family: string; strategies: readonly { label: string; kind: string; p50: number | null; p99: number | null; errors?: number }[] }[];
  }[];
}

/**
 * Strategy colours fixed by kind, so `auto` is the same vermillion in every family however many
 * cuts come before it.
 */
const KIND_COLOR: Record<string, string> = { edge: PALETTE[0]!, cloud: PALETTE[1]!, auto: PALETTE[5]! };
const CUT_COLORS = [PALETTE[2]!, PALETTE[4]!, PALETTE[3]!, PALETTE[6]!, PALETTE[7]!];


const num = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The SVG of one family, or undefined when no cell has it. Pure: no files. */
export function splitFamilyChart(results: SplitResultsJson, family: string, title = family): string | undefined {
  const per = results.cells.flatMap((c) => {
    const r = c.families.find((f) => f.family === family);
    return r ? [{ cell: c.cell, r }] : [];
  });
  if (per.length === 0) return undefined;
  const labels: { label: string; kind: string }[] = [];
  for (const { r } of per) for (const s of r.strategies) if (!labels.some((l) => l.label === s.label)) labels.push({ label: s.label, kind: s.kind });
  let cut = 0;
  const series: BarSeries[] = labels.map(({ label, kind }) => {
    const pick = (k: 'p50' | 'p99'): (number | null)[] => per.map(({ r }) => num(r.strategies.find((s) => s.label === label)?.[k]));
    return { name: shortLabel(label), values: pick('p50'), whiskers: pick('p99'), color: KIND_COLOR[kind] ?? CUT_COLORS[cut++ % CUT_COLORS.length]! };
  });
  const m = results.machine;
  const o = results.options;
  const note = [
    o?.requests !== undefined ? `${o.requests} requests per strategy per cell` : undefined,
    o?.edgeBackend !== undefined ? `edge backend ${o.edgeBackend}` : undefined,
    m?.cpu !== undefined ? `${m.cores ?? '?'} x ${m.cpu}, node ${m.node ?? '?'}` : undefined,
  ].filter((x): x is string => x !== undefined).join('; ');
  return barChart({
    title: `${title}: p50 (bar) and p99 (whisker) end-to-end latency`,
    description: `Per cell (RTT, bandwidth per direction, cloud idle or busy) and strategy (${series.map((s) => s.name).join(', ')}): p50 end-to-end latency as bars, p99 as whiskers, ms, log scale. ${note}.`,
    ...(note !== '' ? { note } : {}),
    idPrefix: `split-${family}`,
    categories: per.map((p) => cellName(p.cell)),
    series,
    yScale: 'log',
    yLabel: 'end-to-end latency, ms (log)',
    xLabel: 'cell: RTT, bandwidth (Mbit/s), cloud load',
    unit: 'ms',
    valueLabel: 'p50',
    whiskerLabel: 'p99',
  });
}

/** Safe in a file name: `split-<family>.svg`. */
const fileSlug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'family';

/**
 * Writes `<outDir>/split-<family>.svg` for each family in `resultsFile`; returns the paths written,
 * in family order of first appearance. Titles come from bench/split-workflows.ts.
 */
export async function writeSplitCharts(resultsFile = 'bench/results/split.json', outDir = 'docs/img'): Promise<string[]> {
  const results = JSON.parse(await readFile(resultsFile, 'utf8')) as SplitResultsJson;
  const cells: unknown = (results as { cells?: unknown } | null)?.cells;
  if (!Array.isArray(cells)) throw new TypeError(`${resultsFile}: expected the JSON of cleave bench split (an object with "cells"), got no "cells" array`);
  const titles = new Map<string, string>(splitFamilies().map((f) => [f.name, f.title]));
  const families = [...new Set(results.cells.flatMap((c) => c.families.map((f) => f.family)))];
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const fam of families) {
    const svg = splitFamilyChart(results, fam, titles.get(fam) ?? fam);
    if (svg === undefined) continue;
    const file = path.join(outDir, `split-${fileSlug(fam)}.svg`);
    await writeFile(file, svg);
    written.push(file);
  }
  return written;
}

// `npx tsx bench/split-charts.ts [results.json] [outDir]`; importing this module runs nothing.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [resultsFile, outDir] = process.argv.slice(2);
  writeSplitCharts(resultsFile, outDir).then(
    (files) => { for (const f of files) process.stdout.write(`${f}\n`); },
    (e: unknown) => { process.stderr.write(`${(e as Error).message}\n`); process.exitCode = 1; },
  );
}
