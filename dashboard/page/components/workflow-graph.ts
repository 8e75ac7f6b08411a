/**
 * A workflow drawn as a graph: boxes laid out by graph-layout.ts, coloured by where each node last
 * ran, with its p50/p99 and, on hover, its last decision's cost terms. Edges carry their `when`
 * as a label. Clicking a node selects it (the details panel shows everything). Each box carries
 * `data-node`, `data-placement` and `data-kind`, which the browser test reads.
 */
import type { NodeStats, WorkflowDoc } from '../api-types.js';
import { ms, term } from '../format.js';
import { INPUT_NODE, layoutGraph } from '../graph-layout.js';
import { html } from '../html.js';
import { PLACEMENT_COLORS, PLACEMENT_NAMES, parsePlacement, placementLabel, type NodePlacement, type PlacementKind } from '../placement.js';

export interface WorkflowGraphProps {
  readonly doc: WorkflowDoc;
  /** node -> where it last ran; nodes not listed are drawn as not run yet. */
  readonly placements: ReadonlyMap<string, NodePlacement>;
  readonly stats?: ReadonlyMap<string, NodeStats>;
  readonly selected?: string | undefined;
  readonly onSelect?: (id: string) => void;
  /** Id prefix of the SVG defs, unique per page. */
  readonly idPrefix: string;
}

/** What a node box says under its id: the model, the transform's op, or the node type. */
function subtitle(n: { type: string; params?: Record<string, unknown> }): string {
  const p = n.params ?? {};
  if (n.type === 'model') return String(p.model ?? 'model');
  if (n.type === 'split-model') return `${String(p.model ?? 'model')} (split)`;
  if (n.type === 'transform') return String(p.op ?? 'transform');
  return n.type;
}

/** Dark fills get white text. */
const DARK: ReadonlySet<PlacementKind> = new Set(['edge', 'cloud']);

/** Rough text width at 11 px, for label backgrounds (no font metrics in SVG). */
const textPx = (s: string): number => s.length * 6.2;

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function WorkflowGraph(props: WorkflowGraphProps) {
  const nodes = Array.isArray(props.doc.nodes) ? props.doc.nodes.filter((n) => n && typeof n.id === 'string') : [];
  const edges = Array.isArray(props.doc.edges) ? props.doc.edges.filter((e) => e && typeof e.source === 'string' && typeof e.target === 'string') : [];
  const layout = layoutGraph(nodes, edges);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const arrow = `${props.idPrefix}-arrow`;
  const kinds = new Set<PlacementKind>();

  const boxes = layout.nodes.map((b) => {
    if (b.id === INPUT_NODE) {
      return html`<g class="graph-node input" data-node=${INPUT_NODE}>
        <rect x=${b.x} y=${b.y + 10} width=${b.width} height=${b.height - 20} rx="19" fill="#ffffff" stroke="#555555" stroke-dasharray="4 3" />
        <text x=${b.x + b.width / 2} y=${b.y + b.height / 2 + 4} text-anchor="middle" font-weight="600">input</text>
      </g>`;
    }
    const n = byId.get(b.id)!;
    const glue = n.type !== 'model' && n.type !== 'split-model';
    const p = props.placements.get(b.id) ?? (glue ? parsePlacement('inline') : parsePlacement(null));
    kinds.add(p.kind);
    const st = props.stats?.get(b.id);
    const fg = DARK.has(p.kind) ? '#ffffff' : '#000000';
    const decision = st?.lastDecision;
    const tip = [
      `${b.id} (${n.type}): ${placementLabel(p)}`,
      st ? `runs ${st.runs}; p50 ${ms(st.p50Ms)}, p90 ${ms(st.p90Ms)}, p99 ${ms(st.p99Ms)}` : '',
      decision ? `last decision: ${decision.choice}, expected ${ms(decision.expectedMs)}` : '',
      ...(decision?.terms ? Object.entries(decision.terms).map(([k, v]) => `  ${k} = ${term(v)}`) : []),
    ].filter(Boolean).join('\n');
    const selected = props.selected === b.id;
    return html`<g class=${`graph-node${selected ? ' selected' : ''}`} data-node=${b.id} data-kind=${p.kind} data-placement=${p.raw ?? ''}
        tabindex="0" role="button" aria-label=${tip}
        onClick=${() => props.onSelect?.(b.id)} onKeyDown=${(e: KeyboardEvent) => { if (e.key === 'Enter' || e.key === ' ') props.onSelect?.(b.id); }}>
      <title>${tip}</title>
      <rect x=${b.x} y=${b.y} width=${b.width} height=${b.height} rx="6" fill=${PLACEMENT_COLORS[p.kind]}
        stroke=${selected ? '#000000' : p.degraded ? '#D55E00' : '#444444'} stroke-width=${selected || p.degraded ? 3 : 1} stroke-dasharray=${p.kind === 'skipped' ? '5 3' : 'none'} />
      <text x=${b.x + 8} y=${b.y + 17} fill=${fg} font-weight="600">${clip(b.id, 22)}</text>
      <text x=${b.x + 8} y=${b.y + 32} fill=${fg} font-size="11">${clip(subtitle(n), 26)}</text>
      <text class="placement-label" x=${b.x + 8} y=${b.y + 48} fill=${fg} font-size="11">${clip(glue && p.kind === 'inline' ? (st?.p50Ms != null ? `p50 ${ms(st.p50Ms)}` : 'inline') : placementLabel(p), 28)}</text>
      ${st && !glue && st.p50Ms != null ? html`<text x=${b.x + b.width - 6} y=${b.y + 17} fill=${fg} font-size="10" text-anchor="end">${ms(st.p50Ms)}</text>` : null}
    </g>`;
  });

  const lines = layout.edges.map((e) => {
    const label = e.when === undefined ? null : clip(e.when, 30);
    return html`<g class=${`graph-edge${e.back ? ' back' : ''}`} data-edge=${`${e.source}->${e.target}`}>
      <path d=${e.path} fill="none" stroke="#666666" stroke-width="1.5" marker-end=${`url(#${arrow})`} />
      ${label === null ? null : html`<g class="edge-label"><title>${e.when}</title>
        <rect x=${e.labelX - textPx(label) / 2 - 3} y=${e.labelY - 9} width=${textPx(label) + 6} height="15" rx="3" fill="#fffbe6" stroke="#c9b458" />
        <text x=${e.labelX} y=${e.labelY + 2} text-anchor="middle" font-size="11">${label}</text></g>`}
    </g>`;
  });

  return html`<figure class="graph">
    <svg class="workflow-graph" width=${layout.width} height=${layout.height} viewBox=${`0 0 ${layout.width} ${layout.height}`} role="group" aria-label="workflow graph" font-size="12">
      <defs><marker id=${arrow} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#666666" /></marker></defs>
      ${lines}
      ${boxes}
    </svg>
    ${layout.dangling.length > 0 ? html`<p class="warn">edges to unknown nodes, not drawn: ${layout.dangling.map((e) => `${e.source} -> ${e.target}`).join(', ')}</p>` : null}
    <figcaption class="legend">${(['edge', 'cloud', 'cut', 'exit', 'skipped', 'inline', 'none'] as PlacementKind[]).map((k) => html`<span class=${`legend-item${kinds.has(k) ? '' : ' absent'}`}><i style=${{ background: PLACEMENT_COLORS[k] }}></i>${PLACEMENT_NAMES[k]}</span>`)}</figcaption>
  </figure>`;
}
