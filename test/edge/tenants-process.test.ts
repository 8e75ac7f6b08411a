/**
 * Tenants and security on real processes: a `cleave edge` child process with a key file, linked
 * with rotating tokens (cloudSecret) to a real cloud server that accepts them (linkSecrets).
 * Keys (401), scopes and tenant headers (403), the tenant-scoped cache, rate limits and
 * concurrency quotas (429 with Retry-After), the audit log, a refused deploy that leaves nothing
 * behind, and the cloud refusing a link token minted from the wrong secret.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectCloud } from '../../cli/cloud-client.js';
import { nodeCloudLink } from '../../edge/node-socket.js';
import { createApiKey, type MintedApiKey } from '../../edge/tenants/api-key.js';
import type { AuditEntry } from '../../edge/tenants/audit-log.js';
import { linkTokenProvider, mintLinkToken } from '../../shared/auth/link-token.js';
import { isCleaveError } from '../../shared/errors.js';
import { hostTensor } from '../../shared/tensor.js';
import { cryptoRandomBytes } from '../../shared/trace.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';

const CURRENT = 'link-secret-current-0123456789abcdef';
const PREVIOUS = 'link-secret-previous-0123456789abcdef';

interface ErrorJson { code: string; message: string; detail: Record<string, unknown> }

let seed = 0;
/** An mlp-small input no other request sent, as a KServe v2 JSON body. */
function freshBody(): string {
  seed++;
  const data = Array.from({ length: 64 }, (_, i) => Math.fround(Math.cos(seed * 3.7 + i * 0.11)));
  return JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data }] });
}

async function until<T>(what: string, ms: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await attempt();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tenants and security on a Node edge process', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cleave-tenants-'));
  let cloud: TestCloud | undefined;
  let edge: EdgeProcess | undefined;
  const keys: Record<'acme' | 'beta' | 'slow' | 'ops', MintedApiKey> = {} as never;

  beforeAll(async () => {
    for (const t of ['acme', 'beta', 'slow', 'ops'] as const) keys[t] = await createApiKey({ random: cryptoRandomBytes, id: `${t}-1` });
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ tenants: [
      { id: 'acme', keys: [{ id: 'acme-1', sha256: keys.acme.sha256, scopes: ['infer'] }], maxConcurrent: 1 },
      { id: 'beta', keys: [{ id: 'beta-1', sha256: keys.beta.sha256, scopes: ['infer'] }] },
      // 0.1 request/s: after the burst of 2, the next token is about 10 s away.
      { id: 'slow', keys: [{ id: 'slow-1', sha256: keys.slow.sha256, scopes: ['infer'] }], rateLimit: { requestsPerSecond: 0.1, burst: 2 } },
      { id: 'ops', keys: [{ id: 'ops-1', sha256: keys.ops.sha256, scopes: ['infer', 'admin'] }] },
    ] }));
    // Mid-rotation: the cloud accepts the new secret and the old one; this edge still mints from the old.
    cloud = await startTestCloud({ linkSecrets: `${CURRENT},${PREVIOUS}`, tokens: 'a-static-token-for-services' });
    edge = await startEdgeProcess([], {
      env: { CLEAVE_API_KEYS_FILE: file, CLEAVE_CLOUD_URL: cloud.wsUrl, CLEAVE_CLOUD_SECRET: PREVIOUS, CLEAVE_EDGE_ID: 'gw-test' },
    });
  }, 120_000);

  afterAll(async () => {
    await edge?.stop();
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (p: string): string => `${edge!.url}${p}`;
  const auth = (k: MintedApiKey): Record<string, string> => ({ authorization: `Bearer ${k.key}` });
  const infer = (headers: Record<string, string>, body = freshBody()): Promise<Response> =>
    fetch(url('/v2/models/mlp-small/infer'), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const status = async (): Promise<{ link: { state: string }; tenants: { tenant: string; inFlight: number }[] }> =>
    (await (await fetch(url('/v1/status'), { headers: auth(keys.ops) })).json()) as never;

  it('keeps health open and answers 401 with a Bearer challenge without a key or with a wrong one', async () => {
    expect((await fetch(url('/v2/health/live'))).status).toBe(200);
    expect((await fetch(url('/v2'))).status).toBe(200);
    const none = await infer({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as ErrorJson).code).toBe('CLEAVE_E_UNAUTHORIZED');
    const secret = keys.acme.key.slice('ck_acme-1_'.length);
    const wrong = await infer({ authorization: `Bearer ck_acme-1_${secret.split('').reverse().join('')}` });
    expect(wrong.status).toBe(401);
    const body = (await wrong.json()) as ErrorJson;
    expect(body.message).toContain('"acme-1" is not valid');
    expect(body.message).not.toContain(secret);
    expect((await infer({ 'x-api-key': keys.beta.key })).status).toBe(200);
  });

  it('scopes the result cache to the key\'s tenant: the same input from two tenants is two misses', async () => {
    const body = freshBody();
    const a1 = await infer(auth(keys.acme), body);
    expect(a1.status).toBe(200);
    expect(a1.headers.get('x-cleave-cache')).toBe('miss');
    expect((await infer(auth(keys.acme), body)).headers.get('x-cleave-cache')).toBe('hit');
    expect((await infer(auth(keys.beta), body)).headers.get('x-cleave-cache')).toBe('miss');
    expect((await infer(auth(keys.beta), body)).headers.get('x-cleave-cache')).toBe('hit');
    // A key cannot borrow another tenant's cache by naming it.
    const borrowed = await infer({ ...auth(keys.beta), 'x-cleave-tenant': 'acme' }, body);
    expect(borrowed.status).toBe(403);
    expect(((await borrowed.json()) as ErrorJson).code).toBe('CLEAVE_E_FORBIDDEN');
  });

  it('answers 429 with Retry-After once a tenant spends its burst', async () => {
    expect((await infer(auth(keys.slow))).status).toBe(200);
    expect((await infer(auth(keys.slow))).status).toBe(200);
    const r = await infer(auth(keys.slow));
    expect(r.status).toBe(429);
    const retry = Number(r.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(9);
    expect(retry).toBeLessThanOrEqual(10);
    const body = (await r.json()) as ErrorJson;
    expect(body.code).toBe('CLEAVE_E_RATE_LIMITED');
    expect(body.detail).toMatchObject({ tenant: 'slow', retryAfterS: retry, reason: 'rate' });
  });

  it('answers 429 while another request of the tenant holds its only slot, and serves it once the slot is free', async () => {
    const body = freshBody();
    // A request whose body is still on its way holds acme's one slot.
    const held = httpRequest(url('/v2/models/mlp-small/infer'), { method: 'POST', headers: { 'content-type': 'application/json', ...auth(keys.acme) } });
    const response = new Promise<IncomingMessage>((resolve, reject) => { held.on('response', resolve); held.on('error', reject); });
    held.write(body.slice(0, 20));
    await until('acme holding a slot', 10_000, async () => ((await status()).tenants.find((t) => t.tenant === 'acme')?.inFlight === 1 ? true : undefined));
    const refused = await infer(auth(keys.acme));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as ErrorJson).detail).toMatchObject({ reason: 'concurrency', maxConcurrent: 1 });
    // Another tenant is not affected.
    expect((await infer(auth(keys.beta))).status).toBe(200);
    held.end(body.slice(20));
    const res = await response;
    res.resume();
    expect(res.statusCode).toBe(200);
    await until('acme slot released', 10_000, async () => ((await status()).tenants.find((t) => t.tenant === 'acme')?.inFlight === 0 ? true : undefined));
    expect((await infer(auth(keys.acme))).status).toBe(200);
  });

  it('keeps /metrics, /v1/status and /v1/audit for admin keys', async () => {
    expect((await fetch(url('/metrics'))).status).toBe(401);
    const forbidden = await fetch(url('/metrics'), { headers: auth(keys.acme) });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as ErrorJson).message).toContain('needs the "admin" scope');
    const metrics = await fetch(url('/metrics'), { headers: auth(keys.ops) });
    expect(metrics.status).toBe(200);
    // The refusals above are counted: one without a key (tenant unknown), one for acme's missing scope.
    const text = await metrics.text();
    expect(Number(/cleave_edge_tenant_rejections_total\{reason="unauthorized",tenant="unknown"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/cleave_edge_tenant_rejections_total\{reason="forbidden",tenant="acme"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect((await fetch(url('/v1/status'), { headers: auth(keys.beta) })).status).toBe(403);
    expect((await fetch(url('/v1/audit?limit=0'), { headers: auth(keys.ops) })).status).toBe(400);
  });

  it('needs the admin scope to deploy, audits deploys and deletes, and stores nothing from a refused deploy', async () => {
    const doc = {
      name: 'tenant-doc', inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
      nodes: [{ id: 'm', type: 'model', params: { model: 'mlp-small', placement: 'edge' } }],
      edges: [{ source: 'input', target: 'm' }], outputs: [{ name: 'logits', from: 'm.logits' }],
    };
    const post = (k: MintedApiKey, d: unknown): Promise<Response> =>
      fetch(url('/v1/workflows'), { method: 'POST', headers: { 'content-type': 'application/json', ...auth(k) }, body: JSON.stringify(d) });
    expect((await post(keys.acme, doc)).status).toBe(403);

    // Refused by validation, and by the split-model preparation: neither leaves a version behind.
    const invalid = await post(keys.ops, { ...doc, name: 'tenant-bad', nodes: [{ id: 'm', type: 'model', params: { model: 'no-such-model' } }] });
    expect(invalid.status).toBe(400);
    const badCut = await post(keys.ops, {
      name: 'tenant-cut', inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
      nodes: [{ id: 'big', type: 'split-model', params: { model: 'cnn-large', cuts: [['no.such.tensor']] } }],
      edges: [{ source: 'input', target: 'big' }], outputs: [{ name: 'logits', from: 'big.logits' }],
    });
    expect(badCut.status).toBe(400);
    expect(((await badCut.json()) as ErrorJson).code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    for (const name of ['tenant-bad', 'tenant-cut']) {
      expect((await fetch(url(`/v1/workflows/${name}`), { headers: auth(keys.ops) })).status, name).toBe(404);
    }
    const listed = (await (await fetch(url('/v1/workflows'), { headers: auth(keys.acme) })).json()) as { workflows: { name: string }[] };
    expect(listed.workflows.map((w) => w.name)).not.toContain('tenant-cut');

    const deployed = await post(keys.ops, doc);
    expect(deployed.status).toBe(201);
    const deployId = deployed.headers.get('x-request-id');
    expect(deployId).toBeTruthy();
    const run = await fetch(url('/v1/workflows/tenant-doc/infer'), {
      method: 'POST', headers: { 'content-type': 'application/json', ...auth(keys.acme) },
      body: JSON.stringify({ inputs: { x: { dtype: 'float32', dims: [1, 64], data: Array.from({ length: 64 }, () => 0.5) } } }),
    });
    expect(run.status).toBe(200);
    expect((await fetch(url('/v1/workflows/tenant-doc'), { method: 'DELETE', headers: auth(keys.acme) })).status).toBe(403);
    expect((await fetch(url('/v1/workflows/tenant-doc'), { method: 'DELETE', headers: auth(keys.ops) })).status).toBe(204);

    const audit = (await (await fetch(url('/v1/audit?limit=1000'), { headers: auth(keys.ops) })).json()) as { entries: AuditEntry[] };
    const wf = audit.entries.filter((e) => e.action.startsWith('workflow.')).map(({ at: _at, requestId: _r, detail: _d, ...e }) => e);
    expect(wf).toEqual([
      { tenant: 'ops', keyId: 'ops-1', action: 'workflow.delete', target: 'workflow/tenant-doc', outcome: 'ok' },
      { tenant: 'acme', keyId: 'acme-1', action: 'workflow.delete', target: 'workflow/tenant-doc', outcome: 'error', code: 'CLEAVE_E_FORBIDDEN' },
      { tenant: 'ops', keyId: 'ops-1', action: 'workflow.deploy', target: 'workflow/tenant-doc@1', outcome: 'ok' },
      { tenant: 'ops', keyId: 'ops-1', action: 'workflow.deploy', target: 'workflow/tenant-cut', outcome: 'error', code: 'CLEAVE_E_WORKFLOW_INVALID' },
      { tenant: 'ops', keyId: 'ops-1', action: 'workflow.deploy', target: 'workflow/tenant-bad', outcome: 'error', code: 'CLEAVE_E_WORKFLOW_INVALID' },
      { tenant: 'acme', keyId: 'acme-1', action: 'workflow.deploy', target: 'workflow/?', outcome: 'error', code: 'CLEAVE_E_FORBIDDEN' },
    ]);
    expect(audit.entries.find((e) => e.target === 'workflow/tenant-doc@1')!.requestId).toBe(deployId);
    // The edge's own model loads (warm-up) are audited as system actions.
    const loads = (await (await fetch(url('/v1/audit?action=model.load'), { headers: auth(keys.ops) })).json()) as { entries: AuditEntry[] };
    expect(loads.entries.map((e) => e.target)).toContain('model/mlp-small@1');
    expect(loads.entries.every((e) => e.tenant === 'system' && e.outcome === 'ok')).toBe(true);
  });

  it('serves the client WebSocket to keys only, with the key\'s tenant', async () => {
    const ws = `${edge!.url.replace(/^http/, 'ws')}/v1/ws`;
    // The upgrade itself is refused: a bare 401 before any WebSocket exists.
    const refusal = await new Promise<string>((resolve) => {
      const sock = new WebSocket(ws);
      sock.on('error', (e) => resolve(e.message));
      sock.on('open', () => { sock.close(); resolve('opened'); });
    });
    expect(refusal).toBe('Unexpected server response: 401');
    const client = await connectCloud(ws, { token: keys.beta.key });
    try {
      const r = await client.run({ model: 'mlp-small', inputs: { x: hostTensor('float32', [1, 64], new Float32Array(64).fill(0.25)) }, deadlineMs: 30_000 }).promise;
      expect(r.outputs.logits!.dims).toEqual([1, 10]);
    } finally {
      client.close();
    }
  });

  it('links to the cloud with a token minted from the shared secret', async () => {
    const s = await until('cloud link up', 20_000, async () => {
      const st = await status();
      return st.link.state === 'connected' ? st : undefined;
    });
    expect(s.link.state).toBe('connected');
  });

  it('the cloud refuses link tokens from a wrong secret, expired ones and tampered ones; takes good and static ones', async () => {
    const now = Date.now();
    const refused = async (token: string, inHello = false): Promise<boolean> => {
      try {
        const c = await connectCloud(cloud!.wsUrl, { token, ...(inHello ? { tokenInHello: true } : {}) });
        c.close();
        return false;
      } catch (e) {
        return isCleaveError(e, 'CLEAVE_E_UNAUTHORIZED');
      }
    };
    const wrong = await mintLinkToken({ secret: 'not-the-shared-secret-0123456789', edgeId: 'gw-x', nowMs: now });
    expect(await refused(wrong)).toBe(true);
    const expired = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-x', nowMs: now - 3_600_000, lifetimeMs: 60_000 });
    expect(await refused(expired)).toBe(true);
    const good = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-x', nowMs: now });
    const [v, , exp, mac] = good.split('.');
    expect(await refused(`${v}.gw-y.${exp}.${mac}`)).toBe(true);
    expect(await refused(good)).toBe(false);
    expect(await refused(good, true)).toBe(false);
    expect(await refused('a-static-token-for-services')).toBe(false);
  });

  it('a cloud link minting from a secret the cloud does not hold is refused (4401) and mints again for each retry', async () => {
    let rogueMints = 0;
    const rogue = linkTokenProvider({ secret: 'a-secret-the-cloud-never-heard-of', edgeId: 'gw-rogue', wallClock: { now: () => Date.now() } });
    const wrong = nodeCloudLink({
      url: cloud!.wsUrl, client: 'tenants-test', backoff: { initialMs: 20, maxMs: 50 },
      tokenProvider: () => { rogueMints++; return rogue(); },
    }).start();
    const minted: string[] = [];
    const mint = linkTokenProvider({ secret: CURRENT, edgeId: 'gw-good', wallClock: { now: () => Date.now() } });
    const good = nodeCloudLink({ url: cloud!.wsUrl, client: 'tenants-test', tokenProvider: async () => { const t = await mint(); minted.push(t); return t; } }).start();
    try {
      const refused = await until('a refused connect attempt', 10_000, async () => (wrong.status().lastError?.includes('4401') ? wrong.status() : undefined));
      expect(refused.lastError).toContain('CLEAVE_E_UNAUTHORIZED');
      expect(refused.connects).toBe(0);
      // Every reconnect attempt asks the provider for a token of its own.
      await until('a second attempt', 10_000, async () => (rogueMints >= 2 && wrong.status().failures >= 2 ? true : undefined));
      expect(wrong.status().connects).toBe(0);
      await until('the good link up', 10_000, async () => (good.status().state === 'connected' ? true : undefined));
      expect(minted).toHaveLength(1);
    } finally {
      await wrong.close();
      await good.close();
    }
  });
});
