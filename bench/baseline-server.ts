/**
 * The baseline of `cleave bench edge`: the KServe v2 JSON server a user would write by hand
 * instead of running the edge. Hono on @hono/node-server, onnxruntime-node with one intra-op
 * thread (as the edge's catalog loads its sessions), FP32 tensors, no validation, no cache, no
 * metrics, no tracing: that is the point of a baseline. Serves each model file named on the
 * command line under its base name and prints `ready: <url>` once every session is created.
 *
 *   node --import tsx bench/baseline-server.ts models/mlp-small.onnx models/cnn-small.onnx
 */
import { basename } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import * as ort from 'onnxruntime-node';

interface KServeTensor { name: string; shape: number[]; datatype: string; data: number[] }

const sessions = new Map<string, ort.InferenceSession>();
for (const file of process.argv.slice(2)) {
  sessions.set(basename(file, '.onnx'), await ort.InferenceSession.create(file, { intraOpNumThreads: 1 }));
}

const app = new Hono();
app.post('/v2/models/:name/infer', async (c) => {
  const name = c.req.param('name');
  const session = sessions.get(name);
  if (!session) return c.json({ error: `model ${name} not found` }, 404);
  const req = await c.req.json<{ id?: string; inputs: KServeTensor[] }>();
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of req.inputs) feeds[t.name] = new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  const results = await session.run(feeds);
  const outputs = Object.entries(results).map(([n, t]) => ({ name: n, datatype: 'FP32', shape: t.dims, data: Array.from(t.data as Float32Array) }));
  return c.json({ model_name: name, model_version: '1', ...(req.id !== undefined ? { id: req.id } : {}), outputs });
});

serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`ready: http://127.0.0.1:${info.port}\n`);
});
