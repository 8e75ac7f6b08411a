/** The selected node: its latency percentiles, where it last ran and the last decision's cost terms. */
import type { NodeStats } from '../api-types.js';
import { clockTime, ms, term } from '../format.js';
import { html } from '../html.js';
import { placementLabel, type NodePlacement } from '../placement.js';

export interface NodeDetailsProps {
  readonly id: string;
  readonly type?: string;
  readonly placement?: NodePlacement;
  readonly stats?: NodeStats;
  /** The explanation line of the page's own last run of this node, when it made one. */
  readonly explanation?: string;
}

export function NodeDetails(p: NodeDetailsProps) {
  const s = p.stats;
  const d = s?.lastDecision;
  return html`<section class="panel node-details" data-details=${p.id}>
    <h3>${p.id} <small>${p.type ?? s?.type ?? ''}</small></h3>
    <dl class="kv">
      <dt>last placement</dt><dd class="details-placement">${p.placement ? placementLabel(p.placement) : '-'}</dd>
      <dt>runs</dt><dd>${s?.runs ?? '-'}</dd>
      <dt>p50 / p90 / p99</dt><dd>${ms(s?.p50Ms)} / ${ms(s?.p90Ms)} / ${ms(s?.p99Ms)}</dd>
    </dl>
    ${d ? html`<h4>last decision <small>${clockTime(d.at)}</small></h4>
      <p>${d.choice}, expected ${ms(d.expectedMs)}</p>
      <table class="terms"><tbody>${Object.entries(d.terms ?? {}).map(([k, v]) => html`<tr><th>${k}</th><td>${term(v)}</td></tr>`)}</tbody></table>` : null}
    ${p.explanation ? html`<h4>this page's last run</h4><p class="mono">${p.explanation}</p>` : null}
  </section>`;
}
