// The directory-backed workflow store: what survives a restart (a new store over the same
// directory), corrupt and stray files at load, and atomic writes that leave no temp files.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkflowFileStore, workflowFileName } from '../../edge/workflow-file-store.js';
import { sampleWorkflow } from '../helpers/workflow-docs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleave-workflows-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function open(warnings: string[] = [], limits: { maxVersionsPerWorkflow?: number; maxWorkflows?: number } = {}): Promise<WorkflowFileStore> {
  return WorkflowFileStore.open({ dir, limits, warn: (m) => warnings.push(m) });
}

describe('WorkflowFileStore', () => {
  it('writes one file per version and a new store over the same directory sees the same versions', async () => {
    const a = await open();
    await a.put(sampleWorkflow('cascade', 'a'), { deployedAt: 1000 });
    const v2 = await a.put(sampleWorkflow('cascade', 'b'), { deployedAt: 2000, replicas: 4 });
    await a.put(sampleWorkflow('other'), { deployedAt: 3000 });
    expect((await readdir(dir)).sort()).toEqual(['cascade.v000001.json', 'cascade.v000002.json', 'other.v000001.json']);

    const warnings: string[] = [];
    const b = await open(warnings);
    expect(warnings).toEqual([]);
    expect(await b.list()).toEqual(await a.list());
    const { unchanged: _, ...record } = v2;
    expect(await b.get('cascade')).toEqual(record);
    expect((await b.get('cascade', 1))?.definition).toEqual(sampleWorkflow('cascade', 'a'));
    // Idempotence and numbering carry over the restart.
    expect((await b.put(sampleWorkflow('cascade', 'b'), { deployedAt: 9000, replicas: 4 })).unchanged).toBe(true);
    expect((await b.put(sampleWorkflow('cascade', 'c'), { deployedAt: 9000 })).version).toBe(3);
  });

  it('creates the directory when missing', async () => {
    const nested = join(dir, 'a', 'b');
    const s = await WorkflowFileStore.open({ dir: nested });
    await s.put(sampleWorkflow('x'), { deployedAt: 1 });
    expect(await readdir(nested)).toEqual(['x.v000001.json']);
  });

  it('skips a corrupt file with a warning, keeps the others, and never reuses its version', async () => {
    const a = await open();
    await a.put(sampleWorkflow('cascade', 'a'), { deployedAt: 1 });
    await a.put(sampleWorkflow('cascade', 'b'), { deployedAt: 2 });
    await a.put(sampleWorkflow('other'), { deployedAt: 3 });
    const file = join(dir, 'cascade.v000002.json');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, text.length / 2));
    // A hand edit that breaks the digest is caught too.
    await writeFile(join(dir, 'other.v000001.json'), (await readFile(join(dir, 'other.v000001.json'), 'utf8')).replace('doc a', 'doc z'));

    const warnings: string[] = [];
    const b = await open(warnings);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('cascade.v000002.json');
    expect(warnings[0]).toContain('not JSON');
    expect(warnings[1]).toContain('other.v000001.json');
    expect(warnings[1]).toContain('digest');
    expect((await b.get('cascade'))?.version).toBe(1);
    expect(await b.get('other')).toBeUndefined();
    // The bad file stays for a person to look at; the next version goes past it.
    expect((await b.put(sampleWorkflow('cascade', 'c'), { deployedAt: 4 })).version).toBe(3);
    expect(await readFile(file, 'utf8')).toBe(text.slice(0, text.length / 2));
  });

  it('warns about stray files and removes temp files left by an interrupted write', async () => {
    await writeFile(join(dir, 'README.txt'), 'hello');
    await writeFile(join(dir, '.cascade.v000001.json.1234.tmp'), '{"half');
    await writeFile(join(dir, 'cascade.v0000001.json'), '{}');
    const warnings: string[] = [];
    const s = await open(warnings);
    expect(await s.list()).toEqual([]);
    expect(warnings.join('\n')).toMatch(/removed \.cascade\.v000001\.json\.1234\.tmp/);
    expect(warnings.join('\n')).toMatch(/ignoring README\.txt/);
    expect(warnings.join('\n')).toMatch(/ignoring cascade\.v0000001\.json/);
    expect((await readdir(dir)).sort()).toEqual(['README.txt', 'cascade.v0000001.json']);
  });

  it('leaves no temp files after writes, prunes and deletes', async () => {
    const s = await open([], { maxVersionsPerWorkflow: 2 });
    await Promise.all(['a', 'b', 'c', 'd'].map((t) => s.put(sampleWorkflow('cascade', t), { deployedAt: 1 })));
    expect((await readdir(dir)).sort()).toEqual(['cascade.v000003.json', 'cascade.v000004.json']);
    expect(await s.delete('cascade', 3)).toBe(true);
    expect(await readdir(dir)).toEqual(['cascade.v000004.json']);
    expect(await s.delete('cascade')).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    expect(await (await open()).list()).toEqual([]);
  });

  it('a write that fails leaves the store as it was and no temp file behind', async () => {
    const s = await open();
    await s.put(sampleWorkflow('cascade', 'a'), { deployedAt: 1 });
    // A directory where version 2's file would go: the rename over it fails.
    await mkdir(join(dir, 'cascade.v000002.json'));
    await expect(s.put(sampleWorkflow('cascade', 'b'), { deployedAt: 2 })).rejects.toThrow();
    expect((await s.get('cascade'))?.version).toBe(1);
    expect((await readdir(dir)).sort()).toEqual(['cascade.v000001.json', 'cascade.v000002.json']);
  });

  it('keeps names inside the directory', () => {
    expect(() => workflowFileName('../escape', 1)).toThrow(/workflow name/);
    expect(workflowFileName('ok-1', 12)).toBe('ok-1.v000012.json');
  });
});
