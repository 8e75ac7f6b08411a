/**
 * Step 6 of `cleave demo`: workflows on the edge of step 5, as a client of the HTTP API sees
 * them. It deploys the two example workflows (shared/workflow/examples.ts), sends a batch of
 * image and voice requests with some repeated, and prints where each node ran (`x-cleave-plan`),
 * whether the request exited early, Server-Timing and the reply; then the plan the router would
 * make now, and one request streamed as NDJSON, line by line as the edge writes it.
 *
 * Workflow answers are not put in the result cache (they go out `cache-control: no-store`): a
 * repeated request runs again, which is why the repeats are here, placed from what the first
 * runs measured. The cache counters are printed before and after to show it.
 */
import { readdir } from 'node:fs/promises';
import type { HostTensor } from '../../shared/tensor.js';
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import { EXAMPLE_WORKFLOWS } from '../../shared/workflow/examples.js';
import { zooSampleInputs } from '../../shared/zoo/samples/index.js';
import { formatTable, type Cell } from '../table.js';
import { serverTimingCell } from './demo-edge.js';

/** Seed of the demo's sample stream: fixed, so every run sends the same images and clips. */
const SAMPLE_SEED = 7;
/** Distinct images sent, then the first few of them again: 12 requests. */
const IMAGES = 9;
const IMAGE_REPEATS = [0, 3, 5];
/** Voice clips by seed; the last repeats the first. */
const CLIP_SEEDS = [1, 2, 3, 1];

interface JsonTensor { dtype: string; dims: number[]; data: unknown[] }

interface RunAnswer {
  outputs?: Record<string, JsonTensor>;
  exitedAt?: string;
  degraded?: boolean;
  totalMs?: number;
  code?: string;
  message?: string;
}

interface PlanAnswer {
  nodes: { node: string; type: string; placement: string; expectedMs?: number; explanation?: string; error?: { code: string } }[];
  criticalPath?: { ms: number; path: string[] };
  link: { rttMs: number; upBitsPerSec: number; priorUsed: boolean };
}

interface Request {
  readonly workflow: string;
  readonly input: string;
  readonly inputs: Record<string, JsonTensor>;
}

/** Runs the step against the edge at `edgeUrl`, whose `--workflows-dir` is `workflowsDir`; `say` prints a line. */
export async function workflowsDemo(say: (s?: string) => void, edgeUrl: string, workflowsDir: string): Promise<void> {
  for (const wf of EXAMPLE_WORKFLOWS) say(`   ${await deploy(edgeUrl, wf)}`);
  say(`   persisted by --workflows-dir: ${(await readdir(workflowsDir)).filter((f) => f.endsWith('.json')).sort().join(', ')}`);

  const requests = sampleRequests();
  const cacheBefore = await cacheStats(edgeUrl);
  const rows: Cell[][] = [];
  const firstRun = new Map<string, RunAnswer>();
  for (const [i, r] of requests.entries()) {
    const res = await post(edgeUrl, r);
    const body = (await res.json()) as RunAnswer;
    if (!firstRun.has(r.input)) firstRun.set(r.input, body);
    const plan = res.ok ? res.headers.get('x-cleave-plan') ?? '' : `${res.status} ${body.code ?? ''}`;
    const reply = body.outputs?.['reply']?.data[0];
    rows.push([r.workflow, i + 1, r.input, plan, body.exitedAt ?? '', body.degraded === true ? 'yes' : 'no', serverTimingCell(res.headers.get('server-timing')), body.totalMs, typeof reply === 'string' ? reply : '']);
  }
  say(indent(formatTable(['workflow', '#', 'input', 'x-cleave-plan', 'exited at', 'degraded', 'Server-Timing (ms)', 'total ms', 'reply'], rows), 3));
  say('   (x-cleave-plan: node=placement per model node in the order they ran; ! = the request exited there, ~ = degraded;');
  say('    cut:<tensor> = head on the edge, tail in the cloud, +int8 = activation sent int8. A tier or cut never measured');
  say('    is priced at 0 ms compute, so each is tried once: the first requests explore, later ones are placed from measurements.)');
  const cacheAfter = await cacheStats(edgeUrl);
  say(`   result cache ${cacheBefore} before the batch, ${cacheAfter} after: workflow answers are not cached, repeats run again`);

  say('   GET /v1/workflows/image-cascade/plan (where each node would run now):');
  const plan = (await (await fetch(`${edgeUrl}/v1/workflows/image-cascade/plan`)).json()) as PlanAnswer;
  say(indent(formatTable(['node', 'type', 'placement', 'expected ms', 'explanation'],
    plan.nodes.map((n) => [n.node, n.type, n.placement, n.expectedMs, n.explanation ?? n.error?.code])), 5));
  const link = plan.link;
  say(`     critical path ${plan.criticalPath?.path.join(' -> ') ?? '-'}: ${plan.criticalPath?.ms.toFixed(1) ?? '-'} ms; link RTT ${link.rttMs.toFixed(2)} ms, up ${(link.upBitsPerSec / 1e6).toFixed(0)} Mbit/s${link.priorUsed ? ' (partly prior)' : ''}`);

  // Stream an image small did not answer, so both nodes show up.
  const image = requests.find((r) => r.workflow === 'image-cascade' && firstRun.get(r.input)?.exitedAt !== 'small') ?? requests[0]!;
  say(`   the same ${image.input} streamed (Accept: application/x-ndjson), each line as it arrives:`);
  await stream(edgeUrl, image, say);
}

async function deploy(url: string, wf: WorkflowDefinition): Promise<string> {
  const res = await fetch(`${url}/v1/workflows`, { method: 'POST', body: JSON.stringify(wf), headers: { 'content-type': 'application/json' } });
  const body = (await res.json()) as { name?: string; version?: number; digest?: string; message?: string };
  if (!res.ok) throw new Error(`POST /v1/workflows ${wf.name} -> ${res.status}: ${body.message ?? ''}`);
  return `POST /v1/workflows -> ${res.status}: ${body.name} version ${body.version}, digest ${body.digest?.slice(0, 12)}... (${wf.description ?? ''})`;
}

/** 12 single-image requests (9 images, 3 of them twice) and 4 clips (one twice). */
function sampleRequests(): Request[] {
  const images = zooSampleInputs('cnn-large', IMAGES, SAMPLE_SEED)!['image']!;
  const row = (i: number): Request => ({ workflow: 'image-cascade', input: `image ${i + 1}`, inputs: { image: rowOf(images, i) } });
  const out = [...Array.from({ length: IMAGES }, (_, i) => row(i)), ...IMAGE_REPEATS.map(row)];
  for (const seed of CLIP_SEEDS) {
    out.push({ workflow: 'voice-assistant', input: `clip ${seed}`, inputs: { features: rowOf(zooSampleInputs('audio-large', 1, seed)!['features']!, 0) } });
  }
  return out;
}

function rowOf(t: HostTensor, i: number): JsonTensor {
  const n = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return { dtype: t.dtype, dims: [1, ...t.dims.slice(1)], data: Array.from((t.data as Float32Array).subarray(i * n, (i + 1) * n)) };
}

function post(url: string, r: Request, accept?: string): Promise<Response> {
  return fetch(`${url}/v1/workflows/${r.workflow}/infer`, {
    method: 'POST', body: JSON.stringify({ inputs: r.inputs }), headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) },
  });
}

async function cacheStats(url: string): Promise<string> {
  const s = ((await (await fetch(`${url}/v1/status`)).json()) as { cache?: { entries: number; hits: number; misses: number } }).cache;
  return s ? `${s.entries} entries / ${s.hits} hits / ${s.misses} misses` : '(not reported)';
}

/** Prints each NDJSON line's event and node with the time since the request was sent. */
async function stream(url: string, r: Request, say: (s?: string) => void): Promise<void> {
  const t0 = performance.now();
  const res = await post(url, r, 'application/x-ndjson');
  if (!res.body) throw new Error('the NDJSON answer has no body');
  const decoder = new TextDecoder();
  let buffered = '';
  const show = (line: string): void => {
    const e = JSON.parse(line) as { event: string; node?: string; placement?: string; ms?: number; exitedAt?: string; plan?: string; totalMs?: number; code?: string };
    const at = `${(performance.now() - t0).toFixed(1).padStart(6)} ms`;
    if (e.event === 'node') say(`     ${at}  node    ${e.node} on ${e.placement ?? '?'} (${e.ms?.toFixed(1) ?? '?'} ms)`);
    else if (e.event === 'result') say(`     ${at}  result  plan "${e.plan}", exited at ${e.exitedAt ?? '-'}, total ${e.totalMs?.toFixed(1)} ms`);
    else if (e.event === 'error') say(`     ${at}  error   ${e.code}`);
    else say(`     ${at}  ${e.event.padEnd(7)} ${e.node}`);
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== '') show(line);
    }
  }
  if (buffered.trim() !== '') show(buffered);
}

function indent(s: string, n: number): string {
  return s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}
