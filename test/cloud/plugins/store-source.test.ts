// The cloud's model source over a model store: an S3 bucket on a SigV4-checking loopback server
// synced into a real cache folder, read by the real FolderSource.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRepositoryObject, StoreSource, SYNC_STATE_FILE } from '../../../cloud/repository/store-source.js';
import { S3ModelStore } from '../../../shared/plugins/s3-model-store.js';
import { startFakeS3, type FakeS3 } from '../../helpers/s3-server.js';
import { zooModelBytes } from '../../helpers/zoo.js';

let s3: FakeS3;
let mlp: Uint8Array;
const dirs: string[] = [];
const KEY = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

beforeAll(async () => {
  s3 = await startFakeS3({ credentials: { AKIDTEST: 'test-secret' }, buckets: ['models'] });
  mlp = await zooModelBytes('mlp-small');
});
afterAll(async () => {
  await s3.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cleave-store-cache-'));
  dirs.push(d);
  return d;
}

function bucketStore(prefix: string, secret = KEY.secretAccessKey): S3ModelStore {
  return new S3ModelStore({ bucket: 'models', prefix, endpoint: s3.url, credentials: { ...KEY, secretAccessKey: secret } });
}

const gets = (from: number) => s3.requests.slice(from).filter((r) => r.method === 'GET' && !r.url.includes('list-type')).map((r) => r.url);

describe('StoreSource', () => {
  it('knows the repository layout', () => {
    for (const n of ['mlp-small/1/model.onnx', 'mlp-small/config.json', 'a/123456789/model.onnx']) expect(isRepositoryObject(n)).toBe(true);
    for (const n of ['mlp-small/0/model.onnx', 'mlp-small/1/model.bin', 'Mlp/1/model.onnx', 'readme.md', 'a/1/2/model.onnx', 'a/01/model.onnx']) expect(isRepositoryObject(n)).toBe(false);
  });

  it('syncs the Triton layout into the cache, serves it, and fetches only what changed on later lists and restarts', async () => {
    const store = bucketStore('sync');
    await store.put('mlp-small/1/model.onnx', mlp);
    await store.put('mlp-small/config.json', new TextEncoder().encode(JSON.stringify({ maxBatchSize: 4 })));
    await store.put('other/1/model.onnx', mlp);
    await store.put('notes/readme.md', new TextEncoder().encode('ignored'));
    const cache = await tempDir();
    const warnings: string[] = [];
    const source = new StoreSource(store, { cacheDir: cache, warn: (m) => warnings.push(m) });
    expect(source.description).toBe(`store s3://models/sync (cached in ${cache})`);

    let from = s3.requests.length;
    const configs = await source.list();
    expect(configs.map((c) => [c.name, c.versions, c.maxBatchSize])).toEqual([['mlp-small', [1], 4], ['other', [1], 32]]);
    expect(configs[0]!.inputs[0]).toMatchObject({ name: 'x', shape: [-1, 64] });
    expect(gets(from)).toHaveLength(3);
    expect(await readdir(cache)).toEqual(expect.arrayContaining(['mlp-small', 'other', SYNC_STATE_FILE]));
    expect(await readdir(cache)).not.toContain('notes');
    expect([...await source.read('mlp-small', 1)]).toEqual([...mlp]);

    from = s3.requests.length;
    await source.list();
    expect(gets(from)).toEqual([]);

    // A restart over the same cache finds the state file and fetches nothing either.
    from = s3.requests.length;
    await new StoreSource(store, { cacheDir: cache }).list();
    expect(gets(from)).toEqual([]);

    // A new version appears, a model disappears.
    await store.put('mlp-small/2/model.onnx', mlp);
    s3.buckets.get('models')!.delete('sync/other/1/model.onnx');
    from = s3.requests.length;
    const after = await source.list();
    expect(after.map((c) => [c.name, c.versions])).toEqual([['mlp-small', [1, 2]]]);
    expect(gets(from)).toEqual(['/models/sync/mlp-small/2/model.onnx']);
    const state = JSON.parse(await readFile(path.join(cache, SYNC_STATE_FILE), 'utf8')) as { store: string; objects: Record<string, unknown> };
    expect(state.store).toBe('s3://models/sync');
    expect(Object.keys(state.objects).sort()).toEqual(['mlp-small/1/model.onnx', 'mlp-small/2/model.onnx', 'mlp-small/config.json']);
    expect(warnings.filter((w) => !w.includes('other'))).toEqual([]);
  });

  it('serves the cached copy when the store is briefly unavailable, but not when credentials are wrong', async () => {
    const store = bucketStore('flaky');
    await store.put('m/1/model.onnx', mlp);
    const cache = await tempDir();
    const warnings: string[] = [];
    const source = new StoreSource(store, { cacheDir: cache, warn: (m) => warnings.push(m) });
    await source.list();
    s3.failNext(503);
    expect((await source.list()).map((c) => c.name)).toEqual(['m']);
    expect(warnings.join('\n')).toMatch(/model store s3:\/\/models\/flaky could not be synced \(.*503.*\); serving the cached copy/);

    await expect(new StoreSource(bucketStore('flaky', 'wrong'), { cacheDir: cache }).list()).rejects.toMatchObject({ code: 'CLEAVE_E_UNAUTHORIZED' });
    s3.failNext(503);
    await expect(new StoreSource(store, { cacheDir: await tempDir() }).list()).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
  });
});
