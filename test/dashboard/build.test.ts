/**
 * The dashboard build (bin/build-dashboard.mjs): every file a server needs, byte-identical on a
 * second build, quick enough for npm's `prepare`, and a bundle that works offline under the
 * page's CSP: no URL to another host (a CDN), no inline script, no eval or new Function (htm
 * parses its templates with a state machine, never with eval).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_FILES } from '../../shared/dashboard/dashboard-assets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(ROOT, 'bin/build-dashboard.mjs');
/** XML namespace names: identifiers that look like URLs, never fetched. */
const NAMESPACES = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace']);
const EVAL = /\beval\s*\(|new\s+Function\s*\(/;

function build(out: string): number {
  const t0 = performance.now();
  execFileSync(process.execPath, [SCRIPT, '--out', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  return performance.now() - t0;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : /\.(ts|mjs|js)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

describe('bin/build-dashboard.mjs', () => {
  const dirs = [mkdtempSync(path.join(tmpdir(), 'cleave-dash-a-')), mkdtempSync(path.join(tmpdir(), 'cleave-dash-b-'))];
  let ms = 0;

  beforeAll(() => {
    ms = build(dirs[0]!);
    build(dirs[1]!);
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('writes every file the servers serve, and nothing else', () => {
    expect(readdirSync(dirs[0]!).sort()).toEqual(Object.keys(DASHBOARD_FILES).sort());
    // Fast enough to run on every `npm install` (the whole process, Node start-up included).
    expect(ms).toBeLessThan(5000);
  });

  it('is deterministic: a second build gives the same bytes', () => {
    for (const f of Object.keys(DASHBOARD_FILES)) expect(readFileSync(path.join(dirs[1]!, f)).equals(readFileSync(path.join(dirs[0]!, f))), f).toBe(true);
  });

  it('bundles preact and the page into one minified module, with no URL to another host', () => {
    const js = readFileSync(path.join(dirs[0]!, 'app.js'), 'utf8');
    // One file: no import of another module, static or dynamic.
    expect(js).not.toMatch(/(?:^|[;}])import\s*[{*"'\w$]|\bimport\s*\(/m);
    // Minified: the code is one long line (htm's templates keep their own line breaks).
    expect(js.length).toBeGreaterThan(20_000);
    expect(js).not.toContain('    const ');
    for (const f of Object.keys(DASHBOARD_FILES)) {
      const text = readFileSync(path.join(dirs[0]!, f), 'utf8');
      const urls = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map((m) => m[0]).filter((u) => !NAMESPACES.has(u));
      expect(urls, f).toEqual([]);
    }
  });

  it('has no eval or new Function in the bundle or the page sources', () => {
    for (const f of ['app.js', 'login.js']) expect(EVAL.test(readFileSync(path.join(dirs[0]!, f), 'utf8')), f).toBe(false);
    for (const f of sources(path.join(ROOT, 'dashboard'))) {
      const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(EVAL.test(code), f).toBe(false);
    }
  });

  it('writes HTML with no inline script or style and only same-origin references', () => {
    for (const f of ['index.html', 'login.html']) {
      const text = readFileSync(path.join(dirs[0]!, f), 'utf8');
      expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
      // The empty data: icon stops the browser asking for /favicon.ico, which a keyed edge refuses.
      for (const m of text.matchAll(/\b(?:src|href)="([^"]+)"/g)) expect(m[1]!.startsWith('/dashboard/') || m[1] === 'data:,', `${f}: ${m[1]}`).toBe(true);
    }
    expect(readFileSync(path.join(dirs[0]!, 'index.html'), 'utf8')).toContain('data-mode="edge"');
  });
});
