/**
 * Step 5 of `cleave demo`: an edge node and the cloud tier on loopback, as a client sees them.
 * The edge answers its own models, remembers answers (the second identical request is a cache
 * hit), forwards cloud models over the protocol link, and, once the cloud is stopped, answers a
 * cloud model with its edge fallback, saying so. Every line shows the Server-Timing segments.
 */
import { resolveCloudConfig } from '../../cloud/config.js';
import { startCloudServer } from '../../cloud/server.js';
import { resolveEdgeConfig } from '../../edge/config.js';
import { startEdgeServer } from '../../edge/node.js';
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

/** Runs the step; `say` prints a line. Inputs are the demo's preprocessed tensors. */
export async function edgeDemo(say: (s?: string) => void, inputs: { text: HostTensor; image: HostTensor }): Promise<void> {
  const cloud = await startCloudServer(resolveCloudConfig({}, { port: '0', log: false }), { processMetrics: false });
  await cloud.ready;
  const edge = await startEdgeServer(resolveEdgeConfig({}, { port: '0', cloudUrl: `ws://127.0.0.1:${cloud.port}/v1/ws`, log: false }), { processMetrics: false });
  try {
    await edge.ready;
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
    await cloud.close();
    // The link notices the close at once (the socket ends); the next cloud request is answered by the fallback.
    for (let i = 0; i < 50 && edge.node.cloud.status().state === 'connected'; i++) await new Promise((r) => setTimeout(r, 20));
    rows.push(await call(edge.url, { label: 'cloud stopped: text, cloud model', model: 'text-base', input: inputs.text, inputName: 'input_ids', headers: { 'x-cleave-cache': 'bypass' } }));
    rows.push(await call(edge.url, { label: 'cloud stopped: tabular, cloud-only', model: 'mlp-large', input: { dtype: 'float32', dims: [1, 512], data: new Float32Array(512).fill(0.1) }, inputName: 'x' }));
    say(indent(formatTable(['request', 'model', 'status', 'served by', 'cache', 'degraded', 'Server-Timing (ms)'], rows), 3));
    say('   (Server-Timing: cache = key digest + lookup, edge = edge compute, link = round trip minus cloud time, cloud-queue / cloud-compute as the cloud reports them)');
  } finally {
    await edge.close();
    await cloud.close();
  }
}

async function call(url: string, c: Call): Promise<(string | number | undefined)[]> {
  const data = c.input.dtype === 'int64' ? Array.from(c.input.data as BigInt64Array, Number) : Array.from(c.input.data as Float32Array);
  const body = JSON.stringify({ inputs: [{ name: c.inputName, shape: c.input.dims, datatype: c.input.dtype === 'int64' ? 'INT64' : 'FP32', data }] });
  const res = await fetch(`${url}/v2/models/${c.model}/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...c.headers } });
  const timing = parseServerTiming(res.headers.get('server-timing') ?? '')
    .filter((s) => s.durMs !== undefined)
    .map((s) => `${s.name} ${s.durMs!.toFixed(2)}`).join(', ');
  const code = res.ok ? '' : ` ${((await res.json()) as { code: string }).code}`;
  return [c.label, c.model, `${res.status}${code}`, res.headers.get('x-cleave-served-by') ?? '-', res.headers.get('x-cleave-cache') ?? '-', res.headers.get('x-cleave-degraded') ?? '', timing];
}

function indent(s: string, n: number): string {
  return s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}
