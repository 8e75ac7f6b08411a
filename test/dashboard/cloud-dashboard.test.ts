/**
 * The cloud's own dashboard view on a real cloud server (cloud/dashboard-routes.ts): the overview
 * JSON (models with state and batching, executed batches by size, the connected edges) after real
 * protocol runs, the same page bundle served in "cloud" mode, and both behind the cloud's token
 * when one is configured.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCloud } from '../../cli/cloud-client.js';
import { SESSION_COOKIE, cookieValue } from '../../shared/dashboard/dashboard-routes.js';
import type { CloudOverview } from '../../dashboard/page/api-types.js';
import { hostTensor } from '../../shared/tensor.js';
import type { ProtocolClient } from '../../shared/protocol/client.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'cloud-dashboard-test-token-0123456789';

describe('the cloud dashboard', () => {
  let open: TestCloud | undefined;
  let guarded: TestCloud | undefined;
  let client: ProtocolClient | undefined;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'bin/build-dashboard.mjs')], { cwd: ROOT, stdio: 'ignore', timeout: 30_000 });
    [open, guarded] = await Promise.all([startTestCloud(), startTestCloud({ tokens: TOKEN })]);
    client = await connectCloud(open.wsUrl);
    // Eight concurrent requests: the batcher runs them as one or more batches.
    const x = hostTensor('float32', [1, 64], new Float32Array(64).fill(0.25));
    await Promise.all(Array.from({ length: 8 }, () => client!.run({ model: 'mlp-small', inputs: { x }, deadlineMs: 30_000 }).promise));
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await Promise.all([open?.stop(), guarded?.stop()]);
  });

  it('reports the models, their batching and the connected edges', async () => {
    const res = await fetch(`${open!.httpUrl}/v1/dashboard/overview`);
    expect(res.status).toBe(200);
    const o = await res.json() as CloudOverview;
    expect(o.cloud).toMatchObject({ name: 'cleave-cloud', device: 'cpu', ready: true });
    expect(o.cloud.memoryInUse).toBeGreaterThan(0);
    const mlp = o.models.find((m) => m.name === 'mlp-small' && m.version === 2)!;
    expect(mlp.state).toBe('READY');
    expect(mlp.queued).toBe(0);
    expect(mlp.batchSize).toBeGreaterThanOrEqual(1);
    // Each batch is counted under the smallest bound its rows fit, so count x bound over the
    // buckets is at least the eight rows that ran; and a batch holds at most 8 of them.
    const batches = Object.entries(mlp.batches ?? {}).map(([le, n]) => [Number(le), n] as const);
    expect(batches.reduce((rows, [le, n]) => rows + le * n, 0)).toBeGreaterThanOrEqual(8);
    expect(batches.filter(([le, n]) => le > 8 && n > 0)).toEqual([]);
    expect(o.models.map((m) => m.name)).toEqual(expect.arrayContaining(['text-tiny', 'cnn-small', 'slow']));
    expect(o.edges).toHaveLength(1);
    expect(o.edges[0]).toMatchObject({ remote: expect.stringMatching(/127\.0\.0\.1/), inFlight: 0 });
    expect(Math.abs(o.edges[0]!.connectedAt - Date.now())).toBeLessThan(120_000);
  });

  it('serves the same page bundle drawn in cloud mode, with the CSP', async () => {
    const res = await fetch(`${open!.httpUrl}/dashboard/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).toContain('data-mode="cloud"');
    expect(html).not.toContain('data-mode="edge"');
    expect((await fetch(`${open!.httpUrl}/dashboard/app.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('needs the token when one is configured: 401 for the data, the login form for a browser', async () => {
    const base = guarded!.httpUrl;
    const refused = await fetch(`${base}/v1/dashboard/overview`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'CLEAVE_E_UNAUTHORIZED' });
    expect((await fetch(`${base}/v1/dashboard/overview`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const nav = await fetch(`${base}/dashboard/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(nav.status).toBe(303);
    expect(nav.headers.get('location')).toBe('/dashboard/login');
    const bad = await fetch(`${base}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'wrong' }) });
    expect(bad.status).toBe(401);
    const good = await fetch(`${base}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: TOKEN }) });
    expect(good.status).toBe(200);
    const cookie = `${SESSION_COOKIE}=${cookieValue(good.headers.get('set-cookie') ?? '', SESSION_COOKIE)}`;
    expect((await fetch(`${base}/dashboard/app.js`, { headers: { cookie } })).status).toBe(200);
  });
});
