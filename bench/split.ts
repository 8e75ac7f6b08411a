/**
 * `cleave bench split`: the split-inference table. Edge and cloud run as separate processes with
 * the shaping proxy (bench/link-proxy.ts) between them:
 *
 *   bench client --HTTP--> cleave edge --WebSocket--> link proxy --> cleave cloud
 *                                                       (RTT, bit/s)       ^
 *                                       busy cells: KServe clients --------'
 *
 * For each cell of the grid (RTT x bandwidth x cloud idle/busy) and each workflow family
 * (bench/split-workflows.ts) it measures every strategy's end-to-end latency as the client sees
 * it. Strategies are interleaved request by request, in a shuffled order per round, so machine
 * noise hits them alike; each is warmed in each cell first so the router has fresh measurements
 * of the link as it is now. Fixed strategies are the baselines; the oracle is the best of them
 * by p50, known only after the fact.
 *
 * The edge and the cloud share one machine, so the edge is made a weaker device by emulation:
 * `--edge-slowdown N` (default 8, about a gateway-class ARM core against a server core) makes
 * every edge model run take N times as long, the extra spent waiting so the cloud keeps its CPU
 * (shared/backend/slowed-backend.ts). What this does not model: a busy cloud takes CPU from the
 * edge too, and a GPU cloud would widen the gap further.
 */
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureZoo } from '../cli/zoo-files.js';
import { writeSplitCharts } from './split-charts.js';
import { createRng } from '../shared/rng.js';
import { zooSampleInputs } from '../shared/zoo/samples/index.js';
import { startCloudProcess, type CloudProcess } from './cloud-process.js';
import { startLinkProxy, type LinkProxy } from './link-proxy.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { cellName, compare, formatTables, geomean, summarise, type CellResult, type SplitCell, type StrategyResult } from './split-report.js';
import { CNN_CUTS, splitFamilies, type SplitFamily } from './split-workflows.js';

/** The edge's emulated slowdown unless told otherwise: roughly an ARM gateway core against a server core. */
export const DEFAULT_EDGE_SLOWDOWN = 8;

export interface SplitBenchOptions {
  /** Fewer cells (RTT 10/150 ms x 1/100 Mbit/s, idle) and fewer requests. */
  readonly quick?: boolean;
  /** Cells as `RTT:MBIT[:busy]`, comma-separated, e.g. `10:100,150:1:busy`; overrides the grid. */
  readonly cells?: string;
  /** Measured requests per strategy per cell. Default 20, 8 with quick. */
  readonly requests?: number;
  /** Warm-up requests per strategy per cell. Default 3, 2 with quick. */
  readonly warmup?: number;
  /** Families to run: cnn, text, audio. Default all. */
  readonly families?: readonly string[];
  /** cnn-large cuts measured as fixed strategies (auto chooses among the same). Default CNN_CUTS. */
  readonly cuts?: readonly string[];
  /** Edge inference backend. Default onnxruntime-web (a weaker edge than the onnxruntime-node cloud). */
  readonly edgeBackend?: string;
  /** Every edge run takes this many times as long (emulating a weaker device). Default DEFAULT_EDGE_SLOWDOWN. */
  readonly edgeSlowdown?: number;
  /** Concurrent KServe clients against the cloud in busy cells. Default 2. */
  readonly busyClients?: number;
  /** Raw JSON results. Default bench/results/split.json; '' writes none. */
  readonly out?: string;
  readonly log?: (line: string) => void;
}

export interface SplitBenchResult {
  readonly machine: { cpu: string; cores: number; node: string; platform: string };
  readonly options: { requests: number; warmup: number; edgeBackend: string; edgeSlowdown: number; busyClients: number; cuts: readonly string[] };
  readonly cells: CellResult[];
  /** Per family: geometric mean over cells of cloud p50 / auto p50. */
  readonly meanGainVsCloud: Record<string, number>;
  readonly seconds: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin/cleave.mjs');
const READY = /^ready: (http:\/\/\S+)$/m;
const DEFAULT_OUT = path.join(ROOT, 'bench/results/split.json');
/** Per request, ms: a slow cell's cloud-only CNN request takes about 0.6 s. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Neurosurgeon (Kang et al., ASPLOS 2017): average latency gain of its partitioning vs cloud-only. */
const NEUROSURGEON_GAIN = 3.1;

export const FULL_GRID: readonly SplitCell[] = [10, 50, 150].flatMap((rttMs) => [1, 10, 100].flatMap((mbps) => [false, true].map((busy) => ({ rttMs, mbps, busy }))));
export const QUICK_GRID: readonly SplitCell[] = [10, 150].flatMap((rttMs) => [1, 100].map((mbps) => ({ rttMs, mbps, busy: false })));

/** Parses `RTT:MBIT[:busy|idle]` items; RangeError naming the item that is wrong. */
export function parseCells(s: string): SplitCell[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean).map((item) => {
    const [rtt, mbit, load = 'idle', ...rest] = item.split(':');
    const rttMs = Number(rtt);
    const mbps = Number(mbit);
    if (rest.length > 0 || !(rttMs >= 0) || !Number.isFinite(rttMs) || !(mbps > 0) || !Number.isFinite(mbps) || (load !== 'idle' && load !== 'busy')) {
      throw new RangeError(`--cells item ${JSON.stringify(item)}: expected RTT_MS:MBIT_PER_S[:idle|busy], e.g. 10:100 or 150:1:busy`);
    }
    return { rttMs, mbps, busy: load === 'busy' };
  });
}

interface Answer { ms: number; top1: number | undefined; route: string; probe: boolean; ok: boolean; error?: string; decision?: string }

function argmax(data: readonly number[]): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < data.length; i++) if (best === undefined || data[i]! > data[best]!) best = i;
  return best;
}

/** Where the deciding node ran, from `x-cleave-plan` (`small=edge!` -> `exit`). */
function routeOf(plan: string): string {
  const parts = plan.split(',').map((p) => p.trim()).filter(Boolean);
  const last = parts[parts.length - 1] ?? '';
  if (last.endsWith('!') && parts.length === 1 && /^small=/.test(last)) return 'exit';
  return last.replace(/^[^=]*=/, '').replace(/[!~]$/, '') || 'none';
}

async function infer(edgeUrl: string, name: string, body: string, output: string): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${edgeUrl}/v1/workflows/${name}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const json = await res.json() as { outputs?: Record<string, { data?: number[] }>; code?: string; message?: string };
    const ms = performance.now() - t0;
    if (res.status !== 200) return { ms, top1: undefined, route: 'error', probe: false, ok: false, error: `${res.status} ${json.code}: ${json.message}` };
    // A probe of the losing tier says so in its decision (edge/workflow-runtime.ts TierProbe).
    const probe = (res.headers.get('x-cleave-placement') ?? '').includes('probe=1');
    return { ms, top1: argmax(json.outputs?.[output]?.data ?? []), route: routeOf(res.headers.get('x-cleave-plan') ?? ''), probe, ok: true, decision: res.headers.get('x-cleave-placement') ?? '' };
  } catch (e) {
    return { ms: performance.now() - t0, top1: undefined, route: 'error', probe: false, ok: false, error: (e as Error).message };
  }
}

/**
 * Background load on the cloud's own HTTP port (KServe v2, not through the proxy): `clients`
 * loops alternating cnn-large at 4 rows and text-base at 16 rows. Returns a stop function that
 * resolves once every loop has ended.
 */
function startBusyLoad(cloud: CloudProcess, clients: number): () => Promise<number> {
  const img = zooSampleInputs('cnn-large', 4, 99)!['image']!;
  const ids = zooSampleInputs('text-base', 16, 99)!['input_ids']!;
  const bodies = [
    { model: 'cnn-large', body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: img.dims, data: Array.from(img.data as Float32Array) }] }) },
    { model: 'text-base', body: JSON.stringify({ inputs: [{ name: 'input_ids', datatype: 'INT64', shape: ids.dims, data: Array.from(ids.data as ArrayLike<number | bigint>, Number) }] }) },
  ];
  let stopped = false;
  let done = 0;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; !stopped; i++) {
      const b = bodies[i % bodies.length]!;
      try {
        const res = await fetch(`${cloud.httpUrl}/v2/models/${b.model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await res.arrayBuffer();
        if (res.ok) done++;
      } catch {
        // Load, not a measurement: a failed request just makes room for the next.
      }
    }
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
    return done;
  };
}

async function waitConnected(edgeUrl: string, models: readonly string[], timeoutMs = 30_000): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    try {
      const st = await (await fetch(`${edgeUrl}/v1/status`)).json() as { link?: { state?: string; offers?: { name: string }[] } };
      if (st.link?.state === 'connected' && models.every((m) => st.link?.offers?.some((o) => o.name === m))) return;
    } catch {
      // Not answering yet.
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`the edge did not connect to the cloud (with ${models.join(', ')} offered) within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function deploy(edgeUrl: string, doc: object): Promise<void> {
  const res = await fetch(`${edgeUrl}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc), signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new Error(`deploying ${(doc as { name?: string }).name}: ${res.status} ${text}`);
}

export async function runSplitBench(opts: SplitBenchOptions = {}): Promise<SplitBenchResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const quick = opts.quick ?? false;
  const cells = opts.cells !== undefined ? parseCells(opts.cells) : quick ? [...QUICK_GRID] : [...FULL_GRID];
  const requests = opts.requests ?? (quick ? 8 : 20);
  const warmup = opts.warmup ?? (quick ? 2 : 3);
  const edgeBackend = opts.edgeBackend ?? 'onnxruntime-node';
  const edgeSlowdown = opts.edgeSlowdown ?? DEFAULT_EDGE_SLOWDOWN;
  const busyClients = opts.busyClients ?? 2;
  const cuts = opts.cuts ?? CNN_CUTS;
  const wanted = opts.families ?? ['cnn', 'text', 'audio'];
  const families = splitFamilies({ cuts }).filter((f) => wanted.includes(f.name));
  if (families.length === 0) throw new RangeError(`families ${JSON.stringify(wanted)}: expected some of cnn, text, audio`);
  if (!(Number.isInteger(requests) && requests > 0)) throw new RangeError(`requests must be a positive integer, got ${requests}`);
  const cpu = cpus();
  const machine = { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, node: process.version, platform: `${process.platform}-${process.arch}` };
  log(`machine: ${machine.cores} x ${machine.cpu}, ${machine.platform}, node ${machine.node}`);
  log(`cells: ${cells.length}; ${requests} requests per strategy per cell after ${warmup} warm-up; edge backend ${edgeBackend}, emulated ${edgeSlowdown}x slower; busy = ${busyClients} KServe clients on the cloud`);

  let cloud: CloudProcess | undefined;
  let proxy: LinkProxy | undefined;
  let edge: ServerProcess | undefined;
  const results: CellResult[] = [];
  try {
    // Both processes serve the generated zoo: build it first on a fresh checkout.
    await ensureZoo();
    cloud = await startCloudProcess(['--no-log']);
    proxy = await startLinkProxy({ target: { host: '127.0.0.1', port: cloud.port } });
    edge = await startServerProcess({
      command: process.execPath, cwd: ROOT, ready: READY,
      args: [BIN, 'edge', '--port', '0', '--no-log', '--backend', edgeBackend, '--emulate-slowdown', String(edgeSlowdown), '--cloud', proxy.url('/v1/ws')],
    });
    const edgeUrl = edge.url;
    await waitConnected(edgeUrl, ['cnn-large', 'text-base']);
    for (const f of families) for (const d of [f.reference, ...f.strategies.map((s) => s.doc)]) await deploy(edgeUrl, d);
    log(`processes up and ${families.reduce((n, f) => n + f.strategies.length + 1, 0)} workflows deployed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // The fp32 cloud answer of every input, once, over an unshaped link.
    const bodies = new Map(families.map((f) => [f.name, f.bodies(requests, 1)]));
    const reference = new Map<string, (number | undefined)[]>();
    for (const f of families) {
      const answers: (number | undefined)[] = [];
      for (const b of bodies.get(f.name)!) {
        const a = await infer(edgeUrl, f.reference.name, b, f.output);
        if (!a.ok) throw new Error(`reference ${f.reference.name}: ${a.error}`);
        answers.push(a.top1);
      }
      reference.set(f.name, answers);
    }

    const rng = createRng(17);
    for (const cell of cells) {
      const c0 = performance.now();
      proxy.shape({ delayMs: cell.rttMs / 2, bitsPerSec: cell.mbps * 1e6 });
      const stopBusy = cell.busy ? startBusyLoad(cloud, busyClients) : undefined;
      const samples = new Map<string, { ms: number[]; agree: boolean[]; errors: number; probes: number; routes: Record<string, number>; lastError?: string; lastDecision?: string }>();
      const key = (f: SplitFamily, label: string): string => `${f.name}/${label}`;
      try {
        // Warm-up: every strategy a few times, so the router's link and compute estimates are of this cell.
        for (let w = 0; w < warmup; w++) {
          for (const f of families) {
            const b = bodies.get(f.name)!;
            for (const s of f.strategies) await infer(edgeUrl, s.doc.name, b[(w + 1) % b.length]!, f.output);
          }
        }
        for (let i = 0; i < requests; i++) {
          for (const f of families) {
            const order = [...f.strategies];
            for (let j = order.length - 1; j > 0; j--) {
              const k = rng.int(0, j + 1);
              [order[j], order[k]] = [order[k]!, order[j]!];
            }
            for (const s of order) {
              const a = await infer(edgeUrl, s.doc.name, bodies.get(f.name)![i]!, f.output);
              let acc = samples.get(key(f, s.label));
              if (!acc) samples.set(key(f, s.label), acc = { ms: [], agree: [], errors: 0, probes: 0, routes: {} });
              acc.routes[a.route] = (acc.routes[a.route] ?? 0) + 1;
              // The router's last decision with its cost terms, to explain a cell afterwards.
              if (a.decision) acc.lastDecision = a.decision;
              if (a.probe) acc.probes++;
              if (!a.ok) {
                acc.errors++;
                if (a.error !== undefined) acc.lastError = a.error;
                continue;
              }
              acc.ms.push(a.ms);
              acc.agree.push(a.top1 === reference.get(f.name)![i]);
            }
          }
        }
      } finally {
        const n = await stopBusy?.();
        if (n !== undefined) log(`  (busy: ${n} background KServe requests answered)`);
      }
      const famResults = families.map((f) => compare(f.name, f.strategies.map((s): StrategyResult => {
        const acc = samples.get(key(f, s.label)) ?? { ms: [], agree: [], errors: 0, probes: 0, routes: {} };
        if (acc.errors > 0) log(`  ${f.name}/${s.label}: ${acc.errors} errors, last: ${acc.lastError}`);
        const r = summarise(s.label, s.kind, acc.ms, acc.agree, acc.errors, acc.routes, acc.probes);
        return acc.lastDecision !== undefined ? { ...r, lastDecision: acc.lastDecision } : r;
      })));
      const seconds = (performance.now() - c0) / 1000;
      results.push({ cell, families: famResults, seconds });
      log(`cell ${cellName(cell)} (${seconds.toFixed(1)} s): ${famResults.map((r) => `${r.family} auto/oracle ${r.autoOverOracle.toFixed(2)} (oracle ${r.oracle}), x cloud ${r.gainVsCloud.toFixed(2)}`).join('; ')}`);
    }
  } finally {
    await edge?.stop();
    await proxy?.close();
    await cloud?.stop();
  }

  const titles = new Map(families.map((f) => [f.name, f.title]));
  for (const line of formatTables(results, titles)) log(line);
  const meanGainVsCloud: Record<string, number> = {};
  for (const f of families) meanGainVsCloud[f.name] = geomean(results.map((c) => c.families.find((x) => x.family === f.name)?.gainVsCloud ?? NaN));
  const all = geomean(results.flatMap((c) => c.families.map((x) => x.gainVsCloud)));
  log('');
  log(`mean gain of auto vs cloud-only (geomean over cells): ${Object.entries(meanGainVsCloud).map(([k, v]) => `${k} x${v.toFixed(2)}`).join(', ')}; all x${all.toFixed(2)}`);
  log(`  reference: Neurosurgeon reports x${NEUROSURGEON_GAIN} on average vs cloud-only (mobile GPU edge, server GPU cloud, Wi-Fi/LTE/3G); here both tiers share one CPU box`);
  const seconds = (performance.now() - t0) / 1000;
  log(`total ${seconds.toFixed(0)} s`);
  const result: SplitBenchResult = { machine, options: { requests, warmup, edgeBackend, edgeSlowdown, busyClients, cuts }, cells: results, meanGainVsCloud, seconds };
  const out = opts.out ?? DEFAULT_OUT;
  if (out !== '') {
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
    log(`raw results: ${path.relative(process.cwd(), out) || out}`);
    log(`charts: ${(await writeSplitCharts(out, path.join(ROOT, 'docs/img'))).map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  }
  return result;
}
