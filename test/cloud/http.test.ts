// KServe v2 REST on a real cloud server: health, metadata, infer with JSON and with the
// binary-data extension, the repository extension, /metrics, and coded errors for bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import { parseInferResponse } from '../../shared/kserve/index.js';
import { createRng } from '../../shared/rng.js';
import { maxAbsDiff, hostTensor } from '../../shared/tensor.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';
import { zooModelBytes } from '../helpers/zoo.js';

let cloud: TestCloud;
beforeAll(async () => {
  cloud = await startTestCloud();
});
afterAll(async () => {
  await cloud?.stop();
});

function row(seed: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: 64 }, () => rng.normal());
}

async function direct(x: number[][]): Promise<Float32Array> {
  const loaded = await (await nodeBackends()).get('onnxruntime-node').load(await zooModelBytes('mlp-small'));
  const r = await loaded.run({ x: hostTensor('float32', [x.length, 64], Float32Array.from(x.flat())) });
  await loaded.dispose();
  return r.logits!.data as Float32Array;
}

const post = (path: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${cloud.httpUrl}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('KServe v2 REST on the cloud', () => {
  it('answers health and server/model metadata', async () => {
    expect((await fetch(`${cloud.httpUrl}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${cloud.httpUrl}/v2/health/ready`)).status).toBe(200);
    const server = await (await fetch(`${cloud.httpUrl}/v2`)).json() as { name: string; extensions: string[] };
    expect(server.extensions).toContain('binary_tensor_data');
    const meta = await (await fetch(`${cloud.httpUrl}/v2/models/mlp-small`)).json() as Record<string, unknown>;
    expect(meta).toMatchObject({ name: 'mlp-small', versions: ['1', '2'], platform: 'onnxruntime_onnx', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 64] }] });
    expect((await fetch(`${cloud.httpUrl}/v2/models/mlp-small/versions/2/ready`)).status).toBe(200);
    // Only the newest version is loaded at startup (Triton's default version policy); older ones load on demand.
    expect((await fetch(`${cloud.httpUrl}/v2/models/mlp-small/versions/1/ready`)).status).toBe(503);
  });

  it('infers with JSON and returns what onnxruntime-node computes directly', async () => {
    const x = [row(1), row(2)];
    const res = await post('/v2/models/mlp-small/infer', JSON.stringify({ id: 'r1', inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: x }] }));
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toMatch(/compute;dur=/);
    const body = await res.json() as { id: string; model_name: string; outputs: { name: string; shape: number[]; data: number[] }[] };
    expect(body.id).toBe('r1');
    expect(body.model_name).toBe('mlp-small');
    const want = await direct(x);
    expect(body.outputs[0]!.shape).toEqual([2, 10]);
    body.outputs[0]!.data.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
  });

  it('infers with the binary-data extension both ways', async () => {
    const x = [row(3)];
    const bin = new Uint8Array(Float32Array.from(x.flat()).buffer);
    const header = new TextEncoder().encode(JSON.stringify({
      inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', parameters: { binary_data_size: bin.length } }],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }],
    }));
    const body = new Uint8Array(header.length + bin.length);
    body.set(header);
    body.set(bin, header.length);
    const res = await post('/v2/models/mlp-small/infer', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
    expect(res.status).toBe(200);
    const hl = Number(res.headers.get('inference-header-content-length'));
    expect(hl).toBeGreaterThan(0);
    const parsed = parseInferResponse(new Uint8Array(await res.arrayBuffer()), hl);
    expect(maxAbsDiff(parsed.outputs.logits!, hostTensor('float32', [1, 10], await direct(x)))).toBeLessThan(1e-4);
  });

  it('gives coded JSON errors: 404 unknown model, 400 shape and dtype, 400 malformed JSON, 413 oversize body', async () => {
    const unknown = await post('/v2/models/nope/infer', '{}');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
    const shape = await post('/v2/models/mlp-small/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0) }] }));
    expect(shape.status).toBe(400);
    const sb = await shape.json() as { code: string; message: string; error: string };
    expect(sb.code).toBe('CLEAVE_E_SHAPE');
    expect(sb.message).toContain('[1,32]');
    expect(sb.message).toContain('[N,64]');
    expect(sb.error).toBe(sb.message);
    const dtype = await post('/v2/models/mlp-small/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'INT32', data: new Array(64).fill(0) }] }));
    expect(dtype.status).toBe(400);
    expect(await dtype.json()).toMatchObject({ code: 'CLEAVE_E_DTYPE' });
    const broken = await post('/v2/models/mlp-small/infer', '{"inputs": [');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    const small = await startTestCloud({ maxBodyBytes: '1024' });
    try {
      const big = await fetch(`${small.httpUrl}/v2/models/mlp-small/infer`, { method: 'POST', body: 'x'.repeat(4096), headers: { 'content-type': 'application/json' } });
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ code: 'CLEAVE_E_TOO_LARGE' });
    } finally {
      await small.stop();
    }
    const route = await fetch(`${cloud.httpUrl}/v3/nothing`);
    expect(route.status).toBe(404);
  });

  it('exposes Triton-like Prometheus metrics that move with requests', async () => {
    const x = [row(9)];
    for (let i = 0; i < 3; i++) await post('/v2/models/mlp-small/versions/1/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: x }] }));
    await post('/v2/models/mlp-small/versions/1/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }));
    const text = await (await fetch(`${cloud.httpUrl}/metrics`)).text();
    expect(text).toMatch(/cleave_inference_request_success_total\{model="mlp-small",version="1"\} 3/);
    expect(text).toMatch(/cleave_inference_request_failure_total\{model="mlp-small",version="1",code="CLEAVE_E_SHAPE"\} 1/);
    expect(text).toMatch(/cleave_inference_queue_duration_seconds_bucket\{/);
    expect(text).toMatch(/cleave_inference_compute_duration_seconds_count\{model="mlp-small",version="1"\} 3/);
    expect(text).toMatch(/cleave_inference_batch_size_bucket\{le="1",model="mlp-small",version="1"\} 3/);
    expect(text).toMatch(/cleave_model_repository_events_total\{model="mlp-small",event="load"\}/);
    expect(text).toMatch(/cleave_model_cache_hits_total/);
  });

  it('loads and unloads models through the repository extension', async () => {
    const index = await (await post('/v2/repository/index', '')).json() as { name: string; state: string }[];
    expect(index.find((m) => m.name === 'text-tiny')?.state).toBe('READY');
    expect((await post('/v2/repository/models/text-tiny/unload', '')).status).toBe(200);
    expect((await fetch(`${cloud.httpUrl}/v2/models/text-tiny/ready`)).status).toBe(503);
    expect((await post('/v2/repository/models/text-tiny/load', '')).status).toBe(200);
    expect((await fetch(`${cloud.httpUrl}/v2/models/text-tiny/ready`)).status).toBe(200);
  });
});
