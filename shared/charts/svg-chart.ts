/**
 * Small SVG charts as strings: a grouped bar chart (categories x series, optional whiskers, linear
 * or log y) and a line/scatter chart (numeric x and y). Runtime-neutral on purpose: no Node, DOM
 * or font metrics, so the benches write the same bytes the dashboard will render in a browser.
 *
 * Why by hand rather than a charting library (house point 13): the ones that emit SVG without a
 * DOM (vega + vega-lite, d3 with jsdom) are megabytes of dependencies for two chart types, and
 * their output shifts between versions; here the output is a pure function of the input, so tests
 * and committed docs/img files can compare it byte for byte.
 *
 * Determinism: coordinates are rounded to 0.1 px and printed with `String(number)`; tick labels
 * come from `formatTick`; nothing reads the clock, randomness or the platform.
 */

/**
 * Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
 * deficiencies. Yellow (#F0E442) is last but one: it is faint on white.
 */
export const PALETTE: readonly string[] = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** Most bars (categories x series) or points (over all series) one chart draws. */
export const MAX_MARKS = 10_000;

export type ScaleType = 'linear' | 'log';

/** Size, text and accessibility common to both chart kinds. */
export interface ChartBase {
  /** Visible title, also the SVG `<title>`. */
  readonly title: string;
  /** The SVG `<desc>` for screen readers. Default: a generated summary of the data. */
  readonly description?: string;
  /** Small print under the plot (e.g. machine and sample counts). Default none. */
  readonly note?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** Default `linear`. With `log`, values <= 0 are not drawn. */
  readonly yScale?: ScaleType;
  /** px. Default: bar chart wide enough for its groups (at least 640), line chart 640. */
  readonly width?: number;
  /** px. Default 400. */
  readonly height?: number;
  /** Prefix of the ids `<title>`/`<desc>` get, unique per page when several charts are inlined. Default `chart-<slug of title>`. */
  readonly idPrefix?: string;
}

/** One series of a bar chart: a value per category, in the order of `categories`. */
export interface BarSeries {
  readonly name: string;
  /** Bar heights; null or NaN: no bar. */
  readonly values: readonly (number | null)[];
  /** Whisker ends (e.g. p99 over a p50 bar), one per category; null or NaN: none. Default none. */
  readonly whiskers?: readonly (number | null)[];
  /** CSS colour. Default PALETTE by series index. */
  readonly color?: string;
}

export interface BarChartSpec extends ChartBase {
  readonly categories: readonly string[];
  readonly series: readonly BarSeries[];
  /** Unit appended in each bar's tooltip, e.g. `ms`. Default none. */
  readonly unit?: string;
  /** Tooltip name of the whisker value, e.g. `p99`. Default `whisker`. */
  readonly whiskerLabel?: string;
  /** Tooltip name of the bar value, e.g. `p50`. Default none (value only). */
  readonly valueLabel?: string;
}

/** One series of a line or scatter chart. */
export interface LineSeries {
  readonly name: string;
  /** [x, y] points, joined in this order; points with a non-finite coordinate are skipped. */
  readonly points: readonly (readonly [number, number])[];
  /** CSS colour. Default PALETTE by series index. */
  readonly color?: string;
}

export interface LineChartSpec extends ChartBase {
  readonly series: readonly LineSeries[];
  /** Default `linear`. */
  readonly xScale?: ScaleType;
  /** `line`: markers joined by lines; `scatter`: markers only. Default `line`. */
  readonly mode?: 'line' | 'scatter';
}

/** Ticks of an axis and the domain they span (which covers the data). */
export interface Ticks {
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Text and attribute escaping: the five XML entities; characters XML 1.0 forbids become U+FFFD. */
export function escapeXml(s: string): string {
  return s.replace(XML_INVALID, '\uFFFD').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A coordinate, px: rounded to 0.1, never `-0`. */
function px(x: number): string {
  const r = Math.round(x * 10) / 10;
  return String(r === 0 ? 0 : r);
}

/** A tick label: up to 12 significant digits, `k`/`M`/`G` from 1000 up (`2500` -> `2.5k`). */
export function formatTick(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const [d, suffix] = a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
  const r = Number((v / d).toPrecision(12));
  return `${r === 0 ? 0 : r}${suffix}`;
}

/** A value in a tooltip: 3 significant digits, fixed decimals below 1000 (`35.0`, `432`, `0.123`). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000 || a === 0) return v.toFixed(0);
  return v.toFixed(Math.max(0, 2 - Math.floor(Math.log10(a))));
}

/** The 1-2-5 step nearest above `span / target`. */
function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

/**
 * Linear ticks on a 1-2-5 step covering [min, max], about `target` intervals (default 5). An empty
 * span widens to [min, min + 1] (or [0, 1]).
 */
export function niceTicks(min: number, max: number, target = 5): Ticks {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) throw new RangeError(`niceTicks(${min}, ${max}): expected finite min <= max`);
  if (min === max) max = min === 0 ? 1 : min + Math.abs(min);
  const step = niceStep(max - min, target);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const lo = Math.floor(min / step + 1e-9);
  const hi = Math.ceil(max / step - 1e-9);
  const values: number[] = [];
  for (let k = lo; k <= hi; k++) {
    const v = Number((k * step).toFixed(decimals));
    values.push(v === 0 ? 0 : v);
  }
  return { min: values[0]!, max: values[values.length - 1]!, values };
}

/**
 * Log ticks covering [min, max] (both > 0): whole decades; when the span is at most two decades,
 * 1-2-5 within each decade, trimmed to the nearest such tick outside the data, so a short axis
 * still has several labels and little empty room.
 */
export function logTicks(min: number, max: number): Ticks {
  if (!(min > 0) || !Number.isFinite(max) || min > max) throw new RangeError(`logTicks(${min}, ${max}): expected 0 < min <= max, finite`);
  const lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi <= lo) hi = lo + 1;
  const mults = hi - lo <= 2 ? [1, 2, 5] : [1];
  let values: number[] = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of mults) {
      if (e === hi && m > 1) break;
      values.push(Number((m * 10 ** e).toPrecision(12)));
    }
  }
  const first = values.findLastIndex((v) => v <= min * (1 + 1e-12));
  const last = values.findIndex((v) => v >= max * (1 - 1e-12));
  values = values.slice(Math.max(0, first), last < 0 ? values.length : last + 1);
  if (values.length < 2) values = [values[0]!, Number((values[0]! * 2).toPrecision(12))];
  return { min: values[0]!, max: values[values.length - 1]!, values };
}

/** Maps a data value to a pixel between `from` (at ticks.min) and `to` (at ticks.max). */
export function scaleOf(type: ScaleType, ticks: Ticks, from: number, to: number): (v: number) => number {
  if (type === 'log') {
    const a = Math.log10(ticks.min);
    const b = Math.log10(ticks.max);
    return (v) => from + ((Math.log10(v) - a) / (b - a)) * (to - from);
  }
  return (v) => from + ((v - ticks.min) / (ticks.max - ticks.min)) * (to - from);
}

function ticksFor(type: ScaleType, values: readonly number[], zero: boolean): Ticks {
  if (type === 'log') {
    const pos = values.filter((v) => v > 0 && Number.isFinite(v));
    return pos.length === 0 ? logTicks(1, 10) : logTicks(Math.min(...pos), Math.max(...pos));
  }
  const fin = values.filter(Number.isFinite);
  if (fin.length === 0) return niceTicks(0, 1);
  const lo = Math.min(...fin);
  const hi = Math.max(...fin);
  return niceTicks(zero ? Math.min(0, lo) : lo, zero ? Math.max(0, hi) : hi);
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
/** Rough advance of one character at 12 px, px: no font metrics here, so layout errs wide. */
const CHAR_PX = 7.6;
const textWidth = (s: string, size = 12): number => s.length * CHAR_PX * (size / 12);

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'x';
}

const usable = (v: number | null | undefined, type: ScaleType): v is number => typeof v === 'number' && Number.isFinite(v) && (type === 'linear' || v > 0);

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** Legend entries laid out in rows left to right under the title; returns the markup and its height. */
function legend(names: readonly string[], colors: readonly string[], x0: number, y0: number, maxX: number, marker: 'rect' | 'line'): { svg: string[]; height: number } {
  const svg: string[] = ['<g class="legend">'];
  let x = x0;
  let y = y0;
  names.forEach((name, i) => {
    const w = 18 + textWidth(name) + 16;
    if (x > x0 && x + w > maxX) {
      x = x0;
      y += 18;
    }
    const c = escapeXml(colors[i]!);
    svg.push(marker === 'rect'
      ? `<rect x="${px(x)}" y="${px(y - 9)}" width="12" height="12" fill="${c}"/>`
      : `<line x1="${px(x)}" y1="${px(y - 3)}" x2="${px(x + 12)}" y2="${px(y - 3)}" stroke="${c}" stroke-width="2"/><circle cx="${px(x + 6)}" cy="${px(y - 3)}" r="3" fill="${c}"/>`);
    svg.push(`<text x="${px(x + 18)}" y="${px(y + 1)}">${escapeXml(name)}</text>`);
    x += w;
  });
  svg.push('</g>');
  return { svg, height: names.length === 0 ? 0 : y - y0 + 18 };
}

/** Opening, title (wrapped to the width), legend; shared by both charts. Returns the markup and the plot's top edge. */
function head(spec: ChartBase, f: Frame, desc: string, names: readonly string[], colors: readonly string[], marker: 'rect' | 'line'): { svg: string[]; plotTop: number } {
  const id = escapeXml(spec.idPrefix ?? `chart-${slug(spec.title)}`);
  const titleLines = wrap(spec.title, f.width - f.left - f.right, 15);
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-labelledby="${id}-title ${id}-desc" ${FONT} font-size="12">`,
    `<title id="${id}-title">${escapeXml(spec.title)}</title>`,
    `<desc id="${id}-desc">${escapeXml(desc)}</desc>`,
    `<rect width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text class="title" x="${px(f.left)}" y="22" font-size="15" font-weight="600" fill="#000000">${titleLines.map((l, i) => `<tspan x="${px(f.left)}" dy="${i === 0 ? 0 : 19}">${escapeXml(l)}</tspan>`).join('')}</text>`,
  ];
  const legendTop = 22 + 19 * (titleLines.length - 1) + 22;
  const lg = legend(names, colors, f.left, legendTop, f.width - f.right, marker);
  svg.push(...lg.svg);
  return { svg, plotTop: legendTop + lg.height + 8 };
}

/** y axis: grid lines, tick labels and the rotated axis label. */
function yAxis(spec: ChartBase, ticks: Ticks, y: (v: number) => number, f: Frame, plotTop: number): string[] {
  const svg = ['<g class="y-axis" fill="#333333">'];
  for (const t of ticks.values) {
    const ty = px(y(t));
    svg.push(`<line x1="${px(f.left)}" y1="${ty}" x2="${px(f.width - f.right)}" y2="${ty}" stroke="#dddddd"/>`);
    svg.push(`<text x="${px(f.left - 6)}" y="${ty}" dy="0.32em" text-anchor="end">${escapeXml(formatTick(t))}</text>`);
  }
  svg.push(`<line x1="${px(f.left)}" y1="${px(plotTop)}" x2="${px(f.left)}" y2="${px(f.height - f.bottom)}" stroke="#333333"/>`);
  if (spec.yLabel !== undefined) {
    const cy = px((plotTop + f.height - f.bottom) / 2);
    svg.push(`<text transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  }
  svg.push('</g>');
  return svg;
}

/** The note's lines at 10 px, wrapped to the plot's width. */
function noteLines(spec: ChartBase, width: number, left: number, right: number): string[] {
  return spec.note === undefined ? [] : wrap(spec.note, width - left - right, 10);
}

/** x axis label, note, closing tag. */
function foot(spec: ChartBase, f: Frame, note: readonly string[]): string[] {
  const svg: string[] = [];
  const noteH = 13 * note.length;
  if (spec.xLabel !== undefined) svg.push(`<text x="${px((f.left + f.width - f.right) / 2)}" y="${px(f.height - 8 - noteH - (noteH > 0 ? 3 : 0))}" text-anchor="middle" fill="#333333">${escapeXml(spec.xLabel)}</text>`);
  note.forEach((l, i) => svg.push(`<text class="note" x="${px(f.left)}" y="${px(f.height - 6 - 13 * (note.length - 1 - i))}" font-size="10" fill="#555555">${escapeXml(l)}</text>`));
  svg.push('</svg>');
  return svg;
}

function checkSize(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= 100 && v <= 20_000)) throw new RangeError(`${name} ${v}: expected 100..20000 px`);
}

/** Splits text on spaces into lines no wider than `maxPx` at `size` px (a longer word stays whole). */
function wrap(label: string, maxPx: number, size = 12): string[] {
  const textWidth_ = (t: string): number => textWidth(t, size);
  if (textWidth_(label) <= maxPx) return [label];
  const lines: string[] = [];
  for (const word of label.split(/\s+/).filter(Boolean)) {
    const last = lines[lines.length - 1];
    if (last !== undefined && textWidth_(`${last} ${word}`) <= maxPx) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines.length === 0 ? [''] : lines;
}

/**
 * Grouped bar chart: one group per category, one bar per series (in series order), each with an
 * optional whisker from the bar's top to its whisker value and a `<title>` tooltip. Bars are
 * `<rect class="bar">`, whiskers `<path class="whisker">`. RangeError when a series' arrays do not
 * have one entry per category or the chart would exceed MAX_MARKS bars.
 */
export function barChart(spec: BarChartSpec): string {
  const { categories, series } = spec;
  const yType = spec.yScale ?? 'linear';
  for (const s of series) {
    if (s.values.length !== categories.length) throw new RangeError(`series ${JSON.stringify(s.name)} has ${s.values.length} values, expected ${categories.length} (one per category)`);
    if (s.whiskers !== undefined && s.whiskers.length !== categories.length) throw new RangeError(`series ${JSON.stringify(s.name)} has ${s.whiskers.length} whiskers, expected ${categories.length} (one per category)`);
  }
  if (categories.length * series.length > MAX_MARKS) throw new RangeError(`${categories.length} categories x ${series.length} series: at most ${MAX_MARKS} bars`);
  checkSize('width', spec.width);
  checkSize('height', spec.height);

  const nS = Math.max(1, series.length);
  // Wide enough that each group has 10 px per bar and its label fits on three lines.
  const longestWord = Math.max(0, ...categories.flatMap((c) => c.split(/\s+/).map((w) => textWidth(w))));
  const band0 = Math.max(nS * 10 / 0.8, longestWord + 8);
  const left = 64;
  const right = 16;
  const width = spec.width ?? Math.max(640, Math.ceil(left + right + categories.length * band0));
  const plotW = width - left - right;
  const band = plotW / Math.max(1, categories.length);
  const labels = categories.map((c) => wrap(c, band - 6));
  const labelLines = Math.max(1, ...labels.map((l) => l.length));
  const note = noteLines(spec, width, left, right);
  const bottom = 14 * labelLines + 10 + (spec.xLabel !== undefined ? 20 : 0) + 13 * note.length + (note.length > 0 ? 3 : 0);
  const height = spec.height ?? 400;
  const f: Frame = { width, height, left, right, top: 0, bottom };

  const colors = series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]!);
  const all = series.flatMap((s) => [...s.values, ...(s.whiskers ?? [])]).filter((v): v is number => usable(v, yType));
  const ticks = ticksFor(yType, all, true);
  const desc = spec.description ?? `Grouped bar chart, ${yType} y axis from ${formatTick(ticks.min)} to ${formatTick(ticks.max)}: ${categories.length} categories (${categories.join(', ')}) by ${series.length} series (${series.map((s) => s.name).join(', ')}).`;
  const { svg, plotTop } = head(spec, f, desc, series.map((s) => s.name), colors, 'rect');
  const base = height - bottom;
  if (base - plotTop < 40) throw new RangeError(`height ${height}: too small for the title, legend and labels (the plot would be ${Math.round(base - plotTop)} px)`);
  const y = scaleOf(yType, ticks, base, plotTop);
  svg.push(...yAxis(spec, ticks, y, f, plotTop));

  const barW = (band * 0.8) / nS;
  const unit = spec.unit !== undefined ? ` ${spec.unit}` : '';
  svg.push('<g class="bars">');
  categories.forEach((cat, ci) => {
    const g0 = left + ci * band + band * 0.1;
    series.forEach((s, si) => {
      const v = s.values[ci];
      if (!usable(v, yType)) return;
      const x = g0 + si * barW;
      const top = y(v);
      const w = s.whiskers?.[ci];
      const tip = `${s.name}, ${cat}: ${spec.valueLabel !== undefined ? `${spec.valueLabel} ` : ''}${formatValue(v)}${unit}${usable(w, yType) ? `, ${spec.whiskerLabel ?? 'whisker'} ${formatValue(w)}${unit}` : ''}`;
      svg.push(`<rect class="bar" x="${px(x)}" y="${px(Math.min(top, base))}" width="${px(Math.max(1, barW - 1))}" height="${px(Math.abs(base - top))}" fill="${escapeXml(colors[si]!)}"><title>${escapeXml(tip)}</title></rect>`);
      if (usable(w, yType)) {
        const cx = x + (barW - 1) / 2;
        const wy = y(w);
        const cap = Math.min(6, Math.max(2, barW / 3));
        svg.push(`<path class="whisker" d="M${px(cx)} ${px(top)}V${px(wy)}M${px(cx - cap)} ${px(wy)}H${px(cx + cap)}" stroke="#000000" stroke-width="1" fill="none"/>`);
      }
    });
  });
  svg.push('</g>');

  svg.push('<g class="x-axis" fill="#333333" text-anchor="middle">');
  svg.push(`<line x1="${px(left)}" y1="${px(base)}" x2="${px(width - right)}" y2="${px(base)}" stroke="#333333"/>`);
  labels.forEach((lines, ci) => {
    const cx = px(left + (ci + 0.5) * band);
    svg.push(`<text x="${cx}" y="${px(base + 16)}">${lines.map((l, i) => `<tspan x="${cx}" dy="${i === 0 ? 0 : 14}">${escapeXml(l)}</tspan>`).join('')}</text>`);
  });
  svg.push('</g>');
  svg.push(...foot(spec, f, note));
  return svg.join('\n') + '\n';
}

/**
 * Line or scatter chart of numeric x and y, several series, linear or log on either axis (log
 * skips points <= 0). Markers are `<circle class="point">`, lines `<path class="line">`.
 */
export function lineChart(spec: LineChartSpec): string {
  const xType = spec.xScale ?? 'linear';
  const yType = spec.yScale ?? 'linear';
  const nPoints = spec.series.reduce((n, s) => n + s.points.length, 0);
  if (nPoints > MAX_MARKS) throw new RangeError(`${nPoints} points: at most ${MAX_MARKS}`);
  checkSize('width', spec.width);
  checkSize('height', spec.height);
  const series = spec.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => usable(x, xType) && usable(y, yType)) }));
  const colors = spec.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]!);
  const width = spec.width ?? 640;
  const height = spec.height ?? 400;
  const left = 64;
  const right = 24;
  const note = noteLines(spec, width, left, right);
  const bottom = 34 + (spec.xLabel !== undefined ? 20 : 0) + 13 * note.length + (note.length > 0 ? 3 : 0);
  const f: Frame = { width, height, left, right, top: 0, bottom };
  const xTicks = ticksFor(xType, series.flatMap((s) => s.points.map((p) => p[0])), false);
  const yTicks = ticksFor(yType, series.flatMap((s) => s.points.map((p) => p[1])), yType === 'linear');
  const desc = spec.description ?? `${spec.mode === 'scatter' ? 'Scatter' : 'Line'} chart, x ${xType} from ${formatTick(xTicks.min)} to ${formatTick(xTicks.max)}, y ${yType} from ${formatTick(yTicks.min)} to ${formatTick(yTicks.max)}: ${series.map((s) => `${s.name} (${s.points.length} points)`).join(', ')}.`;
  const { svg, plotTop } = head(spec, f, desc, spec.series.map((s) => s.name), colors, spec.mode === 'scatter' ? 'rect' : 'line');
  const base = height - bottom;
  if (base - plotTop < 40) throw new RangeError(`height ${height}: too small for the title, legend and labels (the plot would be ${Math.round(base - plotTop)} px)`);
  const x = scaleOf(xType, xTicks, left, width - right);
  const y = scaleOf(yType, yTicks, base, plotTop);
  svg.push(...yAxis(spec, yTicks, y, f, plotTop));

  svg.push('<g class="x-axis" fill="#333333" text-anchor="middle">');
  svg.push(`<line x1="${px(left)}" y1="${px(base)}" x2="${px(width - right)}" y2="${px(base)}" stroke="#333333"/>`);
  for (const t of xTicks.values) {
    const tx = px(x(t));
    svg.push(`<line x1="${tx}" y1="${px(base)}" x2="${tx}" y2="${px(base + 4)}" stroke="#333333"/>`);
    svg.push(`<text x="${tx}" y="${px(base + 16)}">${escapeXml(formatTick(t))}</text>`);
  }
  svg.push('</g>');

  series.forEach((s, si) => {
    const c = escapeXml(colors[si]!);
    svg.push(`<g class="series" fill="${c}">`);
    if (spec.mode !== 'scatter' && s.points.length > 1) {
      svg.push(`<path class="line" d="${s.points.map(([px_, py], i) => `${i === 0 ? 'M' : 'L'}${px(x(px_))} ${px(y(py))}`).join('')}" stroke="${c}" stroke-width="2" fill="none"/>`);
    }
    for (const [vx, vy] of s.points) {
      svg.push(`<circle class="point" cx="${px(x(vx))}" cy="${px(y(vy))}" r="3"><title>${escapeXml(`${s.name}: ${formatValue(vx)}, ${formatValue(vy)}`)}</title></circle>`);
    }
    svg.push('</g>');
  });
  svg.push(...foot(spec, f, note));
  return svg.join('\n') + '\n';
}
