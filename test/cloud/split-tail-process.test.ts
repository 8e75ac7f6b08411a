// `cleave cloud` as a real process serving a split tail it was never given as a file: the edge
// runs cnn-large's head itself, sends the cut tensor int8-encoded in a one-stage subgraph RUN for
// the tail named by splitPartName, and gets the full model's classes back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudProcess, type CloudProcess } from '../../bench/cloud-process.js';
import { nodeBackends } from '../../cli/backends.js';
import { connectCloud } from '../../cli/cloud-client.js';
import { isCleaveError } from '../../shared/errors.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { splitModel, splitPartName } from '../../shared/onnx/split/index.js';
import type { ProtocolClient } from '../../shared/protocol/client.js';
import { argmaxRows, maxAbsDiff, type HostTensor } from '../../shared/tensor.js';
import { zooSampleInputs } from '../../shared/zoo/index.js';
import { writeRepository } from '../helpers/cloud.js';
import { zooModelBytes } from '../helpers/zoo.js';

const CUT = 'block3.pool_out';
const TAIL = splitPartName('cnn-large', 'tail', [CUT]);

let dir: string;
let cloud: CloudProcess | undefined;
let client: ProtocolClient | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cleave-split-'));
  await writeRepository(dir, [{ name: 'cnn-large', versions: { 1: await zooModelBytes('cnn-large') } }]);
  cloud = await startCloudProcess(['--no-log', '--device', 'cpu', '--repository', dir]);
  client = await connectCloud(cloud.wsUrl);
}, 60_000);
afterAll(async () => {
  client?.close();
  await cloud?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The edge's half: cnn-large's head run in onnxruntime-node. */
async function edgeHead(inputs: Record<string, HostTensor>): Promise<HostTensor> {
  const backend = (await nodeBackends()).get('onnxruntime-node');
  const head = await backend.load(encodeModel(splitModel(decodeModel(await zooModelBytes('cnn-large')), [CUT]).head), { intraOpThreads: 1 });
  try {
    return (await head.run(inputs))[CUT]!;
  } finally {
    await head.dispose();
  }
}

describe('split tails over the protocol (child process)', () => {
  it('advertises stage-io and offers the model, not its dozens of tails', async () => {
    const welcome = await client!.ready;
    expect(welcome.caps).toEqual(expect.arrayContaining(['subgraph', 'stage-io']));
    expect(welcome.models.map((m) => m.name)).toEqual(['cnn-large']);
  });

  it('runs the tail on an int8-encoded cut tensor and agrees with the full model', async () => {
    const inputs = zooSampleInputs('cnn-large', 8, 21)!;
    const full = (await client!.run({ model: 'cnn-large', inputs }).promise).outputs.logits!;
    const cut = await edgeHead(inputs);
    const exact = await client!.run({ model: 'edge-split', stages: [{ model: TAIL }], inputs: { [CUT]: cut } }).promise;
    expect(maxAbsDiff(exact.outputs.logits!, full)).toBeLessThan(1e-4);
    const q = await client!.run({ model: 'edge-split', stages: [{ model: TAIL, id: 'tail', inputs: { [CUT]: 'edge.cut' } }], inputs: { 'edge.cut': cut }, outputs: ['tail.logits'], int8Inputs: true }).promise;
    // int8 sends about a quarter of the bytes; the classes survive the rounding.
    expect(q.bytesUp).toBeLessThan(exact.bytesUp / 3);
    expect(argmaxRows(q.outputs['tail.logits']!)).toEqual(argmaxRows(full));
  });

  it('answers a missing mapped key and a malformed StageRef with coded errors on the stream', async () => {
    const cut = await edgeHead(zooSampleInputs('cnn-large', 1, 2)!);
    const missing = await client!.run({ model: 'edge-split', stages: [{ model: TAIL, inputs: { [CUT]: 'edge.kut' } }], inputs: { 'edge.cut': cut } }).promise.catch((e: unknown) => e);
    expect(isCleaveError(missing, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
    expect((missing as Error).message).toContain(`reads input "${CUT}" from pool key "edge.kut", which neither the request nor an earlier stage provides; pool keys: edge.cut`);
    const malformed = await client!.run({ model: 'edge-split', stages: [{ model: TAIL, id: 'edge.tail' }], inputs: { [CUT]: cut } }).promise.catch((e: unknown) => e);
    expect(isCleaveError(malformed, 'CLEAVE_E_PROTOCOL')).toBe(true);
    expect((malformed as Error).message).toContain('field "stages[0].id" must be a stage id');
    // The connection lives on.
    expect((await client!.run({ model: TAIL, inputs: { [CUT]: cut } }).promise).outputs.logits!.dims).toEqual([1, 10]);
  });
});
