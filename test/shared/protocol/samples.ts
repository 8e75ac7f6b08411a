// One realistic frame of each type, shared by the golden, codec and fuzz tests. Changing one
// changes its golden fixture: regenerate with UPDATE_GOLDEN=1 and review the diff. Tensor values
// are plain arithmetic (no Math.sin) so the bytes are the same on every engine.
import type { HostTensor } from '../../../shared/tensor.js';
import { FrameType, type Frame, type RunFrame } from '../../../shared/protocol/index.js';

function f32(dims: number[], f: (i: number) => number): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

export const SAMPLES = {
  hello: {
    t: FrameType.HELLO, minVersion: 1, maxVersion: 1, client: 'cleave-edge/0.1.0 (workerd)',
    caps: ['int8-tensors', 'subgraph', 'stream', 'load-reports', 'cancel'], token: 'edge-fra-7f3a9c',
  },
  welcome: {
    t: FrameType.WELCOME, version: 1, session: 's-01J9ZK3QF4', server: 'cleave-cloud/0.1.0',
    caps: ['int8-tensors', 'subgraph', 'stream', 'load-reports', 'cancel'],
    models: [
      {
        name: 'cnn-tail', version: 3, maxBatchSize: 32,
        inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 8, 2, 2] }],
        outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
      },
      {
        name: 'bert-tail', version: 1, maxBatchSize: 16,
        inputs: [{ name: 'hidden', dtype: 'float16', shape: [-1, 128, 64] }, { name: 'attention_mask', dtype: 'int64', shape: [-1, 128] }],
        outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 2] }],
      },
    ],
    credits: 256, maxFrameBytes: 64 * 1024 * 1024, device: 'cuda', serverTime: 1_767_225_600_000,
  },
  run: {
    t: FrameType.RUN, id: 42, model: 'bert-tail', version: 1,
    inputs: {
      hidden: f32([1, 4, 8], (i) => (((i * 7) % 13) - 6) / 4),
      attention_mask: { dtype: 'int64', dims: [1, 4], data: new BigInt64Array([1n, 1n, 1n, 0n]) },
    },
    outputs: ['logits'], deadlineMs: 250, priority: 1, traceparent: TRACEPARENT,
  },
  partial: { t: FrameType.PARTIAL, id: 43, stage: 0, model: 'cnn-head', outputs: { features: f32([1, 8, 2, 2], (i) => (i % 5) / 4) } },
  result: {
    t: FrameType.RESULT, id: 42,
    outputs: { logits: f32([1, 2], (i) => [2.25, -1.5][i]!), label: { dtype: 'int64', dims: [1], data: new BigInt64Array([0n]) } },
    timing: { queueMs: 1.25, computeMs: 3.5, batchSize: 4 },
  },
  error: {
    t: FrameType.ERROR, id: 42, code: 'CLEAVE_E_SHAPE', message: 'input "hidden" has shape [1,4,9], model expects [N,4,8]',
    detail: { input: 'hidden', got: [1, 4, 9], expected: [-1, 4, 8] },
  },
  cancel: { t: FrameType.CANCEL, id: 44 },
  ping: { t: FrameType.PING, ts: 51_234.75 },
  pong: { t: FrameType.PONG, ts: 51_234.75, peerTs: 1_767_225_600_456 },
  credit: { t: FrameType.CREDIT, credits: 32 },
  load: {
    t: FrameType.LOAD, ts: 1_767_225_601_000,
    models: {
      'cnn-tail': { queued: 3, running: 1, queueMs: 2.5, computeMs: 7.25, batchSize: 6.5 },
      'bert-tail': { queued: 0, running: 0, queueMs: 0, computeMs: 11, batchSize: 1 },
    },
  },
  goaway: { t: FrameType.GOAWAY, code: 'CLEAVE_E_UNAVAILABLE', reason: 'server shutting down' },
} as const satisfies Record<string, Frame>;

/** A RUN whose float32 input is sent int8-encoded (encode with { int8Floats: true }). */
export const RUN_INT8: RunFrame = {
  t: FrameType.RUN, id: 45, model: 'cnn-tail',
  inputs: { features: f32([1, 8, 2, 2], (i) => (((i * 5) % 17) - 6) / 3) },
  deadlineMs: 100,
};

/** A subgraph RUN with every optional field set. */
export const RUN_EVERY_FIELD: RunFrame = {
  t: FrameType.RUN, id: 0xffff_ffff, model: 'cnn-split', version: 2,
  stages: [{ model: 'cnn-mid', version: 1 }, { model: 'cnn-tail' }],
  inputs: { features: f32([1, 8, 2, 2], (i) => i) },
  outputs: ['logits'], deadlineMs: 12.5, priority: 3, traceparent: TRACEPARENT, stream: true, int8Outputs: false,
};

/** Every sample as [file name, frame]. */
export const SAMPLE_LIST: [string, Frame][] = Object.entries(SAMPLES).map(([k, v]) => [k, v as Frame]);
