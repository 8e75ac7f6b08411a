/**
 * The workflow API: deploy, list, read and delete workflow documents. A Hono sub-app, mounted
 * with `app.route('/v1/workflows', workflowRoutes(deps))`:
 *
 *   POST   /v1/workflows[?replicas=n]        deploy a WorkflowDefinition (application/json)
 *                                            201 { name, version, digest, unchanged: false } + Location
 *                                            200 the same for an unchanged re-deploy (unchanged: true)
 *   GET    /v1/workflows                     { workflows: [{ name, latestVersion, versions, deployedAt, description? }] }
 *   GET    /v1/workflows/:name[?version=v]   the stored record: { name, version, digest, deployedAt, replicas?, definition }
 *   DELETE /v1/workflows/:name[?version=v]   204; every version when none is given
 *
 * Errors are thrown as CleaveError and answered by the parent app's onError (edge/app.ts), so
 * they have the edge's one shape, `{ error, code, message, detail }`, with the status of their
 * code and the request id; this sub-app sets no handler of its own, which Hono would prefer
 * over the parent's. A document with problems is 400 CLEAVE_E_WORKFLOW_INVALID whose
 * `detail.problems` lists every problem as `{ at, message }`.
 *
 * Every deploy and delete, refused ones too, goes to the audit log when one is given (`auditLog`)
 * with the tenant and key of the request (edge/tenants); with keys configured both need the
 * `admin` scope, which the app's guard checks before these handlers run.
 *
 * Limits: the body is at most `maxBodyBytes` (413 CLEAVE_E_TOO_LARGE, refused on a declared
 * Content-Length before reading); replicas 1..64 (MAX_WORKFLOW_REPLICAS); the store's own
 * limits (shared/workflow/store.ts) on workflows and versions. `/:name/infer` and `/:name/plan`
 * belong to the workflow executor and are not defined here.
 */
import { Hono, type Context } from 'hono';
import { CleaveError } from '../shared/errors.js';
import { DEFAULT_KSERVE_LIMITS } from '../shared/kserve/limits.js';
import { JSON_CONTENT_TYPE, splitBody } from '../shared/kserve/framing.js';
import type { Clock } from '../shared/time.js';
import { WorkflowSchema, type WorkflowDefinition } from '../shared/workflow/definition.js';
import type { StoredWorkflow, WorkflowStore } from '../shared/workflow/store.js';
import { checkWorkflowName } from '../shared/workflow/store.js';
import { findWorkflowProblems, problemsError, type ModelLookup } from '../shared/workflow/validate.js';
import { mediaType, webBodyReader, type BodyReader } from './body-reader.js';
import { DEFAULT_TENANT, type RequestContext } from './request-context.js';
import type { AuditLog, AuditRecord } from './tenants/audit-log.js';
import { principalOf } from './tenants/http-guard.js';

/** Where the lead mounts these routes; `Location` headers point under it. */
export const WORKFLOWS_PATH = '/v1/workflows';

/** Most replicas a deploy may ask for. */
export const MAX_WORKFLOW_REPLICAS = 64;

/** Most known names quoted in a 404 (the full list is `GET /v1/workflows`). */
const MAX_NAMES_QUOTED = 20;

/** One change made through the API, for an audit log. */
export interface WorkflowAuditEvent {
  readonly event: 'workflow.deploy' | 'workflow.delete';
  readonly name: string;
  /** The version deployed (or answered unchanged), or deleted; absent when a delete removed every version. */
  readonly version?: number;
  readonly digest?: string;
  /** Deploys only: true when nothing changed. */
  readonly unchanged?: boolean;
  readonly replicas?: number;
  /** `clock.now()` when it happened, ms. */
  readonly at: number;
}

/** What the workflow routes need. */
export interface WorkflowRoutesDeps {
  readonly store: WorkflowStore;
  /** The models documents are validated against (the catalog, plus what the cloud offers). */
  readonly models: ModelLookup;
  /** A wall clock (ms since the epoch, e.g. `{ now: Date.now }`): deployedAt is persisted and read after restarts. */
  readonly clock: Clock;
  /** Largest document, bytes (e.g. 1 MiB: a document at the schema's limits is far smaller). */
  readonly maxBodyBytes: number;
  /** How request bodies are read; default the WHATWG stream (edge/body-reader.ts). */
  readonly readBody?: BodyReader;
  /** Told about every deploy and delete; default none. */
  readonly audit?: (event: WorkflowAuditEvent) => void;
  /** Records every deploy and delete, refused ones included, with who asked; default none. */
  readonly auditLog?: AuditLog;
}

/** The workflow API as a Hono sub-app (see the module comment). */
export function workflowRoutes(deps: WorkflowRoutesDeps): Hono {
  const app = new Hono();
  const { store, models, clock } = deps;
  const readBody = deps.readBody ?? webBodyReader;
  const audit = deps.audit ?? (() => undefined);

  /** Appends to the audit log: `run`'s outcome, or its error's code (then rethrows it). */
  const audited = async <T>(c: Context, action: 'workflow.deploy' | 'workflow.delete', target: () => string, run: () => Promise<{ result: T; detail?: AuditRecord['detail'] }>): Promise<T> => {
    const log = deps.auditLog;
    if (!log) return (await run()).result;
    const p = principalOf(c);
    const vars = c as unknown as { get(key: string): unknown };
    const requestId = ((vars.get('ctx') ?? vars.get('id')) as Pick<RequestContext, 'requestId'> | undefined)?.requestId;
    const who = { tenant: p?.tenant ?? DEFAULT_TENANT, ...(p ? { keyId: p.keyId } : {}), ...(requestId !== undefined ? { requestId } : {}) };
    try {
      const { result, detail } = await run();
      log.append({ ...who, action, target: target(), outcome: 'ok', ...(detail ? { detail } : {}) });
      return result;
    } catch (e) {
      log.append({ ...who, action, target: target(), outcome: 'error', code: e instanceof CleaveError ? e.code : 'CLEAVE_E_INTERNAL' });
      throw e;
    }
  };

  app.post('/', async (c) => {
    // The document's name once it is known, for the audit entry of a refused deploy.
    let name = '?';
    let version: number | undefined;
    return audited(c, 'workflow.deploy', () => `workflow/${name}${version !== undefined ? `@${version}` : ''}`, async () => {
      const contentType = mediaType(c.req.header('content-type'));
      if (contentType !== JSON_CONTENT_TYPE) {
        throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `content type ${JSON.stringify(contentType ?? '(none)')} is not read here; send the workflow document as ${JSON_CONTENT_TYPE}`, { field: 'content-type' });
      }
      const replicas = parseReplicas(c.req.query('replicas'));
      const body = await readBody(c, deps.maxBodyBytes);
      // The KServe reader gives the same messages as inference bodies: bad UTF-8, bad JSON with its position, not an object.
      const { json: doc } = splitBody(body, undefined, { ...DEFAULT_KSERVE_LIMITS, maxBodyBytes: deps.maxBodyBytes }, 'workflow document');
      const docName = (doc as { name?: unknown } | null)?.name;
      if (typeof docName === 'string') name = docName.slice(0, 64);
      const def = checkWorkflowDocument(doc, models);
      const stored = await store.put(def, { deployedAt: clock.now(), ...(replicas !== undefined ? { replicas } : {}) });
      audit({
        event: 'workflow.deploy', name: stored.name, version: stored.version, digest: stored.digest, unchanged: stored.unchanged, at: clock.now(),
        ...(stored.replicas !== undefined ? { replicas: stored.replicas } : {}),
      });
      version = stored.version;
      c.header('location', `${WORKFLOWS_PATH}/${stored.name}?version=${stored.version}`);
      return {
        result: c.json({
          name: stored.name, version: stored.version, digest: stored.digest, unchanged: stored.unchanged,
          ...(stored.replicas !== undefined ? { replicas: stored.replicas } : {}),
        }, stored.unchanged ? 200 : 201),
        detail: { digest: stored.digest, unchanged: stored.unchanged, ...(stored.replicas !== undefined ? { replicas: stored.replicas } : {}) },
      };
    });
  });

  app.get('/', async (c) => c.json({ workflows: await store.list() }));

  app.get('/:name', async (c) => {
    const { name, version } = target(c);
    return c.json(recordJson(await found(name, version)));
  });

  app.delete('/:name', async (c) => {
    const raw = c.req.param('name') ?? '';
    const v = c.req.query('version');
    return audited(c, 'workflow.delete', () => `workflow/${raw.slice(0, 64)}${v !== undefined ? `@${v.slice(0, 12)}` : ''}`, async () => {
      const { name, version } = target(c);
      // The same 404 as GET, naming the known names or versions.
      if (!(await store.delete(name, version))) await found(name, version);
      audit({ event: 'workflow.delete', name, at: clock.now(), ...(version !== undefined ? { version } : {}) });
      return { result: c.body(null, 204) };
    });
  });

  /** The record, or CLEAVE_E_NOT_FOUND naming what is there instead. */
  async function found(name: string, version: number | undefined): Promise<StoredWorkflow> {
    const r = await store.get(name, version);
    if (r !== undefined) return r;
    const latest = version === undefined ? undefined : await store.get(name);
    if (latest !== undefined) {
      const held = (await store.list()).find((s) => s.name === name)?.versions ?? [latest.version];
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `workflow "${name}" has no version ${version ?? ''}; versions held: ${held.join(', ')}`, { name, versions: held });
    }
    const names = (await store.list()).map((s) => s.name);
    const quoted = names.slice(0, MAX_NAMES_QUOTED);
    const known = names.length === 0 ? 'no workflows are deployed' : `known: ${quoted.join(', ')}${names.length > quoted.length ? `, ... (${names.length} in all)` : ''}`;
    throw new CleaveError('CLEAVE_E_NOT_FOUND', `no workflow "${name}"; ${known}`, { name, known: quoted });
  }

  return app;
}

/**
 * The document as a definition, or 400 CLEAVE_E_WORKFLOW_INVALID with every problem in
 * `detail.problems` as `{ at, message }`: the deploy's check, shared with the dashboard's dry run
 * (edge/dashboard/dashboard-api-routes.ts) so both refuse a document in the same words.
 */
export function checkWorkflowDocument(doc: unknown, models: ModelLookup): WorkflowDefinition {
  const problems = findWorkflowProblems(doc, models);
  if (problems.length > 0) {
    throw new CleaveError('CLEAVE_E_WORKFLOW_INVALID', problemsError(doc, problems).message, {
      problems: problems.map((p) => ({ at: p.at, message: p.message })),
    });
  }
  // findWorkflowProblems found none, so the shape parses.
  return WorkflowSchema.parse(doc);
}

/** The name and version a `/:name[?version=]` request names; CLEAVE_E_BAD_ARGUMENT when malformed. */
function target(c: Context): { name: string; version: number | undefined } {
  const name = c.req.param('name') ?? '';
  checkWorkflowName(name);
  return { name, version: parseVersion(c.req.query('version')) };
}

function recordJson(r: StoredWorkflow): Record<string, unknown> {
  return {
    name: r.name, version: r.version, digest: r.digest, deployedAt: r.deployedAt,
    ...(r.replicas !== undefined ? { replicas: r.replicas } : {}),
    definition: r.definition,
  };
}

/** `?version=`: undefined when absent; a positive integer of at most 9 digits, else CLEAVE_E_BAD_ARGUMENT. */
function parseVersion(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(s)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow version ${JSON.stringify(s.slice(0, 40))} is not a positive integer`, { field: 'version' });
  return Number(s);
}

/** `?replicas=`: undefined when absent; an integer 1..MAX_WORKFLOW_REPLICAS, else CLEAVE_E_BAD_ARGUMENT. */
function parseReplicas(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = /^[1-9][0-9]{0,2}$/.test(s) ? Number(s) : NaN;
  if (!(n <= MAX_WORKFLOW_REPLICAS)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `replicas ${JSON.stringify(s.slice(0, 40))} must be an integer from 1 to ${MAX_WORKFLOW_REPLICAS}`, { field: 'replicas', limit: MAX_WORKFLOW_REPLICAS });
  }
  return n;
}

