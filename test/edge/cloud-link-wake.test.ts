// CloudLink's demand-driven reconnect (wakeIntervalMs): while the link is down and the backoff has
// put the next attempt far off, a run starts an attempt at once, at most one per interval. Found by
// test/e2e/faults.test.ts: after a 5 s outage the backoff (full jitter up to 10 s) left a restored
// link unused for over 5 s. ManualClock throughout; no sleeps. The harness is a slim copy of
// cloud-link.test.ts's (an in-memory socket to a real ServerSession), kept here so that file stays
// as it is.
import { describe, expect, it } from 'vitest';
import { CloudLink, type CloudLinkOptions } from '../../edge/cloud-link.js';
import type { CleaveError } from '../../shared/errors.js';
import type { WebSocketLike } from '../../shared/protocol/client.js';
import { DEFAULT_LIMITS } from '../../shared/protocol/constants.js';
import type { ModelOffer, TensorMap } from '../../shared/protocol/frames.js';
import { ServerSession, type ServiceRunResult } from '../../shared/protocol/server-session.js';
import { hostTensor } from '../../shared/tensor.js';
import { ManualClock } from '../../shared/time.js';

const OFFER: ModelOffer = {
  name: 'add-one', version: 1, maxBatchSize: 8,
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
};

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

type Listener = (ev: never) => void;

/** The client end of an in-memory socket: refused at once, or accepted by a ServerSession. */
class FakeSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  session: ServerSession | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: Uint8Array): void {
    const copy = data.slice();
    queueMicrotask(() => this.session?.receive(copy));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    queueMicrotask(() => this.finish(code, reason));
  }

  accept(session: ServerSession): void {
    this.session = session;
    this.readyState = 1;
    this.emit('open', undefined);
  }

  refuse(): void {
    this.emit('error', { message: 'connect ECONNREFUSED 10.0.0.9:9000' });
    this.finish(1006, '');
  }

  deliver(bytes: Uint8Array): void {
    if (this.readyState !== 1) return;
    const buf = bytes.slice().buffer;
    queueMicrotask(() => { if (this.readyState === 1) this.emit('message', { data: buf }); });
  }

  finish(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.session?.closed();
    this.emit('close', { code, reason });
  }

  private emit(type: string, ev: unknown): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: unknown) => void)(ev);
  }
}

/** The far side: refuses or accepts each connection; accepted ones run add-one. */
class FakeCloud {
  mode: 'accept' | 'refuse' = 'refuse';
  /** Clock time of each connect call. */
  readonly attempts: number[] = [];

  constructor(private readonly clock: ManualClock) {}

  readonly connect = (): WebSocketLike => {
    const s = new FakeSocket();
    this.attempts.push(this.clock.now());
    const mode = this.mode;
    queueMicrotask(() => (mode === 'accept' ? this.accept(s) : s.refuse()));
    return s;
  };

  private accept(s: FakeSocket): void {
    const session = new ServerSession(
      { send: (b) => s.deliver(b), close: (code, reason) => queueMicrotask(() => s.finish(code, reason)) },
      {
        id: 's', clock: this.clock, wallClock: this.clock, timers: this.clock, limits: DEFAULT_LIMITS,
        metrics: { streams: () => undefined, protocolError: () => undefined },
        service: {
          infer: (req) => {
            const x = req.inputs.x!;
            const result: ServiceRunResult = {
              model: req.model, version: 1,
              outputs: { y: hostTensor('float32', x.dims, Float32Array.from(x.data as Float32Array, (v) => v + 1)) },
              timing: { queueMs: 0, computeMs: 1, batchSize: 1 },
            };
            return { promise: Promise.resolve(result), cancel: () => false };
          },
          loadReport: () => ({}),
        },
        serverName: 'fake-cloud', device: 'cpu', offers: () => [OFFER], authenticated: true, loadIntervalMs: 1_000_000,
      },
    );
    s.accept(session);
  }
}

const input = (): TensorMap => ({ x: hostTensor('float32', [1, 4], new Float32Array([1, 2, 3, 4])) });

function track<T>(p: Promise<T>): { readonly value?: T; readonly error?: CleaveError; readonly settled: boolean } {
  const s: { value?: T; error?: CleaveError; settled: boolean } = { settled: false };
  p.then((v) => { s.value = v; s.settled = true; }, (e: CleaveError) => { s.error = e; s.settled = true; });
  return s;
}

/** A link that failed `failures` times with random() = 1, so the next attempt is a full ceiling away. */
async function downAfter(failures: number, opts: Partial<CloudLinkOptions> = {}): Promise<{ clock: ManualClock; cloud: FakeCloud; link: CloudLink; events: Record<string, unknown>[] }> {
  const clock = new ManualClock(1000);
  const cloud = new FakeCloud(clock);
  const events: Record<string, unknown>[] = [];
  const link = new CloudLink({
    url: 'ws://cloud.test:9000/v1/ws', connect: cloud.connect, clock, timers: clock, random: () => 0.999,
    backoff: { initialMs: 100, maxMs: 10_000, factor: 2 }, heartbeatMs: 1000, heartbeatTimeoutMs: 3000,
    firstConnectWaitMs: 1000, log: (e) => events.push(e), ...opts,
  });
  link.start();
  await flush();
  while (cloud.attempts.length < failures) {
    clock.advance(10_000);
    await flush();
  }
  expect(link.status()).toMatchObject({ state: 'down', failures });
  return { clock, cloud, link, events };
}

describe('CloudLink wake on demand (wakeIntervalMs)', () => {
  it('a run while down with the next attempt far off starts one at once and, once the cloud is back, is sent on it', async () => {
    // 7 failures: the 8th attempt is 0.999 * min(10000, 100 * 2^6) = 6394 ms away.
    const { clock, cloud, link, events } = await downAfter(7);
    const n = cloud.attempts.length;
    cloud.mode = 'accept';
    const p = track(link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 }));
    expect(cloud.attempts).toHaveLength(n + 1);
    expect(cloud.attempts.at(-1)).toBe(clock.now());
    await flush();
    expect(p.error).toBeUndefined();
    expect(Array.from(p.value!.outputs.y!.data as Float32Array)).toEqual([2, 3, 4, 5]);
    expect(link.status()).toMatchObject({ state: 'connected', failures: 0, connects: 1 });
    expect(events.find((e) => e.event === 'cloud-link-wake')).toMatchObject({ failures: 7, scheduledInMs: 6394 });
    await link.close();
  });

  it('while the cloud stays out: runs fail fast, and wake at most one attempt per wakeIntervalMs', async () => {
    const { clock, cloud, link } = await downAfter(7);
    const n = cloud.attempts.length;
    const t0 = clock.now();
    // A run every 50 ms for 2 s: each is refused (at once, or as soon as its woken attempt fails).
    const outcomes: ReturnType<typeof track>[] = [];
    for (let t = 0; t < 2000; t += 50) {
      outcomes.push(track(link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 })));
      await flush();
      clock.advance(50);
    }
    await flush();
    expect(outcomes.every((o) => o.settled && o.error?.code === 'CLEAVE_E_UNAVAILABLE')).toBe(true);
    const woken = cloud.attempts.slice(n).map((at) => at - t0);
    // At 0, 500, 1000, 1500 ms: one per interval, never closer.
    expect(woken).toEqual([0, 500, 1000, 1500]);
    await link.close();
  });

  it('does not wake when the scheduled attempt is near, nor with wakeIntervalMs Infinity', async () => {
    // 2 failures: the next attempt is 0.999 * 200 = 199.8 ms away, under the 500 ms interval.
    const near = await downAfter(2);
    const n = near.cloud.attempts.length;
    expect(track(near.link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 }))).toBeDefined();
    expect(near.cloud.attempts).toHaveLength(n);
    await near.link.close();

    const off = await downAfter(7, { wakeIntervalMs: Infinity });
    const m = off.cloud.attempts.length;
    const p = track(off.link.run({ model: 'add-one', inputs: input(), deadlineMs: 2000 }));
    await flush();
    expect(off.cloud.attempts).toHaveLength(m);
    expect(p.error?.message).toContain('next in 6394 ms');
    await off.link.close();
  });

  it('rejects a negative or NaN wakeIntervalMs by name', () => {
    const clock = new ManualClock();
    for (const v of [-1, Number.NaN]) {
      expect(() => new CloudLink({ url: 'ws://x/v1/ws', connect: new FakeCloud(clock).connect, clock, timers: clock, random: () => 0, wakeIntervalMs: v }))
        .toThrow(/wakeIntervalMs/);
    }
  });
});
