// Every ProtocolLimits field the decoder enforces, set low, refuses a frame that passes it, with a
// message naming the limit and the offending value, and detail { limit, value, max }.
import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import type { HostTensor } from '../../../shared/tensor.js';
import { DEFAULT_LIMITS, FrameDecoder, FrameType, encodeFrame, type Frame, type ProtocolLimits } from '../../../shared/protocol/index.js';
import { SAMPLES } from './samples.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const f32 = (dims: number[]): HostTensor => ({ dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
const run = (inputs: Record<string, HostTensor>, model = 'm'): Frame => ({ t: FrameType.RUN, id: 5, model, inputs });

function err(limits: Partial<ProtocolLimits>, frame: Frame): CleaveError {
  const bytes = encodeFrame(frame);
  expect(() => new FrameDecoder().decode(bytes), 'passes the default limits').not.toThrow();
  return cleaveErrorOf(() => new FrameDecoder(limits).decode(bytes));
}

interface Case {
  limit: keyof ProtocolLimits;
  max: number;
  frame: Frame;
  /** The offending value, as the message states it. */
  value: number;
  says: string;
}

const CASES: Case[] = [
  { limit: 'maxFrameBytes', max: 100, frame: run({ x: f32([64]) }), value: encodeFrame(run({ x: f32([64]) })).length, says: `frame of ${encodeFrame(run({ x: f32([64]) })).length} bytes` },
  { limit: 'maxTensorBytes', max: 16, frame: run({ x: f32([2, 4]) }), value: 32, says: 'need 32 bytes' },
  { limit: 'maxTensors', max: 2, frame: run({ a: f32([1]), b: f32([1]), c: f32([1]) }), value: 3, says: 'has 3 tensors' },
  { limit: 'maxRank', max: 2, frame: run({ x: f32([1, 1, 1]) }), value: 3, says: 'rank 3' },
  { limit: 'maxStringBytes', max: 8, frame: run({}, 'a-long-model-name'), value: 17, says: 'string of 17 bytes' },
  { limit: 'maxArrayLength', max: 2, frame: SAMPLES.hello, value: 5, says: 'array of 5 items' },
  { limit: 'maxMapLength', max: 4, frame: SAMPLES.hello, value: 6, says: 'map of 6 entries' },
];

describe('protocol limits', () => {
  for (const c of CASES) {
    it(`${c.limit} set to ${c.max} refuses a frame past it, naming the limit and the value`, () => {
      const e = err({ [c.limit]: c.max }, c.frame);
      expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
      expect(e.message).toContain(`${c.limit} (${c.max})`);
      expect(e.message).toContain(c.says);
      expect(e.detail).toMatchObject({ limit: c.limit, value: c.value, max: c.max });
    });
  }

  it('maxRank also bounds the shapes of model offers in WELCOME', () => {
    const e = err({ maxRank: 3 }, SAMPLES.welcome);
    expect(e.message).toBe('WELCOME: field "models[0].inputs[0].shape" has 4 dims, exceeds maxRank (3)');
  });

  it('a frame past maxFrameBytes still names its stream (read from the first entries only)', () => {
    expect(err({ maxFrameBytes: 100 }, run({ x: f32([64]) })).detail).toMatchObject({ t: FrameType.RUN, id: 5 });
  });

  it('maxStreams is the session\'s credit window, not a decoder limit: the decoder only carries it', () => {
    const dec = new FrameDecoder({ maxStreams: 3 });
    expect(dec.limits).toEqual({ ...DEFAULT_LIMITS, maxStreams: 3 });
    expect(dec.decode(encodeFrame(SAMPLES.credit))).toEqual(SAMPLES.credit);
  });
});
