/**
 * `cleave bench <suite>`: benchmarks that live in bench/ and print ratios against a baseline
 * measured in the same run. Each suite is a subcommand; the suite code stays in bench/ and is
 * loaded when its suite runs, so the rest of the CLI does not pay for it at start-up.
 */
import type { Command } from 'commander';
import { CleaveError } from '../../shared/errors.js';
import { createProgress } from '../progress.js';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('run a benchmark suite (see: cleave bench --help)')
    .addHelpText('after', `
Each suite prints ratios against a baseline measured in the same run and writes raw JSON under
bench/results/. On a terminal a progress line shows the elapsed time and the latest step.

Examples:
  cleave bench onnx --quick
  cleave bench split --quick --families cnn
  cleave bench load --rates 500,1000,2000 --duration 5`);
  bench
    .command('onnx')
    .description('int8 (qdq-weight, dynamic-int8) vs fp32 ms per call at batch 1 and 32 in onnxruntime-node and onnxruntime-web')
    .option('--quick', 'fewer rounds and calls (about half a minute)')
    .option('--model <files...>', 'extra fp32 .onnx models (e.g. zoo models) to measure too')
    .option('--out <file>', 'raw JSON results (default: bench/results/onnx.json)')
    .addHelpText('after', `
Variants: fp32; qdq-weight loaded with weightOnlyQdq (DequantizeLinear folded at load);
qdq-unfolded, the same file loaded without it (why the option matters); dynamic-int8
(DynamicQuantizeLinear + MatMulInteger). Variants are interleaved round by round so machine
noise hits all of them alike; ratios are against fp32 in the same run.`)
    .action(async (flags: { quick?: boolean; model?: string[]; out?: string }) => {
      const { runOnnxBench } = await import('../../bench/onnx.js');
      await withProgress('onnx', (log) => runOnnxBench({
        log,
        quick: flags.quick ?? false,
        ...(flags.model ? { models: flags.model } : {}),
        ...(flags.out ? { out: flags.out } : {}),
      }));
    });
  bench
    .command('codec')
    .description('protocol frame encode+decode throughput for 1 KB, 64 KB and 4 MB tensors vs memcpy of the same bytes, and vs JSON')
    .option('--quick', 'fewer rounds')
    .option('--out <file>', 'raw JSON results (default: bench/results/codec.json)')
    .action(async (flags: { quick?: boolean; out?: string }) => {
      const { runCodecBench } = await import('../../bench/codec.js');
      await withProgress('codec', (log) => runCodecBench({ log, quick: flags.quick ?? false, ...(flags.out ? { out: flags.out } : {}) }));
    });
  bench
    .command('batching')
    .description('dynamic batching on vs off: mlp-large on a cloud child process over a real WebSocket at concurrency 1, 8, 64')
    .option('--quick', '2 s per cell instead of 6')
    .option('--out <file>', 'raw JSON results (default: bench/results/batching.json)')
    .action(async (flags: { quick?: boolean; out?: string }) => {
      const { runBatchingBench } = await import('../../bench/batching.js');
      await withProgress('batching', (log) => runBatchingBench({ log, quick: flags.quick ?? false, ...(flags.out ? { out: flags.out } : {}) }));
    });
  bench
    .command('edge')
    .description('edge HTTP serving: infer vs a hand-written Hono + onnxruntime server, cache hit vs a static route, Worker cold start in workerd')
    .option('--quick', '3 s runs after 1 s warm-up, one cold start (about a minute)')
    .option('--duration <s>', 'seconds per measured run (default 10, 3 with --quick)')
    .option('--connections <n>', 'concurrent keep-alive connections (default 16)')
    .option('--out <file>', 'raw JSON results (default: bench/results/edge.json)')
    .addHelpText('after', `
Every server runs as its own child process; autocannon drives it from the bench process with
the same request body for both sides, and each pair is measured in 2 rounds with the order
alternated, keeping the better round of each. Goals: edge/baseline infer throughput >= 0.9
(mlp-small, cnn-small), cache hit/static throughput >= 0.8, Worker first answer <= 500 ms
after wrangler's Ready.`)
    .action(async (flags: { quick?: boolean; duration?: string; connections?: string; out?: string }) => {
      // Loaded on demand: it pulls in autocannon and wrangler, devDependencies that an installed
      // `cleave edge` or `cleave cloud` must neither need nor pay for at start-up.
      const { runEdgeBench } = await import('../../bench/edge.js');
      await withProgress('edge', (log) => runEdgeBench({
        log,
        quick: flags.quick ?? false,
        ...(flags.duration !== undefined ? { durationS: positive(flags.duration, '--duration') } : {}),
        ...(flags.connections !== undefined ? { connections: positive(flags.connections, '--connections', true) } : {}),
        ...(flags.out ? { out: flags.out } : {}),
      }));
    });
  bench
    .command('split')
    .description('split inference table: edge-only, cloud-only, fixed cuts and auto over a shaped link (RTT x bandwidth x cloud idle/busy), edge, proxy and cloud as processes')
    .option('--quick', 'RTT 10/150 ms x 1/100 Mbit/s, idle cloud, 8 requests per strategy (a few minutes)')
    .option('--cells <list>', 'cells as RTT_MS:MBIT[:busy], comma-separated, e.g. 10:100,150:1:busy')
    .option('--requests <n>', 'measured requests per strategy per cell (default 20, 8 with --quick)')
    .option('--families <list>', 'comma-separated: cnn, text, audio (default all)')
    .option('--edge-backend <name>', 'edge inference backend (default onnxruntime-node)')
    .option('--edge-slowdown <factor>', 'every edge model run takes this many times as long, emulating a weaker device (default 8; 1 = same box speed)')
    .option('--out <file>', 'raw JSON results (default: bench/results/split.json)')
    .addHelpText('after', `
Strategies are deployed as separate workflows and interleaved request by request in shuffled
order, after a warm-up of each in each cell. The oracle is the best fixed strategy by p50;
agreement is top-1 against the fp32 cloud answer of the same input.`)
    .action(async (flags: { quick?: boolean; cells?: string; requests?: string; families?: string; edgeBackend?: string; edgeSlowdown?: string; out?: string }) => {
      const { runSplitBench } = await import('../../bench/split.js');
      await withProgress('split', (log) => runSplitBench({
        log,
        quick: flags.quick ?? false,
        ...(flags.cells !== undefined ? { cells: flags.cells } : {}),
        ...(flags.requests !== undefined ? { requests: positive(flags.requests, '--requests', true) } : {}),
        ...(flags.families !== undefined ? { families: flags.families.split(',').map((s) => s.trim()) } : {}),
        ...(flags.edgeBackend !== undefined ? { edgeBackend: flags.edgeBackend } : {}),
        ...(flags.edgeSlowdown !== undefined ? { edgeSlowdown: positive(flags.edgeSlowdown, '--edge-slowdown', true) } : {}),
        ...(flags.out ? { out: flags.out } : {}),
      }));
    });
  bench
    .command('load')
    .description('edge under fixed offered rates (open loop): max sustained req/s with p99 <= 120 ms, p50/p99 at 1000 req/s for cache misses and Zipf traffic, vs a hand-written server')
    .option('--quick', 'rates 500,1000,2000, 3 s steps after 1 s warm-up (about a minute)')
    .option('--duration <s>', 'seconds per measured step (default 8, 3 with --quick)')
    .option('--rates <list>', 'offered rates in req/s, comma-separated (default 250,500,1000,1500,2000,2500,3000,3500,4000,5000)')
    .option('--connections <n>', 'most keep-alive sockets of the paced generator (default 64)')
    .option('--out <file>', 'raw JSON results (default: bench/results/load.json)')
    .option('--chart <file>', 'QPS-vs-p99 SVG (default: docs/img/load-qps-p99.svg)')
    .addHelpText('after', `
mlp-small over KServe v2 JSON. Series, interleaved at each rate: misses (every input new, so the
result cache misses), zipf (s = 1.1 over 10,000 inputs; hit rate from /v1/status) and baseline
(bench/baseline-server.ts). Latency runs from each request's intended send time (no coordinated
omission). A series stops at p99 > 120 ms, achieved < 95% of offered, or any failure. The load
generator runs in this process and shares the machine's cores with the server.`)
    .action(async (flags: { quick?: boolean; duration?: string; rates?: string; connections?: string; out?: string; chart?: string }) => {
      const { runLoadBench } = await import('../../bench/load.js');
      await withProgress('load', (log) => runLoadBench({
        log,
        quick: flags.quick ?? false,
        ...(flags.duration !== undefined ? { durationS: positive(flags.duration, '--duration') } : {}),
        ...(flags.rates !== undefined ? { rates: flags.rates.split(',').map((s) => positive(s.trim(), '--rates')) } : {}),
        ...(flags.connections !== undefined ? { connections: positive(flags.connections, '--connections', true) } : {}),
        ...(flags.out ? { out: flags.out } : {}),
        ...(flags.chart ? { chart: flags.chart } : {}),
      }));
    });
  // Every suite takes --quick: the shortest run worth reading.
  for (const suite of bench.commands) suite.addHelpText('after', `\nExample:\n  cleave bench ${suite.name()} --quick`);
}

/**
 * Runs a suite with its log lines going through a progress reporter: on a terminal a bar shows
 * the elapsed time and the latest step under the output; elsewhere the lines print as they are.
 */
async function withProgress<T>(suite: string, run: (log: (line: string) => void) => Promise<T>): Promise<T> {
  const progress = createProgress();
  progress.start(`bench ${suite}`);
  try {
    return await run((line) => progress.note(line));
  } finally {
    progress.stop();
  }
}

/** A flag's value as a positive number (or integer); CLEAVE_E_BAD_ARGUMENT naming the flag otherwise. */
function positive(s: string, flag: string, integer = false): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(s)}`, { field: flag });
  }
  return n;
}
