/**
 * The edge node's HTTP serving cost, each figure a ratio against a baseline measured in the
 * same run. Every server is its own child process; the load (autocannon, closed loop, N
 * keep-alive connections, the same request body for both sides) comes from this process.
 *
 *   1. KServe v2 infer on the edge (`x-cleave-cache: bypass`, so every request computes) vs the
 *      server a user would write by hand (bench/baseline-server.ts: Hono + onnxruntime-node,
 *      one intra-op thread like the edge). mlp-small: tiny compute, so serving overhead shows;
 *      cnn-small: a [1,3,64,64] input, compute and a large JSON body dominate.
 *      Goal: edge/baseline throughput >= 0.9.
 *   2. A result-cache hit (the same request over and over) vs a static Hono route answering the
 *      same bytes (bench/static-server.ts). Goal: hit/static throughput >= 0.8.
 *   3. Cold start of the Worker in workerd (`wrangler dev`): spawn to Ready, and Ready to the
 *      first inference answer. Goal: first answer <= 500 ms after Ready.
 *
 * Noise: each pair gets a long warm-up per side, then is measured in rounds with the order
 * alternated, each run after its own short warm-up; the better round of each side is kept.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ZOO_DIR, ensureZoo, zooFile } from '../cli/zoo-files.js';
import { createRng } from '../shared/rng.js';
import type { Manifest } from '../shared/zoo/manifest.js';
import { runHttpLoad, type HttpLoadResult } from './http-load.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { median } from './stats.js';
import { measureWorkerdColdStart, type ColdStartRun } from './workerd-cold-start.js';

export interface EdgeBenchOptions {
  /** 3 s runs after 1 s of warm-up and one cold start, instead of 10 s, 2 s and three. */
  readonly quick: boolean;
  /** Seconds per measured run. Default 10 (3 with quick). */
  readonly durationS?: number;
  /** Concurrent keep-alive connections. Default 16. */
  readonly connections?: number;
  /** Raw results file. Default bench/results/edge.json. */
  readonly out?: string;
  readonly log?: (line: string) => void;
}

/** The better of a side's rounds, and every round. */
export interface PairResult {
  readonly edge: HttpLoadResult;
  /** The hand-written server (figure 1) or the static route (figure 2). */
  readonly baseline: HttpLoadResult;
  /** Edge throughput over baseline throughput, best rounds. */
  readonly ratio: number;
  readonly rounds: readonly { readonly first: 'edge' | 'baseline'; readonly edge: HttpLoadResult; readonly baseline: HttpLoadResult }[];
}

export interface EdgeBenchResult {
  readonly date: string;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly platform: string };
  readonly settings: { readonly connections: number; readonly durationS: number; readonly warmupS: number; readonly rounds: number; readonly coldStarts: number };
  readonly infer: readonly (PairResult & { readonly model: string; readonly bodyBytes: number; readonly maxAbsDiff: number })[];
  readonly cacheHit: PairResult & { readonly model: string; readonly answerBytes: number; readonly hits: number; readonly misses: number };
  readonly coldStart: { readonly runs: readonly Omit<ColdStartRun, 'answer'>[]; readonly medianSpawnToReadyMs: number; readonly medianReadyToFirstAnswerMs: number; readonly maxAbsDiff: number };
  readonly goals: readonly Goal[];
}

interface Goal {
  readonly name: string;
  readonly value: string;
  readonly target: string;
  readonly pass: boolean;
}

interface Target {
  readonly url: string;
  readonly headers?: Record<string, string>;
}

const INFER_MODELS = ['mlp-small', 'cnn-small'];
const HIT_MODEL = 'mlp-small';
const ROUNDS = 2;
const GOAL_INFER = 0.9;
const GOAL_HIT = 0.8;
const GOAL_FIRST_ANSWER_MS = 500;
const BIN = fileURLToPath(new URL('../bin/cleave.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY = /^ready: (http:\/\/\S+)$/m;

export async function runEdgeBench(opts: EdgeBenchOptions): Promise<EdgeBenchResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const durationS = opts.durationS ?? (opts.quick ? 3 : 10);
  const warmupS = opts.quick ? 1 : 2;
  const connections = opts.connections ?? 16;
  const coldStarts = opts.quick ? 1 : 3;
  const cpu = cpus();
  const machine = { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, node: process.version, platform: `${process.platform}-${process.arch}` };
  log(`machine: ${machine.cores} x ${machine.cpu}, ${machine.platform}, node ${machine.node}`);
  log(`load: autocannon in this process, ${connections} connections, ${durationS} s per run after ${warmupS} s of warm-up, better of ${ROUNDS} rounds (order alternated)`);

  const manifest = await ensureZoo();
  const bodies = new Map(INFER_MODELS.map((m) => [m, requestBody(manifest, m)]));
  const measure = async (t: Target, body: string): Promise<HttpLoadResult> => {
    await runHttpLoad({ url: t.url, body, connections, durationS: warmupS, ...(t.headers ? { headers: t.headers } : {}) });
    const r = await runHttpLoad({ url: t.url, body, connections, durationS, ...(t.headers ? { headers: t.headers } : {}) });
    if (r.non2xx > 0 || r.requests === 0) throw new Error(`${t.url}: ${r.non2xx} non-2xx answers, ${r.requests} 2xx: not a measurement`);
    if (r.errors > 0) log(`  warning: ${r.errors} connection errors against ${t.url}`);
    return r;
  };
  const pair = async (label: string, edge: Target, baseline: Target, body: string, baselineName = 'baseline'): Promise<PairResult> => {
    // A longer warm-up of each side first: a server's first seconds on a path (JIT tiering,
    // allocator growth) were slower than any later run, which penalised the side measured first.
    for (const t of [edge, baseline]) await runHttpLoad({ url: t.url, body, connections, durationS: 2 * warmupS, ...(t.headers ? { headers: t.headers } : {}) });
    const rounds: PairResult['rounds'][number][] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const first = i % 2 === 0 ? 'edge' : 'baseline';
      let e: HttpLoadResult | undefined;
      let b: HttpLoadResult | undefined;
      for (const side of first === 'edge' ? ['edge', 'baseline'] as const : ['baseline', 'edge'] as const) {
        const r = await measure(side === 'edge' ? edge : baseline, body);
        log(`  ${label} round ${i + 1} ${(side === 'edge' ? 'edge' : baselineName).padEnd(8)} ${fmtLoad(r)}`);
        if (side === 'edge') e = r;
        else b = r;
      }
      rounds.push({ first, edge: e!, baseline: b! });
    }
    const best = (xs: HttpLoadResult[]): HttpLoadResult => xs.reduce((a, x) => (x.reqPerS > a.reqPerS ? x : a));
    const e = best(rounds.map((r) => r.edge));
    const b = best(rounds.map((r) => r.baseline));
    return { edge: e, baseline: b, ratio: e.reqPerS / b.reqPerS, rounds };
  };

  log('starting the edge node and the baseline server...');
  const servers: ServerProcess[] = [];
  let result: EdgeBenchResult;
  try {
    const [edge, baseline] = await Promise.all([
      // TTL 0: the cached answer of figure 2 must not expire in the middle of a long run.
      startServerProcess({ command: process.execPath, args: [BIN, 'edge', '--port', '0', '--no-log', '--cache-ttl-ms', '0'], ready: READY, cwd: ROOT }),
      startServerProcess({ command: process.execPath, args: ['--import', 'tsx', 'bench/baseline-server.ts', ...INFER_MODELS.map((m) => zooFile(manifest, DEFAULT_ZOO_DIR, m))], ready: READY, cwd: ROOT }),
    ]);
    servers.push(edge, baseline);

    // 1. Edge infer path vs the hand-written server.
    log('');
    log('1. edge infer (x-cleave-cache: bypass) vs minimal Hono + onnxruntime-node server');
    const infer: EdgeBenchResult['infer'][number][] = [];
    for (const model of INFER_MODELS) {
      const body = bodies.get(model)!;
      const path = `/v2/models/${model}/infer`;
      const bypass = { 'x-cleave-cache': 'bypass' };
      // Both answer, the same numbers, and the edge really computes.
      const [ea, ba] = await Promise.all([post(edge.url + path, body, bypass), post(baseline.url + path, body, bypass)]);
      if (ea.cache !== 'bypass') throw new Error(`edge answered x-cleave-cache: ${ea.cache}, expected bypass`);
      const maxAbsDiff = outputDiff(ea.body, ba.body);
      if (!(maxAbsDiff < 1e-4)) throw new Error(`edge and baseline disagree on ${model}: max |diff| ${maxAbsDiff}`);
      const r = await pair(model, { url: edge.url + path, headers: bypass }, { url: baseline.url + path, headers: bypass }, body);
      infer.push({ model, bodyBytes: Buffer.byteLength(body), maxAbsDiff, ...r });
    }
    await baseline.stop();

    // 2. Cache hit vs a static route answering the same bytes.
    log('');
    log(`2. edge cache hit vs static Hono route (${HIT_MODEL})`);
    const hitPath = `/v2/models/${HIT_MODEL}/infer`;
    const hitBody = bodies.get(HIT_MODEL)!;
    await post(edge.url + hitPath, hitBody);
    const sample = await post(edge.url + hitPath, hitBody);
    if (sample.cache !== 'hit') throw new Error(`a repeated request was answered x-cleave-cache: ${sample.cache}, expected hit`);
    const stat = await startServerProcess({
      command: process.execPath, args: ['--import', 'tsx', 'bench/static-server.ts'], ready: READY, cwd: ROOT, env: { STATIC_BODY: sample.body },
    });
    servers.push(stat);
    const staticSample = await post(stat.url + hitPath, hitBody);
    if (staticSample.body !== sample.body) throw new Error('the static server does not answer the edge\'s bytes');
    const before = await cacheStats(edge.url);
    const hit = await pair('hit', { url: edge.url + hitPath }, { url: stat.url + hitPath }, hitBody, 'static');
    const after = await cacheStats(edge.url);
    const misses = after.misses - before.misses + (after.coalesced - before.coalesced);
    if (misses > 0) log(`  warning: ${misses} requests of the hit runs were not cache hits`);
    const cacheHit = { model: HIT_MODEL, answerBytes: Buffer.byteLength(sample.body), hits: after.hits - before.hits, misses, ...hit };
    await stat.stop();

    // The Node edge's answer is the reference for the Worker's.
    const reference = (await post(edge.url + hitPath, hitBody, { 'x-cleave-cache': 'bypass' })).body;
    await edge.stop();

    // 3. Cold start in workerd, with nothing else running.
    log('');
    log(`3. cold start of the Worker in workerd (wrangler dev), ${coldStarts} run${coldStarts > 1 ? 's' : ''}`);
    const runs: ColdStartRun[] = [];
    for (let i = 0; i < coldStarts; i++) {
      const r = await measureWorkerdColdStart({ path: hitPath, body: hitBody, headers: { 'x-cleave-cache': 'bypass' } });
      runs.push(r);
      log(`  run ${i + 1}: spawn -> Ready ${r.spawnToReadyMs.toFixed(0)} ms, Ready -> first answer ${r.readyToFirstAnswerMs.toFixed(0)} ms (${r.attempts} request${r.attempts > 1 ? 's' : ''}; Worker's Server-Timing total ${r.serverTotalMs?.toFixed(0) ?? '?'} ms, compute ${r.serverEdgeMs?.toFixed(1) ?? '?'} ms)`);
    }
    const coldStart = {
      runs: runs.map(({ answer: _answer, ...r }) => r),
      medianSpawnToReadyMs: median(runs.map((r) => r.spawnToReadyMs)),
      medianReadyToFirstAnswerMs: median(runs.map((r) => r.readyToFirstAnswerMs)),
      maxAbsDiff: Math.max(...runs.map((r) => outputDiff(r.answer, reference))),
    };

    const goals: Goal[] = [
      ...infer.map((r) => ({ name: `edge/baseline throughput, ${r.model}`, value: `${r.ratio.toFixed(2)}x`, target: `>= ${GOAL_INFER}`, pass: r.ratio >= GOAL_INFER })),
      { name: `cache hit/static throughput, ${HIT_MODEL}`, value: `${cacheHit.ratio.toFixed(2)}x`, target: `>= ${GOAL_HIT}`, pass: cacheHit.ratio >= GOAL_HIT && misses === 0 },
      { name: 'workerd Ready -> first answer (median)', value: `${coldStart.medianReadyToFirstAnswerMs.toFixed(0)} ms`, target: `<= ${GOAL_FIRST_ANSWER_MS} ms`, pass: coldStart.medianReadyToFirstAnswerMs <= GOAL_FIRST_ANSWER_MS },
    ];
    result = {
      date: new Date().toISOString(), machine,
      settings: { connections, durationS, warmupS, rounds: ROUNDS, coldStarts },
      infer, cacheHit, coldStart, goals,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }

  log('');
  log(formatEdgeBench(result));
  const out = opts.out ?? fileURLToPath(new URL('./results/edge.json', import.meta.url));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 1)}\n`);
  log(`raw results: ${out}`);
  return result;
}

/** The summary table and the goals. */
export function formatEdgeBench(r: EdgeBenchResult): string {
  const s = r.settings;
  const lines = [
    `machine: ${r.machine.cores} x ${r.machine.cpu}, ${r.machine.platform}, node ${r.machine.node}`,
    `load: ${s.connections} connections, ${s.durationS} s per run after ${s.warmupS} s warm-up, better of ${s.rounds} rounds, order alternated`,
    '',
    '1. edge infer path (cache bypass) vs minimal Hono + onnxruntime-node (bench/baseline-server.ts)',
    'model        body      edge req/s   p50 ms   p99 ms   base req/s   p50 ms   p99 ms   edge/base',
  ];
  for (const x of r.infer) {
    lines.push(`${x.model.padEnd(11)} ${fmtBytes(x.bodyBytes).padStart(8)}  ${row(x.edge)}  ${row(x.baseline)}   ${x.ratio.toFixed(2).padStart(8)}x`);
  }
  const h = r.cacheHit;
  lines.push(
    '',
    `2. cache hit vs static Hono route answering the same ${h.answerBytes} bytes (bench/static-server.ts), ${h.model}`,
    '                       hit req/s   p50 ms   p99 ms   stat req/s   p50 ms   p99 ms   hit/static',
    `${''.padEnd(20)}  ${row(h.edge)}  ${row(h.baseline)}   ${h.ratio.toFixed(2).padStart(9)}x`,
    `   ${h.hits} hits, ${h.misses} misses on the edge during the hit runs`,
    '',
    '3. cold start in workerd (wrangler dev; node runs wrangler\'s CLI directly, no npx)',
    'run   spawn -> Ready   Ready -> first answer   Worker total   compute',
  );
  r.coldStart.runs.forEach((c, i) => {
    lines.push(`${String(i + 1).padStart(3)}   ${ms(c.spawnToReadyMs).padStart(14)}   ${ms(c.readyToFirstAnswerMs).padStart(21)}   ${ms(c.serverTotalMs).padStart(12)}   ${c.serverEdgeMs === undefined ? '?' : `${c.serverEdgeMs.toFixed(1)} ms`}`);
  });
  lines.push(
    `med   ${ms(r.coldStart.medianSpawnToReadyMs).padStart(14)}   ${ms(r.coldStart.medianReadyToFirstAnswerMs).padStart(21)}`,
    `   Worker answers match the Node edge's within ${r.coldStart.maxAbsDiff.toExponential(1)}`,
    '',
    'goals:',
    ...r.goals.map((g) => `  ${g.pass ? 'PASS' : 'MISS'}  ${g.name}: ${g.value} (goal ${g.target})`),
  );
  return lines.join('\n');
}

function row(x: HttpLoadResult): string {
  return `${x.reqPerS.toFixed(0).padStart(10)}  ${x.p50Ms.toFixed(2).padStart(7)}  ${x.p99Ms.toFixed(2).padStart(7)}`;
}

function fmtLoad(x: HttpLoadResult): string {
  return `${x.reqPerS.toFixed(0).padStart(6)} req/s  p50 ${x.p50Ms.toFixed(2)} ms  p99 ${x.p99Ms.toFixed(2)} ms  (${x.requests} requests)`;
}

function ms(x: number | undefined): string {
  return x === undefined ? '?' : `${x.toFixed(0)} ms`;
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`;
}

/**
 * A KServe v2 JSON request for a zoo model at batch 1: seeded normal values rounded to 4
 * decimals (what a client would plausibly send; full float64 text would double the body).
 */
function requestBody(manifest: Manifest, model: string): string {
  const entry = manifest.models.find((m) => m.name === model);
  if (!entry) throw new Error(`zoo manifest has no model ${model}`);
  const rng = createRng(7);
  const inputs = entry.inputs.map((s) => {
    if (s.dtype !== 'float32') throw new Error(`${model} input ${s.name} is ${s.dtype}; this bench sends FP32 only`);
    const shape = s.shape.map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    return { name: s.name, shape, datatype: 'FP32', data: Array.from({ length: n }, () => Math.round(rng.normal() * 1e4) / 1e4) };
  });
  return JSON.stringify({ inputs });
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ body: string; cache: string | null }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return { body: text, cache: res.headers.get('x-cleave-cache') };
}

/** Largest absolute difference between the outputs of two KServe JSON answers (Infinity if their outputs differ in name or size). */
function outputDiff(a: string, b: string): number {
  type Out = { name: string; data: number[] };
  const oa = (JSON.parse(a) as { outputs: Out[] }).outputs;
  const ob = (JSON.parse(b) as { outputs: Out[] }).outputs;
  let d = 0;
  for (const x of oa) {
    const y = ob.find((o) => o.name === x.name);
    if (!y || y.data.length !== x.data.length) return Infinity;
    x.data.forEach((v, i) => { d = Math.max(d, Math.abs(v - y.data[i]!)); });
  }
  return oa.length === ob.length ? d : Infinity;
}

async function cacheStats(url: string): Promise<{ hits: number; misses: number; coalesced: number }> {
  const res = await fetch(`${url}/v1/status`);
  return ((await res.json()) as { cache: { hits: number; misses: number; coalesced: number } }).cache;
}
