/** The last placement decisions of a workflow, newest first, with their cost terms. */
import type { Decision } from '../api-types.js';
import { clockTime, ms, term } from '../format.js';
import { html } from '../html.js';

export function DecisionsTable({ decisions }: { readonly decisions: readonly Decision[] }) {
  if (decisions.length === 0) return html`<p class="muted">no decisions yet: run the workflow.</p>`;
  const rows = [...decisions].sort((a, b) => b.at - a.at);
  return html`<table class="decisions">
    <thead><tr><th>time</th><th>node</th><th>choice</th><th>expected</th><th>actual</th><th>cost terms, ms</th></tr></thead>
    <tbody>${rows.map((d) => html`<tr>
      <td>${clockTime(d.at)}</td><td>${d.node}</td><td class="mono">${d.choice}</td>
      <td>${ms(d.expectedMs)}</td><td>${ms(d.actualMs)}</td>
      <td class="mono terms-cell">${Object.entries(d.terms ?? {}).map(([k, v]) => `${k}=${term(v)}`).join(' ')}</td>
    </tr>`)}</tbody>
  </table>`;
}
