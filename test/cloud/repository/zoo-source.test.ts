import { describe, expect, it } from 'vitest';
import { ZooSource } from '../../../cloud/repository/zoo-source.js';
import { CleaveError } from '../../../shared/errors.js';
import { zooDir, zooManifest, zooModelBytes } from '../../helpers/zoo.js';

describe('ZooSource', () => {
  it('lists every zoo model in manifest order with N as -1 and the given maxBatchSize', async () => {
    const manifest = await zooManifest();
    const list = await new ZooSource(await zooDir(), { defaultMaxBatchSize: 12 }).list();
    expect(list.map((c) => c.name)).toEqual(manifest.models.map((m) => m.name));
    for (const c of list) {
      const e = manifest.models.find((m) => m.name === c.name)!;
      expect(c.versions).toEqual([e.version]);
      expect(c.maxBatchSize).toBe(12);
      expect(c.inputs.map((t) => t.shape[0])).toEqual(e.inputs.map(() => -1));
      expect(c.warmup).toEqual({ enabled: true, batchSizes: [1] });
    }
    const mlp = list.find((c) => c.name === 'mlp-small')!;
    expect(mlp.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [-1, 64] }]);
    expect(mlp.outputs).toEqual([{ name: 'logits', dtype: 'float32', shape: [-1, 10] }]);
  });

  it('defaults to maxBatchSize 32 and can serve a subset, in the order asked', async () => {
    const list = await new ZooSource(await zooDir(), { only: ['text-tiny', 'mlp-small'] }).list();
    expect(list.map((c) => [c.name, c.maxBatchSize])).toEqual([['text-tiny', 32], ['mlp-small', 32]]);
  });

  it('reads a model\'s bytes for its manifest version only', async () => {
    const src = new ZooSource(await zooDir());
    const bytes = await src.read('mlp-small', 1);
    expect(Buffer.from(bytes).equals(Buffer.from(await zooModelBytes('mlp-small')))).toBe(true);
    await expect(src.read('mlp-small', 2)).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: 'zoo model "mlp-small" has version 1, not 2' });
    await expect(src.read('nope', 1)).rejects.toBeInstanceOf(CleaveError);
    await expect(src.read('../manifest', 1)).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
  });

  it('a folder without a manifest is CLEAVE_E_NOT_FOUND naming it', async () => {
    await expect(new ZooSource('/nonexistent-zoo').list()).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringContaining('/nonexistent-zoo/manifest.json') });
  });
});
