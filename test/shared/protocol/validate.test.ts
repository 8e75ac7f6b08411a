// What a peer reads when it sends a malformed frame: the message names the frame, the stream, the
// field and the value; detail carries t and id so the server fails one stream, not the connection.
import { Encoder, ExtData } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { FrameType, decodeFrame, encodeTensor } from '../../../shared/protocol/index.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const raw = new Encoder();

/** A raw msgpack frame, with tensors given as ExtData. */
function bytesOf(o: unknown): Uint8Array {
  return raw.encode(o);
}

const tensorExt = (data: Float32Array, dims: number[]): ExtData => new ExtData(1, encodeTensor({ dtype: 'float32', dims, data }, 0));

function err(bytes: Uint8Array): CleaveError {
  return cleaveErrorOf(() => decodeFrame(bytes));
}

describe('validation messages', () => {
  it('a missing field', () => {
    const e = err(bytesOf({ t: FrameType.RUN, id: 7, inputs: {} }));
    expect(e.code).toBe('CLEAVE_E_PROTOCOL');
    expect(e.message).toBe('RUN (id 7): required field "model" is missing');
    expect(e.detail).toEqual({ t: 3, id: 7, field: 'model' });
  });

  it('a field of the wrong type, nested or not', () => {
    expect(err(bytesOf({ t: FrameType.RUN, id: 7, model: 'm', inputs: {}, deadlineMs: 'soon' })).message)
      .toBe('RUN (id 7): field "deadlineMs" must be a finite number >= 0, got "soon" (string)');
    expect(err(bytesOf({ t: FrameType.RESULT, id: 2, outputs: {}, timing: { queueMs: 1, computeMs: -1, batchSize: 1 } })).message)
      .toBe('RESULT (id 2): field "timing.computeMs" must be a finite number >= 0, got -1 (number)');
    expect(err(bytesOf({ t: FrameType.HELLO, minVersion: 1, maxVersion: 1, client: 'c', caps: ['ok', 3] })).message)
      .toBe('HELLO: field "caps" must be an array of non-empty strings, got an array of 2');
    expect(err(bytesOf({ t: FrameType.PING, ts: Number.NaN })).message).toBe('PING: field "ts" must be a finite number, got NaN (number)');
  });

  it('stream id 0 (or past 2^32-1) on a RUN; 0 is fine on ERROR', () => {
    const e = err(bytesOf({ t: FrameType.RUN, id: 0, model: 'm', inputs: {} }));
    expect(e.message).toBe('RUN (id 0): field "id" must be an integer in 1..4294967295, got 0 (number)');
    expect(e.detail.id).toBe(0);
    expect(err(bytesOf({ t: FrameType.CANCEL, id: 2 ** 32 })).message).toContain('must be an integer in 1..4294967295, got 4294967296');
    expect(decodeFrame(bytesOf({ t: FrameType.ERROR, id: 0, code: 'CLEAVE_E_PROTOCOL', message: 'bad' })).t).toBe(FrameType.ERROR);
  });

  it('an unknown frame type: CLEAVE_E_UNKNOWN_FRAME, listing the known ones', () => {
    const e = err(bytesOf({ t: 99, id: 5 }));
    expect(e.code).toBe('CLEAVE_E_UNKNOWN_FRAME');
    expect(e.message).toBe('unknown frame type 99; known types: 1 HELLO, 2 WELCOME, 3 RUN, 4 PARTIAL, 5 RESULT, 6 ERROR, 7 CANCEL, 8 PING, 9 PONG, 10 CREDIT, 11 LOAD, 12 GOAWAY');
    expect(e.detail).toEqual({ t: 99, id: 5 });
  });

  it('not a map, no t, a t that is not an integer', () => {
    expect(err(bytesOf([3, 1])).message).toBe('a frame must be a msgpack map, got an array of 2');
    expect(err(bytesOf({ id: 1 })).message).toBe('frame has no "t" field (the frame type)');
    expect(err(bytesOf({ t: 'RUN' })).message).toBe('field "t" must be an integer frame type, got "RUN" (string)');
  });

  it('"__proto__" as a tensor name, with the stream named', () => {
    const inputs: Record<string, unknown> = Object.defineProperty({}, '__proto__', { value: tensorExt(new Float32Array(1), [1]), enumerable: true });
    const e = err(bytesOf({ t: FrameType.RUN, id: 11, model: 'm', inputs }));
    expect(e.code).toBe('CLEAVE_E_PROTOCOL');
    expect(e.message).toMatch(/^map key "__proto__" at offset \d+ is not allowed$/);
    expect(e.detail).toMatchObject({ t: 3, id: 11 });
  });

  it('a RUN whose inputs are malformed carries detail.id and names the tensor', () => {
    const bad = new ExtData(1, new Uint8Array([1, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0])); // float32 [4] with 4 of 16 bytes
    const e = err(bytesOf({ t: FrameType.RUN, id: 12, model: 'm', inputs: { image: bad } }));
    expect(e.code).toBe('CLEAVE_E_SHAPE');
    expect(e.message).toBe('RUN (id 12): tensor inputs["image"]: tensor dims [4] of float32 need 16 payload bytes, got 4');
    expect(e.detail).toMatchObject({ t: 3, id: 12, field: 'inputs', tensor: 'image', dims: [4] });

    const notTensor = err(bytesOf({ t: FrameType.RUN, id: 13, model: 'm', inputs: { image: [1, 2, 3] } }));
    expect(notTensor.message).toBe('RUN (id 13): field "inputs["image"]" must be a tensor (msgpack extension 1 or 2), got an array of 3');
    expect(notTensor.detail).toMatchObject({ t: 3, id: 13 });

    const timestamp = err(bytesOf({ t: FrameType.RUN, id: 14, model: 'm', inputs: { when: new Date(0) } }));
    expect(timestamp.message).toContain('extension type -1');
    expect(timestamp.detail).toMatchObject({ t: 3, id: 14 });
  });

  it('a frame that breaks off after its id still names the stream', () => {
    const full = bytesOf({ t: FrameType.RUN, id: 15, model: 'm', inputs: { x: tensorExt(new Float32Array(4), [4]) } });
    const e = err(full.subarray(0, full.length - 5));
    expect(e.code).toBe('CLEAVE_E_PROTOCOL');
    expect(e.detail).toMatchObject({ t: 3, id: 15 });
  });

  it('map keys must be strings and the frame must be one value with nothing after it', () => {
    expect(err(new Uint8Array([0x81, 0x01, 0x02])).message).toBe('map key at offset 1 is an integer; keys must be strings');
    const ping = bytesOf({ t: FrameType.PING, ts: 1 });
    expect(err(Uint8Array.from([...ping, 0xc0])).message).toContain('1 extra byte(s)');
  });
});
