/**
 * int8 vs fp32 in the two onnxruntime builds Cleave ships (onnxruntime-node, onnxruntime-web's
 * wasm): milliseconds per call at batch 1 and 32 for
 *
 *   fp32              the original model
 *   qdq-weight        int8 weights behind DequantizeLinear, loaded WITH weightOnlyQdq (folded once)
 *   qdq-unfolded      the same file loaded WITHOUT it: the dequantization re-runs every call
 *   dynamic-int8      integer MatMul (DynamicQuantizeLinear + MatMulInteger)
 *
 * Every ratio is against fp32 measured in the same run, on the same inputs. The box this runs on
 * is small and noisy (2 cores, neighbours), so variants are interleaved: warm-up calls, then
 * many short rounds in which each variant runs a few calls (a burst short enough that a noisy
 * second hits every variant, long enough to keep a model's weights warm in cache as a
 * single-model edge would), starting from a different variant each round. p50 of per-call times
 * is reported.
 *
 * Sessions use one intra-op thread, as the edge runs them (one request per core).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { nodeBackends } from '../cli/backends.js';
import type { InferenceBackend, LoadedModel, LoadOptions } from '../shared/backend/backend.js';
import { isCleaveError } from '../shared/errors.js';
import { GraphBuilder, type Value } from '../shared/onnx/builder.js';
import { decodeModel } from '../shared/onnx/decode.js';
import { encodeModel } from '../shared/onnx/encode.js';
import { randomInputs } from '../shared/onnx/eval-inputs.js';
import { isWeightOnlyQdq, quantizeModel } from '../shared/onnx/quantize/index.js';
import type { ModelProto } from '../shared/onnx/types.js';
import { createRng } from '../shared/rng.js';
import type { HostTensor } from '../shared/tensor.js';

export interface OnnxBenchOptions {
  /** Fewer rounds and calls (about half a minute); for CI and a first look. */
  quick: boolean;
  /** Extra fp32 .onnx files (zoo models) to measure beside the built-in ones. */
  models?: string[];
  /** Raw results file. Default bench/results/onnx.json. */
  out?: string;
  /** Where progress and the table go. Default stdout. */
  log?: (line: string) => void;
}

/** Batch sizes measured, in samples per call. */
export const BENCH_BATCHES = [1, 32] as const;

type VariantName = 'fp32' | 'qdq-weight' | 'qdq-unfolded' | 'dynamic-int8';

interface Variant {
  readonly name: VariantName;
  readonly bytes: Uint8Array;
  readonly load: LoadOptions;
}

export interface OnnxBenchRow {
  model: string;
  backend: string;
  batch: number;
  variant: VariantName;
  /** Encoded model size, bytes, and its ratio to the fp32 file. */
  fileBytes: number;
  sizeRatio: number;
  /** Session creation time, ms (folding the QDQ weights happens here). */
  loadMs: number;
  /** Median and 90th percentile of per-call times, ms. */
  p50Ms: number;
  p90Ms: number;
  /** p50Ms / fp32 p50Ms of the same model, backend and batch in this run. Below 1 is faster. */
  vsFp32: number;
  /** Every per-call time, ms, in the order measured. */
  samplesMs: number[];
}

export interface OnnxBenchResult {
  startedAt: string;
  quick: boolean;
  host: { node: string; platform: string; cpu: string; cores: number };
  versions: Record<string, string>;
  schedule: { warmupCalls: number; rounds: number; callsPerRound: Record<string, number>; intraOpThreads: number };
  rows: OnnxBenchRow[];
  /** Models that could not be measured, with the reason. */
  skipped: { model: string; reason: string }[];
}

/** The MLP of FACTS.md: 512-2048-2048-10, He-initialised from a seeded generator. */
export function benchMlp(seed = 1): ModelProto {
  const rng = createRng(seed);
  const sizes = [512, 2048, 2048, 10];
  const b = new GraphBuilder('mlp-512-2048-2048-10');
  let h: Value = b.input('x', 'float32', ['N', 512]);
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [k, n] = [sizes[i]!, sizes[i + 1]!];
    const std = Math.sqrt(2 / k);
    h = b.op('MatMul', [h, b.weight(`fc${i}.weight`, 'float32', [k, n], Float32Array.from({ length: k * n }, () => rng.normal() * std))]);
    h = b.op('Add', [h, b.weight(`fc${i}.bias`, 'float32', [n], new Float32Array(n))]);
    if (i + 2 < sizes.length) h = b.op('Relu', [h]);
  }
  b.output(h, 'logits');
  return b.build();
}

/** A small conv net on [N,3,32,32]: 3 convs (16, 32 s2, 64 s2), Flatten, Gemm 4096 -> 10. */
export function benchConvNet(seed = 2): ModelProto {
  const rng = createRng(seed);
  const b = new GraphBuilder('convnet-32x32');
  let h: Value = b.input('image', 'float32', ['N', 3, 32, 32]);
  for (const [i, [ci, co, s]] of ([[3, 16, 1], [16, 32, 2], [32, 64, 2]] as const).entries()) {
    const std = Math.sqrt(2 / (ci * 9));
    const w = b.weight(`conv${i}.weight`, 'float32', [co, ci, 3, 3], Float32Array.from({ length: co * ci * 9 }, () => rng.normal() * std));
    h = b.op('Relu', [b.op('Conv', [h, w, b.weight(`conv${i}.bias`, 'float32', [co], new Float32Array(co))], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [s, s] })]);
  }
  h = b.op('Flatten', [h]);
  const fc = b.weight('fc.weight', 'float32', [4096, 10], Float32Array.from({ length: 40960 }, () => rng.normal() * Math.sqrt(2 / 4096)));
  b.output(b.op('Gemm', [h, fc, b.weight('fc.bias', 'float32', [10], new Float32Array(10))]), 'logits');
  return b.build();
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function variantsOf(name: string, fp32: ModelProto, skipped: OnnxBenchResult['skipped']): Variant[] | undefined {
  const fp32Bytes = encodeModel(fp32);
  try {
    const qdq = encodeModel(quantizeModel(fp32, { mode: 'qdq-weight' }).model);
    const dynModel = quantizeModel(fp32, { mode: 'dynamic-int8' }).model;
    return [
      { name: 'fp32', bytes: fp32Bytes, load: {} },
      { name: 'qdq-weight', bytes: qdq, load: { weightOnlyQdq: true } },
      { name: 'qdq-unfolded', bytes: qdq, load: {} },
      // Conv/Gather weights of the dynamic model sit behind DequantizeLinear: fold those too.
      { name: 'dynamic-int8', bytes: encodeModel(dynModel), load: { weightOnlyQdq: isWeightOnlyQdq(dynModel) } },
    ];
  } catch (e) {
    if (!isCleaveError(e)) throw e;
    skipped.push({ model: name, reason: `${e.code}: ${e.message}` });
    return undefined;
  }
}

async function timeCall(m: LoadedModel, feeds: Record<string, HostTensor>): Promise<number> {
  const t0 = performance.now();
  await m.run(feeds);
  return performance.now() - t0;
}

async function benchGroup(
  model: string, fp32: ModelProto, variants: readonly Variant[], backend: InferenceBackend,
  schedule: OnnxBenchResult['schedule'], log: (s: string) => void,
): Promise<OnnxBenchRow[]> {
  const loaded: { v: Variant; m: LoadedModel; loadMs: number }[] = [];
  const rows: OnnxBenchRow[] = [];
  try {
    for (const v of variants) {
      const t0 = performance.now();
      const m = await backend.load(v.bytes, { ...v.load, intraOpThreads: schedule.intraOpThreads });
      loaded.push({ v, m, loadMs: performance.now() - t0 });
    }
    for (const batch of BENCH_BATCHES) {
      log(`  ${model} / ${backend.name} / batch ${batch}`);
      const feeds = randomInputs(fp32, batch, 7);
      const calls = schedule.callsPerRound[String(batch)] ?? 1;
      const times = loaded.map(() => [] as number[]);
      for (const l of loaded) for (let i = 0; i < schedule.warmupCalls; i++) await l.m.run(feeds);
      for (let r = 0; r < schedule.rounds; r++) {
        for (let k = 0; k < loaded.length; k++) {
          const j = (r + k) % loaded.length;
          for (let c = 0; c < calls; c++) times[j]!.push(await timeCall(loaded[j]!.m, feeds));
        }
      }
      const p50s = times.map((t) => percentile([...t].sort((a, b) => a - b), 0.5));
      const fp32Index = loaded.findIndex((l) => l.v.name === 'fp32');
      loaded.forEach((l, j) => {
        const sorted = [...times[j]!].sort((a, b) => a - b);
        rows.push({
          model, backend: backend.name, batch, variant: l.v.name,
          fileBytes: l.v.bytes.length, sizeRatio: l.v.bytes.length / loaded[fp32Index]!.v.bytes.length,
          loadMs: l.loadMs, p50Ms: p50s[j]!, p90Ms: percentile(sorted, 0.9), vsFp32: p50s[j]! / p50s[fp32Index]!,
          samplesMs: times[j]!,
        });
      });
    }
  } finally {
    for (const l of loaded) await l.m.dispose();
  }
  return rows;
}

/** The printed table: one line per model x backend x batch x variant. */
export function formatOnnxBench(res: OnnxBenchResult): string {
  const head = ['model', 'backend', 'batch', 'variant', 'ms p50', 'vs fp32', 'size vs fp32', 'load ms'];
  const body = res.rows.map((r) => [
    r.model, r.backend, String(r.batch), r.variant, r.p50Ms.toFixed(3), `${r.vsFp32.toFixed(2)}x`, `${r.sizeRatio.toFixed(3)}x`, r.loadMs.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([2, 4, 5, 6, 7]);
  const line = (cells: string[]): string => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [
    `ONNX int8 bench${res.quick ? ' (quick)' : ''}: onnxruntime ${Object.entries(res.versions).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
      `${res.host.cpu} x${res.host.cores}; node ${res.host.node}; ${res.schedule.intraOpThreads} thread per session`,
    `${res.schedule.warmupCalls} warm-up calls, then ${res.schedule.rounds} interleaved rounds of ${Object.entries(res.schedule.callsPerRound).map(([b, n]) => `${n} calls at batch ${b}`).join(', ')}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
  ];
  let last = '';
  for (const [i, b] of body.entries()) {
    const r = res.rows[i]!;
    const group = `${r.model}|${r.backend}|${r.batch}`;
    if (last && group !== last) out.push('');
    last = group;
    out.push(line(b));
  }
  out.push('', 'vs fp32 = p50 / fp32 p50 of the same model, backend and batch in this run (below 1x is faster).');
  const slower = res.rows.filter((r) => r.variant !== 'fp32' && r.variant !== 'qdq-unfolded' && r.vsFp32 > 1.05);
  if (slower.length) {
    out.push(`int8 SLOWER than fp32 in: ${slower.map((r) => `${r.model} ${r.backend} batch ${r.batch} ${r.variant} (${r.vsFp32.toFixed(2)}x)`).join('; ')}`);
  }
  for (const s of res.skipped) out.push(`skipped ${s.model}: ${s.reason}`);
  return `${out.join('\n')}\n`;
}

async function ortVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const pkg of ['onnxruntime-node', 'onnxruntime-web'] as const) {
    try {
      const m = (await import(pkg)) as { env?: { versions?: Record<string, string | undefined> } };
      const key = pkg.replace('onnxruntime-', '');
      const v = m.env?.versions?.[key];
      if (v) versions[key] = v;
    } catch {
      // A build that cannot load is reported by the backend registry, not here.
    }
  }
  return versions;
}

/** Runs the bench, prints the table, writes raw JSON, and returns the results. */
export async function runOnnxBench(opts: OnnxBenchOptions): Promise<OnnxBenchResult> {
  const log = opts.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const schedule: OnnxBenchResult['schedule'] = opts.quick
    ? { warmupCalls: 3, rounds: 15, callsPerRound: { 1: 4, 32: 1 }, intraOpThreads: 1 }
    : { warmupCalls: 10, rounds: 60, callsPerRound: { 1: 5, 32: 2 }, intraOpThreads: 1 };
  const cpu = cpus();
  const result: OnnxBenchResult = {
    startedAt: new Date().toISOString(),
    quick: opts.quick,
    host: { node: process.version, platform: `${process.platform}-${process.arch}`, cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length },
    versions: await ortVersions(),
    schedule,
    rows: [],
    skipped: [],
  };

  const models: { name: string; model: ModelProto }[] = [
    { name: 'mlp-512-2048-2048-10', model: benchMlp() },
    { name: 'convnet-32x32', model: benchConvNet() },
  ];
  for (const path of opts.models ?? []) {
    try {
      models.push({ name: basename(path, '.onnx'), model: decodeModel(new Uint8Array(await readFile(path))) });
    } catch (e) {
      result.skipped.push({ model: path, reason: (e as Error).message });
    }
  }

  const backends = (await nodeBackends()).list();
  for (const { name, model } of models) {
    const variants = variantsOf(name, model, result.skipped);
    if (!variants) continue;
    for (const backend of backends) {
      try {
        result.rows.push(...(await benchGroup(name, model, variants, backend, schedule, log)));
      } catch (e) {
        if (!isCleaveError(e)) throw e;
        result.skipped.push({ model: `${name} on ${backend.name}`, reason: `${e.code}: ${e.message}` });
      }
    }
  }

  const out = opts.out ?? fileURLToPath(new URL('./results/onnx.json', import.meta.url));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 1)}\n`);
  log('');
  log(formatOnnxBench(result));
  log(`raw results: ${out}`);
  return result;
}
