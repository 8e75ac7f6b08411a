#!/usr/bin/env node
// Helper of smoke-arm64.sh (not in CI): waits until an edge reports ready, sends it one KServe v2
// inference for the zoo's mlp-small, checks the answer, and writes the logits as JSON. With
// --expect it compares them to a reference run's (the same request on the x64 host).
//
//   node deploy/arm/smoke-infer.mjs --url http://127.0.0.1:8787 [--wait-s 600] [--out logits.json]
//                                   [--expect reference.json] [--backend onnxruntime-node]
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

/** Largest difference allowed between two runs' logits: the same kernels in another ISA, float32. */
const TOLERANCE = 1e-4;
/** mlp-small's contract (shared/zoo/catalogue.ts): x float32 [N,64] -> logits float32 [N,10]. */
const MODEL = 'mlp-small';
const INPUT_WIDTH = 64;
const CLASSES = 10;

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    'wait-s': { type: 'string', default: '600' },
    out: { type: 'string' },
    expect: { type: 'string' },
    backend: { type: 'string' },
  },
});
const fail = (message) => {
  process.stderr.write(`smoke-infer: ${message}\n`);
  process.exit(1);
};
if (!values.url) fail('--url is required, e.g. --url http://127.0.0.1:8787');
const base = values.url.replace(/\/+$/, '');
const waitMs = Number(values['wait-s']) * 1000;
if (!Number.isFinite(waitMs) || waitMs <= 0) fail(`--wait-s ${JSON.stringify(values['wait-s'])} is not valid; expected a positive number of seconds`);
const deadline = Date.now() + waitMs;

// Readiness: emulated start-up is slow, so poll once a second until the deadline.
for (;;) {
  const status = await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 0);
  if (status === 200) break;
  if (Date.now() > deadline) fail(`${base}/v2/health/ready did not answer 200 within ${values['wait-s']} s (last status ${status || 'no answer'})`);
  await new Promise((r) => setTimeout(r, 1000));
}

const server = await (await fetch(`${base}/v2`)).json();
if (values.backend && server.backend !== values.backend) fail(`the edge runs backend ${JSON.stringify(server.backend)}, expected ${values.backend}`);

// A fixed, non-trivial input: the same bytes on every run.
const x = Array.from({ length: INPUT_WIDTH }, (_, i) => ((i * 37) % 17) / 17 - 0.5);
const started = Date.now();
const res = await fetch(`${base}/v2/models/${MODEL}/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-cleave-cache': 'bypass' },
  body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, INPUT_WIDTH], datatype: 'FP32', data: x }] }),
  signal: AbortSignal.timeout(Math.max(deadline - Date.now(), 60_000)),
});
const ms = Date.now() - started;
const text = await res.text();
if (res.status !== 200) fail(`POST /v2/models/${MODEL}/infer answered ${res.status}: ${text.slice(0, 500)}`);
const body = JSON.parse(text);
const out = body.outputs?.find((o) => o.name === 'logits');
if (!out) fail(`the answer has no "logits" output: ${text.slice(0, 500)}`);
if (JSON.stringify(out.shape) !== JSON.stringify([1, CLASSES])) fail(`logits have shape ${JSON.stringify(out.shape)}, expected [1,${CLASSES}]`);
if (!Array.isArray(out.data) || out.data.length !== CLASSES || !out.data.every((v) => typeof v === 'number' && Number.isFinite(v))) {
  fail(`logits are not ${CLASSES} finite numbers: ${JSON.stringify(out.data)}`);
}
const top1 = out.data.indexOf(Math.max(...out.data));
const result = { url: base, backend: server.backend, ms, top1, logits: out.data };

if (values.expect) {
  const ref = JSON.parse(await readFile(values.expect, 'utf8'));
  const diff = Math.max(...out.data.map((v, i) => Math.abs(v - ref.logits[i])));
  result.maxAbsDiff = diff;
  if (!(diff <= TOLERANCE)) fail(`logits differ from the reference (${values.expect}) by ${diff}, expected at most ${TOLERANCE}`);
  if (top1 !== ref.top1) fail(`top-1 class ${top1} differs from the reference's ${ref.top1}`);
}
if (values.out) await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
