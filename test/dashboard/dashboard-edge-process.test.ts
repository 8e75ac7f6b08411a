/**
 * The dashboard's wiring on a real `cleave edge` process with a key file, without a browser (so it
 * runs where Chromium is not installed): the tenant guard lets /dashboard through to the page's
 * own check, the page and bundle come from dist/dashboard with the CSP, an admin key logs in and
 * its session cookie loads the bundle, and the data the page reads still needs the admin key.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE, cookieValue } from '../../shared/dashboard/dashboard-routes.js';
import { createApiKey, type MintedApiKey } from '../../edge/tenants/api-key.js';
import { cryptoRandomBytes } from '../../shared/trace.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the dashboard on a Node edge process with API keys', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cleave-dash-edge-'));
  let edge: EdgeProcess | undefined;
  let admin: MintedApiKey;
  let app: MintedApiKey;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'bin/build-dashboard.mjs')], { cwd: ROOT, stdio: 'ignore', timeout: 30_000 });
    [admin, app] = await Promise.all([createApiKey({ random: cryptoRandomBytes, id: 'ops-1' }), createApiKey({ random: cryptoRandomBytes, id: 'app-1' })]);
    const keys = path.join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ tenants: [
      { id: 'ops', keys: [{ id: 'ops-1', sha256: admin.sha256, scopes: ['infer', 'admin'] }] },
      { id: 'app', keys: [{ id: 'app-1', sha256: app.sha256, scopes: ['infer'] }] },
    ] }));
    edge = await startEdgeProcess(['--no-warm'], { env: { CLEAVE_API_KEYS_FILE: keys } });
  }, 120_000);

  afterAll(async () => {
    await edge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (p: string): string => `${edge!.url}${p}`;

  it('sends a browser to the login form and serves the form openly', async () => {
    const nav = await fetch(url('/dashboard'), { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(nav.status).toBe(303);
    expect(nav.headers.get('location')).toBe('/dashboard/login');
    const form = await fetch(url('/dashboard/login'));
    expect(form.status).toBe(200);
    expect(form.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await form.text()).toContain('id="login"');
    // Not through the guard's infer check: the page's own 401 names the login form.
    const js = await fetch(url('/dashboard/app.js'));
    expect(js.status).toBe(401);
    expect(await js.json()).toMatchObject({ code: 'CLEAVE_E_UNAUTHORIZED', message: expect.stringContaining('/dashboard/login') });
  });

  it('logs an admin key in; the cookie loads the bundle the build wrote, byte for byte', async () => {
    const scoped = await fetch(url('/dashboard/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: app.key }) });
    expect(scoped.status).toBe(403);
    const res = await fetch(url('/dashboard/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: admin.key }) });
    expect(res.status).toBe(200);
    const cookie = `${SESSION_COOKIE}=${cookieValue(res.headers.get('set-cookie') ?? '', SESSION_COOKIE)}`;
    const js = await fetch(url('/dashboard/app.js'), { headers: { cookie } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await js.arrayBuffer()).equals(readFileSync(path.join(ROOT, 'dist/dashboard/app.js')))).toBe(true);
    const again = await fetch(url('/dashboard/app.js'), { headers: { cookie, 'if-none-match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
    // The cookie is for the page's files only: the data needs the key itself.
    expect((await fetch(url('/v1/dashboard/overview'), { headers: { cookie } })).status).toBe(401);
    expect((await fetch(url('/v1/dashboard/overview'), { headers: { authorization: `Bearer ${admin.key}` } })).status).toBe(200);
  });
});
