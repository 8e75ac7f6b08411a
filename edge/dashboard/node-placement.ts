/**
 * What the dashboard shows of one node report (shared/workflow/executor.ts NodeReport): where the
 * node ran as a colour label, and the router's decision with its cost terms read back from the
 * one-line explanation (shared/router/placement.ts explain()). Runtime-neutral and pure.
 */
import { choiceOf } from '../../shared/observability/router-decisions.js';
import type { WorkflowNode } from '../../shared/workflow/definition.js';
import type { NodeReport } from '../../shared/workflow/executor.js';

/**
 * Where a node last ran: 'edge', 'cloud', `cut:<tensor>` or `cut:<tensor>+int8` (a split model),
 * 'exit' (the run exited early at this node), 'skipped' (an in-edge was dead, so it did not run).
 * Transforms, branches and loops run on the edge beside the data, so they show as 'edge'.
 */
export type NodePlacementLabel = 'edge' | 'cloud' | 'exit' | 'skipped' | `cut:${string}`;

/** The label of a report; undefined for a node cancelled mid-run (it neither ran nor was skipped). */
export function placementLabel(r: NodeReport): NodePlacementLabel | undefined {
  if (r.status === 'skipped') return 'skipped';
  if (r.status !== 'done') return undefined;
  if (r.exited === true) return 'exit';
  const p = r.placement;
  if (p === 'cloud') return 'cloud';
  // The executor writes an int8 cut as `cut:<t> int8`; the plan header and this label use `+`.
  if (p?.startsWith('cut:')) return p.replace(/ int8$/, '+int8') as NodePlacementLabel;
  return 'edge';
}

/** A router decision as the dashboard lists it. */
export interface NodeDecision {
  /** 'edge', 'cloud', `cut:<tensor>`, or 'exit' for a split model whose exit head answered at the cut. */
  readonly choice: string;
  /** What the router expected the node to take, ms. */
  readonly expectedMs: number;
  /** What it took, ms; only where that measures what was priced (see nodeDecision). */
  readonly actualMs?: number;
  /**
   * Every numeric `key=value` of the explanation: `total`, `head` (edge part of a split) or
   * `compute`, `rtt`, `up`, `queue`, `down` in ms; `vs:edge`, `vs:cloud` (the totals weighed
   * against, ms); flags `int8`, `prior`, `probe` as 1.
   */
  readonly terms: Readonly<Record<string, number>>;
}

/** Numeric terms of an explanation line (`tier=cloud; total=23.1; rtt=10.0; ...; vs edge=41.0; prior=1`). */
export function explanationTerms(explanation: string): Record<string, number> {
  const terms: Record<string, number> = {};
  for (const part of explanation.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().replace(/^vs\s+/, 'vs:');
    const value = part.slice(eq + 1).trim();
    // Numbers only: `tier=cloud`, `cut=<name>`, `policy=edge` and appended prose are not terms.
    if (key === '' || key === 'cut' || !/^-?\d+(\.\d+)?$/.test(value)) continue;
    terms[key] = Number(value);
  }
  return terms;
}

/**
 * The decision behind a report of a model or split-model node that ran; undefined for other
 * nodes and reports without an explanation. As in shared/observability/router-decisions.ts, the
 * choice is what the router decided (a cloud decision that fell back to the edge stays 'cloud'),
 * and `actualMs` is left out where the node's time does not measure what was priced: a degraded
 * node, one that ran inside a multi-node cloud subgraph, an exit at a cut.
 */
export function nodeDecision(node: WorkflowNode | undefined, r: NodeReport): NodeDecision | undefined {
  if (r.status !== 'done' || r.explanation === undefined || !node || (node.type !== 'model' && node.type !== 'split-model')) return undefined;
  const terms = explanationTerms(r.explanation);
  let choice = choiceOf(r.explanation) ?? r.placement?.replace(/ int8$/, '');
  if (choice === undefined) return undefined;
  const exitAtCut = node.type === 'split-model' && r.exited === true && node.params.exit?.head !== undefined && r.placement?.startsWith('cut:') === true;
  if (exitAtCut) choice = 'exit';
  const expectedMs = r.expectedMs ?? terms.total ?? 0;
  const comparable = !exitAtCut && r.degraded === undefined && r.subgraph === undefined && r.ms !== undefined;
  return { choice, expectedMs, ...(comparable ? { actualMs: r.ms! } : {}), terms };
}
