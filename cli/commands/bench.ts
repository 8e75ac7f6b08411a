/**
 * `cleave bench <suite>`: benchmarks that live in bench/ and print ratios against a baseline
 * measured in the same run. Each suite is a subcommand; the suite code stays in bench/.
 */
import type { Command } from 'commander';
import { runBatchingBench } from '../../bench/batching.js';
import { runCodecBench } from '../../bench/codec.js';
import { runOnnxBench } from '../../bench/onnx.js';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('run a benchmark suite (see: cleave bench --help)');
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
      await runOnnxBench({
        quick: flags.quick ?? false,
        ...(flags.model ? { models: flags.model } : {}),
        ...(flags.out ? { out: flags.out } : {}),
      });
    });
  bench
    .command('codec')
    .description('protocol frame encode+decode throughput for 1 KB, 64 KB and 4 MB tensors vs memcpy of the same bytes, and vs JSON')
    .option('--quick', 'fewer rounds')
    .option('--out <file>', 'raw JSON results (default: bench/results/codec.json)')
    .action(async (flags: { quick?: boolean; out?: string }) => {
      await runCodecBench({ quick: flags.quick ?? false, ...(flags.out ? { out: flags.out } : {}) });
    });
  bench
    .command('batching')
    .description('dynamic batching on vs off: mlp-large on a cloud child process over a real WebSocket at concurrency 1, 8, 64')
    .option('--quick', '2 s per cell instead of 6')
    .option('--out <file>', 'raw JSON results (default: bench/results/batching.json)')
    .action(async (flags: { quick?: boolean; out?: string }) => {
      await runBatchingBench({ quick: flags.quick ?? false, ...(flags.out ? { out: flags.out } : {}) });
    });
}
