// `cleave deploy workflow` as a real process against a real edge process (no cloud): deploys,
// re-deploys unchanged, refuses locally with every problem's path (nothing sent), prints the
// edge's own problems, and tells an unreachable edge (exit 1) from a bad document (exit 2).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

function cleave(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/cleave.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

const VALID = {
  name: 'cli-deploy-test',
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
  nodes: [{ id: 'm', type: 'model', params: { model: 'mlp-small', placement: 'edge' } }],
  edges: [{ source: 'input', target: 'm' }],
  outputs: [{ name: 'logits', from: 'm.logits' }],
};

// Two problems the validator finds on its own: a repeated node id and an output of nothing.
const INVALID_YAML = `
name: cli-deploy-bad
inputs:
  - { name: x, dtype: float32, shape: [-1, 64] }
nodes:
  - { id: m, type: model, params: { model: mlp-small } }
  - { id: m, type: model, params: { model: mlp-small } }
edges:
  - { source: input, target: m }
outputs:
  - { name: logits, from: nobody.logits }
`;

// Fine here (the zoo has text-base), refused by an edge with no cloud: it can only cut text-base itself.
const CLOUD_ONLY = {
  name: 'cli-deploy-cloud',
  inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }],
  nodes: [{ id: 't', type: 'model', params: { model: 'text-base', placement: 'cloud' } }],
  edges: [{ source: 'input', target: 't' }],
  outputs: [{ name: 'logits', from: 't.logits' }],
};

let edge: EdgeProcess;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cleave-deploy-'));
  await writeFile(path.join(dir, 'valid.json'), JSON.stringify(VALID));
  await writeFile(path.join(dir, 'invalid.yaml'), INVALID_YAML);
  await writeFile(path.join(dir, 'cloud-only.json'), JSON.stringify(CLOUD_ONLY));
  edge = await startEdgeProcess(['--no-warm']);
}, 120_000);
afterAll(async () => {
  await edge?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('cleave deploy workflow (real edge process)', () => {
  it('deploys, then answers unchanged for the same document', async () => {
    const first = await cleave(['deploy', 'workflow', path.join(dir, 'valid.json'), '--edge', edge.url, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ name: 'cli-deploy-test', version: 1, unchanged: false });
    const again = await cleave(['deploy', 'workflow', path.join(dir, 'valid.json'), '--edge', edge.url]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('deployed workflow "cli-deploy-test" version 1 (unchanged');
    const stored = await fetch(`${edge.url}/v1/workflows/cli-deploy-test`);
    expect(stored.status).toBe(200);
  }, 90_000);

  it('lists every local problem with its path, exits 2 and sends nothing', async () => {
    const r = await cleave(['deploy', 'workflow', path.join(dir, 'invalid.yaml'), '--edge', edge.url]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/workflow "cli-deploy-bad" has \d+ problems:/);
    expect(r.stderr).toContain('nodes[1].id: duplicate node id "m"');
    expect(r.stderr).toContain('outputs[0].from');
    expect(r.stderr).toContain('error CLEAVE_E_WORKFLOW_INVALID');
    expect((await fetch(`${edge.url}/v1/workflows/cli-deploy-bad`)).status).toBe(404);
  }, 60_000);

  it('prints the edge\'s problems when the edge refuses, and exits 2', async () => {
    const r = await cleave(['deploy', 'workflow', path.join(dir, 'cloud-only.json'), '--edge', edge.url]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('the edge found 1 problem');
    expect(r.stderr).toContain('nodes[0].params.placement');
    expect(r.stderr).toMatch(/error CLEAVE_E_WORKFLOW_INVALID: the edge at .* refused the workflow \(HTTP 400\)/);
  }, 60_000);

  it('--dry-run only checks; an unreachable edge exits 1', async () => {
    const port = await freePort();
    const [dry, down] = await Promise.all([
      cleave(['deploy', 'workflow', path.join(dir, 'valid.json'), '--dry-run']),
      cleave(['deploy', 'workflow', path.join(dir, 'valid.json'), '--edge', `http://127.0.0.1:${port}`]),
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('workflow "cli-deploy-test" is valid; not sent (--dry-run)');
    expect(down.code, down.stderr).toBe(1);
    expect(down.stderr).toContain(`error CLEAVE_E_UNAVAILABLE: cannot reach the edge at http://127.0.0.1:${port}`);
  }, 60_000);

  it('refuses a malformed --edge URL and a missing file with exit 2', async () => {
    const [url, missing] = await Promise.all([
      cleave(['deploy', 'workflow', path.join(dir, 'valid.json'), '--edge', 'ftp://x']),
      cleave(['deploy', 'workflow', path.join(dir, 'nope.json'), '--dry-run']),
    ]);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('edge URL "ftp://x" from --edge is not valid; expected an http:// or https:// URL');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error CLEAVE_E_NOT_FOUND: cannot read workflow file');
  }, 60_000);
});
