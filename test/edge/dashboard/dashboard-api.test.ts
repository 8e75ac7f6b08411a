// The dashboard's JSON endpoints through the real edge app (createEdgeNode, onnxruntime-node, the
// zoo's models, no cloud, a ManualClock): the overview, a deployed workflow's placements and
// decisions after two runs, the dry run (answers, stores nothing, refuses a broken document in
// the deploy's words), the templates, and the admin scope once API keys are configured.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NO_CLOUD } from '../../../edge/cloud-transport.js';
import { createEdgeNode, EDGE_NAME, EDGE_VERSION, type EdgeNode } from '../../../edge/edge-node.js';
import { createApiKey } from '../../../edge/tenants/api-key.js';
import { createEdgeSecurity } from '../../../edge/tenants/edge-security.js';
import { parseKeyFile } from '../../../edge/tenants/key-file.js';
import { routeAccess } from '../../../edge/tenants/route-scopes.js';
import { zooCatalogEntries } from '../../../edge/zoo-catalog.js';
import type { InferenceBackend } from '../../../shared/backend/backend.js';
import { ManualClock } from '../../../shared/time.js';
import { cryptoRandomBytes } from '../../../shared/trace.js';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import { TEXT_CASCADE } from '../../../shared/workflow/examples.js';
import { findWorkflowProblems } from '../../../shared/workflow/validate.js';
import type { Manifest } from '../../../shared/zoo/index.js';
import { zooSampleInputs } from '../../../shared/zoo/samples/index.js';
import { zooBackend } from '../../helpers/zoo-backend.js';

let manifest: Manifest;
let dir: string;
let ort: InferenceBackend;

beforeAll(async () => {
  ({ manifest, dir, ort } = await zooBackend());
}, 120_000);

const open: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

type Parts = Parameters<typeof createEdgeNode>[0];

/** The zoo's cnn-large as a model this edge holds and may cut (as the Node gateway offers its cloud-tier files). */
function cnnLargeSplittable(): NonNullable<Parts['splittable']> {
  const m = manifest.models.find((x) => x.name === 'cnn-large')!;
  const specs = (list: typeof m.inputs) => list.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) }));
  return [{ name: m.name, version: m.version, bytes: async () => new Uint8Array(await readFile(join(dir, m.file))), inputs: specs(m.inputs), outputs: specs(m.outputs) }];
}

function makeNode(security?: Parts['security'], splittable?: Parts['splittable']): EdgeNode {
  const clock = new ManualClock(0);
  const node = createEdgeNode({
    ...(splittable ? { splittable } : {}),
    backend: ort,
    models: zooCatalogEntries(manifest, { bytesOf: async (file) => new Uint8Array(await readFile(join(dir, file))), cloud: true }),
    cloud: NO_CLOUD, clock, timers: clock, random: cryptoRandomBytes, digest: (b) => createHash('sha256').update(b).digest(),
    wallClock: { now: () => Date.UTC(2026, 10, 21) },
    ...(security ? { security } : {}),
  });
  open.push(node);
  return node;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const post = (node: EdgeNode, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  Promise.resolve(node.app.request(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { ...JSON_HEADERS, ...headers } }));
const get = (node: EdgeNode, path: string, headers: Record<string, string> = {}): Promise<Response> => Promise.resolve(node.app.request(path, { headers }));

/** text-tiny on the edge; text-tiny-int8 behind an edge whose condition never holds, so it is always skipped. */
const GATED: WorkflowDefinition = {
  name: 'gated-text',
  inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }],
  nodes: [
    { id: 'first', type: 'model', params: { model: 'text-tiny', placement: 'edge' } },
    { id: 'second', type: 'model', params: { model: 'text-tiny-int8', placement: 'edge' } },
  ],
  edges: [{ source: 'input', target: 'first' }, { source: 'input', target: 'second' }, { source: 'first', target: 'second', when: 'max(softmax(logits)) > 2' }],
  outputs: [{ name: 'logits', from: 'second.logits', or: 'first.logits' }],
};

function textInputs(seed: number): Record<string, unknown> {
  const t = zooSampleInputs('text-tiny', 1, seed)!.input_ids!;
  return { input_ids: { dtype: 'int64', dims: [...t.dims], data: Array.from(t.data as BigInt64Array, Number) } };
}

const mlpBody = JSON.stringify({ inputs: { x: { dtype: 'float32', dims: [1, 64], data: Array.from({ length: 64 }, (_, i) => i / 64) } } });

interface Problems { code: string; message: string; detail: { problems: { at: string; message: string }[] } }

describe('dashboard endpoints on the edge app', () => {
  it('overview: the edge, link estimates, cache and each deployed workflow with runs and percentiles', async () => {
    const node = makeNode();
    expect((await post(node, '/v1/workflows', GATED)).status).toBe(201);
    for (const seed of [1, 2]) expect((await post(node, '/v1/workflows/gated-text/infer', { inputs: textInputs(seed) })).status).toBe(200);
    // A run with the wrong input is an error of a deployed workflow.
    expect((await post(node, '/v1/workflows/gated-text/infer', { inputs: { input_ids: { dtype: 'int64', dims: [1, 3], data: [1, 2, 3] } } })).status).toBe(400);
    // One miss then one hit in the result cache.
    for (let i = 0; i < 2; i++) expect((await post(node, '/v1/models/mlp-small/infer', mlpBody)).status).toBe(200);

    const r = await get(node, '/v1/dashboard/overview');
    expect(r.status).toBe(200);
    const o = (await r.json()) as Record<string, unknown>;
    expect(o.edge).toEqual({ name: EDGE_NAME, version: EDGE_VERSION, backend: 'onnxruntime-node' });
    expect(o.link).toMatchObject({ state: 'disabled', prior: true });
    const link = o.link as { rttMs: number; upMbps: number; downMbps: number };
    for (const v of [link.rttMs, link.upMbps, link.downMbps]) expect(v).toBeGreaterThan(0);
    expect(o.cache).toMatchObject({ hits: 1, misses: 1, hitRate: 0.5, entries: 1 });
    expect((o.cache as { bytes: number }).bytes).toBeGreaterThan(0);
    // The ManualClock does not move during a run: every total is 0 ms.
    expect(o.workflows).toEqual([{ name: 'gated-text', version: 1, runs: 3, errors: 1, p50Ms: 0, p99Ms: 0 }]);
  });

  it('a workflow run twice shows where each node ran and the decisions with their cost terms', async () => {
    const node = makeNode();
    expect((await post(node, '/v1/workflows', GATED)).status).toBe(201);
    const before = (await (await get(node, '/v1/dashboard/workflows/gated-text')).json()) as { nodes: { id: string; lastPlacement: unknown; runs: number; p50Ms: unknown }[]; series: unknown[] };
    expect(before.nodes).toEqual([
      { id: 'first', type: 'model', lastPlacement: null, runs: 0, p50Ms: null, p90Ms: null, p99Ms: null },
      { id: 'second', type: 'model', lastPlacement: null, runs: 0, p50Ms: null, p90Ms: null, p99Ms: null },
    ]);
    expect(before.series).toEqual([]);

    for (const seed of [3, 4]) expect((await post(node, '/v1/workflows/gated-text/infer', { inputs: textInputs(seed) })).status).toBe(200);
    const r = await get(node, '/v1/dashboard/workflows/gated-text');
    expect(r.status).toBe(200);
    const d = (await r.json()) as {
      name: string; version: number; doc: unknown;
      nodes: { id: string; lastPlacement: string | null; runs: number; p50Ms: number | null; lastDecision?: { choice: string; expectedMs: number; terms: Record<string, number>; at: number } }[];
      series: { at: number; totalMs: number; segments: Record<string, number> }[];
      decisions: { at: number; node: string; choice: string; expectedMs: number; terms: Record<string, number> }[];
    };
    expect(d).toMatchObject({ name: 'gated-text', version: 1, doc: GATED });
    const [first, second] = d.nodes;
    expect(first).toMatchObject({ id: 'first', lastPlacement: 'edge', runs: 2, p50Ms: 0 });
    expect(first!.lastDecision).toMatchObject({ choice: 'edge', at: Date.UTC(2026, 10, 21) });
    expect(Object.keys(first!.lastDecision!.terms)).toEqual(expect.arrayContaining(['total', 'compute']));
    expect(second).toMatchObject({ id: 'second', lastPlacement: 'skipped', runs: 0, p50Ms: null });
    expect(second).not.toHaveProperty('lastDecision');
    expect(d.series).toEqual([
      { at: Date.UTC(2026, 10, 21), totalMs: 0, segments: { edge: 0, cloud: 0 } },
      { at: Date.UTC(2026, 10, 21), totalMs: 0, segments: { edge: 0, cloud: 0 } },
    ]);
    expect(d.decisions.map((x) => `${x.node}:${x.choice}`)).toEqual(['first:edge', 'first:edge']);
    expect(d.decisions[0]!.terms.total).toBe(d.decisions[0]!.expectedMs);

    const missing = await get(node, '/v1/dashboard/workflows/no-such-flow');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('CLEAVE_E_NOT_FOUND');
    expect((await get(node, '/v1/dashboard/workflows/Not_A_Name')).status).toBe(400);
  });

  it('dry-runs a document once and stores nothing: no version, no deploy audit, no statistics', async () => {
    const node = makeNode();
    const doc = { ...TEXT_CASCADE, name: 'dry-only' };
    const r = await post(node, '/v1/workflows/dry-run', { doc, sample: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-cleave-plan')).toMatch(/^small=edge/);
    const j = (await r.json()) as { workflow: string; version: number; dryRun: boolean; outputs: Record<string, { dims: number[] }>; nodes: { node: string }[]; plan: string; placement: { node: string; choice: string; terms: Record<string, number>; explanation: string }[] };
    expect(j).toMatchObject({ workflow: 'dry-only', version: 0, dryRun: true });
    expect(j.outputs.logits!.dims).toEqual([1, 8]);
    expect(j.plan).toBe(r.headers.get('x-cleave-plan'));
    expect(j.placement[0]).toMatchObject({ node: 'small', choice: 'edge' });
    expect(j.placement[0]!.terms.total).toBeGreaterThanOrEqual(0);

    // With explicit inputs, as the infer endpoint takes them.
    expect((await post(node, '/v1/workflows/dry-run', { doc, inputs: textInputs(5) })).status).toBe(200);

    const list = (await (await get(node, '/v1/workflows')).json()) as { workflows: { name: string }[] };
    expect(list.workflows.map((w) => w.name)).not.toContain('dry-only');
    expect((await get(node, '/v1/dashboard/workflows/dry-only')).status).toBe(404);
    expect((await post(node, '/v1/workflows/dry-only/infer', { inputs: textInputs(5) })).status).toBe(404);
    const audit = (await (await get(node, '/v1/audit?action=workflow.dry-run')).json()) as { entries: { action: string; target: string; outcome: string }[] };
    expect(audit.entries).toHaveLength(2);
    expect(audit.entries[0]).toMatchObject({ action: 'workflow.dry-run', target: 'workflow/dry-only', outcome: 'ok' });
    const deploys = (await (await get(node, '/v1/audit?action=workflow.deploy')).json()) as { entries: unknown[] };
    expect(deploys.entries).toEqual([]);
  });

  it('refuses a broken document with the same 400 and problems as a deploy, and bad bodies by field', async () => {
    const node = makeNode();
    const broken = { ...GATED, name: 'broken', nodes: [GATED.nodes[0], { id: 'second', type: 'model', params: { model: 'no-such-model' } }], edges: [...GATED.edges, { source: 'second', target: 'first' }] };
    const deploy = await post(node, '/v1/workflows', broken);
    expect(deploy.status).toBe(400);
    const viaDeploy = (await deploy.json()) as Problems;
    const dry = await post(node, '/v1/workflows/dry-run', { doc: broken, sample: true });
    expect(dry.status).toBe(400);
    const viaDry = (await dry.json()) as Problems;
    expect(viaDry.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    expect(viaDry.detail.problems.length).toBeGreaterThan(1);
    expect(viaDry.detail.problems).toEqual(viaDeploy.detail.problems);
    expect(viaDry.message).toBe(viaDeploy.message);
    const audit = (await (await get(node, '/v1/audit?action=workflow.dry-run')).json()) as { entries: unknown[] };
    expect(audit.entries).toEqual([expect.objectContaining({ target: 'workflow/broken', outcome: 'error', code: 'CLEAVE_E_WORKFLOW_INVALID' })]);

    const expect400 = async (body: unknown, pattern: RegExp): Promise<void> => {
      const res = await post(node, '/v1/workflows/dry-run', body);
      expect(res.status).toBe(400);
      const e = (await res.json()) as { code: string; message: string };
      expect(e.message).toMatch(pattern);
    };
    await expect400({ inputs: {} }, /doc is missing/);
    await expect400({ doc: GATED }, /inputs is missing/);
    await expect400({ doc: GATED, sample: true, inputs: textInputs(1) }, /not both/);
    await expect400({ doc: GATED, sample: 'yes' }, /sample must be true or false/);
    await expect400({ doc: GATED, sample: true, deadlineMs: -1 }, /deadlineMs must be a number/);
    await expect400({ doc: GATED, sample: true, extra: 1 }, /unknown field "extra"/);
    await expect400('[1]', /must be an object/);
    await expect400({ doc: GATED, inputs: { input_ids: { dtype: 'int64', dims: [1, 3], data: [1, 2, 3] } } }, /input_ids/);
    const media = await Promise.resolve(node.app.request('/v1/workflows/dry-run', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } }));
    expect(media.status).toBe(415);
    const big = await post(node, '/v1/workflows/dry-run', JSON.stringify({ doc: GATED, sample: true, pad: 'x'.repeat(17 * 1024 * 1024) }));
    expect(big.status).toBe(413);
  });

  it('validateOnly gives the validator\'s verdict alone: the same problems, and nothing run for a good document', async () => {
    const node = makeNode();
    const broken = { ...GATED, name: 'broken', nodes: [GATED.nodes[0], { id: 'second', type: 'model', params: { model: 'no-such-model' } }] };
    const viaDeploy = (await (await post(node, '/v1/workflows', broken)).json()) as Problems;
    const bad = await post(node, '/v1/workflows/dry-run', { doc: broken, validateOnly: true });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Problems).detail.problems).toEqual(viaDeploy.detail.problems);
    const good = await post(node, '/v1/workflows/dry-run', { doc: GATED, validateOnly: true });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ name: GATED.name, valid: true, problems: [] });
    // Nothing ran: no plan header, and no model session was opened for it.
    expect(good.headers.get('x-cleave-plan')).toBeNull();
    expect(node.catalog.list().filter((e) => e.placement === 'edge').some((e) => node.catalog.isLoaded(e))).toBe(false);
    const refused = await post(node, '/v1/workflows/dry-run', { doc: GATED, validateOnly: true, sample: true });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/validateOnly runs nothing/);
  });

  it('prepares split models as a deploy does: a cut that is no cut point is refused alike, a good one runs', async () => {
    const node = makeNode(undefined, cnnLargeSplittable());
    const split = (cuts: string[][]): WorkflowDefinition => ({
      name: 'dry-split', inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
      nodes: [{ id: 'big', type: 'split-model', params: { model: 'cnn-large', cuts } }],
      edges: [{ source: 'input', target: 'big' }], outputs: [{ name: 'logits', from: 'big.logits' }],
    });
    const bad = split([['no.such.tensor']]);
    const viaDeploy = (await (await post(node, '/v1/workflows', bad)).json()) as Problems;
    const dry = await post(node, '/v1/workflows/dry-run', { doc: bad, sample: true });
    expect(dry.status).toBe(400);
    const viaDry = (await dry.json()) as Problems;
    expect(viaDry.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    expect(viaDry.detail.problems[0]!.at).toBe('nodes[0].params.cuts');
    expect(viaDry.detail.problems).toEqual(viaDeploy.detail.problems);

    const good = await post(node, '/v1/workflows/dry-run', { doc: split([['block3.pool_out']]), sample: true });
    expect(good.status).toBe(200);
    const j = (await good.json()) as { outputs: Record<string, { dims: number[] }>; placement: { node: string; choice: string; terms: Record<string, number> }[] };
    expect(j.outputs.logits!.dims).toEqual([1, 10]);
    // The edge holds cnn-large and the cloud is out: the router keeps it whole on the edge.
    expect(j.placement).toEqual([expect.objectContaining({ node: 'big', choice: 'edge' })]);
    expect((await get(node, '/v1/workflows/dry-split')).status).toBe(404);
  });

  it('lists the zoo templates: each validates with the real validator and its sample inputs run', async () => {
    const node = makeNode();
    const r = await get(node, '/v1/dashboard/templates');
    expect(r.status).toBe(200);
    const templates = (await r.json()) as { name: string; title: string; doc: WorkflowDefinition; sampleInputs: Record<string, { dtype: string; dims: number[]; data: unknown[] }> }[];
    expect(templates.map((t) => t.name)).toEqual(['voice-assistant', 'image-cascade', 'text-cascade']);
    for (const t of templates) {
      expect(t.title.length).toBeGreaterThan(0);
      expect(findWorkflowProblems(t.doc, node.workflows.models)).toEqual([]);
      expect(Object.keys(t.sampleInputs)).toEqual(t.doc.inputs.map((i) => i.name));
      for (const [name, s] of Object.entries(t.sampleInputs)) expect(s.dims[0], name).toBe(1);
      const run = await post(node, '/v1/workflows/dry-run', { doc: t.doc, inputs: t.sampleInputs });
      expect(run.status, t.name).toBe(200);
      const j = (await run.json()) as { outputs: Record<string, unknown>; workflow: string };
      expect(j.workflow).toBe(t.name);
      expect(Object.keys(j.outputs).sort()).toEqual(t.doc.outputs.map((o) => o.name).sort());
    }
  });
});

describe('dashboard route scopes', () => {
  it('needs admin for /v1/dashboard/* and the dry run, and only for those paths', () => {
    for (const [m, p] of [['GET', '/v1/dashboard'], ['GET', '/v1/dashboard/overview'], ['GET', '/v1/dashboard/workflows/x'], ['GET', '/v1/dashboard/templates'], ['POST', '/v1/dashboard/anything']]) {
      expect(routeAccess(m!, p!), `${m} ${p}`).toEqual({ scope: 'admin', holdsSlot: true });
    }
    expect(routeAccess('POST', '/v1/workflows/dry-run')).toEqual({ scope: 'admin', holdsSlot: true, audit: 'workflow.dry-run' });
    // A workflow may be named dry-run: reading and running it stay infer; deleting it stays an audited delete.
    expect(routeAccess('GET', '/v1/workflows/dry-run')?.scope).toBe('infer');
    expect(routeAccess('POST', '/v1/workflows/dry-run/infer')?.scope).toBe('infer');
    expect(routeAccess('DELETE', '/v1/workflows/dry-run')).toMatchObject({ scope: 'admin', audit: 'workflow.delete' });
    expect(routeAccess('GET', '/v1/dashboardx')?.scope).toBe('infer');
  });
});

describe('dashboard endpoints with API keys', () => {
  it('answer 403 to an infer-only key and 200 to an admin key', async () => {
    const user = await createApiKey({ random: cryptoRandomBytes, id: 'user' });
    const ops = await createApiKey({ random: cryptoRandomBytes, id: 'ops' });
    const keys = parseKeyFile(JSON.stringify({ tenants: [
      { id: 'acme', keys: [{ id: 'user', sha256: user.sha256, scopes: ['infer'] }] },
      { id: 'ops', keys: [{ id: 'ops', sha256: ops.sha256, scopes: ['infer', 'admin'] }] },
    ] }), 'keys.json');
    const clock = new ManualClock(0);
    const security = createEdgeSecurity({ keys, clock, wallClock: { now: () => Date.UTC(2026, 10, 21) } });
    const node = makeNode(security);
    const as = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
    expect((await post(node, '/v1/workflows', GATED, as(ops.key))).status).toBe(201);

    const dryBody = { doc: GATED, sample: true };
    for (const [key, status] of [[user.key, 403], [ops.key, 200]] as const) {
      for (const path of ['/v1/dashboard/overview', '/v1/dashboard/templates', '/v1/dashboard/workflows/gated-text']) {
        const r = await get(node, path, as(key));
        expect(r.status, `${path} ${status}`).toBe(status);
        if (status === 403) expect(((await r.json()) as { code: string }).code).toBe('CLEAVE_E_FORBIDDEN');
      }
      expect((await post(node, '/v1/workflows/dry-run', dryBody, as(key))).status).toBe(status);
    }
    // No key at all: 401, as on every guarded route.
    expect((await get(node, '/v1/dashboard/overview')).status).toBe(401);
    // The infer key still runs the workflow.
    expect((await post(node, '/v1/workflows/gated-text/infer', { inputs: textInputs(1) }, as(user.key))).status).toBe(200);
    const audit = security.audit.recent({ action: 'workflow.dry-run' });
    expect(audit.map((e) => `${e.tenant}:${e.outcome}:${e.code ?? ''}`)).toEqual(['ops:ok:', 'acme:error:CLEAVE_E_FORBIDDEN']);
  });
});
