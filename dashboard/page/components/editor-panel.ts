/**
 * Edit a workflow: start from a template (the zoo pipelines) or the deployed document, change it
 * in the JSON or the form, then
 *   Validate  - the edge's own validator (400 CLEAVE_E_WORKFLOW_INVALID lists every problem with its path),
 *   Dry run   - runs the draft once on the sample input without storing it: answer, plan, placement,
 *   Deploy    - POST /v1/workflows; a new version when it changed.
 * Validate and dry run both go through POST /v1/workflows/dry-run, which validates exactly as a
 * deploy does; Validate asks for the verdict alone (validateOnly: nothing is run).
 */
import { useMemo, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import type { Problem, RunAnswer, Template, WorkflowDoc } from '../api-types.js';
import { html } from '../html.js';
import { parseJson, printJson } from '../json-text.js';
import { placementsFromReports, parsePlanHeader } from '../placement.js';
import { sampleInputs } from '../sample-inputs.js';
import { JsonEditor } from './json-editor.js';
import { NodeForm } from './node-form.js';
import { ProblemsList } from './problems-list.js';
import { RunResult } from './run-result.js';
import { WorkflowGraph } from './workflow-graph.js';

export interface EditorPanelProps {
  readonly templates: readonly Template[];
  /** Why the templates could not be read, if they could not. */
  readonly templatesError?: string | undefined;
  /** The document to start from (the selected workflow's), if any. */
  readonly initial?: WorkflowDoc | undefined;
  readonly onDeployed: (name: string) => void;
}

/** The request inputs of a template's samples: `{ inputs }` bodies and bare maps alike. */
export function templateInputs(t: Template | undefined): unknown {
  const s = t?.sampleInputs as { inputs?: unknown } | undefined;
  if (s === undefined || s === null) return undefined;
  return typeof s === 'object' && 'inputs' in s ? s.inputs : s;
}

type Status = { kind: 'idle' } | { kind: 'busy'; what: string } | { kind: 'ok'; text: string } | { kind: 'error'; message: string; problems: Problem[] };

export function EditorPanel({ templates, templatesError, initial, onDeployed }: EditorPanelProps) {
  const [text, setText] = useState<string>(() => printJson(initial ?? templates[0]?.doc ?? { name: 'my-workflow', inputs: [], nodes: [], edges: [], outputs: [] }));
  const [status, setStatus] = useState<Status>({ kind: 'idle' });
  const [result, setResult] = useState<{ answer: RunAnswer; plan: string | null } | undefined>(undefined);
  const parsed = useMemo(() => parseJson(text), [text]);
  const doc = parsed.ok && parsed.value && typeof parsed.value === 'object' ? (parsed.value as WorkflowDoc) : undefined;

  /** The inputs a dry run sends: the template's with the same name, else generated from the document's input specs. */
  const inputsFor = (d: WorkflowDoc): unknown => templateInputs(templates.find((t) => t.name === d.name || t.doc.name === d.name)) ?? sampleInputs(d);

  const guarded = async (what: string, run: (d: WorkflowDoc) => Promise<void>): Promise<void> => {
    if (!parsed.ok) {
      setStatus({ kind: 'error', message: `the JSON does not parse (line ${parsed.line}, column ${parsed.column}): ${parsed.message}`, problems: [] });
      return;
    }
    if (!doc) {
      setStatus({ kind: 'error', message: 'the document must be a JSON object', problems: [] });
      return;
    }
    setStatus({ kind: 'busy', what });
    try {
      await run(doc);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, 'CLEAVE_E_BAD_ARGUMENT', (e as Error).message);
      setStatus({ kind: 'error', message: `${err.code}: ${err.message}`, problems: err.problems });
    }
  };

  const validate = () => guarded('validating', async (d) => {
    await api.validate(d);
    setStatus({ kind: 'ok', text: 'valid: the edge accepts this document' });
  });
  const dryRun = () => guarded('running once', async (d) => {
    const a = await api.dryRun(d, inputsFor(d));
    setResult({ answer: a.body, plan: a.body.plan ?? a.headers.get('x-cleave-plan') });
    setStatus({ kind: 'ok', text: 'dry run done: nothing was stored' });
  });
  const deploy = () => guarded('deploying', async (d) => {
    const a = await api.deploy(d);
    const v = a.body;
    setStatus({ kind: 'ok', text: v.unchanged ? `${v.name} v${v.version} is already deployed (unchanged)` : `deployed ${v.name} v${v.version}` });
    onDeployed(v.name);
  });

  const pickTemplate = (name: string): void => {
    const t = templates.find((x) => x.name === name);
    if (!t) return;
    setText(printJson(t.doc));
    setResult(undefined);
    setStatus({ kind: 'idle' });
  };

  const placements = result ? (result.answer.nodes ? placementsFromReports(result.answer.nodes) : parsePlanHeader(result.plan)) : new Map();
  const busy = status.kind === 'busy';
  return html`<section class="editor">
    <div class="toolbar">
      <label>Template <select id="template-select" onChange=${(e: Event) => pickTemplate((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">choose…</option>
        ${templates.map((t) => html`<option value=${t.name}>${t.title ?? t.name}</option>`)}
      </select></label>
      ${templatesError ? html`<span class="warn">templates: ${templatesError}</span>` : null}
      <span class="spacer"></span>
      <button type="button" id="validate" disabled=${busy} onClick=${validate}>Validate</button>
      <button type="button" id="dry-run" disabled=${busy} onClick=${dryRun}>Dry run</button>
      <button type="button" id="deploy" class="primary" disabled=${busy} onClick=${deploy}>Deploy</button>
    </div>
    <div class="status" aria-live="polite">
      ${status.kind === 'busy' ? html`<span class="busy">${status.what}…</span>` : null}
      ${status.kind === 'ok' ? html`<span class="ok" id="editor-ok">${status.text}</span>` : null}
      ${!parsed.ok ? html`<span class="error">JSON: line ${parsed.line}, column ${parsed.column}: ${parsed.message}</span>` : null}
    </div>
    ${status.kind === 'error' ? html`<${ProblemsList} problems=${status.problems} message=${status.message} />` : null}
    <div class="editor-grid">
      <${JsonEditor} value=${text} onInput=${(t: string) => { setText(t); if (status.kind !== 'busy') setStatus({ kind: 'idle' }); }} errorLine=${parsed.ok ? undefined : parsed.line} />
      <div class="editor-side">
        ${doc ? html`<${NodeForm} doc=${doc} onChange=${(d: WorkflowDoc) => setText(printJson(d))} />` : null}
        ${doc ? html`<${WorkflowGraph} doc=${doc} placements=${placements} idPrefix="preview" />` : null}
      </div>
    </div>
    ${result ? html`<${RunResult} title="dry run" answer=${result.answer} plan=${result.plan} />` : null}
  </section>`;
}
