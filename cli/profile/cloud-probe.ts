/**
 * What `cleave profile --cloud <url>` measures against a running cloud tier over the protocol:
 * PING round trips for the RTT, runs of the model (and of its split tails, which the cloud
 * serves by name) for the cloud's own compute and queue, and the link's bandwidth from those same
 * runs' frame sizes and times, net of the cloud's queue and compute. The samples go through the
 * router's LinkEstimator, so a bandwidth is learned (or not, for too small a request) exactly as
 * the edge learns it.
 */
import { CleaveError, toCleaveError } from '../../shared/errors.js';
import type { ProtocolClient } from '../../shared/protocol/client.js';
import type { ModelOffer } from '../../shared/protocol/frames.js';
import { LinkEstimator } from '../../shared/router/link-estimator.js';
import type { HostTensor } from '../../shared/tensor.js';
import { systemClock } from '../../shared/time.js';
import { connectCloud } from '../cloud-client.js';
import { percentile, summarize, type ComputeStats, type TimingOptions } from './measure.js';
import type { CloudCompute, CloudLink } from './report.js';

/** Protocol path of the cloud tier (cloud/server.ts PROTOCOL_PATH). */
const PROTOCOL_PATH = '/v1/ws';

/** Bytes a request should upload for its time to say something about bandwidth (4x the estimator's 16 KiB floor). */
export const SIZED_REQUEST_BYTES = 64 * 1024;

/** Budget of each run, ms: a profile waits, but not forever on a blackholed link. */
const RUN_DEADLINE_MS = 30_000;

/** An open protocol session to the cloud being profiled. */
export interface CloudSession {
  readonly url: string;
  readonly device: string;
  readonly offers: readonly ModelOffer[];
  readonly link: LinkEstimator;
  readonly client: ProtocolClient;
  close(): void;
}

/** The protocol URL for `url`: ws(s):// as given; http(s)://host[:port][/] gets the protocol path. */
export function protocolUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--cloud ${JSON.stringify(url)} is not a URL; expected ws://host:port${PROTOCOL_PATH} (or http://host:port)`, { option: '--cloud', value: url });
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    u.protocol = u.protocol === 'http:' ? 'ws:' : 'wss:';
    if (u.pathname === '/' || u.pathname === '') u.pathname = PROTOCOL_PATH;
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--cloud ${JSON.stringify(url)} has scheme ${u.protocol}; expected ws://, wss://, http:// or https://`, { option: '--cloud', value: url });
  }
  return u.toString();
}

/** Connects and completes the handshake; CLEAVE_E_UNAVAILABLE naming the URL when it cannot. */
export async function openCloud(url: string, token?: string): Promise<CloudSession> {
  const ws = protocolUrl(url);
  let client: ProtocolClient;
  try {
    client = await connectCloud(ws, { client: 'cleave-profile', helloTimeoutMs: 10_000, ...(token !== undefined ? { token } : {}) });
  } catch (e) {
    const err = toCleaveError(e, 'CLEAVE_E_UNAVAILABLE');
    throw new CleaveError(err.code === 'CLEAVE_E_INTERNAL' ? 'CLEAVE_E_UNAVAILABLE' : err.code, `cannot open the cloud at ${ws}: ${err.message}`, { url: ws }, { cause: e });
  }
  const welcome = await client.ready;
  return {
    url: ws, device: welcome.device, offers: welcome.models, client,
    link: new LinkEstimator({ clock: systemClock }),
    close: () => client.close(1000, 'profile done'),
  };
}

/** `n` PING round trips, into the link estimate; their p50 / p90. */
export async function measureRtt(s: CloudSession, n = 10): Promise<{ samples: number; p50Ms: number; p90Ms: number }> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ms = await s.client.ping();
    s.link.observeRtt(ms);
    out.push(ms);
  }
  out.sort((a, b) => a - b);
  return { samples: out.length, p50Ms: percentile(out, 0.5), p90Ms: percentile(out, 0.9) };
}

/** One timed run: the cloud's compute and queue, the round trip, and a link sample. */
async function runOnce(s: CloudSession, model: string, inputs: Record<string, HostTensor>): Promise<{ computeMs: number; queueMs: number; wireMs: number }> {
  const r = await s.client.run({ model, inputs, deadlineMs: RUN_DEADLINE_MS }).promise;
  const up = r.bytesUp >= r.bytesDown;
  s.link.observeTransfer({ bytes: up ? r.bytesUp : r.bytesDown, ms: Math.max(0, r.wireMs - r.timing.queueMs - r.timing.computeMs), direction: up ? 'up' : 'down' });
  return { computeMs: r.timing.computeMs, queueMs: r.timing.queueMs, wireMs: r.wireMs };
}

/**
 * Runs `model` in the cloud at each batch (`feeds(batch)`), warm-up first, as TimingOptions say.
 * Errors (an unknown model, a refused batch) come back as the cloud's CleaveError.
 */
export async function measureCloud(
  s: CloudSession, model: string, batches: readonly number[], feeds: (batch: number) => Record<string, HostTensor>, opts: TimingOptions & { onBatch?: (batch: number) => void } = {},
): Promise<CloudCompute> {
  const compute: ComputeStats[] = [];
  const wire: ComputeStats[] = [];
  const queues: number[] = [];
  for (const batch of batches) {
    const inputs = feeds(batch);
    for (let i = 0; i < (opts.warmup ?? 2); i++) await runOnce(s, model, inputs);
    const c: number[] = [];
    const w: number[] = [];
    for (let i = 0; i < (opts.runs ?? 20); i++) {
      const r = await runOnce(s, model, inputs);
      c.push(r.computeMs);
      w.push(r.wireMs);
      queues.push(r.queueMs);
    }
    compute.push(summarize(batch, c));
    wire.push(summarize(batch, w));
    opts.onBatch?.(batch);
  }
  queues.sort((a, b) => a - b);
  return { batches: compute, wire, queueMs: queues.length ? percentile(queues, 0.5) : 0 };
}

/**
 * Rows of a request large enough to time the upload (SIZED_REQUEST_BYTES, capped by the most rows
 * the cloud batches for `model`); 0 when the cloud does not offer it batched.
 */
export function sizedRows(s: CloudSession, model: string, inputBytesPerRow: number): number {
  const max = s.offers.find((o) => o.name === model)?.maxBatchSize ?? 0;
  if (max < 1 || inputBytesPerRow <= 0) return 0;
  return Math.max(1, Math.min(max, Math.ceil(SIZED_REQUEST_BYTES / inputBytesPerRow)));
}

/** A few runs of `inputs` whose only purpose is their link samples (see sizedRows). */
export async function sizedRuns(s: CloudSession, model: string, inputs: Record<string, HostTensor>, runs = 5): Promise<void> {
  for (let i = 0; i < runs; i++) await runOnce(s, model, inputs);
}

/** The link as measured, for the report and as a link profile. */
export function cloudLink(s: CloudSession, rtt: { samples: number; p50Ms: number; p90Ms: number }): CloudLink {
  const snap = s.link.snapshot();
  // Answers (logits) are rarely large enough to measure the download; it is then taken to be as
  // fast as the upload, the slower side of most access links, rather than the 10 Mbit/s prior.
  const down = snap.downSamples > 0 || snap.upSamples === 0 ? snap.downBitsPerSec : snap.upBitsPerSec;
  return {
    url: s.url, device: s.device, rtt,
    rttMs: snap.rttMs, upBitsPerSec: snap.upBitsPerSec, downBitsPerSec: down,
    upSamples: snap.upSamples, downSamples: snap.downSamples,
    // The RTT is always measured (PINGs); without an upload sample the bandwidths are priors.
    priorUsed: snap.upSamples === 0,
  };
}
