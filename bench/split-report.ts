/**
 * Summaries and tables of `cleave bench split`: per cell and family, each strategy's p50 and p99
 * end-to-end latency, the oracle (the best fixed strategy by p50, chosen after the fact), auto
 * against it, auto's gain against cloud-only and edge-only, and each strategy's top-1 agreement
 * with the fp32 cloud answer.
 */
import { createRng } from '../shared/rng.js';
import { percentile } from './stats.js';

/** The goal: auto's p50 at most this many times the oracle's, in every cell. */
export const AUTO_ORACLE_GOAL = 1.05;

/** A link and load condition. */
export interface SplitCell {
  /** Round-trip time the proxy adds, ms (one-way delay is half). */
  readonly rttMs: number;
  /** Bandwidth per direction, Mbit/s. */
  readonly mbps: number;
  /** A background client hammers the cloud's own HTTP port meanwhile. */
  readonly busy: boolean;
}

/** What one strategy did in one cell. */
export interface StrategyResult {
  readonly label: string;
  readonly kind: 'edge' | 'cloud' | 'cut' | 'auto';
  /** End-to-end latency of each answered request, as the client saw it, ms. */
  readonly ms: number[];
  readonly p50: number;
  readonly p99: number;
  /** Top-1 agreement with the fp32 cloud reference, 0..1 (NaN: no answers). */
  readonly agreement: number;
  readonly errors: number;
  /** Where the deciding node ran (`edge`, `cloud`, `cut:<t>`, `+int8`, `exit`), counted. */
  readonly routes: Record<string, number>;
  /** The router's last decision with its cost terms (`x-cleave-placement`), when there was one. */
  readonly lastDecision?: string;
  /** Requests the router sent to the losing tier on purpose to re-measure it (auto only). */
  readonly probes: number;
}

export interface FamilyCellResult {
  readonly family: string;
  readonly strategies: StrategyResult[];
  /** The fixed strategy with the lowest p50. */
  readonly oracle: string;
  readonly oracleP50: number;
  /** auto p50 / oracle p50: 1 is as good as knowing the best fixed strategy in advance. */
  readonly autoOverOracle: number;
  /**
   * 95% bootstrap interval of autoOverOracle (2000 resamples of each side's samples, seeded):
   * an interval that contains 1 means the samples cannot tell auto from the oracle.
   */
  readonly autoOverOracleCi: readonly [number, number];
  /** cloud-only p50 / auto p50. */
  readonly gainVsCloud: number;
  /** edge-only p50 / auto p50. */
  readonly gainVsEdge: number;
}

export interface CellResult {
  readonly cell: SplitCell;
  readonly families: FamilyCellResult[];
  readonly seconds: number;
}

/** Summarises one strategy's samples. */
export function summarise(label: string, kind: StrategyResult['kind'], ms: number[], agree: boolean[], errors: number, routes: Record<string, number>, probes = 0): StrategyResult {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    label, kind, ms, errors, routes, probes,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    agreement: agree.length === 0 ? NaN : agree.filter(Boolean).length / agree.length,
  };
}

/** The oracle and auto's ratios for one family in one cell. */
export function compare(family: string, strategies: StrategyResult[]): FamilyCellResult {
  const fixed = strategies.filter((s) => s.kind !== 'auto' && Number.isFinite(s.p50));
  const oracle = fixed.reduce<StrategyResult | undefined>((b, s) => (b === undefined || s.p50 < b.p50 ? s : b), undefined);
  const p50 = (kind: StrategyResult['kind']): number => strategies.find((s) => s.kind === kind)?.p50 ?? NaN;
  const auto = p50('auto');
  const autoMs = strategies.find((s) => s.kind === 'auto')?.ms ?? [];
  return {
    family, strategies,
    oracle: oracle?.label ?? 'none',
    oracleP50: oracle?.p50 ?? NaN,
    autoOverOracle: auto / (oracle?.p50 ?? NaN),
    autoOverOracleCi: medianRatioCi(autoMs, oracle?.ms ?? []),
    gainVsCloud: p50('cloud') / auto,
    gainVsEdge: p50('edge') / auto,
  };
}

/**
 * 95% percentile-bootstrap interval of median(a) / median(b): `rounds` resamples with
 * replacement of each side, from a fixed seed so a report reproduces. [NaN, NaN] when a side is
 * empty.
 */
export function medianRatioCi(a: readonly number[], b: readonly number[], rounds = 2000, seed = 20261121): [number, number] {
  if (a.length === 0 || b.length === 0) return [NaN, NaN];
  const rng = createRng(seed);
  const median = (xs: readonly number[]): number => {
    const s = Array.from(xs, () => xs[rng.int(0, xs.length)]!).sort((x, y) => x - y);
    return percentile(s, 0.5);
  };
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) ratios.push(median(a) / median(b));
  ratios.sort((x, y) => x - y);
  return [percentile(ratios, 0.025), percentile(ratios, 0.975)];
}

/** Geometric mean of the finite, positive values (NaN when none). */
export function geomean(xs: readonly number[]): number {
  const ok = xs.filter((x) => Number.isFinite(x) && x > 0);
  return ok.length === 0 ? NaN : Math.exp(ok.reduce((s, x) => s + Math.log(x), 0) / ok.length);
}

export function cellName(c: SplitCell): string {
  return `${c.rttMs}ms ${c.mbps}Mb ${c.busy ? 'busy' : 'idle'}`;
}

const f0 = (x: number): string => (Number.isFinite(x) ? x < 10 ? x.toFixed(1) : x.toFixed(0) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '-');

/** Short column names: `cut:block3.pool_out` -> `b3`. */
export function shortLabel(label: string): string {
  const m = /^cut:block(\d+)\./.exec(label);
  return m ? `cut b${m[1]}` : label.replace(/^cut:/, 'cut ');
}

/** auto's most frequent route and its share. */
function autoRoute(s: StrategyResult | undefined): string {
  if (!s) return '-';
  const total = Object.values(s.routes).reduce((a, b) => a + b, 0);
  const [route, n] = Object.entries(s.routes).sort((a, b) => b[1] - a[1])[0] ?? ['-', 0];
  const probes = s.probes > 0 ? ` (${s.probes}p)` : '';
  return total === 0 ? '-' : `${route.replace(/^cut:block(\d+)\.[a-z_]+/, 'cut b$1')} ${pct(n / total)}${probes}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

/**
 * One table per family: a row per cell with p50/p99 of each strategy (ms), the oracle, auto's
 * ratio to it, auto's gains, auto's usual route (with its probe count, `(3p)`) and its agreement; then each strategy's mean
 * agreement over the cells.
 */
export function formatTables(cells: readonly CellResult[], titles: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const families = [...new Set(cells.flatMap((c) => c.families.map((f) => f.family)))];
  for (const fam of families) {
    const per = cells.map((c) => ({ cell: c.cell, r: c.families.find((f) => f.family === fam) })).filter((x) => x.r !== undefined);
    const labels = per[0]!.r!.strategies.map((s) => s.label);
    out.push('', `${titles.get(fam) ?? fam}: p50/p99 end-to-end ms per strategy`);
    const rows: string[][] = [['cell', ...labels.map(shortLabel), 'oracle', 'auto/orc', 'x cloud', 'x edge', 'auto route', 'auto agr']];
    for (const { cell, r } of per) {
      const auto = r!.strategies.find((s) => s.kind === 'auto');
      rows.push([
        cellName(cell),
        ...labels.map((l) => {
          const s = r!.strategies.find((x) => x.label === l);
          return s ? `${f0(s.p50)}/${f0(s.p99)}${s.errors ? ` !${s.errors}` : ''}` : '-';
        }),
        shortLabel(r!.oracle), f2(r!.autoOverOracle), f2(r!.gainVsCloud), f2(r!.gainVsEdge), autoRoute(auto), pct(auto?.agreement ?? NaN),
      ]);
    }
    out.push(...table(rows));
    const agr = labels.map((l) => {
      const xs = per.map((p) => p.r!.strategies.find((s) => s.label === l)?.agreement ?? NaN).filter(Number.isFinite);
      return `${shortLabel(l)} ${pct(xs.reduce((a, b) => a + b, 0) / xs.length)}`;
    });
    out.push(`top-1 agreement with fp32 cloud (mean over cells): ${agr.join(', ')}`);
    const g = per.map((p) => p.r!.gainVsCloud);
    const o = per.map((p) => p.r!.autoOverOracle);
    out.push(`auto vs cloud-only: geomean x${f2(geomean(g))} (min ${f2(Math.min(...g))}, max ${f2(Math.max(...g))}); auto/oracle geomean ${f2(geomean(o))}, worst ${f2(Math.max(...o))}`);
    const over = per.filter((p) => p.r!.autoOverOracle > AUTO_ORACLE_GOAL);
    out.push(`cells over ${AUTO_ORACLE_GOAL}x the oracle: ${over.length} of ${per.length}${over.length === 0 ? '' : `: ${over.map((p) => {
      const [lo, hi] = p.r!.autoOverOracleCi;
      return `${cellName(p.cell)} ${f2(p.r!.autoOverOracle)} (95% CI ${f2(lo)}-${f2(hi)}${lo <= 1 ? ', within noise' : ''})`;
    }).join('; ')}`}`);
  }
  return out;
}
