/**
 * The Node edge runs on either backend: onnxruntime-node by default, onnxruntime-web (wasm) when
 * asked or when the native addon cannot load. Both answer the same within float tolerance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEdgeConfig } from '../../edge/config.js';
import { startEdgeServer, type EdgeServer } from '../../edge/node.js';
import { zooDir } from '../helpers/zoo.js';

const body = JSON.stringify({ inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: Array.from({ length: 128 }, (_, i) => Math.sin(i)) }] });

async function infer(url: string): Promise<{ backend: string; logits: number[] }> {
  const meta = (await (await fetch(`${url}/v2`)).json()) as { backend: string };
  const res = await fetch(`${url}/v2/models/mlp-small/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  expect(res.status).toBe(200);
  const json = (await res.json()) as { outputs: { data: number[] }[] };
  return { backend: meta.backend, logits: json.outputs[0]!.data };
}

describe('Node edge backends', () => {
  const servers: EdgeServer[] = [];
  beforeAll(async () => {
    await zooDir();
    for (const backend of ['onnxruntime-node', 'onnxruntime-web']) {
      const s = await startEdgeServer(resolveEdgeConfig({}, { port: '0', backend, log: false }), { processMetrics: false });
      await s.ready;
      servers.push(s);
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it('onnxruntime-node and onnxruntime-web serve the same answers', async () => {
    const native = await infer(servers[0]!.url);
    const wasm = await infer(servers[1]!.url);
    expect(native.backend).toBe('onnxruntime-node');
    expect(wasm.backend).toBe('onnxruntime-web');
    expect(native.logits).toHaveLength(20);
    native.logits.forEach((v, i) => expect(Math.abs(v - wasm.logits[i]!)).toBeLessThan(1e-4));
  });
});
