#!/usr/bin/env node
/**
 * Builds the dashboard into dist/dashboard/ (docs/dashboard.md): one minified ES module bundle per
 * page (app.js: the dashboard, preact + htm + the page source; login.js: the login form), their
 * style sheets and HTML. Run by `npm run build:dashboard` and by npm's `prepare` on every
 * install, so it is quick (esbuild, well under a second) and needs nothing but esbuild.
 *
 * Deterministic: the same sources give the same bytes (no timestamps, no source maps, no
 * absolute paths), so the ETags the servers derive from the files only change when the page does.
 *
 *   node bin/build-dashboard.mjs [--out <dir>]     default out: dist/dashboard
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = path.join(ROOT, 'dashboard');

/** The files a complete build holds; the servers check for these. */
export const DASHBOARD_FILES = ['index.html', 'login.html', 'app.js', 'login.js', 'app.css', 'login.css'];

function outDir(argv) {
  const i = argv.indexOf('--out');
  if (i < 0) return path.join(ROOT, 'dist', 'dashboard');
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) {
    process.stderr.write('error CLEAVE_E_BAD_ARGUMENT: --out needs a folder, e.g. --out dist/dashboard\n');
    process.exit(2);
  }
  return path.resolve(v);
}

export async function buildDashboard(out) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    // `npm ci --omit=dev` style installs of a consumer may lack it; the install must not fail
    // for that. The servers answer 503 naming this command while the bundle is missing.
    process.stderr.write('build-dashboard: esbuild is not installed; the dashboard is not built (install dependencies, then `npm run build:dashboard`)\n');
    return false;
  }
  const t0 = performance.now();
  await mkdir(out, { recursive: true });
  // Old outputs go first, so a file this build no longer makes is not served by mistake (another
  // build's files in flight, *.tmp-<pid>, are left alone).
  for (const f of await readdir(out)) if (!DASHBOARD_FILES.includes(f) && !/\.tmp-\d+$/.test(f)) await rm(path.join(out, f), { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { app: 'dashboard/page/app.ts', login: 'dashboard/page/login.ts' },
    outdir: out,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    tsconfig: 'dashboard/tsconfig.json',
    sourcemap: false,
    // License comments of the bundled libraries stay, at the end of the file.
    legalComments: 'eof',
    charset: 'utf8',
    logLevel: 'warning',
    write: false,
  });
  const files = [
    ...result.outputFiles.map((f) => [path.basename(f.path), f.contents]),
    ...await Promise.all([['app.css', 'styles'], ['login.css', 'styles'], ['index.html', 'static'], ['login.html', 'static']]
      .map(async ([f, dir]) => [f, await readFile(path.join(SRC, dir, f))])),
  ];
  // Each file replaced whole (write, then rename): a server reading it meanwhile, or a build
  // running beside this one, sees the old bytes or the new, never half of either.
  for (const [name, bytes] of files) {
    const tmp = path.join(out, `${name}.tmp-${process.pid}`);
    await writeFile(tmp, bytes);
    await rename(tmp, path.join(out, name));
  }
  process.stderr.write(`build-dashboard: ${path.relative(ROOT, out) || out} in ${Math.round(performance.now() - t0)} ms\n`);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  buildDashboard(outDir(process.argv.slice(2))).catch((e) => {
    process.stderr.write(`error CLEAVE_E_INTERNAL: the dashboard build failed: ${e?.message ?? e}\n`);
    process.exit(1);
  });
}
