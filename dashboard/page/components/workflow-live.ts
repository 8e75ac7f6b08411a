/**
 * The live view of one deployed workflow: its graph coloured by where each node last ran, the
 * selected node's percentiles and last decision, latency charts and the last decisions, all from
 * GET /v1/dashboard/workflows/:name (polled). "Run sample" sends one request from the page and
 * colours the graph from that run's own answer at once, until the edge reports a newer decision.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import type { NodeStats, RunAnswer, Template, WorkflowDetail } from '../api-types.js';
import { html } from '../html.js';
import { parsePlacement, parsePlanHeader, placementsFromReports, type NodePlacement } from '../placement.js';
import { sampleInputs } from '../sample-inputs.js';
import { DecisionsTable } from './decisions-table.js';
import { templateInputs } from './editor-panel.js';
import { LatencyCharts } from './latency-charts.js';
import { NodeDetails } from './node-details.js';
import { RunResult } from './run-result.js';
import { WorkflowGraph } from './workflow-graph.js';

/** A run made from this page. `at` is the wall clock (ms since the epoch) when its answer came. */
export interface PageRun {
  readonly name: string;
  readonly at: number;
  readonly answer: RunAnswer;
  readonly plan: string | null;
  readonly placementHeader: string | null;
}

export interface WorkflowLiveProps {
  readonly name: string;
  readonly detail: WorkflowDetail | undefined;
  readonly error: Error | undefined;
  readonly templates: readonly Template[];
  readonly lastRun: PageRun | undefined;
  readonly onRun: (run: PageRun) => void;
  readonly onEdit: () => void;
}

/**
 * Placement per node: the edge's last decision, unless this page's own run is newer (the poll
 * may not have seen it yet).
 */
export function mergePlacements(nodes: readonly NodeStats[], run: PageRun | undefined): Map<string, NodePlacement> {
  const out = new Map<string, NodePlacement>();
  for (const n of nodes) out.set(n.id, parsePlacement(n.lastPlacement));
  if (!run) return out;
  const mine = run.answer.nodes ? placementsFromReports(run.answer.nodes) : parsePlanHeader(run.plan);
  for (const [id, p] of mine) {
    const theirs = nodes.find((n) => n.id === id)?.lastDecision?.at;
    if (theirs === undefined || theirs <= run.at) out.set(id, p);
  }
  return out;
}

export function WorkflowLive({ name, detail, error, templates, lastRun, onRun, onEdit }: WorkflowLiveProps) {
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [running, setRunning] = useState(false);
  const [runError, setRunError] = useState<string | undefined>(undefined);
  const run = lastRun?.name === name ? lastRun : undefined;

  if (!detail) {
    return html`<section class="live"><h2>${name}</h2>${error ? html`<p class="error">${(error as ApiError).code ?? ''} ${error.message}</p>` : html`<p class="muted">loading…</p>`}</section>`;
  }
  const nodes = detail.nodes ?? [];
  const stats = new Map(nodes.map((n) => [n.id, n]));
  const placements = mergePlacements(nodes, run);

  const runSample = async (): Promise<void> => {
    setRunning(true);
    setRunError(undefined);
    try {
      const t = templates.find((x) => x.name === name || x.doc.name === name);
      const inputs = templateInputs(t) ?? sampleInputs(detail.doc);
      const a = await api.run(name, inputs);
      onRun({ name, at: Date.now(), answer: a.body, plan: a.headers.get('x-cleave-plan'), placementHeader: a.headers.get('x-cleave-placement') });
    } catch (e) {
      setRunError(e instanceof ApiError ? `${e.code}: ${e.message}` : (e as Error).message);
    } finally {
      setRunning(false);
    }
  };

  const sel = selected !== undefined ? detail.doc.nodes?.find((n) => n.id === selected) : undefined;
  const selStats = selected !== undefined ? stats.get(selected) : undefined;
  const selPlacement = selected !== undefined ? placements.get(selected) : undefined;
  return html`<section class="live" data-live=${name}>
    <div class="toolbar">
      <h2>${name} <small>v${detail.version}</small></h2>
      <span class="spacer"></span>
      <button type="button" id="run-sample" class="primary" disabled=${running} onClick=${runSample}>${running ? 'Running…' : 'Run sample'}</button>
      <button type="button" class="secondary" onClick=${onEdit}>Edit</button>
    </div>
    ${error ? html`<p class="warn">last refresh failed: ${error.message}</p>` : null}
    ${runError ? html`<p class="error" id="run-error">${runError}</p>` : null}
    <div class="live-grid">
      <${WorkflowGraph} doc=${detail.doc} placements=${placements} stats=${stats} selected=${selected} onSelect=${setSelected} idPrefix="live" />
      ${selected !== undefined ? html`<${NodeDetails} id=${selected} type=${sel?.type} placement=${selPlacement} stats=${selStats}
        explanation=${run?.answer.nodes?.find((n) => n.node === selected)?.explanation} />` : html`<p class="muted hint">click a node for its percentiles and last decision.</p>`}
    </div>
    ${run ? html`<${RunResult} title="run from this page" answer=${run.answer} plan=${run.plan} placementHeader=${run.placementHeader} />` : null}
    <h3>Latency</h3>
    <${LatencyCharts} detail=${detail} nodeStats=${nodes} />
    <h3>Last decisions</h3>
    <${DecisionsTable} decisions=${detail.decisions ?? []} />
  </section>`;
}
