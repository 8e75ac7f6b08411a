/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against a real `cleave edge` process with an API key file, linked to a real cloud server: log
 * in with an admin key, pick a template, break it and see the validator's problems, fix it and
 * pin a node to the cloud in the form, dry-run, deploy, run a request from the page, and check
 * that the graph colours each node as the run's `x-cleave-plan` says. Screenshots go to
 * docs/img/dashboard-editor.png, docs/img/dashboard-graph.png and docs/img/dashboard-cloud.png (the
 * cloud's own view), linked from docs/dashboard.md.
 *
 * Skipped, with the reason in its name, where /usr/bin/chromium is not installed
 * (`apt-get install chromium`); CI machines may not have it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlanHeader } from '../../dashboard/page/placement.js';
import { createApiKey, type MintedApiKey } from '../../edge/tenants/api-key.js';
import { cryptoRandomBytes } from '../../shared/trace.js';
import { defaultTestModels, startTestCloud, type TestCloud } from '../helpers/cloud.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';
import { zooModelBytes } from '../helpers/zoo.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMG = path.join(ROOT, 'docs/img');
if (!HAVE_CHROMIUM) process.stderr.write(`dashboard-browser.test.ts: SKIPPED, ${CHROMIUM} is not installed (apt-get install chromium)\n`);

/** Waits for the page and its data to settle: a UI step, not a wait for time to pass. */
const UI_MS = 15_000;

describe.skipIf(!HAVE_CHROMIUM)(`the dashboard in headless Chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`}`, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cleave-dashboard-'));
  let cloud: TestCloud | undefined;
  let edge: EdgeProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let admin: MintedApiKey;
  const pageErrors: string[] = [];
  /** Every answer of 400 or more the page got. */
  const refused: string[] = [];

  beforeAll(async () => {
    // The page the edge serves: build it (esbuild, well under a second).
    execFileSync(process.execPath, [path.join(ROOT, 'bin/build-dashboard.mjs')], { cwd: ROOT, stdio: 'ignore', timeout: 30_000 });
    admin = await createApiKey({ random: cryptoRandomBytes, id: 'ops-1' });
    const app = await createApiKey({ random: cryptoRandomBytes, id: 'app-1' });
    const keys = path.join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ tenants: [
      { id: 'ops', keys: [{ id: 'ops-1', sha256: admin.sha256, scopes: ['infer', 'admin'] }] },
      { id: 'app', keys: [{ id: 'app-1', sha256: app.sha256, scopes: ['infer'] }] },
    ] }));
    // The text cascade's cloud half is text-base: the test cloud serves it beside its usual models.
    cloud = await startTestCloud({}, [...await defaultTestModels(), { name: 'text-base', versions: { 1: await zooModelBytes('text-base') } }]);
    [edge, browser] = await Promise.all([
      startEdgeProcess([], { env: { CLEAVE_API_KEYS_FILE: keys, CLEAVE_CLOUD_URL: cloud.wsUrl } }),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 }),
    ]);
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Failed loads are checked as responses (below); everything else the console calls an error is a bug.
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) refused.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`); });
    mkdirSync(IMG, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.stop();
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a browser without a session to the login form, and logs an admin key in', async () => {
    await page.goto(`${edge!.url}/dashboard/`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
    // A wrong key is refused with the server's message, and the page stays.
    await page.fill('#key', `${admin.key.slice(0, -4)}AAAA`);
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#login-error')).toContain('CLEAVE_E_UNAUTHORIZED');
    await page.fill('#key', admin.key);
    await Promise.all([page.waitForURL(`${edge!.url}/dashboard/`), page.click('button[type=submit]')]);
    // The overview came back with the key: the link badge shows the cloud link's state.
    await expect.poll(() => page.getAttribute('[data-link-state]', 'data-link-state')).toBe('connected');
    // Nothing secret in the page source: the key is nowhere in the HTML the server sent.
    const html = await (await page.request.get(`${edge!.url}/dashboard/`)).text();
    expect(html).not.toContain(admin.key);
    expect(html).not.toContain(admin.sha256);
  });

  it('edits a template, shows the validator\'s problems, and deploys the fixed document', async () => {
    await page.click('#tab-edit');
    await page.selectOption('#template-select', 'text-cascade');
    await expect.poll(() => page.inputValue('#doc-json')).toContain('"text-cascade"');
    const original = await page.inputValue('#doc-json');

    // Deliberately broken: a model nobody serves, and small never exits (so big always runs).
    await page.fill('#doc-json', original.replace('"text-base"', '"text-nope"').replace('>= 0.99', '>= 2'));
    await page.click('#validate');
    const problem = page.locator('.problems .problem').first();
    await problem.waitFor();
    expect(await problem.textContent()).toContain('nodes[1].params.model');
    expect(await page.textContent('.problems')).toContain('text-nope');

    // Fixed in the JSON; big pinned to the cloud in the form.
    await page.fill('#doc-json', original.replace('>= 0.99', '>= 2'));
    await page.selectOption('[data-form-node="big"] .f-where', 'cloud');
    expect(await page.inputValue('#doc-json')).toMatch(/"placement": "cloud"/);
    await page.click('#validate');
    await expect.poll(() => page.textContent('#editor-ok')).toContain('valid');
    expect(await page.locator('.problems').count()).toBe(0);

    await page.click('#dry-run');
    await expect.poll(() => page.textContent('#editor-ok')).toContain('dry run done');
    const dryPlan = (await page.textContent('.run-result .run-plan'))!;
    expect(parsePlanHeader(dryPlan).get('big')?.raw).toBe('cloud');
    await page.screenshot({ path: path.join(IMG, 'dashboard-editor.png'), fullPage: true });

    await page.click('#deploy');
    await expect.poll(() => page.textContent('#editor-ok')).toContain('deployed text-cascade v1');
  });

  it('runs a request from the page, and the graph shows the placements its x-cleave-plan names', async () => {
    await page.click('[data-workflow="text-cascade"]');
    await page.locator('#run-sample').waitFor();
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/workflows/text-cascade/infer') && r.request().method() === 'POST'),
      page.click('#run-sample'),
    ]);
    expect(res.status()).toBe(200);
    const plan = parsePlanHeader(res.headers()['x-cleave-plan']);
    expect([...plan.keys()].sort()).toEqual(['big', 'small']);
    expect(plan.get('small')?.kind).toBe('edge');
    expect(plan.get('big')?.raw).toBe('cloud');
    for (const [node, p] of plan) {
      const box = page.locator(`.live .workflow-graph [data-node="${node}"]`);
      await expect.poll(() => box.getAttribute('data-placement'), { message: node }).toBe(p.raw);
      expect(await box.getAttribute('data-kind'), node).toBe(p.kind);
    }
    expect(await page.textContent('.live .run-result .run-plan')).toBe(res.headers()['x-cleave-plan']);

    // More runs for the charts; the edge's own statistics (polled) then agree with the page.
    for (let i = 0; i < 4; i++) {
      await Promise.all([page.waitForResponse((r) => r.url().endsWith('/text-cascade/infer')), page.click('#run-sample')]);
      await page.locator('#run-sample:not([disabled])').waitFor();
    }
    await page.locator('[data-chart="over-time"] svg').waitFor();
    await expect.poll(() => page.textContent('[data-workflow="text-cascade"] .wf-stats')).toContain('5 runs');
    await page.click('.live .workflow-graph [data-node="big"]');
    await expect.poll(() => page.textContent('.node-details .details-placement')).toBe('cloud');
    await page.screenshot({ path: path.join(IMG, 'dashboard-graph.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    // The two refusals the steps asked for, and nothing else (no favicon, no stray request).
    expect(refused).toEqual(['401 POST /dashboard/login', '400 POST /v1/workflows/dry-run']);
  });

  it('draws the cloud\'s own view: its models, the batches it ran and the connected edge', async () => {
    const p = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
    try {
      p.setDefaultTimeout(UI_MS);
      await p.goto(`${cloud!.httpUrl}/dashboard/`);
      await p.locator('[data-model="text-base@1"]').waitFor();
      await expect.poll(() => p.textContent('[data-edge-count]')).toBe('1');
      // text-base ran the page's requests above: its batches are charted.
      await p.locator('[data-chart="batches"] svg').waitFor();
      expect(await p.textContent('[data-model="text-base@1"]')).toContain('READY');
      await p.screenshot({ path: path.join(IMG, 'dashboard-cloud.png'), fullPage: true });
    } finally {
      await p.close();
    }
  });
});
