/**
 * The login page's script (dist/dashboard/login.js), served without a key: it sends the admin
 * key to POST /dashboard/login, which answers with an HttpOnly session cookie for the page's
 * files, and keeps the key in this tab's sessionStorage for the page's API calls. No framework:
 * a form and a fetch.
 */
import { KEY_STORAGE } from './api.js';

const form = document.getElementById('login') as HTMLFormElement | null;
const input = document.getElementById('key') as HTMLInputElement | null;
const out = document.getElementById('login-error');

form?.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const key = input?.value.trim() ?? '';
  if (out) out.textContent = '';
  void (async () => {
    let res: Response;
    try {
      res = await fetch('/dashboard/login', {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ key }),
      });
    } catch (e) {
      if (out) out.textContent = `the server did not answer: ${(e as Error).message}`;
      return;
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
      if (out) out.textContent = `${body.code ?? res.status}: ${body.message ?? 'login refused'}`;
      return;
    }
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch {
      // Storage disabled: the page loads, but its API calls will ask to log in again.
    }
    location.replace('/dashboard/');
  })();
});
