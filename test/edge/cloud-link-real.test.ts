// CloudLink on Node (`ws`, system clock) against a real cloud server in this process: it
// connects, runs a zoo model, notices the server going away, fails fast while it is gone, and
// reconnects by itself when a new server comes up on the same port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudLink } from '../../edge/cloud-link.js';
import type { LinkStatus } from '../../edge/cloud-transport.js';
import { nodeCloudLink } from '../../edge/node-socket.js';
import { hostTensor } from '../../shared/tensor.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';

let cloud: TestCloud | undefined;
let link: CloudLink | undefined;

beforeAll(async () => {
  cloud = await startTestCloud();
});
afterAll(async () => {
  await link?.close();
  await cloud?.stop();
});

/** Polls the link's status until `ok`, at most `ms`; fails with the last status seen. */
async function until(ok: (s: LinkStatus) => boolean, ms = 5000): Promise<LinkStatus> {
  const end = performance.now() + ms;
  for (;;) {
    const s = link!.status();
    if (ok(s)) return s;
    if (performance.now() > end) throw new Error(`link status did not get there within ${ms} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const run = () => link!.run({ model: 'mlp-small', inputs: { x: hostTensor('float32', [1, 64], new Float32Array(64).fill(0.5)) }, deadlineMs: 10_000 });

describe('CloudLink against a real cloud server', () => {
  it('runs a model, fails fast while the server is gone, and reconnects when it returns on the same port', async () => {
    const events: string[] = [];
    link = nodeCloudLink({
      url: cloud!.wsUrl, backoff: { initialMs: 20, maxMs: 200 }, heartbeatMs: 200,
      onStateChange: (s) => events.push(s.state),
    }).start();
    await until((s) => s.state === 'connected');

    const r = await run();
    expect(r.outputs.logits!.dims).toEqual([1, 10]);
    expect(r.timing.computeMs).toBeGreaterThan(0);
    expect(r.totalMs).toBeGreaterThan(0);
    const up = await until((s) => s.rttMs !== undefined);
    expect(up.connects).toBe(1);
    expect(up.failures).toBe(0);
    expect(up.offers.map((o) => o.name)).toContain('mlp-small');
    expect(up.url).toBe(cloud!.wsUrl);

    const port = cloud!.server.port;
    await cloud!.stop();
    cloud = undefined;
    const down = await until((s) => s.state === 'down');
    expect(down.failures).toBeGreaterThan(0);
    expect(down.lastError).toMatch(/ECONNREFUSED|503/);
    const t0 = performance.now();
    await expect(run()).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect(performance.now() - t0).toBeLessThan(100);

    cloud = await startTestCloud({ port: String(port) });
    const back = await until((s) => s.state === 'connected', 10_000);
    expect(back.connects).toBe(2);
    expect(back.failures).toBe(0);
    const again = await run();
    expect(again.outputs.logits!.dims).toEqual([1, 10]);
    expect(events[0]).toBe('connecting');
    expect(events).toContain('down');
    expect(events.at(-1)).toBe('connected');
  });
});
