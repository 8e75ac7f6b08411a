/**
 * The zoo is generated, not downloaded, so its bytes must repeat: two builds in one process give
 * identical files, and they match the files on disk (built by another process, maybe another
 * day). A mismatch with disk after a code change means ZOO_VERSION was not bumped.
 */
import { describe, expect, it } from 'vitest';
import { nodeZooRunner } from '../../cli/zoo-files.js';
import { buildZoo } from '../../shared/zoo/index.js';
import { zooManifest } from '../helpers/zoo.js';

// One model per family plus a quantized variant (which builds its base): each code path once.
const SUBSET = ['text-tiny', 'audio-small', 'mlp-small', 'cnn-small-int8'];

describe('zoo generation', () => {
  it('is byte-identical across builds and matches the files on disk', async () => {
    const runner = nodeZooRunner();
    const first = await buildZoo(runner, { only: SUBSET });
    const second = await buildZoo(runner, { only: SUBSET });
    expect(first.map((b) => b.name)).toEqual(SUBSET);
    expect(second.map((b) => b.entry.sha256)).toEqual(first.map((b) => b.entry.sha256));
    expect(second.map((b) => b.entry)).toEqual(first.map((b) => b.entry));
    const onDisk = await zooManifest();
    for (const b of first) {
      expect(b.entry, `${b.name}: bytes differ from models/; bump ZOO_VERSION after changing the generator`).toEqual(onDisk.models.find((m) => m.name === b.name));
    }
  });

  it('fits the exit head to the same bytes as the files on disk (its base is rebuilt for it)', async () => {
    const built = await buildZoo(nodeZooRunner(), { only: ['cnn-large-exit'] });
    expect(built.map((b) => b.name)).toEqual(['cnn-large-exit']);
    const onDisk = await zooManifest();
    expect(built[0]!.entry, 'cnn-large-exit differs from models/; bump ZOO_VERSION or its version').toEqual(onDisk.models.find((m) => m.name === 'cnn-large-exit'));
  }, 60_000);

  it('rejects unknown model names with a coded error', async () => {
    await expect(buildZoo(nodeZooRunner(), { only: ['no-such-model'] })).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
  });
});
