import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { guardModelStore } from '../../../shared/plugins/guarded-model-store.js';
import type { ModelObject, ModelStore } from '../../../shared/plugins/model-store.js';
import { syncModelStore } from '../../../shared/plugins/store-sync.js';

/** An in-memory store that counts reads: the unit under test is the sync, not a store. */
class MemoryStore implements ModelStore {
  readonly objects = new Map<string, { bytes: Uint8Array; etag?: string }>();
  gets: string[] = [];
  constructor(private readonly withEtags: boolean) {}
  set(name: string, text: string, etag?: string): void {
    this.objects.set(name, { bytes: new TextEncoder().encode(text), ...(etag !== undefined ? { etag } : {}) });
  }
  async list(prefix = ''): Promise<ModelObject[]> {
    return [...this.objects].filter(([n]) => n.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, o]) => ({ name, bytes: o.bytes.byteLength, ...(this.withEtags && o.etag !== undefined ? { etag: o.etag } : {}) }));
  }
  async get(name: string): Promise<Uint8Array> {
    this.gets.push(name);
    const o = this.objects.get(name);
    if (!o) throw new CleaveError('CLEAVE_E_NOT_FOUND', name);
    return o.bytes;
  }
  async put(name: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(name, { bytes });
  }
  async delete(name: string): Promise<void> {
    this.objects.delete(name);
  }
  describe() {
    return { protocol: 'mem', location: 'mem://', readOnly: false };
  }
}

describe('syncModelStore', () => {
  it('copies new objects, skips unchanged ones, refetches changed ones and removes what it copied before', async () => {
    const from = new MemoryStore(true);
    const to = new MemoryStore(false);
    from.set('a/1/model.onnx', 'aaaa', 'e1');
    from.set('b/config.json', '{}', 'e2');
    from.set('skip/me.txt', 'x', 'e3');
    to.set('handmade/1/model.onnx', 'mine');
    const filter = (n: string) => !n.startsWith('skip/');

    const first = await syncModelStore(from, to, { filter });
    expect(first.fetched).toEqual(['a/1/model.onnx', 'b/config.json']);
    expect(new TextDecoder().decode(to.objects.get('a/1/model.onnx')!.bytes)).toBe('aaaa');
    expect(to.objects.has('skip/me.txt')).toBe(false);

    from.gets = [];
    const second = await syncModelStore(from, to, { filter, previous: first.state });
    expect(second.fetched).toEqual([]);
    expect(second.unchanged).toEqual(['a/1/model.onnx', 'b/config.json']);
    expect(from.gets).toEqual([]);

    from.set('a/1/model.onnx', 'bbbb', 'e9'); // same size, new content: the ETag tells
    from.objects.delete('b/config.json');
    const third = await syncModelStore(from, to, { filter, previous: second.state });
    expect(third.fetched).toEqual(['a/1/model.onnx']);
    expect(third.removed).toEqual(['b/config.json']);
    expect(new TextDecoder().decode(to.objects.get('a/1/model.onnx')!.bytes)).toBe('bbbb');
    expect(to.objects.has('b/config.json')).toBe(false);
    // Never recorded by a sync, so never removed.
    expect(to.objects.has('handmade/1/model.onnx')).toBe(true);
  });

  it('fetches again when the local copy went missing, and reports progress as it goes', async () => {
    const from = new MemoryStore(true);
    const to = new MemoryStore(false);
    from.set('a/1/model.onnx', 'aaaa', 'e1');
    from.set('c/1/model.onnx', 'cc', 'e2');
    const seen: string[][] = [];
    const first = await syncModelStore(from, to, { onProgress: (s) => { seen.push(Object.keys(s)); } });
    expect(seen).toEqual([['a/1/model.onnx'], ['a/1/model.onnx', 'c/1/model.onnx']]);
    to.objects.delete('c/1/model.onnx');
    expect((await syncModelStore(from, to, { previous: first.state })).fetched).toEqual(['c/1/model.onnx']);
  });

  it('a name such as __proto__ is a plain key of the state', async () => {
    const from = new MemoryStore(true);
    const to = new MemoryStore(false);
    from.set('__proto__', 'x', 'e');
    const r = await syncModelStore(from, to);
    expect(Object.keys(r.state)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).bytes).toBeUndefined();
  });

  it('a failing read propagates after the progress so far was reported', async () => {
    const from = new MemoryStore(true);
    from.set('a/1/model.onnx', 'a', 'e1');
    from.set('b/1/model.onnx', 'b', 'e2');
    from.get = async (name) => {
      if (name.startsWith('b')) throw new CleaveError('CLEAVE_E_UNAVAILABLE', 'down');
      return new Uint8Array([1]);
    };
    let last: string[] = [];
    await expect(syncModelStore(from, new MemoryStore(false), { onProgress: (s) => { last = Object.keys(s); } })).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect(last).toEqual(['a/1/model.onnx']);
  });
});

describe('guardModelStore', () => {
  it('checks names before the plugin sees them, drops listed names that break the rule, and codes foreign errors', async () => {
    const calls: string[] = [];
    const plugin: ModelStore = {
      list: async () => [{ name: 'ok/1/model.onnx', bytes: 3 }, { name: '../escape', bytes: 1 }, { name: 'x', bytes: 1, etag: 'e' }] as ModelObject[],
      get: async (n) => { calls.push(n); throw new TypeError('socket hang up'); },
      put: async (n) => { calls.push(n); },
      describe: () => ({ protocol: 'gs', location: 'gs://b', readOnly: false }),
    };
    const g = guardModelStore(plugin, 'gcs-store@1.0.0');
    expect((await g.list()).map((o) => o.name)).toEqual(['ok/1/model.onnx', 'x']);
    await expect(g.get('../../etc/passwd')).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    expect(calls).toEqual([]);
    const e = await g.get('ok/1/model.onnx').catch((x: unknown) => x) as CleaveError;
    expect(e.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(e.message).toMatch(/plugin gcs-store@1\.0\.0: model store get\("ok\/1\/model\.onnx"\) failed: socket hang up/);
    expect(g.delete).toBeUndefined();
  });

  it('refuses what a plugin returns when it is not what the interface promises', async () => {
    const plugin = {
      list: async () => [{ name: 'a', bytes: -1 }],
      get: async () => 'not bytes',
      put: async () => undefined,
      describe: () => ({ protocol: 'gs', location: 'gs://b', readOnly: false }),
    } as unknown as ModelStore;
    const g = guardModelStore(plugin, 'p@1.0.0');
    await expect(g.list()).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringMatching(/size of -1/) });
    await expect(g.get('a')).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringMatching(/expected a Uint8Array/) });
  });
});
