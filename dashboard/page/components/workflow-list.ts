/** The deployed workflows with their run counts and latency; one is selected. */
import type { WorkflowSummary } from '../api-types.js';
import { ms } from '../format.js';
import { html } from '../html.js';

export interface WorkflowListProps {
  readonly workflows: readonly WorkflowSummary[];
  readonly selected: string | undefined;
  readonly onSelect: (name: string) => void;
  readonly onNew: () => void;
}

export function WorkflowList({ workflows, selected, onSelect, onNew }: WorkflowListProps) {
  return html`<nav class="workflows" aria-label="workflows">
    <h2>Workflows</h2>
    ${workflows.length === 0 ? html`<p class="muted">none deployed yet.</p>` : null}
    <ul>${workflows.map((w) => html`<li>
      <button type="button" class=${`wf${w.name === selected ? ' selected' : ''}`} data-workflow=${w.name} onClick=${() => onSelect(w.name)}>
        <strong>${w.name}</strong> <small>v${w.version}</small>
        <span class="wf-stats">${w.runs} runs${w.errors > 0 ? html`, <em class="errors">${w.errors} errors</em>` : ''} · p50 ${ms(w.p50Ms)} · p99 ${ms(w.p99Ms)}</span>
      </button></li>`)}</ul>
    <button type="button" class="new-workflow" onClick=${onNew}>New from a template…</button>
  </nav>`;
}
