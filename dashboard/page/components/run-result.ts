/**
 * The answer of a run or dry run: the plan (`x-cleave-plan`), each node's placement with its
 * expected and measured time and the decision's explanation, and the outputs (large tensors
 * shortened).
 */
import type { RunAnswer } from '../api-types.js';
import { ms } from '../format.js';
import { html } from '../html.js';

/** Most tensor elements shown per output. */
const SHOWN = 12;

function preview(t: { dtype: string; dims: number[]; data: unknown[] }): string {
  const data = Array.isArray(t.data) ? t.data : [];
  const head = data.slice(0, SHOWN).map((v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : JSON.stringify(v)));
  return `${t.dtype}[${(t.dims ?? []).join(',')}] ${head.join(', ')}${data.length > SHOWN ? `, … (${data.length} values)` : ''}`;
}

function placementText(p: unknown): string | null {
  if (p === undefined || p === null) return null;
  if (typeof p === 'string') return p;
  return JSON.stringify(p, null, 1);
}

export interface RunResultProps {
  readonly title: string;
  readonly answer: RunAnswer;
  /** The `x-cleave-plan` header (a dry run's is in the body). */
  readonly plan: string | null;
  readonly placementHeader?: string | null;
}

export function RunResult({ title, answer, plan, placementHeader }: RunResultProps) {
  const p = plan ?? answer.plan ?? null;
  const placement = placementHeader ?? placementText(answer.placement);
  return html`<section class="panel run-result">
    <h3>${title} <small>${ms(answer.totalMs)}${answer.exitedAt ? ` · exited at ${answer.exitedAt}` : ''}${answer.degraded ? ' · degraded' : ''}</small></h3>
    <p>plan: <code class="run-plan">${p ?? '-'}</code></p>
    <table class="reports">
      <thead><tr><th>node</th><th>status</th><th>placement</th><th>expected</th><th>took</th><th>why</th></tr></thead>
      <tbody>${(answer.nodes ?? []).map((n) => html`<tr data-report=${n.node}>
        <td>${n.node}</td><td>${n.status ?? ''}${n.exited ? ' (exit)' : ''}</td><td class="mono">${n.placement ?? ''}</td>
        <td>${ms(n.expectedMs)}</td><td>${ms(n.ms)}</td><td class="mono small">${n.explanation ?? ''}</td></tr>`)}</tbody>
    </table>
    ${placement ? html`<details><summary>placement decisions</summary><pre class="mono">${placement}</pre></details>` : null}
    <h4>outputs</h4>
    <ul class="outputs">${Object.entries(answer.outputs ?? {}).map(([k, t]) => html`<li><strong>${k}</strong>: <span class="mono">${preview(t)}</span></li>`)}</ul>
  </section>`;
}
