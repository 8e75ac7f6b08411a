/**
 * The dashboard's static routes (shared/dashboard/dashboard-routes.ts through the edge's
 * edge/dashboard-routes.ts), in process with a real tenant guard over minted keys and a hand
 * clock: who may load the page (session cookie or admin key; the login form openly), what a
 * refusal looks like, the security and cache headers, the missing-build and no-files answers,
 * and session expiry without sleeping.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, SESSION_COOKIE, cookieValue } from '../../shared/dashboard/dashboard-routes.js';
import type { DashboardAssets, DashboardFile } from '../../shared/dashboard/dashboard-assets.js';
import { edgeDashboardRoutes } from '../../edge/dashboard-routes.js';
import { createApiKey, type MintedApiKey } from '../../edge/tenants/api-key.js';
import { parseKeyFile } from '../../edge/tenants/key-file.js';
import { TenantGuard } from '../../edge/tenants/tenant-guard.js';
import { toCleaveError } from '../../shared/errors.js';
import { errorBody } from '../../shared/kserve/metadata.js';
import { ManualClock } from '../../shared/time.js';
import { cryptoRandomBytes } from '../../shared/trace.js';

const FILES: Record<DashboardFile, string> = {
  'index.html': '<!doctype html><html lang="en" data-mode="edge"><script type="module" src="/dashboard/app.js"></script></html>',
  'app.js': 'console.log("app")',
  'app.css': 'body{}',
  'login.html': '<!doctype html><form id="login"></form>',
  'login.js': 'console.log("login")',
  'login.css': 'form{}',
};

function memoryAssets(files: Partial<Record<DashboardFile, string>> = FILES): DashboardAssets {
  return { location: 'dist/dashboard', read: async (f) => (files[f] === undefined ? undefined : new TextEncoder().encode(files[f])) };
}

interface Setup {
  app: Hono;
  clock: ManualClock;
  admin: MintedApiKey;
  infer: MintedApiKey;
}

async function setup(opts: { keys?: boolean; assets?: DashboardAssets | null } = {}): Promise<Setup> {
  const clock = new ManualClock(1000);
  const admin = await createApiKey({ random: cryptoRandomBytes, id: 'ops-1' });
  const infer = await createApiKey({ random: cryptoRandomBytes, id: 'app-1' });
  const guard = opts.keys === false ? undefined : new TenantGuard({
    keys: parseKeyFile(JSON.stringify({ tenants: [
      { id: 'ops', keys: [{ id: 'ops-1', sha256: admin.sha256, scopes: ['infer', 'admin'] }] },
      { id: 'app', keys: [{ id: 'app-1', sha256: infer.sha256, scopes: ['infer'] }] },
    ] }), 'test'),
    clock, wallClock: clock,
  });
  const app = new Hono();
  // The edge app's error handler, in short: the code's status and the one error shape.
  app.onError((err, c) => {
    const e = toCleaveError(err);
    return c.json(errorBody(e), e.httpStatus as 400);
  });
  app.route('/', edgeDashboardRoutes({
    clock, random: cryptoRandomBytes, ...(guard ? { guard } : {}),
    ...(opts.assets === null ? {} : { assets: opts.assets ?? memoryAssets() }),
  }));
  return { app, clock, admin, infer };
}

const login = (app: Hono, key: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> =>
  Promise.resolve(app.request('/dashboard/login', { method: 'POST', headers, body: JSON.stringify({ key }) }));

async function sessionCookie(app: Hono, key: string): Promise<string> {
  const res = await login(app, key);
  expect(res.status).toBe(200);
  const set = res.headers.get('set-cookie')!;
  return `${SESSION_COOKIE}=${cookieValue(set, SESSION_COOKIE)}`;
}

describe('dashboard routes with API keys', () => {
  it('serves the login form openly, with the CSP and no-cache', async () => {
    const { app } = await setup();
    for (const p of ['/dashboard/login', '/dashboard/login.js', '/dashboard/login.css']) {
      const res = await app.request(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-cache');
    }
    expect((await app.request('/dashboard/login')).headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect((await app.request('/dashboard/login.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('sends a browser without a session to the login form, and anything else gets 401', async () => {
    const { app } = await setup();
    const nav = await app.request('/dashboard/', { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(nav.status).toBe(303);
    expect(nav.headers.get('location')).toBe('/dashboard/login');
    const js = await app.request('/dashboard/app.js');
    expect(js.status).toBe(401);
    expect(js.headers.get('www-authenticate')).toContain('Bearer');
    expect(await js.json()).toMatchObject({ code: 'CLEAVE_E_UNAUTHORIZED', message: expect.stringContaining('/dashboard/login') });
    // A forged cookie is no session.
    expect((await app.request('/dashboard/app.js', { headers: { cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` } })).status).toBe(401);
  });

  it('logs an admin key in: an HttpOnly, SameSite=Strict cookie that loads the page and its bundle', async () => {
    const { app, admin } = await setup();
    const res = await login(app, admin.key);
    expect(await res.json()).toEqual({ ok: true, expiresInS: 1800 });
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/dashboard/);
    expect(set).toMatch(/Max-Age=1800/);
    expect(set).not.toContain(admin.key);
    const cookie = `${SESSION_COOKIE}=${cookieValue(set, SESSION_COOKIE)}`;
    const page = await app.request('/dashboard/', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('private, no-cache');
    expect(await page.text()).toBe(FILES['index.html']);
    for (const p of ['/dashboard', '/dashboard/index.html', '/dashboard/app.js', '/dashboard/app.css']) expect((await app.request(p, { headers: { cookie } })).status, p).toBe(200);
  });

  it('also takes the admin key itself as Authorization: Bearer or x-api-key', async () => {
    const { app, admin, infer } = await setup();
    expect((await app.request('/dashboard/app.js', { headers: { authorization: `Bearer ${admin.key}` } })).status).toBe(200);
    expect((await app.request('/dashboard/app.js', { headers: { 'x-api-key': admin.key } })).status).toBe(200);
    const forbidden = await app.request('/dashboard/app.js', { headers: { authorization: `Bearer ${infer.key}` } });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ code: 'CLEAVE_E_FORBIDDEN', message: expect.stringContaining('"admin" scope') });
  });

  it('refuses a login with a wrong key (401), an infer-only key (403), or a bad body, and sets no cookie', async () => {
    const { app, admin, infer } = await setup();
    const wrong = await login(app, `${admin.key.slice(0, -4)}AAAA`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const scoped = await login(app, infer.key);
    expect(scoped.status).toBe(403);
    expect(scoped.headers.get('set-cookie')).toBeNull();
    expect((await login(app, '')).status).toBe(400);
    expect(await (await login(app, 42)).json()).toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', detail: { field: 'key' } });
    // A form post (what a cross-site page could send without a preflight) is not read.
    const form = await app.request('/dashboard/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${admin.key}` });
    expect(form.status).toBe(415);
    const big = await app.request('/dashboard/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'x'.repeat(5000) }) });
    expect(big.status).toBe(413);
  });

  it('ends a session at logout and after its lifetime, by the injected clock', async () => {
    const { app, admin, clock } = await setup();
    const cookie = await sessionCookie(app, admin.key);
    clock.advance(30 * 60_000 - 1);
    expect((await app.request('/dashboard/app.js', { headers: { cookie } })).status).toBe(200);
    clock.advance(1);
    expect((await app.request('/dashboard/app.js', { headers: { cookie } })).status).toBe(401);

    const second = await sessionCookie(app, admin.key);
    const out = await app.request('/dashboard/logout', { method: 'POST', headers: { cookie: second } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await app.request('/dashboard/app.js', { headers: { cookie: second } })).status).toBe(401);
  });

  it('answers a revalidation with 304 while the file is unchanged', async () => {
    const { app, admin } = await setup();
    const auth = { authorization: `Bearer ${admin.key}` };
    const first = await app.request('/dashboard/app.js', { headers: auth });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{8}-[0-9a-f]+"$/);
    const again = await app.request('/dashboard/app.js', { headers: { ...auth, 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await app.request('/dashboard/app.css', { headers: { ...auth, 'if-none-match': etag } })).status).toBe(200);
  });

  it('names the files it has for an unknown one', async () => {
    const { app, admin } = await setup();
    const res = await app.request('/dashboard/secrets.js', { headers: { authorization: `Bearer ${admin.key}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringContaining('app.js') });
  });
});

describe('dashboard routes without keys, or without a build', () => {
  it('serves everything openly on an open edge; login is a no-op', async () => {
    const { app } = await setup({ keys: false });
    expect((await app.request('/dashboard/')).status).toBe(200);
    expect((await app.request('/dashboard/app.js')).status).toBe(200);
    const res = await login(app, '');
    expect(await res.json()).toEqual({ ok: true, auth: 'open' });
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('answers 503 naming `npm run build:dashboard` when the bundle is missing', async () => {
    const { app } = await setup({ keys: false, assets: memoryAssets({ 'index.html': FILES['index.html'] }) });
    const res = await app.request('/dashboard/app.js');
    expect(res.status).toBe(503);
    const body = await res.json() as { code: string; message: string };
    expect(body.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(body.message).toContain('dist/dashboard/app.js is missing');
    expect(body.message).toContain('npm run build:dashboard');
  });

  it('answers 404 naming the Node edge on a runtime without files (the Worker)', async () => {
    const { app } = await setup({ keys: false, assets: null });
    const res = await app.request('/dashboard/');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringContaining('Node edge') });
  });
});
