// `cleave cloud` as a real separate process with the zoo and no configuration: it answers over
// the protocol and over KServe v2, says which device it chose, and exits 0 on SIGTERM after a drain.
import { describe, expect, it } from 'vitest';
import { startCloudProcess } from '../../bench/cloud-process.js';
import { connectCloud } from '../../cli/cloud-client.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';

describe('cleave cloud (child process)', () => {
  it('serves the zoo over WebSocket and HTTP, then drains and exits 0 on SIGTERM', async () => {
    const cloud = await startCloudProcess(['--no-log']);
    try {
      expect(cloud.output()).toMatch(/device cpu: /);
      const client = await connectCloud(cloud.wsUrl);
      const welcome = await client.ready;
      expect(welcome.models.map((m) => m.name)).toEqual(expect.arrayContaining(['text-tiny', 'cnn-large', 'audio-large', 'mlp-large']));
      const r = await client.run({ model: 'audio-large', inputs: zooSampleInputs('audio-large', 1, 1)! }).promise;
      expect(r.outputs.token_logits!.dims).toEqual([1, 50, 32]);
      const ready = await fetch(`${cloud.httpUrl}/v2/health/ready`);
      expect(ready.status).toBe(200);
      const inflight = client.run({ model: 'cnn-large', inputs: zooSampleInputs('cnn-large', 4, 2)! }).promise;
      const exit = cloud.stop();
      // The run sent before SIGTERM still gets its answer.
      expect((await inflight).outputs.logits!.dims).toEqual([4, 10]);
      expect(await exit).toBe(0);
    } finally {
      await cloud.stop();
    }
  });
});
