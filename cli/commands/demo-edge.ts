/**
 * Steps 5 and 7 of `cleave demo`: an edge node and the cloud tier on loopback, as a client sees
 * them. The edge answers its own models, remembers answers (the second identical request is a
 * cache hit) and forwards cloud models over the protocol link (step 5); once the cloud is stopped
 * it answers a cloud model with its edge fallback, saying so (step 7). Every line shows the
 * Server-Timing segments. The same two processes serve step 6 (demo-workflows.ts) in between:
 * the cloud takes seconds to load its models, so it starts once.
 */
import { resolveCloudConfig } from '../../cloud/config.js';
import { startCloudServer, type CloudServer } from '../../cloud/server.js';
import { resolveEdgeConfig } from '../../edge/config.js';
import { startEdgeServer, type EdgeServer } from '../../edge/node.js';
import { parseServerTiming } from '../../shared/server-timing.js';
import type { HostTensor } from '../../shared/tensor.js';
import { formatTable } from '../table.js';

interface Call {
  readonly label: string;
  readonly model: string;
  readonly input: HostTensor;
  readonly inputName: string;
  readonly headers?: Record<string, string>;
}

/** The demo's preprocessed inputs. */
export interface EdgeDemoInputs {
  readonly text: HostTensor;
  readonly image: HostTensor;
}

/** A cloud and an edge linked on loopback; close() stops both (the cloud may be stopped already). */
export interface Loopback {
  readonly cloud: CloudServer;
  readonly edge: EdgeServer;
  close(): Promise<void>;
}

/** Starts the cloud on a free port, then an edge linked to it; `workflowsDir` is the edge's `--workflows-dir`. */
export async function startLoopback(opts: { workflowsDir?: string } = {}): Promise<Loopback> {
  const cloud = await startCloudServer(resolveCloudConfig({}, { port: '0', log: false }), { processMetrics: false });
  try {
    await cloud.ready;
    const edge = await startEdgeServer(resolveEdgeConfig({}, {
      port: '0', cloudUrl: `ws://127.0.0.1:${cloud.port}/v1/ws`, log: false, ...(opts.workflowsDir !== undefined ? { workflowsDir: opts.workflowsDir } : {}),
    }), { processMetrics: false });
    await edge.ready;
    return {
      cloud, edge,
      async close() {
        await edge.close();
        await cloud.close();
      },
    };
  } catch (e) {
    await cloud.close();
    throw e;
  }
}

const HEADER = ['request', 'model', 'status', 'served by', 'cache', 'degraded', 'Server-Timing (ms)'];

/** Step 5, with the cloud up; `say` prints a line. */
export async function edgeDemo(say: (s?: string) => void, lo: Loopback, inputs: EdgeDemoInputs): Promise<void> {
  const { edge, cloud } = lo;
  say(`   cloud ${cloud.url}, edge ${edge.url}, link ${edge.node.cloud.status().state}`);
  const calls: Call[] = [
    { label: 'text, edge model', model: 'text-tiny', input: inputs.text, inputName: 'input_ids' },
    { label: 'same request again', model: 'text-tiny', input: inputs.text, inputName: 'input_ids' },
    { label: 'text, cloud model', model: 'text-base', input: inputs.text, inputName: 'input_ids' },
    { label: 'image, edge model', model: 'cnn-small', input: inputs.image, inputName: 'image' },
    { label: 'image, cloud model', model: 'cnn-large', input: inputs.image, inputName: 'image' },
    { label: 'image, cloud model again', model: 'cnn-large', input: inputs.image, inputName: 'image' },
  ];
  const rows: (string | number | undefined)[][] = [];
  for (const c of calls) rows.push(await call(edge.url, c));
  say(indent(formatTable(HEADER, rows), 3));
  say('   (Server-Timing: cache = key digest + lookup, edge = edge compute, link = round trip minus cloud time, cloud-queue / cloud-compute as the cloud reports them)');
}

/** Step 7: stops the cloud of `lo`, then asks the edge for cloud models. */
export async function cloudGoneDemo(say: (s?: string) => void, lo: Loopback, inputs: EdgeDemoInputs): Promise<void> {
  const { edge, cloud } = lo;
  await cloud.close();
  // The link notices the close at once (the socket ends); the next cloud request is answered by the fallback.
  for (let i = 0; i < 50 && edge.node.cloud.status().state === 'connected'; i++) await new Promise((r) => setTimeout(r, 20));
  say(`   cloud stopped; link ${edge.node.cloud.status().state}`);
  const rows: (string | number | undefined)[][] = [];
  rows.push(await call(edge.url, { label: 'text, cloud model', model: 'text-base', input: inputs.text, inputName: 'input_ids', headers: { 'x-cleave-cache': 'bypass' } }));
  rows.push(await call(edge.url, { label: 'tabular, cloud-only', model: 'mlp-large', input: { dtype: 'float32', dims: [1, 512], data: new Float32Array(512).fill(0.1) }, inputName: 'x' }));
  say(indent(formatTable(HEADER, rows), 3));
}

async function call(url: string, c: Call): Promise<(string | number | undefined)[]> {
  const data = c.input.dtype === 'int64' ? Array.from(c.input.data as BigInt64Array, Number) : Array.from(c.input.data as Float32Array);
  const body = JSON.stringify({ inputs: [{ name: c.inputName, shape: c.input.dims, datatype: c.input.dtype === 'int64' ? 'INT64' : 'FP32', data }] });
  const res = await fetch(`${url}/v2/models/${c.model}/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...c.headers } });
  const timing = serverTimingCell(res.headers.get('server-timing'));
  const code = res.ok ? '' : ` ${((await res.json()) as { code: string }).code}`;
  return [c.label, c.model, `${res.status}${code}`, res.headers.get('x-cleave-served-by') ?? '-', res.headers.get('x-cleave-cache') ?? '-', res.headers.get('x-cleave-degraded') ?? '', timing];
}

/** A Server-Timing header as `name ms, name ms` (segments without a duration left out). */
export function serverTimingCell(header: string | null): string {
  return parseServerTiming(header ?? '')
    .filter((s) => s.durMs !== undefined)
    .map((s) => `${s.name} ${s.durMs!.toFixed(2)}`).join(', ');
}

function indent(s: string, n: number): string {
  return s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}
