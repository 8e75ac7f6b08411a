/**
 * Profiles a workflow document for `cleave profile`: each model it runs is profiled once
 * (profile-model.ts; the cut table only for models a split-model node cuts), and the workflow's
 * critical path is priced per link and batch size by the executor's own criticalPathMs over a
 * runtime that answers placements from the profile with the router's cost model. Nothing runs
 * the workflow itself: a profile needs no edge and no inputs for it.
 */
import { CleaveError } from '../../shared/errors.js';
import { explain } from '../../shared/router/placement.js';
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import { compileWorkflow, criticalPathMs } from '../../shared/workflow/executor.js';
import type { ModelPlacement, SplitPlacement, WorkflowRuntime } from '../../shared/workflow/runtime.js';
import { validateWorkflow } from '../../shared/workflow/validate.js';
import { lookupOf, zooModels } from '../workflow-models.js';
import { profileModel, resolveModel, type ModelMeasurements, type ProfileModelOptions } from './profile-model.js';
import { decideSplit, decideStage, recommend } from './recommend.js';
import type { CriticalPath, LinkProfile, ModelProfile, WorkflowNodeProfile, WorkflowProfile } from './report.js';

/**
 * A WorkflowRuntime that only places: model and split nodes are priced from `models` on `link`.
 * Running anything is a bug here (criticalPathMs never does), so those methods throw.
 */
export function profileRuntime(models: Readonly<Record<string, ModelProfile>>, link: LinkProfile): WorkflowRuntime {
  const profile = (node: string, model: string): ModelProfile => {
    const p = models[model];
    if (!p) throw new CleaveError('CLEAVE_E_NOT_FOUND', `workflow node "${node}" runs model "${model}", which was not profiled`, { node, model });
    return p;
  };
  const notHere = (): never => {
    throw new CleaveError('CLEAVE_E_INTERNAL', 'the profile runtime prices placements; it does not run models', {});
  };
  return {
    now: () => 0,
    placeModel(q): ModelPlacement {
      const d = decideStage(profile(q.node, q.model), link, q.batch, q.policy, q.bytesIn);
      return { tier: d.tier, explanation: explain(d), expectedMs: d.expectedMs };
    },
    placeSplit(q): SplitPlacement {
      const only = q.cuts ? new Set(q.cuts.filter((c) => c.length === 1).map((c) => c[0]!)) : undefined;
      const d = decideSplit(profile(q.node, q.model), link, q.batch, { ...(only ? { only } : {}), ...(q.pinned !== undefined ? { pinned: q.pinned } : {}) });
      return { cut: d.cut, int8: d.int8, explanation: explain(d), expectedMs: d.expectedMs };
    },
    splitParts: notHere,
    runEdge: notHere,
    runCloud: notHere,
    edgeStandIn: () => undefined,
  };
}

/**
 * Profiles every model of `doc` (validated against the zoo first), then prices recommendations and
 * the critical path on the links `linksAfter` gives once the measurements are in.
 */
export async function profileWorkflow(
  file: string, doc: unknown, linksAfter: () => readonly LinkProfile[], opts: ProfileModelOptions,
): Promise<WorkflowProfile> {
  const lookup = lookupOf(zooModels());
  const def: WorkflowDefinition = validateWorkflow(doc, lookup);
  const nodes: WorkflowNodeProfile[] = def.nodes.map((n) => ({
    node: n.id, type: n.type,
    ...(n.type === 'model' || n.type === 'split-model' ? { model: n.params.model } : {}),
    ...(n.type === 'model' ? { policy: n.params.placement ?? 'auto' } : {}),
  }));
  const cut = new Set(def.nodes.filter((n) => n.type === 'split-model').map((n) => n.params.model));
  const names = [...new Set(nodes.flatMap((n) => (n.model !== undefined ? [n.model] : [])))];
  const measured: ModelMeasurements[] = [];
  for (const name of names) measured.push(await profileModel(await resolveModel(name, opts.progress), { ...opts, cuts: cut.has(name) }));
  // Priced only now: the measured link learns its bandwidth from the models' own cloud runs.
  const links = linksAfter();
  const models: Record<string, ModelProfile> = {};
  for (const m of measured) models[m.model] = { ...m, recommendations: recommend(m, links) };
  const compiled = compileWorkflow(def, lookup);
  const criticalPaths: CriticalPath[] = [];
  for (const link of links) {
    const runtime = profileRuntime(models, link);
    for (const batch of opts.batches) {
      const r = criticalPathMs(compiled, runtime, batch);
      criticalPaths.push({ link: link.name, batch, ms: r.ms, path: r.path });
    }
  }
  return { name: def.name, file, nodes, models, criticalPaths };
}
