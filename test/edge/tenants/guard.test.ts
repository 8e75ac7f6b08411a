// The tenant guard on its own: scopes, the tenant header, rate and concurrency refusals with
// Retry-After, slots given back after plain, streamed and WebSocket work, and the route table.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createApiKey } from '../../../edge/tenants/api-key.js';
import { MemoryAuditLog } from '../../../edge/tenants/audit-log.js';
import { releaseWhenDone, tenantGuardMiddleware } from '../../../edge/tenants/http-guard.js';
import { parseKeyFile } from '../../../edge/tenants/key-file.js';
import { quotaRunService } from '../../../edge/tenants/quota-run-service.js';
import { routeAccess } from '../../../edge/tenants/route-scopes.js';
import { TenantGuard, type Rejection } from '../../../edge/tenants/tenant-guard.js';
import { CleaveError, toCleaveError } from '../../../shared/errors.js';
import { errorBody } from '../../../shared/kserve/index.js';
import type { RunService, ServiceRunResult } from '../../../shared/protocol/server-session.js';
import { ManualClock } from '../../../shared/time.js';
import { cryptoRandomBytes } from '../../../shared/trace.js';

async function setup() {
  const user = await createApiKey({ random: cryptoRandomBytes, id: 'user' });
  const ops = await createApiKey({ random: cryptoRandomBytes, id: 'ops' });
  const keys = parseKeyFile(JSON.stringify({ tenants: [
    { id: 'acme', keys: [{ id: 'user', sha256: user.sha256, scopes: ['infer'] }], rateLimit: { requestsPerSecond: 1, burst: 2 }, maxConcurrent: 1 },
    { id: 'ops', keys: [{ id: 'ops', sha256: ops.sha256, scopes: ['infer', 'admin'] }] },
  ] }), 'keys.json');
  const clock = new ManualClock(0);
  const rejections: Rejection[] = [];
  const guard = new TenantGuard({ keys, clock, wallClock: { now: () => Date.UTC(2026, 0, 1) }, onReject: (r) => rejections.push(r) });
  const audit = new MemoryAuditLog({ wallClock: { now: () => Date.UTC(2026, 0, 1) } });
  // An app shaped like the edge's: the guard first, errors answered by code.
  const app = new Hono();
  app.onError((err, c) => {
    const e = toCleaveError(err);
    return c.json(errorBody(e), e.httpStatus as 400);
  });
  app.use('*', tenantGuardMiddleware(guard, { audit, requestIdOf: () => 'req-1' }));
  let hold: Promise<void> = Promise.resolve();
  app.post('/v1/models/:name/infer', async (c) => {
    await hold;
    return c.json({ tenant: (c.get('principal' as never) as { tenant: string }).tenant });
  });
  app.post('/v1/workflows', (c) => c.json({ deployed: true }, 201));
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v1/stream', () => new Response(new ReadableStream({ start(ctl) { ctl.enqueue(new TextEncoder().encode('{"a":1}\n')); ctl.close(); } }), { headers: { 'content-type': 'application/x-ndjson' } }));
  const call = (path: string, key: string | undefined, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    app.request(path, { method: 'POST', ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...init.headers } });
  return { guard, clock, rejections, audit, app, call, user, ops, setHold: (p: Promise<void>) => { hold = p; } };
}

describe('TenantGuard over HTTP', () => {
  it('401 with WWW-Authenticate without a key; health stays open', async () => {
    const { call, app, rejections } = await setup();
    const r = await call('/v1/models/m/infer', undefined);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="cleave-edge"');
    expect(((await r.json()) as { code: string }).code).toBe('CLEAVE_E_UNAUTHORIZED');
    expect((await app.request('/v2/health/live')).status).toBe(200);
    expect(rejections).toEqual([{ reason: 'unauthorized' }]);
  });

  it('takes the tenant from the key; a header naming another tenant is 403', async () => {
    const { call, user } = await setup();
    const ok = await call('/v1/models/m/infer', user.key, { headers: { 'x-cleave-tenant': 'acme' } });
    expect(await ok.json()).toEqual({ tenant: 'acme' });
    const other = await call('/v1/models/m/infer', user.key, { headers: { 'x-cleave-tenant': 'ops' } });
    expect(other.status).toBe(403);
    const body = (await other.json()) as { code: string; message: string };
    expect(body.code).toBe('CLEAVE_E_FORBIDDEN');
    expect(body.message).toContain('names tenant "ops", but the API key belongs to tenant "acme"');
  });

  it('403 for a deploy without the admin scope, audited as a refused deploy', async () => {
    const { call, user, ops, audit } = await setup();
    const r = await call('/v1/workflows', user.key);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { message: string }).message).toContain('needs the "admin" scope');
    expect(audit.recent()).toEqual([{
      at: '2026-01-01T00:00:00.000Z', tenant: 'acme', keyId: 'user', action: 'workflow.deploy', target: 'workflow/?', outcome: 'error', code: 'CLEAVE_E_FORBIDDEN', requestId: 'req-1',
    }]);
    expect((await call('/v1/workflows', ops.key)).status).toBe(201);
  });

  it('429 with Retry-After once the burst is spent, then one request per second', async () => {
    const { call, user, clock, rejections } = await setup();
    expect((await call('/v1/models/m/infer', user.key)).status).toBe(200);
    expect((await call('/v1/models/m/infer', user.key)).status).toBe(200);
    clock.advance(250);
    const r = await call('/v1/models/m/infer', user.key);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    const body = (await r.json()) as { code: string; detail: { retryAfterS: number; reason: string } };
    expect(body.code).toBe('CLEAVE_E_RATE_LIMITED');
    expect(body.detail).toMatchObject({ retryAfterS: 1, reason: 'rate' });
    clock.advance(750);
    expect((await call('/v1/models/m/infer', user.key)).status).toBe(200);
    expect(rejections).toEqual([{ reason: 'rate-limited', tenant: 'acme' }]);
  });

  it('429 while another request holds the only slot; the slot comes back when it ends', async () => {
    const { call, user, clock, guard, setHold } = await setup();
    let finish!: () => void;
    setHold(new Promise<void>((r) => { finish = r; }));
    const first = call('/v1/models/m/infer', user.key);
    // The first request verifies its key (WebCrypto, off the thread) before it takes the slot.
    for (let i = 0; i < 1000 && guard.status().find((t) => t.tenant === 'acme')!.inFlight === 0; i++) await new Promise((r) => setImmediate(r));
    expect(guard.status().find((t) => t.tenant === 'acme')!.inFlight).toBe(1);
    const second = await call('/v1/models/m/infer', user.key);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { detail: { reason: string } }).detail.reason).toBe('concurrency');
    finish();
    expect((await first).status).toBe(200);
    expect(guard.status().find((t) => t.tenant === 'acme')!.inFlight).toBe(0);
    clock.advance(1000);
    setHold(Promise.resolve());
    expect((await call('/v1/models/m/infer', user.key)).status).toBe(200);
  });

  it('a streamed answer holds its slot until its body has been read', async () => {
    const { app, user, guard } = await setup();
    const r = await app.request('/v1/stream', { headers: { authorization: `Bearer ${user.key}` } });
    expect(r.status).toBe(200);
    expect(guard.status()[0]!.inFlight).toBe(1);
    expect(await r.text()).toBe('{"a":1}\n');
    expect(guard.status()[0]!.inFlight).toBe(0);
  });
});

describe('releaseWhenDone', () => {
  it('releases once on end and once on cancel', async () => {
    let n = 0;
    const res = releaseWhenDone(new Response('abc', { headers: { 'content-type': 'application/x-ndjson' } }), () => { n++; });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await res.text()).toBe('abc');
    expect(n).toBe(1);
    let m = 0;
    const endless = new ReadableStream<Uint8Array>({ pull(c) { c.enqueue(new Uint8Array([1])); } });
    const r2 = releaseWhenDone(new Response(endless), () => { m++; });
    const reader = r2.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(m).toBe(1);
  });
});

describe('quotaRunService (client WebSocket runs)', () => {
  it('admits each run against the quota and frees the slot when it settles', async () => {
    const { guard } = await setup();
    const principal = { tenant: 'acme', keyId: 'user', scopes: ['infer' as const] };
    const pending: ((r: ServiceRunResult) => void)[] = [];
    const base: RunService = {
      infer: () => ({ promise: new Promise<ServiceRunResult>((r) => pending.push(r)), cancel: () => false }),
      loadReport: () => ({}),
    };
    const runs = quotaRunService(base, guard, principal);
    const req = { model: 'm', inputs: {}, protocol: 'ws' };
    const a = runs.infer(req);
    const b = runs.infer(req);
    const err = await b.promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleaveError);
    expect((err as CleaveError).code).toBe('CLEAVE_E_RATE_LIMITED');
    expect((err as CleaveError).detail.reason).toBe('concurrency');
    pending[0]!({ model: 'm', version: 1, outputs: {}, timing: { queueMs: 0, computeMs: 0, batchSize: 1 } });
    await a.promise;
    expect(guard.status()[0]!.inFlight).toBe(0);
  });
});

describe('routeAccess', () => {
  it('opens health and metadata, needs admin for admin routes, infer for the rest (unknown paths included)', () => {
    expect(routeAccess('GET', '/v2/health/live')).toBeUndefined();
    expect(routeAccess('GET', '/v2/health/ready')).toBeUndefined();
    expect(routeAccess('GET', '/v2')).toBeUndefined();
    for (const [m, p] of [['GET', '/metrics'], ['GET', '/v1/status'], ['GET', '/v1/audit'], ['POST', '/v1/workflows'], ['DELETE', '/v1/workflows/x']]) {
      expect(routeAccess(m!, p!)?.scope, `${m} ${p}`).toBe('admin');
    }
    for (const [m, p] of [['POST', '/v2/models/m/infer'], ['POST', '/v1/models/m/infer'], ['GET', '/v2/models/m'], ['POST', '/v1/workflows/x/infer'], ['GET', '/v1/workflows'], ['GET', '/v1/workflows/x/plan'], ['GET', '/no/such/route'], ['POST', '/v2/health/live']]) {
      expect(routeAccess(m!, p!)?.scope, `${m} ${p}`).toBe('infer');
    }
    expect(routeAccess('GET', '/v1/ws')).toEqual({ scope: 'infer', holdsSlot: false });
  });
});
