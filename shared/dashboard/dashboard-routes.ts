/**
 * The dashboard's HTTP routes, shared by the edge (edge/dashboard-routes.ts) and the cloud
 * (cloud/dashboard-routes.ts); mount with `app.route('/', dashboardRoutes(opts))`:
 *
 *   GET  /dashboard, /dashboard/        the page (index.html)            admin key or session
 *   GET  /dashboard/app.js | app.css    its bundle and style sheet        admin key or session
 *   GET  /dashboard/login[.js|.css]     the login form                    open
 *   POST /dashboard/login {key}         verifies an admin key; 200 and an HttpOnly session cookie
 *   POST /dashboard/logout              ends the session; clears the cookie
 *
 * On a server without keys (an open edge, a cloud without tokens) everything is served openly,
 * like every other route there. With keys, a protected file needs the session cookie or an admin
 * key in `Authorization: Bearer` / `x-api-key`; a browser navigation without either is sent to
 * the login form (303), anything else gets 401. The page's own API calls carry the key, which the
 * login form keeps in the tab's sessionStorage; the cookie holds only a random session id, is
 * HttpOnly, SameSite=Strict, Path=/dashboard, Secure on https, and lives 30 minutes.
 *
 * Every answer has a strict Content-Security-Policy (only this origin's script, style and fetch;
 * no inline script, no eval, no framing), nosniff and no-referrer. Files carry a strong ETag (a
 * hash of their bytes) and `Cache-Control: no-cache` (`private` for protected ones), so a browser
 * revalidates cheaply (304) and picks up a rebuild at once.
 *
 * Missing build: 503 CLEAVE_E_UNAVAILABLE naming `npm run build:dashboard`. A runtime without
 * files (no `assets`): 404 CLEAVE_E_NOT_FOUND saying the dashboard is served by the Node edge.
 * Runtime-neutral: errors are thrown as CleaveError for the parent app's error handler.
 */
import { Hono, type Context } from 'hono';
import { CleaveError } from '../errors.js';
import type { Clock } from '../time.js';
import type { RandomBytes } from '../trace.js';
import { fnv1a32 } from '../zoo/fnv1a.js';
import { DASHBOARD_FILES, type DashboardAssets, type DashboardFile } from './dashboard-assets.js';
import { DashboardSessions } from './session-store.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'cleave_dashboard';
/** Largest login body, bytes: a key is about 60 characters. */
export const MAX_LOGIN_BODY_BYTES = 4096;

/** The policy every dashboard answer carries. */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** How the server checks an admin key. */
export interface DashboardAuth {
  /** False on a server without keys: the page is served openly and login is a no-op. */
  readonly required: boolean;
  /**
   * Verifies that `key` may administer this server; returns who it is (for the session, e.g.
   * `tenant/keyId`). Throws CLEAVE_E_UNAUTHORIZED (missing, unknown, wrong, expired) or
   * CLEAVE_E_FORBIDDEN (a valid key without admin rights), or CLEAVE_E_RATE_LIMITED.
   */
  verify(key: string | undefined): Promise<string>;
}

export interface DashboardRoutesOptions {
  /** The built files; none on a runtime that cannot serve them (then 404 with `unservedReason`). */
  readonly assets?: DashboardAssets;
  /** Why there are no assets here, for the 404. */
  readonly unservedReason?: string;
  readonly auth: DashboardAuth;
  /** Which view the page draws: the edge's or the cloud's. Default `edge`. */
  readonly mode?: 'edge' | 'cloud';
  /** Monotonic clock, ms (session expiry). */
  readonly clock: Clock;
  /** A CSPRNG for session tokens. */
  readonly random: RandomBytes;
  /** Session lifetime, ms. Default 1800000 (30 min). */
  readonly sessionTtlMs?: number;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The key a request presents in `Authorization: Bearer` or `x-api-key`. */
function headerKey(c: Context): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
  if (m) return m[1];
  return c.req.header('x-api-key')?.trim() || undefined;
}

function etagOf(bytes: Uint8Array): string {
  return `"${fnv1a32(bytes).toString(16).padStart(8, '0')}-${bytes.byteLength.toString(16)}"`;
}

export function dashboardRoutes(opts: DashboardRoutesOptions): Hono {
  const app = new Hono();
  const sessions = new DashboardSessions({ clock: opts.clock, random: opts.random, ...(opts.sessionTtlMs !== undefined ? { ttlMs: opts.sessionTtlMs } : {}) });
  const mode = opts.mode ?? 'edge';

  const secure = (c: Context): boolean => new URL(c.req.url).protocol === 'https:';
  const cookie = (c: Context, value: string, maxAgeS: number): string =>
    `${SESSION_COOKIE}=${value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure(c) ? '; Secure' : ''}`;

  /** True when the request may see protected files; throws the auth error of a bad presented key. */
  const admitted = async (c: Context): Promise<boolean> => {
    if (!opts.auth.required) return true;
    if (sessions.get(cookieValue(c.req.header('cookie'), SESSION_COOKIE))) return true;
    const key = headerKey(c);
    if (key === undefined) return false;
    await opts.auth.verify(key);
    return true;
  };

  const serve = async (c: Context, file: DashboardFile): Promise<Response> => {
    const info = DASHBOARD_FILES[file];
    if (!info.open && !(await admitted(c))) {
      if ((c.req.header('accept') ?? '').includes('text/html')) return c.redirect('/dashboard/login', 303);
      c.header('www-authenticate', 'Bearer realm="cleave-dashboard"');
      throw new CleaveError('CLEAVE_E_UNAUTHORIZED', `/dashboard/${file} needs an admin key: log in at /dashboard/login, or send "Authorization: Bearer <admin key>"`, { reason: 'missing', path: c.req.path });
    }
    if (!opts.assets) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', opts.unservedReason ?? 'this server does not serve the dashboard; open it on a Node edge (`cleave edge`) at /dashboard', { path: c.req.path });
    }
    let bytes = await opts.assets.read(file);
    if (bytes === undefined) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `the dashboard is not built: ${opts.assets.location}/${file} is missing; run \`npm run build:dashboard\``, { file, location: opts.assets.location });
    }
    // The cloud serves the same page with its own view; the mode is a fixed attribute, no data.
    if (file === 'index.html' && mode !== 'edge') bytes = new TextEncoder().encode(new TextDecoder().decode(bytes).replace('data-mode="edge"', `data-mode="${mode}"`));
    const etag = etagOf(bytes);
    const headers: Record<string, string> = { ...SECURITY_HEADERS, etag, 'cache-control': info.open ? 'no-cache' : 'private, no-cache', vary: 'cookie, authorization' };
    const match = c.req.header('if-none-match');
    if (match !== undefined && match.split(',').some((t) => t.trim() === etag)) return new Response(null, { status: 304, headers });
    return new Response(c.req.method === 'HEAD' ? null : (bytes as Uint8Array<ArrayBuffer>), { status: 200, headers: { ...headers, 'content-type': info.type, 'content-length': String(bytes.byteLength) } });
  };

  const page = (c: Context): Promise<Response> => serve(c, 'index.html');
  app.get('/dashboard', page);
  app.get('/dashboard/', page);
  app.get('/dashboard/index.html', page);
  app.get('/dashboard/login', (c) => serve(c, 'login.html'));
  app.get('/dashboard/:file{[a-z]+\\.(?:js|css|html)}', (c) => {
    const file = c.req.param('file');
    if (!Object.hasOwn(DASHBOARD_FILES, file)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `no dashboard file ${JSON.stringify(file.slice(0, 64))}; it has ${Object.keys(DASHBOARD_FILES).join(', ')}`, { path: c.req.path });
    }
    return serve(c, file as DashboardFile);
  });

  app.post('/dashboard/login', async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    // JSON only: a cross-site form cannot send it without a CORS preflight this server never grants.
    if (type !== 'application/json') {
      throw new CleaveError('CLEAVE_E_MEDIA_TYPE', `content type ${JSON.stringify(type || '(none)')} is not read here; send {"key":"<admin key>"} as application/json`, { field: 'content-type' });
    }
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > MAX_LOGIN_BODY_BYTES) throw new CleaveError('CLEAVE_E_TOO_LARGE', `a login body is at most ${MAX_LOGIN_BODY_BYTES} bytes, got ${declared}`, { limit: MAX_LOGIN_BODY_BYTES });
    const text = await c.req.text();
    if (text.length > MAX_LOGIN_BODY_BYTES) throw new CleaveError('CLEAVE_E_TOO_LARGE', `a login body is at most ${MAX_LOGIN_BODY_BYTES} bytes`, { limit: MAX_LOGIN_BODY_BYTES });
    let key: unknown;
    try {
      key = (JSON.parse(text) as { key?: unknown } | null)?.key;
    } catch {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'the login body is not JSON; send {"key":"<admin key>"}', { field: 'key' });
    }
    if (!opts.auth.required) return c.json({ ok: true, auth: 'open' }, 200, SECURITY_HEADERS);
    if (typeof key !== 'string' || key === '') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'the login body needs "key": a string, the admin API key', { field: 'key' });
    const subject = await opts.auth.verify(key);
    const { token } = sessions.create(subject);
    c.header('set-cookie', cookie(c, token, Math.floor(sessions.ttlMs / 1000)));
    c.header('cache-control', 'no-store');
    return c.json({ ok: true, expiresInS: Math.floor(sessions.ttlMs / 1000) }, 200, SECURITY_HEADERS);
  });

  app.post('/dashboard/logout', (c) => {
    sessions.delete(cookieValue(c.req.header('cookie'), SESSION_COOKIE));
    c.header('set-cookie', cookie(c, '', 0));
    return c.json({ ok: true }, 200, SECURITY_HEADERS);
  });

  return app;
}
