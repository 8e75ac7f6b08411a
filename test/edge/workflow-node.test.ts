/**
 * Workflows on a real Node edge process (no cloud): deploy through the API, run over HTTP (JSON
 * and NDJSON streaming) and over the protocol WebSocket (PARTIAL per node), plan, persistence
 * across a restart, and the coded refusals.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCloud } from '../../cli/cloud-client.js';
import type { TensorMap } from '../../shared/protocol/frames.js';
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import { zooSampleInputs } from '../../shared/zoo/samples/index.js';
import { startEdgeProcess, type EdgeProcess } from '../helpers/edge.js';
import { Engine } from '../../shared/engine.js';
import { isCleaveError } from '../../shared/errors.js';
import { WorkflowBuilder } from '../../shared/workflow/builder.js';

const VOICE_LOCAL: WorkflowDefinition = {
  name: 'voice-local',
  inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 40, 100] }],
  nodes: [
    { id: 'asr', type: 'model', params: { model: 'audio-small', placement: 'edge' } },
    { id: 'tokens', type: 'transform', params: { op: 'ctc-decode', input: 'token_logits', output: 'input_ids', length: 32 } },
    { id: 'nlu', type: 'model', params: { model: 'text-tiny', placement: 'edge' } },
    { id: 'reply', type: 'transform', params: { op: 'template', template: 'topic {{argmax(logits)}}', output: 'text' } },
  ],
  edges: [
    { source: 'input', target: 'asr' },
    { source: 'asr', target: 'tokens' },
    { source: 'tokens', target: 'nlu' },
    { source: 'nlu', target: 'reply' },
  ],
  outputs: [{ name: 'reply', from: 'reply.text' }, { name: 'logits', from: 'nlu.logits' }],
};

function jsonInputs(m: TensorMap): Record<string, unknown> {
  return Object.fromEntries(Object.entries(m).map(([k, t]) => [k, { dtype: t.dtype, dims: t.dims, data: Array.from(t.data as Float32Array) }]));
}

describe('workflows on a Node edge process', () => {
  let edge: EdgeProcess | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'cleave-wf-'));
  const features = zooSampleInputs('audio-small', 1, 11)!;
  const body = JSON.stringify({ inputs: jsonInputs(features) });

  beforeAll(async () => {
    edge = await startEdgeProcess(['--workflows-dir', dir]);
  }, 90_000);
  afterAll(async () => {
    await edge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (p: string, b: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${edge!.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b });

  it('deploys, runs and explains a workflow', async () => {
    const d = await post('/v1/workflows', JSON.stringify(VOICE_LOCAL));
    expect(d.status).toBe(201);
    expect(await d.json()).toMatchObject({ name: 'voice-local', version: 1 });

    const r = await post('/v1/workflows/voice-local/infer', body);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-cleave-plan')).toBe('asr=edge, nlu=edge');
    expect(r.headers.get('server-timing')).toMatch(/total;dur=/);
    const j = (await r.json()) as { outputs: Record<string, { dtype: string; dims: number[]; data: unknown[] }>; nodes: { node: string; status: string }[] };
    expect(j.nodes.map((n) => n.node)).toEqual(['asr', 'tokens', 'nlu', 'reply']);
    const logits = j.outputs.logits!;
    expect(logits.dims).toEqual([1, 8]);
    const best = (logits.data as number[]).indexOf(Math.max(...(logits.data as number[])));
    expect(j.outputs.reply!.data).toEqual([`topic ${best}`]);

    const plan = (await (await fetch(`${edge!.url}/v1/workflows/voice-local/plan`)).json()) as { nodes: { node: string; placement: string }[] };
    expect(plan.nodes.map((n) => `${n.node}=${n.placement}`)).toEqual(['asr=edge', 'tokens=inline', 'nlu=edge', 'reply=inline']);
  });

  it('streams one NDJSON line per node, then the result', async () => {
    const r = await post('/v1/workflows/voice-local/infer', body, { accept: 'application/x-ndjson' });
    expect(r.headers.get('content-type')).toContain('application/x-ndjson');
    // The stream's answer names its request and span, as every other inference answer does.
    expect(r.headers.get('x-request-id')).toMatch(/\S/);
    expect(r.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l) as { event: string; node?: string });
    expect(lines.map((l) => `${l.event}:${l.node ?? ''}`)).toEqual(['node:asr', 'node:tokens', 'node:nlu', 'node:reply', 'result:']);
  });

  it('runs it over the protocol WebSocket with a PARTIAL per node', async () => {
    const client = await connectCloud(`${edge!.url.replace(/^http/, 'ws')}/v1/ws`);
    try {
      await client.ready;
      const partials: string[] = [];
      const r = await client.run({ model: 'workflow:voice-local', inputs: features, deadlineMs: 30_000, onPartial: (_i, node) => partials.push(node) }).promise;
      expect(partials).toEqual(['asr', 'tokens', 'nlu', 'reply']);
      expect(r.outputs.logits!.dims).toEqual([1, 8]);
      // Text travels as its UTF-8 bytes.
      expect(new TextDecoder().decode(r.outputs.reply!.data as Uint8Array)).toMatch(/^topic \d$/);
    } finally {
      client.close();
    }
  });

  it('refuses a document with several problems, listing each', async () => {
    const bad = {
      ...VOICE_LOCAL, name: 'bad-one',
      nodes: [...VOICE_LOCAL.nodes.slice(0, 2), { id: 'nlu', type: 'model', params: { model: 'no-such-model' } }, VOICE_LOCAL.nodes[3]],
      edges: [...VOICE_LOCAL.edges, { source: 'reply', target: 'asr' }, { source: 'nlu', target: 'reply', when: 'max(logits <' }],
    };
    const r = await post('/v1/workflows', JSON.stringify(bad));
    expect(r.status).toBe(400);
    const j = (await r.json()) as { code: string; detail: { problems: { at: string; message: string }[] } };
    expect(j.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    const text = j.detail.problems.map((p) => `${p.at}: ${p.message}`).join('\n');
    expect(text).toMatch(/no-such-model/);
    expect(text).toMatch(/cycle/i);
    expect(text).toMatch(/edges\[5\]\.when/);
  });

  it('takes the cuts a split node names, and refuses one that is not a cut point', async () => {
    const split = (cuts: string[][]): string => JSON.stringify({
      name: 'split-cuts', inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
      nodes: [{ id: 'big', type: 'split-model', params: { model: 'cnn-large', cuts } }],
      edges: [{ source: 'input', target: 'big' }], outputs: [{ name: 'logits', from: 'big.logits' }],
    });
    const bad = await post('/v1/workflows', split([['no.such.tensor']]));
    expect(bad.status).toBe(400);
    const j = (await bad.json()) as { code: string; detail: { problems: { at: string; message: string }[] } };
    expect(j.code).toBe('CLEAVE_E_WORKFLOW_INVALID');
    expect(j.detail.problems[0]!.at).toBe('nodes[0].params.cuts');
    expect(j.detail.problems[0]!.message).toMatch(/no\.such\.tensor/);
    expect((await post('/v1/workflows', split([['block2.pool_out']]))).status).toBe(201);
  });

  it('refuses unknown workflows and bad inputs with coded errors', async () => {
    const r = await post('/v1/workflows/nope/infer', body);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe('CLEAVE_E_NOT_FOUND');
    const wrong = await post('/v1/workflows/voice-local/infer', JSON.stringify({ inputs: { features: { dtype: 'float32', dims: [1, 2], data: [1, 2] } } }));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/features/);
  });

  it('offers the seed-style Engine: deploy a model as a task, infer by task, deploy a built graph', async () => {
    const engine = new Engine({ url: edge!.url });
    expect(await engine.deploy({ name: 'classify', model: 'cnn-small', placement: 'edge' })).toEqual({ name: 'classify', version: 1 });
    const image = zooSampleInputs('cnn-small', 1, 5)!;
    const r = await engine.infer(image, { task: 'classify' });
    expect(r.plan).toBe('model=edge');
    const direct = await fetch(`${edge!.url}/v1/models/cnn-small/infer`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ inputs: jsonInputs(image) }) });
    const want = ((await direct.json()) as { outputs: { logits: { data: number[] } } }).outputs.logits.data;
    const got = r.outputs.logits!;
    expect('data' in got && Array.from(got.data as Float32Array).map((v, i) => Math.abs(v - want[i]!)).every((d) => d < 1e-5)).toBe(true);

    const built = new WorkflowBuilder('probabilities')
      .input('image', 'float32', [-1, 3, 64, 64])
      .addNode('cnn', { model: 'cnn-small', placement: 'edge' })
      .addNode('probs', { transform: { op: 'softmax', input: 'logits', output: 'probs' } })
      .connect('input', 'cnn').connect('cnn', 'probs')
      .output('probs', 'probs.probs');
    expect(await built.deploy({ replicas: 2 }, engine)).toEqual({ name: 'probabilities', version: 1 });
    const p = await engine.infer(image, { task: 'probabilities' });
    const probs = p.outputs.probs!;
    expect('data' in probs && Array.from(probs.data as Float32Array).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // An unknown task comes back as the edge's coded error.
    const err = await engine.infer(image, { task: 'no-such-task' }).catch((e: unknown) => e);
    expect(isCleaveError(err, 'CLEAVE_E_NOT_FOUND')).toBe(true);
  });

  it('keeps deployed workflows across a restart', async () => {
    await edge!.stop();
    edge = await startEdgeProcess(['--workflows-dir', dir]);
    const list = (await (await fetch(`${edge.url}/v1/workflows`)).json()) as { workflows: { name: string; latestVersion: number }[] };
    expect(list.workflows.map((w) => w.name)).toEqual(['classify', 'probabilities', 'split-cuts', 'voice-local']);
    const r = await post('/v1/workflows/voice-local/infer', body);
    expect(r.status).toBe(200);
  }, 90_000);
});
