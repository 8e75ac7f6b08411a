// CloudPool over two real CloudLinks (Node `ws`, system clock) to two real `cleave cloud` child
// processes: runs succeed on both; one cloud is SIGKILLed with runs in flight; every run, those
// in flight included, still succeeds within its deadline on the other (at most one retry each),
// and the dead endpoint is left out.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudProcess, type CloudProcess } from '../../bench/cloud-process.js';
import type { CloudLink } from '../../edge/cloud-link.js';
import { CloudPool } from '../../edge/cloud-pool.js';
import { nodeCloudLink } from '../../edge/node-socket.js';
import { hostTensor } from '../../shared/tensor.js';
import { systemClock, systemTimers } from '../../shared/time.js';
import { writeRepository } from '../helpers/cloud.js';
import { zooModelBytes } from '../helpers/zoo.js';

const DEADLINE_MS = 5_000;

let dir: string | undefined;
const clouds: CloudProcess[] = [];
let links: CloudLink[] = [];
let pool: CloudPool | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cleave-pool-repo-'));
  // One small model, so each process is ready in a couple of seconds.
  await writeRepository(dir, [{ name: 'mlp-small', versions: { 1: await zooModelBytes('mlp-small') } }]);
  const started = await Promise.allSettled([0, 1].map(() => startCloudProcess(['--no-log', '--device', 'cpu', '--repository', dir!], { timeoutMs: 20_000 })));
  for (const s of started) if (s.status === 'fulfilled') clouds.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}, 30_000);

afterAll(async () => {
  await pool?.close();
  // By PID, each process this file started: SIGTERM, then SIGKILL after 2 s.
  await Promise.all(clouds.map((c) => c.stop(2_000)));
  if (dir) await rm(dir, { recursive: true, force: true });
}, 15_000);

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One run; resolves with its wall time, ms. */
async function run(seed: number): Promise<number> {
  const t0 = performance.now();
  const x = hostTensor('float32', [1, 64], Float32Array.from({ length: 64 }, (_, i) => Math.sin(seed + i)));
  const r = await pool!.run({ model: 'mlp-small', inputs: { x }, deadlineMs: DEADLINE_MS });
  expect(r.outputs.logits!.dims).toEqual([1, 10]);
  return performance.now() - t0;
}

describe('CloudPool against two real cloud processes', () => {
  it('keeps answering within the deadline after one cloud is SIGKILLed', async () => {
    links = clouds.map((c) => nodeCloudLink({ url: c.wsUrl, backoff: { initialMs: 20, maxMs: 200 }, heartbeatMs: 500, firstConnectWaitMs: 200 }).start());
    pool = new CloudPool({
      endpoints: links.map((l, i) => ({ url: clouds[i]!.wsUrl, transport: l })),
      clock: systemClock, timers: systemTimers, random: Math.random,
    });
    await until(() => pool!.endpoints().every((e) => e.state === 'connected'), 5_000, 'both links connecting');
    expect(pool.status().state).toBe('connected');
    expect(pool.status().offers.map((o) => o.name)).toEqual(['mlp-small']);

    for (let i = 0; i < 20; i++) await run(i);
    // Concurrent runs spread over both (the one in flight counts against an endpoint's price).
    await Promise.all(Array.from({ length: 16 }, (_, i) => run(100 + i)));
    const before = pool.endpoints();
    expect(before.every((e) => e.requests > 0)).toBe(true);
    expect(before.every((e) => e.failures === 0)).toBe(true);

    // Kill the first cloud with runs in flight on both.
    const victim = clouds[0]!;
    const inflight = Array.from({ length: 16 }, (_, i) => run(200 + i));
    victim.child.kill('SIGKILL');
    const times = await Promise.all(inflight);
    for (let i = 0; i < 40; i++) times.push(await run(300 + i));
    expect(times.every((ms) => ms < DEADLINE_MS)).toBe(true);

    await until(() => pool!.endpoints()[0]!.state !== 'connected', 5_000, 'the dead link going down');
    const after = pool.endpoints();
    // Runs in flight on the dead endpoint failed there and were retried on the live one, which
    // failed nothing. (A hedge that failed there needs no retry: its first attempt answered.)
    expect(after[0]!.failures).toBeGreaterThanOrEqual(1);
    expect(after[1]!.retries).toBeGreaterThanOrEqual(1);
    expect(after[1]!.retries).toBeLessThanOrEqual(after[0]!.failures);
    expect(after[1]!.failures).toBe(0);
    expect(after.map((e) => e.outstanding)).toEqual([0, 0]);
    expect(pool.status().state).toBe('connected');
    // Runs after the link went down do not try it, even while it tries to reconnect.
    const sent = after[0]!.requests;
    for (let i = 0; i < 20; i++) await run(400 + i);
    expect(pool.endpoints()[0]!.requests).toBe(sent);
  }, 30_000);
});
