/**
 * The form side of the editor: per model node, where it may run (placement, or a split model's
 * pinned cut) and its early-exit condition; changing a field rewrites the JSON, so the JSON stays
 * the one source of truth and the validator sees exactly what the form made. Shown only while the
 * JSON parses.
 */
import type { WorkflowDoc } from '../api-types.js';
import { html } from '../html.js';

export interface NodeFormProps {
  readonly doc: WorkflowDoc;
  readonly onChange: (doc: WorkflowDoc) => void;
}

type NodeDoc = NonNullable<WorkflowDoc['nodes']>[number];

/** `doc` with node `i`'s params replaced by `update(params)`; an emptied value removes its key. */
function withParams(doc: WorkflowDoc, i: number, update: (p: Record<string, unknown>) => Record<string, unknown>): WorkflowDoc {
  const nodes = (doc.nodes ?? []).map((n, k) => (k === i ? { ...n, params: update({ ...(n.params ?? {}) }) } : n));
  return { ...doc, nodes };
}

function setOrDelete(p: Record<string, unknown>, key: string, v: unknown): Record<string, unknown> {
  if (v === undefined || v === '') delete p[key];
  else p[key] = v;
  return p;
}

function exitWhen(n: NodeDoc): string {
  const e = n.params?.exit as { when?: unknown } | undefined;
  return typeof e?.when === 'string' ? e.when : '';
}

export function NodeForm({ doc, onChange }: NodeFormProps) {
  const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  const rows = nodes.map((n, i) => ({ n, i })).filter(({ n }) => n && (n.type === 'model' || n.type === 'split-model'));
  if (rows.length === 0) return html`<p class="muted">no model nodes to place.</p>`;
  return html`<table class="node-form">
    <thead><tr><th>node</th><th>model</th><th>where</th><th>exit when</th></tr></thead>
    <tbody>${rows.map(({ n, i }) => {
      const split = n.type === 'split-model';
      const key = split ? 'cut' : 'placement';
      const current = typeof n.params?.[key] === 'string' ? String(n.params[key]) : (split ? '' : 'auto');
      const cuts = Array.isArray(n.params?.cuts) ? (n.params!.cuts as unknown[]).map((c) => (Array.isArray(c) ? c.join('+') : String(c))) : [];
      const choices = split ? ['', 'edge', 'cloud', ...cuts] : ['auto', 'edge', 'cloud'];
      if (!choices.includes(current)) choices.push(current);
      return html`<tr data-form-node=${n.id}>
        <td>${n.id}</td>
        <td><input class="f-model" value=${String(n.params?.model ?? '')} aria-label=${`${n.id} model`}
          onChange=${(e: Event) => onChange(withParams(doc, i, (p) => setOrDelete(p, 'model', (e.currentTarget as HTMLInputElement).value.trim())))} /></td>
        <td><select class="f-where" aria-label=${`${n.id} ${key}`}
          onChange=${(e: Event) => {
            const v = (e.currentTarget as HTMLSelectElement).value;
            onChange(withParams(doc, i, (p) => setOrDelete(p, key, split ? v : v === 'auto' ? undefined : v)));
          }}>
          ${choices.map((c) => html`<option value=${c} selected=${c === current}>${c === '' ? 'router decides' : c}</option>`)}
        </select></td>
        <td><input class="f-exit mono" value=${exitWhen(n)} placeholder="e.g. max(softmax(logits)) >= 0.9" aria-label=${`${n.id} exit condition`}
          onChange=${(e: Event) => {
            const when = (e.currentTarget as HTMLInputElement).value.trim();
            onChange(withParams(doc, i, (p) => {
              const exit = { ...((p.exit as Record<string, unknown> | undefined) ?? {}) };
              if (when === '') return setOrDelete(p, 'exit', undefined);
              exit.when = when;
              p.exit = exit;
              return p;
            }));
          }} /></td>
      </tr>`;
    })}</tbody>
  </table>`;
}
