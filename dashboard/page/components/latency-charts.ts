/**
 * Latency charts of one workflow, drawn by shared/charts/svg-chart.ts (the same code the bench
 * reports use): total and per-segment latency over the last runs, p50 with a p99 whisker per
 * segment, and per node. The SVG strings escape every text they hold, so they are inserted as
 * markup; they hold no script and no inline style, which the page's CSP would refuse.
 */
import { barChart, lineChart } from '../../../shared/charts/svg-chart.js';
import type { NodeStats, WorkflowDetail } from '../api-types.js';
import { html } from '../html.js';
import { quantile } from '../quantile.js';

function Svg({ svg, name }: { svg: string; name: string }) {
  return html`<div class="chart" data-chart=${name} dangerouslySetInnerHTML=${{ __html: svg }}></div>`;
}

export function LatencyCharts({ detail, nodeStats }: { readonly detail: WorkflowDetail; readonly nodeStats: readonly NodeStats[] }) {
  const series = [...(detail.series ?? [])].sort((a, b) => a.at - b.at);
  if (series.length === 0) return html`<p class="muted">no runs recorded yet: charts appear after the first run.</p>`;
  const t0 = series[0]!.at;
  const segNames = [...new Set(series.flatMap((s) => Object.keys(s.segments ?? {})))].sort();
  const overTime = lineChart({
    title: `${detail.name}: latency of the last ${series.length} runs`,
    xLabel: 'seconds since the first run shown', yLabel: 'ms', width: 640, height: 300, idPrefix: 'chart-over-time',
    series: [
      { name: 'total', points: series.map((s) => [(s.at - t0) / 1000, s.totalMs] as const) },
      ...segNames.map((n) => ({ name: n, points: series.filter((s) => s.segments?.[n] !== undefined).map((s) => [(s.at - t0) / 1000, s.segments![n]!] as const) })),
    ],
  });
  const cats = ['total', ...segNames];
  const valuesOf = (c: string): number[] => series.map((s) => (c === 'total' ? s.totalMs : s.segments?.[c] ?? NaN));
  const bySegment = barChart({
    title: 'by segment: p50 (bar) and p99 (whisker)', yLabel: 'ms', unit: 'ms', valueLabel: 'p50', whiskerLabel: 'p99', width: 420, height: 300, idPrefix: 'chart-by-segment',
    categories: cats,
    series: [{ name: 'p50', values: cats.map((c) => quantile(valuesOf(c), 0.5)), whiskers: cats.map((c) => quantile(valuesOf(c), 0.99)) }],
  });
  const placed = nodeStats.filter((n) => n.runs > 0 && n.p50Ms != null);
  const byNode = placed.length === 0 ? null : barChart({
    title: 'by node: p50 and p90 (bars), p99 (whisker)', yLabel: 'ms', unit: 'ms', whiskerLabel: 'p99', width: 420, height: 300, idPrefix: 'chart-by-node',
    categories: placed.map((n) => n.id),
    series: [
      { name: 'p50', values: placed.map((n) => n.p50Ms ?? null) },
      { name: 'p90', values: placed.map((n) => n.p90Ms ?? null), whiskers: placed.map((n) => n.p99Ms ?? null) },
    ],
  });
  return html`<div class="charts">
    <${Svg} svg=${overTime} name="over-time" />
    <${Svg} svg=${bySegment} name="by-segment" />
    ${byNode === null ? null : html`<${Svg} svg=${byNode} name="by-node" />`}
  </div>`;
}
