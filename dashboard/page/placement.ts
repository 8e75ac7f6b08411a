/**
 * Where a node last ran, as the dashboard draws it: the kind that picks the colour, a short label,
 * and readers for the two places a placement comes from (the `x-cleave-plan` header of a run, and
 * a run's node reports). Pure: no DOM.
 */

/** The colour classes of a node. */
export type PlacementKind = 'edge' | 'cloud' | 'cut' | 'exit' | 'skipped' | 'inline' | 'none';

/** A node's last placement as the page holds it. */
export interface NodePlacement {
  readonly kind: PlacementKind;
  /** The raw value: `edge`, `cloud`, `cut:<tensor>`, `cut:<tensor>+int8`, `exit`, `skipped`, `inline`. */
  readonly raw: string | null;
  /** For a cut: the tensor(s) it was cut at. */
  readonly cut?: string;
  readonly int8?: boolean;
  /** The run was answered at this node (early exit). */
  readonly exited?: boolean;
  /** A cloud stage fell back to its edge stand-in. */
  readonly degraded?: boolean;
}

/**
 * Fill colours by kind: Okabe & Ito's palette (shared/charts/svg-chart.ts PALETTE), so the
 * graph and the charts agree and the colours stay apart under colour-vision deficiencies.
 */
export const PLACEMENT_COLORS: Readonly<Record<PlacementKind, string>> = {
  edge: '#009E73',
  cloud: '#0072B2',
  cut: '#E69F00',
  exit: '#CC79A7',
  skipped: '#d9d9d9',
  inline: '#f2f2f2',
  none: '#ffffff',
};

/** Legend text by kind. */
export const PLACEMENT_NAMES: Readonly<Record<PlacementKind, string>> = {
  edge: 'edge',
  cloud: 'cloud',
  cut: 'split at a cut',
  exit: 'exited early',
  skipped: 'skipped',
  inline: 'inline (glue)',
  none: 'not run yet',
};

/** A placement value (`lastPlacement` of the data API, or a node report's `placement`). */
export function parsePlacement(raw: string | null | undefined, flags: { exited?: boolean; degraded?: boolean } = {}): NodePlacement {
  const extra = { ...(flags.exited ? { exited: true } : {}), ...(flags.degraded ? { degraded: true } : {}) };
  if (raw === null || raw === undefined || raw === '') return { kind: flags.exited ? 'exit' : 'none', raw: null, ...extra };
  const v = raw.trim();
  if (v === 'exit') return { kind: 'exit', raw: v, exited: true, ...(flags.degraded ? { degraded: true } : {}) };
  if (v === 'skipped' || v === 'cancelled') return { kind: 'skipped', raw: v, ...extra };
  if (v === 'inline' || v === 'loop') return { kind: 'inline', raw: v, ...extra };
  if (v.startsWith('cut:')) {
    // `cut:<tensor>+int8` (header form) or `cut:<tensor> int8` (report form).
    const m = /^cut:(.*?)(?:[+ ]int8)?$/.exec(v)!;
    const int8 = /[+ ]int8$/.test(v);
    return { kind: flags.exited ? 'exit' : 'cut', raw: v, cut: m[1]!, ...(int8 ? { int8: true } : {}), ...extra };
  }
  if (v === 'edge' || v === 'cloud') return { kind: flags.exited ? 'exit' : v, raw: v, ...extra };
  return { kind: 'none', raw: v, ...extra };
}

/** One line of text for a placement: `edge`, `cloud`, `cut at block3.pool_out (int8)`, with ` · exited` / ` · degraded`. */
export function placementLabel(p: NodePlacement): string {
  let s: string;
  if (p.raw === null) s = p.exited ? 'exited' : 'not run yet';
  else if (p.cut !== undefined) s = `cut at ${p.cut}${p.int8 ? ' (int8)' : ''}`;
  else if (p.raw === 'exit') s = 'exited early';
  else s = p.raw;
  if (p.exited && p.raw !== 'exit' && p.raw !== null) s += ' · exited';
  if (p.degraded) s += ' · degraded';
  return s;
}

/**
 * The `x-cleave-plan` header (`small=edge!, big=cut:block3.pool_out+int8~`): node -> placement,
 * `!` the exit node, `~` a degraded one. Entries that do not parse are skipped.
 */
export function parsePlanHeader(header: string | null | undefined): Map<string, NodePlacement> {
  const out = new Map<string, NodePlacement>();
  if (!header) return out;
  for (const part of header.split(',')) {
    const m = /^\s*([^=\s]+)=(\S+?)([!~]*)\s*$/.exec(part);
    if (!m) continue;
    const flags = m[3]!;
    out.set(m[1]!, parsePlacement(m[2]!, { exited: flags.includes('!'), degraded: flags.includes('~') }));
  }
  return out;
}

/** A node report of a run answer (`nodes[]` of POST /v1/workflows/:name/infer). */
export interface NodeReportLike {
  readonly node: string;
  readonly status?: string;
  readonly placement?: string;
  readonly exited?: boolean;
  readonly degraded?: unknown;
  readonly ms?: number;
  readonly expectedMs?: number;
  readonly explanation?: string;
}

/** node -> placement from a run's node reports: skipped and cancelled nodes included. */
export function placementsFromReports(reports: readonly NodeReportLike[]): Map<string, NodePlacement> {
  const out = new Map<string, NodePlacement>();
  for (const r of reports) {
    if (typeof r?.node !== 'string') continue;
    const flags = { exited: r.exited === true, degraded: r.degraded !== undefined && r.degraded !== false && r.degraded !== null };
    out.set(r.node, r.status === 'skipped' || r.status === 'cancelled' ? parsePlacement(r.status, flags) : parsePlacement(r.placement, flags));
  }
  return out;
}

/**
 * A decision's cost terms from its one-line explanation (`tier=edge; total=1.8; compute=1.8; vs
 * cloud=4.5`): numeric terms as numbers, the rest as text.
 */
export function explanationTerms(explanation: string): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const part of explanation.split(';')) {
    const m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(part);
    if (!m) continue;
    const n = Number(m[2]);
    out[m[1]!] = m[2] !== '' && Number.isFinite(n) ? n : m[2]!;
  }
  return out;
}
