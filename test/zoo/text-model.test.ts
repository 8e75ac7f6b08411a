/**
 * The text models' body: features that depend on the words strongly enough that int8 keeps the
 * fp32 answers (the acceptance target is 98% top-1 agreement), heads as decisive as a trained
 * model's, and texts without words handled (the mean over zero word tokens).
 */
import { describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { tokenize } from '../../shared/zoo/index.js';
import { zooManifest, zooModelBytes } from '../helpers/zoo.js';

describe('zoo text models', () => {
  it('text-tiny-int8 agrees with text-tiny on at least 98% of top-1 answers', async () => {
    const e = (await zooManifest()).models.find((m) => m.name === 'text-tiny-int8')!;
    expect(e.top1AgreementWithBase).toBeGreaterThanOrEqual(0.98);
  });

  it('text heads are decisive like trained ones: mean top-1 in [0.8, 0.93], no class above 40%', async () => {
    const models = (await zooManifest()).models.filter((m) => m.task === 'text-classification');
    expect(models.map((m) => m.name)).toEqual(['text-tiny', 'text-base', 'text-tiny-int8']);
    for (const e of models) {
      expect(e.meanTop1Prob, e.name).toBeGreaterThanOrEqual(0.8);
      expect(e.meanTop1Prob, e.name).toBeLessThanOrEqual(0.93);
      expect(e.maxClassShare, e.name).toBeLessThan(0.4);
    }
  });

  it('gives finite logits for texts with no words (only CLS and SEP survive tokenizing)', async () => {
    const loaded = await (await nodeBackends()).get('onnxruntime-node').load(await zooModelBytes('text-tiny'), { intraOpThreads: 1 });
    const out = (await loaded.run({ input_ids: tokenize(['', '?!', 'hello world']) })).logits!;
    await loaded.dispose();
    expect(out.dims).toEqual([3, 8]);
    expect([...(out.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });
});
