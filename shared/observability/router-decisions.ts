/**
 * Router decisions as metric observations: what was chosen (a bounded label), whether it was a
 * probe, and how far the router's expected latency was from what the request then took.
 * Runtime-neutral and pure, so both the edge's single-model path and the workflow executor's
 * node reports feed the same metrics the same way.
 *
 * Label values stay bounded: `choice` is 'edge', 'cloud', 'exit' or `cut:<tensor>`, where the
 * tensor comes from the model's finite candidate set (`cleave split --list`, or the workflow's
 * `cuts`); the int8 variant of a cut counts as its cut. `model` comes from the catalog or a
 * deployed (validated) workflow.
 */
import type { WorkflowDefinition } from '../workflow/definition.js';
import type { NodeReport } from '../workflow/executor.js';

/** What a decision placed. */
export type DecisionKind = 'model' | 'workflow-node';

/** The tier an estimate was for: 'split' is a cut with a head on the edge and a tail in the cloud. */
export type EstimateTier = 'edge' | 'cloud' | 'split';

/** One decision as the metrics count it. */
export interface DecisionObservation {
  readonly kind: DecisionKind;
  readonly model: string;
  /** 'edge', 'cloud', 'exit' or `cut:<tensor>`. */
  readonly choice: string;
  /** The router sent this request to a tier it would not choose, to measure it again. */
  readonly probe: boolean;
  /** Present when the run is comparable with its estimate (see estimateOf). */
  readonly estimate?: EstimateObservation;
}

/** How the router's estimate compared with the run. */
export interface EstimateObservation {
  readonly tier: EstimateTier;
  readonly expectedMs: number;
  readonly actualMs: number;
  /** A term of the decision came from a prior (no measurement yet), so the estimate was a guess. */
  readonly prior: boolean;
}

/** actual / expected and |actual - expected| in seconds; undefined when either is not a positive finite number. */
export function estimateError(expectedMs: number, actualMs: number): { ratio: number; absSeconds: number } | undefined {
  if (!(expectedMs > 0) || !(actualMs >= 0) || !Number.isFinite(expectedMs) || !Number.isFinite(actualMs)) return undefined;
  return { ratio: actualMs / expectedMs, absSeconds: Math.abs(actualMs - expectedMs) / 1000 };
}

/**
 * The choice an explanation line states (`tier=cloud; ...`, `cut=block3.pool_out; ...`,
 * `cut=edge; ...`), as a label value; undefined when it states none. Cut names in explanations
 * are percent-encoded (shared/router/placement.ts explain()); they are decoded back.
 */
export function choiceOf(explanation: string | undefined): string | undefined {
  if (explanation === undefined) return undefined;
  const m = /^(tier|cut)=([^;]*)/.exec(explanation);
  if (!m) return undefined;
  const value = safeDecode(m[2]!.trim());
  if (m[1] === 'tier') return value === 'edge' || value === 'cloud' ? value : undefined;
  return value === 'edge' || value === 'cloud' ? value : `cut:${value}`;
}

/** The choice label of a report's placement ('edge', 'cloud', 'cut:<t>' or 'cut:<t> int8'). */
function choiceOfPlacement(placement: string | undefined): string | undefined {
  if (placement === 'edge' || placement === 'cloud') return placement;
  if (placement?.startsWith('cut:')) return placement.replace(/ int8$/, '');
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The decisions of one workflow run, from its node reports: one per model or split-model node
 * that ran (loop bodies once per iteration). The choice is what the router decided (read from
 * the explanation, so a cloud decision that fell back to the edge still counts as cloud), or
 * 'exit' for a split node whose exit head answered at the cut (the tail never ran).
 *
 * An estimate is attached only where the node's time measures what was priced: not for nodes
 * that ran in a multi-node cloud subgraph (each was priced alone, the chain shares one call),
 * degraded nodes (something else ran), exits at a cut (the tail was priced but never ran), or
 * placements made with the link down (priced at 0).
 */
export function workflowDecisions(def: WorkflowDefinition, nodes: readonly NodeReport[]): DecisionObservation[] {
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  const out: DecisionObservation[] = [];
  for (const r of nodes) {
    if (r.status !== 'done') continue;
    const n = byId.get(r.node);
    if (!n || (n.type !== 'model' && n.type !== 'split-model')) continue;
    let choice = choiceOf(r.explanation) ?? choiceOfPlacement(r.placement);
    if (choice === undefined) continue;
    const exitAtCut = n.type === 'split-model' && r.exited === true && n.params.exit?.head !== undefined && r.placement?.startsWith('cut:') === true;
    if (exitAtCut) choice = 'exit';
    const probe = r.explanation?.includes('probe=1') === true;
    const comparable = !exitAtCut && r.degraded === undefined && r.subgraph === undefined && r.expectedMs !== undefined && r.ms !== undefined;
    const tier: EstimateTier = choice.startsWith('cut:') ? 'split' : choice === 'edge' ? 'edge' : 'cloud';
    out.push({
      kind: 'workflow-node', model: n.params.model, choice, probe,
      ...(comparable && r.expectedMs! > 0 ? { estimate: { tier, expectedMs: r.expectedMs!, actualMs: r.ms!, prior: r.explanation?.includes('prior=1') === true } } : {}),
    });
  }
  return out;
}
