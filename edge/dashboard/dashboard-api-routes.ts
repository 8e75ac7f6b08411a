/**
 * The JSON endpoints the dashboard page reads (docs/dashboard-api.md), a Hono sub-app mounted at
 * the root with `app.route('/', dashboardApiRoutes(deps))`:
 *
 *   GET  /v1/dashboard/overview          the edge, the link estimates, the result cache and every
 *                                        deployed workflow's runs, errors and p50/p99 total
 *   GET  /v1/dashboard/workflows/:name   one workflow: its document, per node where it last ran,
 *                                        its run count and p50/p90/p99, the last decisions with
 *                                        their cost terms, the last 300 runs' totals and segments
 *   GET  /v1/dashboard/templates         the zoo pipelines as documents with sample inputs
 *   POST /v1/workflows/dry-run           { doc, inputs? | sample: true, deadlineMs? }: validated as
 *                                        a deploy is, prepared, run once, stored nowhere;
 *                                        { doc, validateOnly: true }: the validation alone, nothing run
 *
 * With API keys configured every one needs the `admin` scope (edge/tenants/route-scopes.ts): they
 * show documents, placements and timings, and a dry run runs what it is given. Errors are thrown
 * as CleaveError for the parent app's onError, as in edge/workflow-routes.ts.
 *
 * Limits: the dry run's body is at most `maxBodyBytes` (413) and is read with the native
 * endpoint's tensor limits; its run has a deadline of at most `maxDryRunDeadlineMs` (504
 * CLEAVE_E_DEADLINE past it). Everything the GETs answer is bounded by the recorder's windows
 * (edge/dashboard/run-recorder.ts) and the store's limits.
 */
import { Hono, type Context } from 'hono';
import { CleaveError } from '../../shared/errors.js';
import { JSON_CONTENT_TYPE, splitBody } from '../../shared/kserve/framing.js';
import { DEFAULT_KSERVE_LIMITS } from '../../shared/kserve/limits.js';
import type { ProtocolLimits } from '../../shared/protocol/constants.js';
import type { TensorMap } from '../../shared/protocol/frames.js';
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import type { WorkflowResult } from '../../shared/workflow/executor.js';
import { checkWorkflowName, type WorkflowStore } from '../../shared/workflow/store.js';
import { mediaType, webBodyReader, type BodyReader } from '../body-reader.js';
import type { CloudTransport } from '../cloud-transport.js';
import type { LiveEstimates } from '../live-estimates.js';
import { parseNativeRequest } from '../native-codec.js';
import { DEFAULT_TENANT, type RequestContext } from '../request-context.js';
import type { ResultCacheStats } from '../result-cache.js';
import type { AuditLog, AuditRecord } from '../tenants/audit-log.js';
import { principalOf } from '../tenants/http-guard.js';
import { checkWorkflowDocument } from '../workflow-routes.js';
import { placementHeader, planHeader, resultJson, runServerTiming } from '../workflow-run-routes.js';
import type { WorkflowService } from '../workflow-service.js';
import { nodeDecision } from './node-placement.js';
import type { DashboardRecorder } from './run-recorder.js';
import { workflowSampleInputs } from './sample-inputs.js';
import { workflowTemplates } from './templates.js';

/** Default and largest budget of a dry run, ms: a dry run is a person waiting at a form, not a batch job. */
export const DRY_RUN_MAX_DEADLINE_MS = 30_000;

/** Fields a dry-run body may have. */
const DRY_RUN_FIELDS = ['doc', 'inputs', 'sample', 'deadlineMs', 'validateOnly'] as const;

/** What the dashboard endpoints read. */
export interface DashboardApiDeps {
  readonly recorder: DashboardRecorder;
  /** Runs dry runs; its `models` is the validator's model lookup, as the deploy route's. */
  readonly service: Pick<WorkflowService, 'dryRun' | 'models'>;
  /** The deployed workflows (read only here). */
  readonly store: Pick<WorkflowStore, 'get' | 'list'>;
  readonly estimates: LiveEstimates;
  readonly cloud: Pick<CloudTransport, 'status'>;
  readonly cache: { stats(): ResultCacheStats };
  /** For the overview's `edge`. */
  readonly edge: { readonly name: string; readonly version: string; readonly backend: string };
  /** Largest dry-run body, bytes (the edge's body limit, as for inference). */
  readonly maxBodyBytes: number;
  /** Tensor limits of the dry run's `inputs` (the native endpoint's). */
  readonly limits: Partial<ProtocolLimits>;
  /** Largest (and default) dry-run budget, ms. Default DRY_RUN_MAX_DEADLINE_MS (30000). */
  readonly maxDryRunDeadlineMs?: number;
  readonly readBody?: BodyReader;
  /** Records each dry run as `workflow.dry-run`, refused ones included; default none. */
  readonly auditLog?: AuditLog;
}

/** The dashboard's JSON endpoints (see the file comment). */
export function dashboardApiRoutes(deps: DashboardApiDeps): Hono {
  const app = new Hono();
  const readBody = deps.readBody ?? webBodyReader;
  const maxDeadline = deps.maxDryRunDeadlineMs ?? DRY_RUN_MAX_DEADLINE_MS;

  app.get('/v1/dashboard/overview', async (c) => {
    const link = deps.estimates.link.snapshot();
    const cache = deps.cache.stats();
    const lookups = cache.hits + cache.misses;
    const workflows = (await deps.store.list()).map((w) => {
      const s = deps.recorder.summary(w.name);
      return { name: w.name, version: w.latestVersion, runs: s?.runs ?? 0, errors: s?.errors ?? 0, p50Ms: s?.p50Ms ?? null, p99Ms: s?.p99Ms ?? null };
    });
    return c.json({
      edge: deps.edge,
      link: { state: deps.cloud.status().state, rttMs: link.rttMs, upMbps: link.upBitsPerSec / 1e6, downMbps: link.downBitsPerSec / 1e6, prior: link.priorUsed },
      cache: { hits: cache.hits, misses: cache.misses, hitRate: lookups === 0 ? 0 : cache.hits / lookups, bytes: cache.bytes, entries: cache.entries },
      workflows,
    }, 200, { 'cache-control': 'no-store' });
  });

  app.get('/v1/dashboard/workflows/:name', async (c) => {
    const name = c.req.param('name');
    checkWorkflowName(name);
    const stored = await deps.store.get(name);
    if (!stored) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `no workflow "${name}" is deployed; GET /v1/dashboard/overview lists those that are`, { name });
    }
    const d = deps.recorder.detail(name);
    const nodes = stored.definition.nodes.map((n) => {
      const s = d?.nodes.get(n.id);
      return {
        id: n.id, type: n.type, lastPlacement: s?.lastPlacement ?? null, runs: s?.runs ?? 0,
        p50Ms: s?.p50Ms ?? null, p90Ms: s?.p90Ms ?? null, p99Ms: s?.p99Ms ?? null,
        ...(s?.lastDecision ? { lastDecision: { choice: s.lastDecision.choice, expectedMs: s.lastDecision.expectedMs, terms: s.lastDecision.terms, at: s.lastDecision.at } } : {}),
      };
    });
    return c.json({
      name: stored.name, version: stored.version, doc: stored.definition, nodes,
      series: d?.series ?? [], decisions: d?.decisions ?? [],
    }, 200, { 'cache-control': 'no-store' });
  });

  app.get('/v1/dashboard/templates', (c) => c.json(workflowTemplates()));

  app.post('/v1/workflows/dry-run', async (c) => {
    let name = '?';
    return audited(c, deps.auditLog, () => `workflow/${name}`, async () => {
      const contentType = mediaType(c.req.header('content-type'));
      if (contentType !== JSON_CONTENT_TYPE) {
        throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `content type ${JSON.stringify(contentType ?? '(none)')} is not read here; send the dry run as ${JSON_CONTENT_TYPE}: { doc, inputs } or { doc, sample: true }`, { field: 'content-type' });
      }
      const body = await readBody(c, deps.maxBodyBytes);
      const { json } = splitBody(body, undefined, { ...DEFAULT_KSERVE_LIMITS, maxBodyBytes: deps.maxBodyBytes }, 'dry-run request');
      const req = dryRunRequest(json);
      const docName = (req.doc as { name?: unknown } | null)?.name;
      if (typeof docName === 'string') name = docName.slice(0, 64);
      // The deploy's own check: the same 400 with the same problems for the same document.
      const def = checkWorkflowDocument(req.doc, deps.service.models);
      // A form's Validate button: the verdict without running models or calling the cloud. Split
      // cuts are checked when they are prepared (a dry run or a deploy), not here.
      if (req.validateOnly) {
        return { response: c.json({ name: def.name, valid: true, problems: [] }, 200, { 'cache-control': 'no-store' }), detail: { validateOnly: true } };
      }
      const inputs = req.sample ? workflowSampleInputs(def) : parseInputs(req.inputs, deps.limits);
      const deadlineMs = Math.min(req.deadlineMs ?? def.deadlineMs ?? maxDeadline, maxDeadline);
      const result = await deps.service.dryRun(def, inputs, { deadlineMs, signal: c.req.raw.signal });
      return {
        response: c.json(dryRunJson(def, result), 200, {
          'x-cleave-plan': planHeader(result.nodes),
          'x-cleave-placement': placementHeader(result.nodes),
          'server-timing': runServerTiming(result),
          'cache-control': 'no-store',
        }),
        detail: { totalMs: result.totalMs, ...(result.exitedAt !== undefined ? { exitedAt: result.exitedAt } : {}), ...(req.sample ? { sample: true } : {}) },
      };
    });
  });

  return app;
}

interface DryRunRequest {
  readonly doc: unknown;
  readonly inputs?: unknown;
  readonly sample: boolean;
  readonly deadlineMs?: number;
  /** Validate only: no inputs, nothing run. */
  readonly validateOnly: boolean;
}

/** The body's fields, checked; CLEAVE_E_BAD_ARGUMENT naming the first wrong one. */
function dryRunRequest(json: unknown): DryRunRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `a dry-run request must be a JSON object { doc, inputs } or { doc, sample: true }, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`, { field: '' });
  }
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(DRY_RUN_FIELDS as readonly string[]).includes(k)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `unknown field ${JSON.stringify(k.slice(0, 64))} in the dry-run request; expected ${DRY_RUN_FIELDS.join(', ')}`, { field: k.slice(0, 64) });
    }
  }
  if (o.doc === undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'doc is missing: give the workflow document to dry-run, as POST /v1/workflows takes it', { field: 'doc' });
  const validateOnly = o.validateOnly;
  if (validateOnly !== undefined && typeof validateOnly !== 'boolean') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `validateOnly must be true or false, got ${JSON.stringify(validateOnly).slice(0, 40)}`, { field: 'validateOnly' });
  if (validateOnly === true) {
    if (o.inputs !== undefined || o.sample !== undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'validateOnly runs nothing: give no inputs and no sample with it', { field: o.inputs !== undefined ? 'inputs' : 'sample' });
    return { doc: o.doc, sample: false, validateOnly: true };
  }
  const sample = o.sample;
  if (sample !== undefined && typeof sample !== 'boolean') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `sample must be true or false, got ${JSON.stringify(sample).slice(0, 40)}`, { field: 'sample' });
  if (sample === true && o.inputs !== undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'give inputs or sample: true, not both', { field: 'inputs' });
  if (sample !== true && o.inputs === undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'inputs is missing: give a map of input name to tensor, or sample: true for generated sample inputs', { field: 'inputs' });
  const d = o.deadlineMs;
  if (d !== undefined && !(typeof d === 'number' && Number.isFinite(d) && d > 0)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `deadlineMs must be a number of milliseconds > 0, got ${JSON.stringify(d).slice(0, 40)}`, { field: 'deadlineMs' });
  }
  return { doc: o.doc, sample: sample === true, validateOnly: false, ...(o.inputs !== undefined ? { inputs: o.inputs } : {}), ...(d !== undefined ? { deadlineMs: d as number } : {}) };
}

/** `inputs` read exactly as POST /v1/workflows/:name/infer reads its own (same limits, same messages). */
function parseInputs(inputs: unknown, limits: Partial<ProtocolLimits>): TensorMap {
  return parseNativeRequest(new TextEncoder().encode(JSON.stringify({ inputs })), 'json', limits).inputs;
}

/** The infer answer (version 0: nothing was stored), plus the plan header's text and each decision with its cost terms. */
function dryRunJson(def: WorkflowDefinition, result: WorkflowResult): Record<string, unknown> {
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  const placement = result.nodes.flatMap((r) => {
    const d = nodeDecision(byId.get(r.node), r);
    return d ? [{ node: r.node, ...d, explanation: r.explanation! }] : [];
  });
  return { ...resultJson(def.name, 0, result), dryRun: true, plan: planHeader(result.nodes), placement };
}

/** Runs `run` and appends its outcome to the audit log as `workflow.dry-run` (an error's code, then rethrows it). */
async function audited(c: Context, log: AuditLog | undefined, target: () => string, run: () => Promise<{ response: Response; detail: AuditRecord['detail'] }>): Promise<Response> {
  if (!log) return (await run()).response;
  const p = principalOf(c);
  const vars = c as unknown as { get(key: string): unknown };
  const requestId = ((vars.get('ctx') ?? vars.get('id')) as Pick<RequestContext, 'requestId'> | undefined)?.requestId;
  const who = { tenant: p?.tenant ?? DEFAULT_TENANT, ...(p ? { keyId: p.keyId } : {}), ...(requestId !== undefined ? { requestId } : {}) };
  try {
    const { response, detail } = await run();
    log.append({ ...who, action: 'workflow.dry-run', target: target(), outcome: 'ok', ...(detail ? { detail } : {}) });
    return response;
  } catch (e) {
    log.append({ ...who, action: 'workflow.dry-run', target: target(), outcome: 'error', code: e instanceof CleaveError ? e.code : 'CLEAVE_E_INTERNAL' });
    throw e;
  }
}
