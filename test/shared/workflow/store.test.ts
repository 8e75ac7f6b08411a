import { describe, expect, it } from 'vitest';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import {
  canonicalJson, decodeStoredWorkflow, encodeStoredWorkflow, MemoryWorkflowStore, resolveWorkflowStoreLimits, workflowDigest,
} from '../../../shared/workflow/store.js';
import { rejectionOf, sampleWorkflow } from '../../helpers/workflow-docs.js';

const doc = sampleWorkflow;
const rejection = rejectionOf;

describe('workflowDigest', () => {
  it('is the SHA-256 of the canonical JSON, the same whatever the key order', async () => {
    const a = doc('x');
    const reordered = JSON.parse(JSON.stringify({ outputs: a.outputs, edges: a.edges, nodes: a.nodes, inputs: a.inputs, description: a.description, name: a.name })) as WorkflowDefinition;
    expect(await workflowDigest(reordered)).toBe(await workflowDigest(a));
    expect(await workflowDigest(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(await workflowDigest(doc('x', 'b'))).not.toBe(await workflowDigest(a));
  });

  it('canonical JSON sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: [{ z: 1, a: 2 }, 3], a: 'x', u: undefined })).toBe('{"a":"x","b":[{"a":2,"z":1},3]}');
  });
});

describe('MemoryWorkflowStore', () => {
  it('numbers versions 1, 2, 3 per name and answers the latest by default', async () => {
    const s = new MemoryWorkflowStore();
    const v1 = await s.put(doc('cascade', 'a'), { deployedAt: 1000 });
    const v2 = await s.put(doc('cascade', 'b'), { deployedAt: 2000, replicas: 2 });
    const other = await s.put(doc('other'), { deployedAt: 3000 });
    expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
    expect(v1.unchanged).toBe(false);
    expect((await s.get('cascade'))?.version).toBe(2);
    expect((await s.get('cascade'))?.replicas).toBe(2);
    expect((await s.get('cascade', 1))?.definition.description).toBe('doc a');
    expect(await s.get('cascade', 3)).toBeUndefined();
    expect(await s.get('nope')).toBeUndefined();
    expect(await s.list()).toEqual([
      { name: 'cascade', latestVersion: 2, versions: [1, 2], deployedAt: 2000, description: 'doc b' },
      { name: 'other', latestVersion: 1, versions: [1], deployedAt: 3000, description: 'doc a' },
    ]);
  });

  it('answers a re-put of the latest definition unchanged, without a new version', async () => {
    const s = new MemoryWorkflowStore();
    const first = await s.put(doc('cascade'), { deployedAt: 1000 });
    const again = await s.put(doc('cascade'), { deployedAt: 5000 });
    expect(again).toEqual({ ...first, unchanged: true });
    expect(again.deployedAt).toBe(1000);
    expect((await s.list())[0]?.versions).toEqual([1]);
  });

  it('makes a new version for the same definition with other replicas, and for an older definition', async () => {
    const s = new MemoryWorkflowStore();
    await s.put(doc('cascade', 'a'), { deployedAt: 1 });
    expect((await s.put(doc('cascade', 'a'), { deployedAt: 2, replicas: 3 })).version).toBe(2);
    await s.put(doc('cascade', 'b'), { deployedAt: 3 });
    // Only the latest counts: going back to a is a deploy.
    const back = await s.put(doc('cascade', 'a'), { deployedAt: 4 });
    expect([back.version, back.unchanged]).toEqual([4, false]);
  });

  it('keeps a private, frozen copy of the definition', async () => {
    const s = new MemoryWorkflowStore();
    const d = doc('cascade');
    await s.put(d, { deployedAt: 1 });
    d.description = 'changed after put';
    const r = await s.get('cascade');
    expect(r?.definition.description).toBe('doc a');
    expect(Object.isFrozen(r?.definition.nodes[0])).toBe(true);
  });

  it('prunes the oldest versions past maxVersionsPerWorkflow', async () => {
    const s = new MemoryWorkflowStore({ limits: { maxVersionsPerWorkflow: 3 } });
    for (let i = 0; i < 5; i++) await s.put(doc('cascade', `t${i}`), { deployedAt: i });
    expect((await s.list())[0]?.versions).toEqual([3, 4, 5]);
    expect(await s.get('cascade', 2)).toBeUndefined();
    expect((await s.put(doc('cascade', 'next'), { deployedAt: 9 })).version).toBe(6);
  });

  it('refuses a new name past maxWorkflows with CLEAVE_E_TOO_LARGE, but not a new version of a held one', async () => {
    const s = new MemoryWorkflowStore({ limits: { maxWorkflows: 2 } });
    await s.put(doc('a'), { deployedAt: 1 });
    await s.put(doc('b'), { deployedAt: 1 });
    const e = await rejection(s.put(doc('c'), { deployedAt: 1 }));
    expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
    expect(e.message).toContain('maxWorkflows');
    expect(e.detail).toMatchObject({ limit: 2, workflows: 2 });
    expect((await s.put(doc('a', 'b'), { deployedAt: 2 })).version).toBe(2);
    await s.delete('b');
    expect((await s.put(doc('c'), { deployedAt: 3 })).version).toBe(1);
  });

  it('deletes one version, then the rest; the latest moves back', async () => {
    const s = new MemoryWorkflowStore();
    for (const t of ['a', 'b', 'c']) await s.put(doc('cascade', t), { deployedAt: t.charCodeAt(0) });
    expect(await s.delete('cascade', 3)).toBe(true);
    expect(await s.delete('cascade', 3)).toBe(false);
    expect((await s.get('cascade'))?.version).toBe(2);
    expect((await s.list())[0]).toMatchObject({ latestVersion: 2, versions: [1, 2], description: 'doc b' });
    expect(await s.delete('cascade')).toBe(true);
    expect(await s.get('cascade')).toBeUndefined();
    expect(await s.list()).toEqual([]);
    expect(await s.delete('cascade')).toBe(false);
    expect(await s.delete('never')).toBe(false);
  });

  it('serializes concurrent puts: each gets its own version', async () => {
    const s = new MemoryWorkflowStore();
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((t) => s.put(doc('cascade', t), { deployedAt: 1 })));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
  });

  it('never reuses a reserved version (one seen on disk but unreadable)', async () => {
    const s = new MemoryWorkflowStore({ reservedVersions: new Map([['cascade', 7]]) });
    expect((await s.put(doc('cascade'), { deployedAt: 1 })).version).toBe(8);
  });

  it('refuses bad names, replicas and limits with CLEAVE_E_BAD_ARGUMENT', async () => {
    const s = new MemoryWorkflowStore();
    expect((await rejection(s.put(doc('../etc'), { deployedAt: 1 }))).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect((await rejection(s.put(doc('ok'), { deployedAt: 1, replicas: 0 }))).message).toContain('replicas');
    expect(() => resolveWorkflowStoreLimits({ maxWorkflows: 0 })).toThrow(/maxWorkflows/);
  });
});

describe('encodeStoredWorkflow / decodeStoredWorkflow', () => {
  it('round-trips a record and refuses a tampered one', async () => {
    const s = new MemoryWorkflowStore();
    const r = await s.put(doc('cascade'), { deployedAt: 12, replicas: 2 });
    const { unchanged: _, ...record } = r;
    const text = encodeStoredWorkflow(record);
    expect(await decodeStoredWorkflow(text, { name: 'cascade', version: 1 })).toEqual(record);
    await expect(decodeStoredWorkflow(text.replace('doc a', 'doc z'), { name: 'cascade', version: 1 })).rejects.toThrow(/digest/);
    await expect(decodeStoredWorkflow(text, { name: 'cascade', version: 2 })).rejects.toThrow(/version 2/);
    await expect(decodeStoredWorkflow(text.slice(0, 40), { name: 'cascade', version: 1 })).rejects.toThrow(/not JSON/);
  });
});
