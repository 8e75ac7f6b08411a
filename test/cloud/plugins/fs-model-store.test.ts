import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FsModelStore, fsModelStoreFactory } from '../../../cloud/plugins/fs-model-store.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cleave-fs-store-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const bytes = (s: string) => new TextEncoder().encode(s);

describe('FsModelStore', () => {
  it('puts, gets and lists objects by name with sizes and mtimes, sorted, skipping hidden files', async () => {
    const root = path.join(await tempDir(), 'store'); // created by the first put
    const s = new FsModelStore(root);
    await s.put('mlp-small/1/model.onnx', bytes('onnx-bytes'));
    await s.put('mlp-small/config.json', bytes('{}'));
    await s.put('cnn/2/model.onnx', bytes('c'));
    await writeFile(path.join(root, 'mlp-small', '.partial.tmp'), 'x');
    const all = await s.list();
    expect(all.map((o) => [o.name, o.bytes])).toEqual([['cnn/2/model.onnx', 1], ['mlp-small/1/model.onnx', 10], ['mlp-small/config.json', 2]]);
    expect(all[0]!.modified).toBeGreaterThan(Date.parse('2020-01-01'));
    expect((await s.list('mlp-small/')).map((o) => o.name)).toEqual(['mlp-small/1/model.onnx', 'mlp-small/config.json']);
    expect((await s.list('mlp')).length).toBe(2);
    expect(new TextDecoder().decode(await s.get('mlp-small/1/model.onnx'))).toBe('onnx-bytes');
    expect(s.describe()).toEqual({ protocol: 'fs', location: root, readOnly: false });
  });

  it('replaces atomically: no temporary file is left and the new content wins', async () => {
    const root = await tempDir();
    const s = new FsModelStore(root);
    await s.put('m/1/model.onnx', bytes('old'));
    await s.put('m/1/model.onnx', bytes('new!'));
    expect(await readdir(path.join(root, 'm', '1'))).toEqual(['model.onnx']);
    expect(new TextDecoder().decode(await s.get('m/1/model.onnx'))).toBe('new!');
    await s.delete('m/1/model.onnx');
    await s.delete('m/1/model.onnx'); // absent is fine
    await expect(s.get('m/1/model.onnx')).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
  });

  it.each(['../outside.onnx', '/etc/passwd', 'a/../../b', '.hidden', 'a\\..\\b'])('refuses the name %j before touching the disk', async (name) => {
    const root = await tempDir();
    const s = new FsModelStore(root);
    await expect(s.get(name)).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await expect(s.put(name, bytes('x'))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await expect(s.delete(name)).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    expect(await readdir(path.dirname(root))).not.toContain('outside.onnx');
  });

  it('a symlink planted in the folder cannot lead out of it, for reads, writes or listings', async () => {
    const base = await tempDir();
    const root = path.join(base, 'store');
    const outside = path.join(base, 'secret');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(path.join(outside, 'key.pem'), 'secret');
    await symlink(outside, path.join(root, 'link'));
    await symlink(path.join(outside, 'key.pem'), path.join(root, 'file-link'));
    await symlink(root, path.join(root, 'loop')); // a cycle back to the root
    const s = new FsModelStore(root);
    await expect(s.get('link/key.pem')).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringMatching(/outside the store folder/) });
    await expect(s.get('file-link')).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await expect(s.put('link/evil.onnx', bytes('x'))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    expect(await readdir(outside)).toEqual(['key.pem']);
    await s.put('ok/1/model.onnx', bytes('m'));
    expect((await s.list()).map((o) => o.name)).toEqual(['ok/1/model.onnx']);
  });

  it('limits: an object over maxObjectBytes and a listing over maxListedObjects are refused with CLEAVE_E_TOO_LARGE', async () => {
    const root = await tempDir();
    const s = new FsModelStore(root, { maxObjectBytes: 4, maxListedObjects: 2 });
    await expect(s.put('big', bytes('12345'))).rejects.toMatchObject({ code: 'CLEAVE_E_TOO_LARGE', message: expect.stringMatching(/5 bytes, more than the 4-byte limit/) });
    await writeFile(path.join(root, 'big'), '12345');
    await expect(s.get('big')).rejects.toMatchObject({ code: 'CLEAVE_E_TOO_LARGE' });
    await writeFile(path.join(root, 'c'), '1');
    expect((await s.list()).length).toBe(2); // at the limit is fine
    await writeFile(path.join(root, 'd'), '1');
    await expect(s.list()).rejects.toMatchObject({ code: 'CLEAVE_E_TOO_LARGE', message: expect.stringMatching(/more than 2 files/) });
  });

  it('read-only stores refuse writes; a missing root is CLEAVE_E_NOT_FOUND naming it', async () => {
    const root = await tempDir();
    const ro = new FsModelStore(root, { readOnly: true });
    await expect(ro.put('a', bytes('x'))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringMatching(/read-only/) });
    const missing = new FsModelStore(path.join(root, 'nope'));
    await expect(missing.list()).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringContaining(path.join(root, 'nope')) });
  });

  it('the fs factory takes plain paths and file: URLs', async () => {
    const root = await tempDir();
    const f = fsModelStoreFactory();
    expect((await f(root, { env: {} })).describe().location).toBe(root);
    expect((await f(pathToFileURL(root).href, { env: {} })).describe().location).toBe(root);
    await expect(Promise.resolve().then(() => f('file://remote-host/share', { env: {} }))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
  });
});
