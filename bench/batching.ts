/**
 * Dynamic batching on the cloud tier: the 512-2048-2048-10 MLP (zoo `mlp-large`) on the CPU,
 * served by a `cleave cloud` child process, driven by this process over one real WebSocket at
 * concurrency 1, 8 and 64 (closed loop: each of c workers sends its next request when its last
 * one is answered). Batching on (max batch 64, max queue delay 2 ms) against batching off
 * (every request runs alone) measured in the same run: throughput, p50 and p99.
 *
 * Goal (issue 3): >= 3x throughput at concurrency 64, with p99 <= max queue delay + 2x the
 * compute time of one batch (median batch compute reported by the server at that concurrency).
 * A third run, batching on with inference on the server's main thread, shows what the worker
 * threads cost and buy on this box.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectCloud } from '../cli/cloud-client.js';
import { createRng } from '../shared/rng.js';
import { hostTensor } from '../shared/tensor.js';
import { startCloudProcess } from './cloud-process.js';
import { median, percentile } from './stats.js';

export interface BatchingBenchOptions {
  readonly quick: boolean;
  readonly out?: string;
  readonly log?: (line: string) => void;
}

export interface BatchingRow {
  readonly batching: 'on' | 'off';
  /** Where inference ran: a worker thread per model (the default) or the server's main thread. */
  readonly inference: 'worker' | 'main-thread';
  readonly concurrency: number;
  readonly requests: number;
  readonly qps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median compute time of one batch as the server timed it, ms. */
  readonly batchComputeMs: number;
  /** Mean rows per executed batch. */
  readonly meanBatch: number;
}

const CONCURRENCY = [1, 8, 64];
const MAX_QUEUE_DELAY_MS = 2;
const MAX_BATCH = 64;

export async function runBatchingBench(opts: BatchingBenchOptions): Promise<BatchingRow[]> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const seconds = opts.quick ? 2 : 6;
  const rows: BatchingRow[] = [];
  const rng = createRng(11);
  // A pool of distinct inputs, so no layer of the stack can answer from a cache.
  const pool = Array.from({ length: 256 }, () => {
    const d = new Float32Array(512);
    for (let i = 0; i < 512; i++) d[i] = rng.normal();
    return hostTensor('float32', [1, 512], d);
  });
  const modes = [['off', 'worker'], ['on', 'worker'], ['off', 'main-thread'], ['on', 'main-thread']] as const;
  for (const [mode, inference] of modes) {
    // One intra-op thread: this box has 2 cores shared by the load generator, the server's event
    // loop and its inference thread; onnxruntime's spinning pool would steal them all.
    const args = ['--max-batch-size', String(MAX_BATCH), '--max-queue-delay-ms', String(MAX_QUEUE_DELAY_MS), '--no-log', '--intra-op-threads', '1'];
    if (mode === 'off') args.push('--no-batching');
    if (inference === 'main-thread') args.push('--no-inference-workers');
    log(`starting cloud (batching ${mode}, inference on ${inference === 'worker' ? 'worker threads' : 'the main thread'})...`);
    const cloud = await startCloudProcess(args);
    try {
      const client = await connectCloud(cloud.wsUrl, { client: 'bench-batching' });
      for (const c of CONCURRENCY) {
        // Warm-up: let the batcher and the allocator settle at this concurrency.
        await drive(client, pool, c, 0.5);
        const r = await drive(client, pool, c, seconds);
        const sorted = r.latencies.sort((a, b) => a - b);
        const row: BatchingRow = {
          batching: mode, inference, concurrency: c, requests: sorted.length, qps: sorted.length / r.elapsedS,
          p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99),
          batchComputeMs: median(r.compute), meanBatch: r.batchRows.reduce((a, b) => a + b, 0) / Math.max(1, r.batchRows.length),
        };
        rows.push(row);
        log(`  batching ${mode} c=${String(c).padStart(2)}: ${row.qps.toFixed(0).padStart(6)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms  batch ${row.meanBatch.toFixed(1)} rows, ${row.batchComputeMs.toFixed(2)} ms`);
      }
      client.close();
    } finally {
      await cloud.stop();
    }
  }
  log('');
  let verdict = '';
  for (const inference of ['worker', 'main-thread'] as const) {
    log(`inference on ${inference === 'worker' ? 'worker threads (default)' : 'the main thread (--no-inference-workers)'}; ratios against batching off in the same mode:`);
    log('concurrency  qps off   qps on   ratio   p50 on   p99 on   bound = delay + 2x batch compute');
    for (const c of CONCURRENCY) {
      const off = rows.find((r) => r.batching === 'off' && r.inference === inference && r.concurrency === c)!;
      const on = rows.find((r) => r.batching === 'on' && r.inference === inference && r.concurrency === c)!;
      const bound = MAX_QUEUE_DELAY_MS + 2 * on.batchComputeMs;
      log(`${String(c).padStart(11)}  ${off.qps.toFixed(0).padStart(7)}  ${on.qps.toFixed(0).padStart(7)}  ${(on.qps / off.qps).toFixed(2).padStart(5)}x  ${on.p50Ms.toFixed(2).padStart(7)}  ${on.p99Ms.toFixed(2).padStart(7)}   ${bound.toFixed(2)}${on.p99Ms <= bound ? '' : ' (p99 over)'}`);
      if (c === 64) {
        const ratio = on.qps / off.qps;
        verdict += `goal (${inference}): >= 3x throughput at c=64: ${ratio.toFixed(2)}x ${ratio >= 3 ? 'MET' : 'MISSED'}; p99 ${on.p99Ms.toFixed(2)} ms <= ${bound.toFixed(2)} ms: ${on.p99Ms <= bound ? 'MET' : 'MISSED'}\n`;
      }
    }
    log('');
  }
  log(verdict.trimEnd());
  const out = opts.out ?? fileURLToPath(new URL('./results/batching.json', import.meta.url));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), maxQueueDelayMs: MAX_QUEUE_DELAY_MS, maxBatch: MAX_BATCH, rows }, null, 1)}\n`);
  log(`raw results: ${out}`);
  return rows;
}

interface DriveResult {
  latencies: number[];
  compute: number[];
  batchRows: number[];
  elapsedS: number;
}

/** c closed-loop workers for `seconds`. */
async function drive(client: Awaited<ReturnType<typeof connectCloud>>, pool: readonly ReturnType<typeof hostTensor>[], c: number, seconds: number): Promise<DriveResult> {
  const res: DriveResult = { latencies: [], compute: [], batchRows: [], elapsedS: 0 };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let k = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const x = pool[k++ % pool.length]!;
      const s = performance.now();
      const r = await client.run({ model: 'mlp-large', inputs: { x } }).promise;
      res.latencies.push(performance.now() - s);
      res.compute.push(r.timing.computeMs);
      res.batchRows.push(r.timing.batchSize);
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  res.elapsedS = (performance.now() - t0) / 1000;
  return res;
}
