// The KV-backed workflow store against an in-memory fake of the KV binding (get/put/delete/list
// with prefix and cursor paging, as Workers KV has them).
import { describe, expect, it } from 'vitest';
import { WORKFLOW_INDEX_KEY, WorkflowKvStore, workflowKey, workflowKvStoreFromEnv, type KvNamespaceLike } from '../../edge/workflow-kv-store.js';
import { rejectionOf, sampleWorkflow } from '../helpers/workflow-docs.js';

/** Workers KV in a Map; list pages `pageSize` keys at a time, in key order, like the real one. */
class FakeKv implements KvNamespaceLike {
  readonly data = new Map<string, string>();
  constructor(private readonly pageSize = 1000) {}

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.data.get(key) ?? null);
  }

  put(key: string, value: string): Promise<void> {
    this.data.set(key, value);
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.data.delete(key);
    return Promise.resolve();
  }

  list(opts: { prefix?: string; cursor?: string; limit?: number } = {}): Promise<{ keys: { name: string }[]; list_complete: boolean; cursor?: string }> {
    const all = [...this.data.keys()].filter((k) => k.startsWith(opts.prefix ?? '')).sort();
    const start = opts.cursor === undefined ? 0 : Number(opts.cursor);
    const page = all.slice(start, start + Math.min(opts.limit ?? 1000, this.pageSize));
    const end = start + page.length;
    return Promise.resolve(end < all.length ? { keys: page.map((name) => ({ name })), list_complete: false, cursor: String(end) } : { keys: page.map((name) => ({ name })), list_complete: true });
  }

  recordKeys(): string[] {
    return [...this.data.keys()].filter((k) => k !== WORKFLOW_INDEX_KEY).sort();
  }
}

describe('WorkflowKvStore', () => {
  it('stores each version under wf:<name>:<zero-padded version> and lists from the index', async () => {
    const kv = new FakeKv();
    const s = new WorkflowKvStore(kv);
    expect((await s.put(sampleWorkflow('cascade', 'a'), { deployedAt: 1000 })).version).toBe(1);
    expect((await s.put(sampleWorkflow('cascade', 'b'), { deployedAt: 2000, replicas: 2 })).version).toBe(2);
    await s.put(sampleWorkflow('other'), { deployedAt: 3000 });
    expect(kv.recordKeys()).toEqual(['wf:cascade:000001', 'wf:cascade:000002', 'wf:other:000001']);
    expect(workflowKey('cascade', 2)).toBe('wf:cascade:000002');
    expect(await s.list()).toEqual([
      { name: 'cascade', latestVersion: 2, versions: [1, 2], deployedAt: 2000, description: 'doc b' },
      { name: 'other', latestVersion: 1, versions: [1], deployedAt: 3000, description: 'doc a' },
    ]);
    expect((await s.get('cascade'))?.replicas).toBe(2);
    expect((await s.get('cascade', 1))?.definition).toEqual(sampleWorkflow('cascade', 'a'));
    expect(await s.get('cascade', 9)).toBeUndefined();
    expect(await s.get('NOT-a-name')).toBeUndefined();
  });

  it('a second store over the same namespace (another isolate) sees the same state', async () => {
    const kv = new FakeKv();
    await new WorkflowKvStore(kv).put(sampleWorkflow('cascade'), { deployedAt: 5 });
    const other = new WorkflowKvStore(kv);
    expect((await other.get('cascade'))?.deployedAt).toBe(5);
    const again = await other.put(sampleWorkflow('cascade'), { deployedAt: 6 });
    expect([again.version, again.unchanged, again.deployedAt]).toEqual([1, true, 5]);
  });

  it('prunes the oldest versions, deleting their keys', async () => {
    const kv = new FakeKv();
    const s = new WorkflowKvStore(kv, { limits: { maxVersionsPerWorkflow: 2 } });
    for (const t of ['a', 'b', 'c']) await s.put(sampleWorkflow('cascade', t), { deployedAt: 1 });
    expect(kv.recordKeys()).toEqual(['wf:cascade:000002', 'wf:cascade:000003']);
    expect((await s.list())[0]?.versions).toEqual([2, 3]);
  });

  it('refuses a new name past maxWorkflows', async () => {
    const s = new WorkflowKvStore(new FakeKv(), { limits: { maxWorkflows: 1 } });
    await s.put(sampleWorkflow('a'), { deployedAt: 1 });
    expect((await rejectionOf(s.put(sampleWorkflow('b'), { deployedAt: 1 }))).code).toBe('CLEAVE_E_TOO_LARGE');
    expect((await s.put(sampleWorkflow('a', 'b'), { deployedAt: 1 })).version).toBe(2);
  });

  it('deletes one version (the summary moves to the new latest), then all', async () => {
    const kv = new FakeKv();
    const s = new WorkflowKvStore(kv);
    await s.put(sampleWorkflow('cascade', 'a'), { deployedAt: 1 });
    await s.put(sampleWorkflow('cascade', 'b'), { deployedAt: 2 });
    expect(await s.delete('cascade', 2)).toBe(true);
    expect(await s.delete('cascade', 2)).toBe(false);
    expect(await s.list()).toEqual([{ name: 'cascade', latestVersion: 1, versions: [1], deployedAt: 1, description: 'doc a' }]);
    expect(await s.delete('cascade')).toBe(true);
    expect(await s.delete('cascade')).toBe(false);
    expect(await s.list()).toEqual([]);
    expect(kv.recordKeys()).toEqual([]);
  });

  it('rebuilds an unreadable index from the wf: keys (paged), with a warning', async () => {
    const kv = new FakeKv(2);
    const s = new WorkflowKvStore(kv);
    for (const t of ['a', 'b', 'c']) await s.put(sampleWorkflow('cascade', t), { deployedAt: t.charCodeAt(0) });
    await s.put(sampleWorkflow('other'), { deployedAt: 7 });
    const before = await s.list();
    await kv.put(WORKFLOW_INDEX_KEY, '{"format": broken');
    const warnings: string[] = [];
    const fresh = new WorkflowKvStore(kv, { warn: (m) => warnings.push(m) });
    expect(await fresh.list()).toEqual(before);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('rebuilding');
    // The rebuilt index was written back.
    expect(await new WorkflowKvStore(kv).list()).toEqual(before);
  });

  it('answers a corrupt record as absent, with a warning', async () => {
    const kv = new FakeKv();
    await new WorkflowKvStore(kv).put(sampleWorkflow('cascade'), { deployedAt: 1 });
    await kv.put('wf:cascade:000001', 'garbage');
    const warnings: string[] = [];
    const s = new WorkflowKvStore(kv, { warn: (m) => warnings.push(m) });
    expect(await s.get('cascade')).toBeUndefined();
    expect(warnings[0]).toContain('wf:cascade:000001');
    // The name is still held: the next put is version 2, not a new workflow.
    expect((await s.put(sampleWorkflow('cascade', 'b'), { deployedAt: 2 })).version).toBe(2);
  });

  it('rebuildIndex() recovers records an index update lost', async () => {
    const kv = new FakeKv();
    const s = new WorkflowKvStore(kv);
    await s.put(sampleWorkflow('cascade'), { deployedAt: 1 });
    await kv.delete(WORKFLOW_INDEX_KEY);
    expect(await s.list()).toEqual([]);
    expect(await s.rebuildIndex()).toEqual(['cascade']);
    expect((await s.list())[0]?.versions).toEqual([1]);
  });

  it('workflowKvStoreFromEnv needs the WORKFLOWS binding', () => {
    expect(workflowKvStoreFromEnv({})).toBeUndefined();
    // The binding as edge/workers-env.d.ts declares it for the Worker's env.
    const env: CleaveKvBindings = { WORKFLOWS: new FakeKv() };
    expect(workflowKvStoreFromEnv(env)).toBeInstanceOf(WorkflowKvStore);
  });
});
