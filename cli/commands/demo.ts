/**
 * What `cleave demo` runs (registered in demo-command.ts, which loads this file only when the
 * demo starts: it pulls in both servers).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveCloudConfig } from '../../cloud/config.js';
import { startCloudServer } from '../../cloud/server.js';
import { FrameType } from '../../shared/protocol/constants.js';
import { FrameEncoder } from '../../shared/protocol/frame-codec.js';
import type { InferenceBackend, LoadedModel } from '../../shared/backend/backend.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { isWeightOnlyQdq } from '../../shared/onnx/quantize/index.js';
import { listCutPoints, runSplit, splitModel } from '../../shared/onnx/split/index.js';
import { hostTensor, maxAbsDiff, type HostTensor } from '../../shared/tensor.js';
import {
  AUDIO_TOKENS, ctcGreedyDecode, logMelFeatures, preprocessImages, tokenize, tokensToText, topK,
  type ManifestEntry, type RgbImage,
} from '../../shared/zoo/index.js';
import { nodeBackends } from '../backends.js';
import { connectCloud } from '../cloud-client.js';
import { syncZoo, zooFile } from '../zoo-files.js';
import { cloudGoneDemo, edgeDemo, startLoopback } from './demo-edge.js';
import { workflowsDemo } from './demo-workflows.js';
import { formatBytes, formatTable } from '../table.js';

const say = (s = ''): void => void process.stdout.write(`${s}\n`);

/** The demo (see cli/commands/demo-command.ts for what it shows). */
export async function runDemo(dir?: string): Promise<void> {
  say('Cleave demo: the model zoo on both runtimes, int8, and a split model\n');
  say('1. Model zoo (generated from fixed seeds; cached in models/ once built)');
  const t0 = performance.now();
  const zoo = await syncZoo({ ...(dir ? { dir } : {}), onBuilt: (m) => say(`   built ${m.name} (${formatBytes(m.bytes.length)})`) });
  say(`   ${zoo.built.length} built, ${zoo.reused.length} reused in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${zoo.dir}\n`);
  const entries = zoo.manifest.models;
  say(indent(formatTable(['model', 'tier', 'params', 'file', 'quantization', 'mean top-1 prob', 'agrees with fp32'],
    entries.map((e) => [e.name, e.tier, e.params, formatBytes(e.bytes), e.quantization, e.meanTop1Prob, e.top1AgreementWithBase])), 3));

  const registry = await nodeBackends();
  const native = registry.get('onnxruntime-node');
  const wasm = registry.get('onnxruntime-web');
  const entry = (name: string): ManifestEntry => entries.find((e) => e.name === name)!;
  const load = async (b: InferenceBackend, name: string): Promise<LoadedModel> => {
    const bytes = new Uint8Array(await readFile(zooFile(zoo.manifest, zoo.dir, name)));
    return b.load(bytes, { weightOnlyQdq: isWeightOnlyQdq(decodeModel(bytes)), intraOpThreads: 1 });
  };

  say('\n2. Real inputs through the zoo\'s preprocessing, on onnxruntime-node and onnxruntime-web (wasm)');
  const sentences = ['The striker scored a late goal in the final match', 'Shares fell as the central bank raised interest rates'];
  const image: RgbImage = gradientImage(96, 80);
  const tone = Float32Array.from({ length: 16000 }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 440 * i) / 16000) + 0.2 * Math.sin((2 * Math.PI * 1800 * i) / 16000));
  const cases: { model: string; input: string; feeds: Record<string, HostTensor>; show: (out: HostTensor, e: ManifestEntry) => string }[] = [];
  for (const m of ['text-tiny', 'text-tiny-int8', 'text-base']) {
    cases.push({ model: m, input: `"${sentences[0]!.slice(0, 28)}..."`, feeds: { input_ids: tokenize([sentences[0]!]) }, show: top1 });
  }
  for (const m of ['cnn-small', 'cnn-small-int8', 'cnn-large']) cases.push({ model: m, input: '96x80 RGB gradient', feeds: { image: preprocessImages([image]) }, show: top1 });
  for (const m of ['audio-small', 'audio-large']) {
    cases.push({ model: m, input: '1 s of 440 + 1800 Hz', feeds: { features: logMelFeatures([tone]) }, show: (out) => `tokens "${tokensToText(ctcGreedyDecode(out)[0]!, AUDIO_TOKENS).slice(0, 24)}"` });
  }
  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const outs: HostTensor[] = [];
    const ms: number[] = [];
    for (const b of [native, wasm]) {
      const s = await load(b, c.model);
      await s.run(c.feeds); // first run allocates; time the second
      const t = performance.now();
      const r = await s.run(c.feeds);
      ms.push(performance.now() - t);
      outs.push(Object.values(r)[0]!);
      await s.dispose();
    }
    rows.push([c.model, c.input, c.show(outs[0]!, entry(c.model)), ms[0]!, ms[1]!, maxAbsDiff(outs[0]!, outs[1]!).toExponential(1)]);
  }
  say(indent(formatTable(['model', 'input', 'answer (node)', 'node ms', 'wasm ms', 'node vs wasm'], rows), 3));

  say('\n3. Split computing: cnn-small cut into an edge head (wasm) and a cloud tail (native)');
  const cnnBytes = new Uint8Array(await readFile(zooFile(zoo.manifest, zoo.dir, 'cnn-small')));
  const cnn = decodeModel(cnnBytes);
  const cuts = listCutPoints(cnn);
  const inputBytes = 3 * 64 * 64 * 4;
  say(indent(formatTable(['pos', 'cut tensor', 'bytes/sample', 'vs input', 'head params'],
    cuts.map((c) => [c.position, c.tensors[0]!.name, formatBytes(c.bytesPerSample), c.bytesPerSample === undefined ? undefined : `${(c.bytesPerSample / inputBytes).toFixed(3)}x`, formatBytes(c.headParamBytes)])), 3));
  // The cut a router would like on a slow link: the first one whose activation is smaller than
  // the image (less to send) while keeping most of the compute in the cloud.
  const cut = cuts.find((c) => (c.bytesPerSample ?? Infinity) < inputBytes / 2)!;
  const split = splitModel(cnn, cut.tensors.map((t) => t.name));
  const head = await wasm.load(encodeModel(split.head));
  const tail = await native.load(encodeModel(split.tail));
  const full = await native.load(cnnBytes);
  const feeds = { image: preprocessImages([image]) };
  const joined = await runSplit(head, tail, split, feeds);
  const whole = await full.run(feeds);
  say(`   cut at "${cut.tensors[0]!.name}" (${formatBytes(cut.bytesPerSample)} per image to send instead of ${formatBytes(inputBytes)}):`);
  say(`   head on wasm + tail on native = ${top1(joined.logits!, entry('cnn-small'))}; full model = ${top1(whole.logits!, entry('cnn-small'))}; max abs diff ${maxAbsDiff(joined.logits!, whole.logits!).toExponential(1)}`);

  say('\n4. The cloud tier on loopback: the same tail served by `cleave cloud`, reached over the msgpack WebSocket protocol and KServe v2');
  await cloudDemo(zoo.dir, encodeModel(split.tail), await head.run(feeds), whole.logits!, entry('cnn-small'), entry('text-base'));
  for (const s of [head, tail, full]) await s.dispose();

  say('\n5. An edge node and the cloud on loopback: edge models, the result cache, forwarding');
  const inputs = { text: tokenize([sentences[1]!]), image: preprocessImages([image]) };
  const workflowsDir = await mkdtemp(path.join(tmpdir(), 'cleave-demo-workflows-'));
  const lo = await startLoopback({ workflowsDir });
  try {
    await edgeDemo(say, lo, inputs);
    say('\n6. Workflows on the same edge: two example pipelines deployed over HTTP, each node placed per request (docs/workflows.md)');
    const t = performance.now();
    await workflowsDemo(say, lo.edge.url, workflowsDir);
    say(`   step 6 took ${((performance.now() - t) / 1000).toFixed(1)} s`);
    say('\n7. The cloud goes away: a cloud model with an edge fallback answers degraded, one without fails fast');
    await cloudGoneDemo(say, lo, inputs);
  } finally {
    await lo.close();
    await rm(workflowsDir, { recursive: true, force: true });
  }
}

/** Starts the cloud on a free loopback port over a small repository, then talks to it both ways. */
async function cloudDemo(zooDir: string, tailBytes: Uint8Array, activation: Record<string, HostTensor>, want: HostTensor, cnn: ManifestEntry, text: ManifestEntry): Promise<void> {
  const repo = await mkdtemp(path.join(tmpdir(), 'cleave-demo-'));
  const put = async (name: string, bytes: Uint8Array): Promise<void> => {
    await mkdir(path.join(repo, name, '1'), { recursive: true });
    await writeFile(path.join(repo, name, '1', 'model.onnx'), bytes);
  };
  await put('cnn-small-tail', tailBytes);
  await put('text-base', new Uint8Array(await readFile(path.join(zooDir, 'text-base.onnx'))));
  const server = await startCloudServer(resolveCloudConfig({}, { port: '0', repository: repo, device: 'auto', log: false }), { processMetrics: false });
  try {
    await server.ready;
    say(`   cloud on ${server.url}, device ${server.device.device} (${server.device.reason})`);
    const client = await connectCloud(`ws://127.0.0.1:${server.port}/v1/ws`, { client: 'cleave-demo' });
    const rtt = await client.ping();
    const enc = new FrameEncoder();
    const frame = { t: FrameType.RUN, id: 1, model: 'cnn-small-tail', inputs: activation } as const;
    const fp32 = await client.run({ model: 'cnn-small-tail', inputs: activation }).promise;
    const int8 = await client.run({ model: 'cnn-small-tail', inputs: activation, int8Inputs: true }).promise;
    say(`   RTT ${rtt.toFixed(2)} ms; tail in the cloud = ${top1(fp32.outputs.logits!, cnn)}, max abs diff vs the full model ${maxAbsDiff(fp32.outputs.logits!, want).toExponential(1)}`);
    say(`   activation on the wire: ${formatBytes(enc.encode(frame).length)} as float32, ${formatBytes(enc.encode(frame, { int8Floats: true }).length)} int8-encoded -> ${top1(int8.outputs.logits!, cnn)}`);
    say(`   cloud timing: queue ${fp32.timing.queueMs.toFixed(2)} ms, compute ${fp32.timing.computeMs.toFixed(2)} ms, batch ${fp32.timing.batchSize}`);
    client.close();
    const ids = tokenize(['the striker scored twice in the final match']);
    const body = JSON.stringify({ inputs: [{ name: 'input_ids', shape: ids.dims, datatype: 'INT64', data: Array.from(ids.data as BigInt64Array, Number) }] });
    const res = await fetch(`${server.url}/v2/models/text-base/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const json = await res.json() as { outputs: { data: number[]; shape: number[] }[] };
    const logits = hostTensor('float32', json.outputs[0]!.shape, Float32Array.from(json.outputs[0]!.data));
    say(`   KServe v2 POST /v2/models/text-base/infer -> ${res.status}, ${top1(logits, text)}; Server-Timing: ${res.headers.get('server-timing')}`);
  } finally {
    await server.close();
    await rm(repo, { recursive: true, force: true });
  }
}

function top1(out: HostTensor, e: ManifestEntry): string {
  const best = topK(out, 1, e.labels)[0]![0]!;
  return `${best.label} (${best.prob.toFixed(2)})`;
}

function gradientImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((255 * x) / width);
      data[i + 1] = Math.round((255 * y) / height);
      data[i + 2] = (x + y) % 32 < 16 ? 200 : 40;
    }
  }
  return { width, height, channels: 3, data };
}

function indent(s: string, n: number): string {
  return s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}
