/** What is wrong with a draft: the JSON syntax error, or the validator's problems with their paths (`nodes[1].params.model`). */
import type { Problem } from '../api-types.js';
import { html } from '../html.js';

export function ProblemsList({ problems, message }: { readonly problems: readonly Problem[]; readonly message?: string | undefined }) {
  if (problems.length === 0 && !message) return null;
  return html`<section class="panel problems" role="alert">
    <h3>${problems.length > 0 ? `${problems.length} problem${problems.length === 1 ? '' : 's'}` : 'error'}</h3>
    ${message ? html`<p class="problem-message">${message}</p>` : null}
    <ul>${problems.map((p) => html`<li class="problem"><code>${p.at || '(document)'}</code> ${p.message}</li>`)}</ul>
  </section>`;
}
