// The workflow API through `app.request()`: mounted under /v1/workflows in a parent app whose
// onError answers as the edge's does (errorBody with the code's status), as createEdgeApp's will.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { workflowRoutes, type WorkflowAuditEvent } from '../../edge/workflow-routes.js';
import { toCleaveError } from '../../shared/errors.js';
import { errorBody } from '../../shared/kserve/index.js';
import { ManualClock } from '../../shared/time.js';
import { MemoryWorkflowStore } from '../../shared/workflow/store.js';
import { fakeModels } from '../helpers/workflow-docs.js';

const cascade = {
  name: 'image-cascade',
  description: 'cnn-small on the edge, cnn-large when it is unsure',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  nodes: [
    { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0.9' } } },
    { id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
  ],
  edges: [
    { source: 'input', target: 'small' },
    { source: 'input', target: 'big' },
    { source: 'small', target: 'big', when: 'max(softmax(logits)) < 0.9' },
  ],
  outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
};

/** Three distinct problems: an unknown model, a cycle, a condition that does not parse. */
const broken = {
  name: 'broken',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  nodes: [
    { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge' } },
    { id: 'ghost', type: 'model', params: { model: 'no-such-model' } },
    { id: 'a', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'logits' } },
    { id: 'b', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'logits' } },
  ],
  edges: [
    { source: 'input', target: 'small' },
    { source: 'input', target: 'ghost' },
    { source: 'small', target: 'a', when: 'max(softmax(logits) >= ' },
    { source: 'a', target: 'b' },
    { source: 'b', target: 'a' },
  ],
  outputs: [{ name: 'logits', from: 'small.logits' }],
};

function setup(opts: { maxBodyBytes?: number; store?: MemoryWorkflowStore } = {}) {
  const store = opts.store ?? new MemoryWorkflowStore();
  const clock = new ManualClock(1_700_000_000_000);
  const events: WorkflowAuditEvent[] = [];
  const app = new Hono();
  app.onError((err, c) => {
    const e = toCleaveError(err);
    return c.json(errorBody(e), e.httpStatus as 400);
  });
  app.route('/v1/workflows', workflowRoutes({ store, models: fakeModels, clock, maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024, audit: (e) => events.push(e) }));
  const deploy = (doc: unknown, query = '', headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    app.request(`/v1/workflows${query}`, { method: 'POST', headers, body: typeof doc === 'string' ? doc : JSON.stringify(doc) });
  return { app, store, clock, events, deploy };
}

async function json(res: Response): Promise<any> {
  return res.json();
}

describe('POST /v1/workflows', () => {
  it('deploys a valid document: 201, Location, and GET returns it', async () => {
    const { app, deploy, events } = setup();
    const res = await deploy(cascade);
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/v1/workflows/image-cascade?version=1');
    const body = await json(res);
    expect(body).toEqual({ name: 'image-cascade', version: 1, digest: expect.stringMatching(/^[0-9a-f]{64}$/), unchanged: false });

    const got = await app.request('/v1/workflows/image-cascade');
    expect(got.status).toBe(200);
    expect(await json(got)).toEqual({ name: 'image-cascade', version: 1, digest: body.digest, deployedAt: 1_700_000_000_000, definition: cascade });
    expect(events).toEqual([{ event: 'workflow.deploy', name: 'image-cascade', version: 1, digest: body.digest, unchanged: false, at: 1_700_000_000_000 }]);
  });

  it('answers a re-deploy of the same document 200 unchanged, and a changed one as version 2', async () => {
    const { app, deploy, clock } = setup();
    const first = await json(await deploy(cascade));
    clock.advance(1000);
    const same = await deploy(cascade);
    expect(same.status).toBe(200);
    expect(await json(same)).toEqual({ ...first, unchanged: true });

    const changed = await deploy({ ...cascade, description: 'v2' });
    expect(changed.status).toBe(201);
    expect(changed.headers.get('location')).toBe('/v1/workflows/image-cascade?version=2');
    expect((await json(changed)).version).toBe(2);
    expect((await json(await app.request('/v1/workflows/image-cascade'))).definition.description).toBe('v2');
    expect((await json(await app.request('/v1/workflows/image-cascade?version=1'))).definition.description).toBe(cascade.description);
  });

  it('takes replicas from the query: 1..64', async () => {
    const { app, deploy } = setup();
    const res = await deploy(cascade, '?replicas=3');
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({ version: 1, replicas: 3 });
    expect((await json(await app.request('/v1/workflows/image-cascade'))).replicas).toBe(3);
    for (const bad of ['0', '65', '-1', '1.5', 'two', '']) {
      const r = await deploy(cascade, `?replicas=${bad}`);
      expect(r.status, bad).toBe(400);
      expect((await json(r)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    }
  });

  it('lists every problem of an invalid document: 400 CLEAVE_E_WORKFLOW_INVALID', async () => {
    const { app, deploy, events } = setup();
    const res = await deploy(broken);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    expect(body.error).toBe(body.message);
    expect(body.message).toContain('workflow "broken" has 3 problems');
    expect(body.detail.problems).toEqual([
      { at: 'nodes[1].params.model', message: expect.stringContaining('"no-such-model"') },
      { at: 'node "a"', message: expect.stringContaining('cycle a -> b -> a') },
      { at: 'edges[2].when', message: expect.stringContaining('does not parse') },
    ]);
    expect(events).toEqual([]);
    expect((await app.request('/v1/workflows/broken')).status).toBe(404);
  });

  it('reports shape problems the same way, with their JSON paths', async () => {
    const { deploy } = setup();
    const body = await json(await deploy({ ...cascade, name: 'Bad Name', extra: 1 }));
    expect(body.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    expect(body.detail.problems.map((p: { at: string }) => p.at).sort()).toEqual(['(document)', 'name']);
    expect(body.detail.problems.find((p: { at: string }) => p.at === 'name').message).toContain('lower-case');
  });

  it('refuses other content types with 415 CLEAVE_E_MEDIA_TYPE', async () => {
    const { deploy } = setup();
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}]) {
      const res = await deploy(cascade, '', headers as Record<string, string>);
      expect(res.status).toBe(415);
      expect((await json(res)).code).toBe('CLEAVE_E_MEDIA_TYPE');
    }
    expect((await deploy(cascade, '', { 'content-type': 'Application/JSON; charset=utf-8' })).status).toBe(201);
  });

  it('refuses a body over maxBodyBytes with 413, declared or streamed', async () => {
    const { deploy } = setup({ maxBodyBytes: 256 });
    const res = await deploy(cascade);
    expect(res.status).toBe(413);
    expect((await json(res)).code).toBe('CLEAVE_E_TOO_LARGE');
    const { app } = setup({ maxBodyBytes: 256 });
    const big = JSON.stringify(cascade);
    const stream = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
    const streamed = await app.request('/v1/workflows', { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('answers malformed JSON 400 with the position', async () => {
    const { deploy } = setup();
    const res = await deploy('{"name": "x",, }');
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(body.message).toContain('not valid JSON');
    expect(body.detail.position).toBe(13);
    expect((await deploy('[1, 2]')).status).toBe(400);
  });

  it('refuses a new workflow past the store limit', async () => {
    const { deploy } = setup({ store: new MemoryWorkflowStore({ limits: { maxWorkflows: 1 } }) });
    await deploy(cascade);
    const res = await deploy({ ...cascade, name: 'second' });
    expect(res.status).toBe(413);
    expect((await json(res)).message).toContain('maxWorkflows');
  });
});

describe('GET /v1/workflows', () => {
  it('lists names with their versions', async () => {
    const { app, deploy, clock } = setup();
    expect(await json(await app.request('/v1/workflows'))).toEqual({ workflows: [] });
    await deploy(cascade);
    clock.advance(5);
    await deploy({ ...cascade, description: undefined });
    await deploy({ ...cascade, name: 'another' });
    expect(await json(await app.request('/v1/workflows'))).toEqual({
      workflows: [
        { name: 'another', latestVersion: 1, versions: [1], deployedAt: 1_700_000_000_005, description: cascade.description },
        { name: 'image-cascade', latestVersion: 2, versions: [1, 2], deployedAt: 1_700_000_000_005 },
      ],
    });
  });
});

describe('GET /v1/workflows/:name', () => {
  it('answers an unknown name 404 CLEAVE_E_NOT_FOUND listing the known names', async () => {
    const { app, deploy } = setup();
    await deploy(cascade);
    const res = await app.request('/v1/workflows/nope');
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body.code).toBe('CLEAVE_E_NOT_FOUND');
    expect(body.message).toBe('no workflow "nope"; known: image-cascade');
    expect(body.detail.known).toEqual(['image-cascade']);
  });

  it('answers a missing version 404 naming the versions held, and a malformed one 400', async () => {
    const { app, deploy } = setup();
    await deploy(cascade);
    const missing = await app.request('/v1/workflows/image-cascade?version=7');
    expect(missing.status).toBe(404);
    expect((await json(missing)).detail.versions).toEqual([1]);
    for (const bad of ['0', 'x', '-1', '1e3']) {
      const r = await app.request(`/v1/workflows/image-cascade?version=${bad}`);
      expect(r.status, bad).toBe(400);
      expect((await json(r)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    }
    expect((await app.request('/v1/workflows/Not_A_Name')).status).toBe(400);
  });
});

describe('DELETE /v1/workflows/:name', () => {
  it('deletes one version, then the workflow: 204, then 404', async () => {
    const { app, deploy, events } = setup();
    await deploy(cascade);
    await deploy({ ...cascade, description: 'v2' });
    const one = await app.request('/v1/workflows/image-cascade?version=2', { method: 'DELETE' });
    expect(one.status).toBe(204);
    expect(await one.text()).toBe('');
    expect((await json(await app.request('/v1/workflows/image-cascade'))).version).toBe(1);
    expect((await app.request('/v1/workflows/image-cascade?version=2', { method: 'DELETE' })).status).toBe(404);
    expect((await app.request('/v1/workflows/image-cascade', { method: 'DELETE' })).status).toBe(204);
    expect((await app.request('/v1/workflows/image-cascade')).status).toBe(404);
    const gone = await app.request('/v1/workflows/image-cascade', { method: 'DELETE' });
    expect(gone.status).toBe(404);
    expect((await json(gone)).message).toBe('no workflow "image-cascade"; no workflows are deployed');
    expect(events.filter((e) => e.event === 'workflow.delete')).toEqual([
      { event: 'workflow.delete', name: 'image-cascade', version: 2, at: 1_700_000_000_000 },
      { event: 'workflow.delete', name: 'image-cascade', at: 1_700_000_000_000 },
    ]);
  });
});
