// The frame codec's contract beyond single fixtures: one canonical field order, optional fields
// omitted, unknown fields ignored (forward compatibility), unknown error codes mapped, encoder
// refusals, and an encoder/decoder pair reused across frames.
import { encode as rawEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { FrameDecoder, FrameEncoder, FrameType, decodeFrame, encodeFrame, type Frame } from '../../../shared/protocol/index.js';
import { RUN_EVERY_FIELD, SAMPLE_LIST, SAMPLES } from './samples.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

function reversedKeys<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).reverse()) as T;
}

const err = cleaveErrorOf;

describe('frame codec', () => {
  it('writes the same bytes whatever key order the caller used, nested maps included', () => {
    const w = SAMPLES.welcome;
    const shuffled = { ...reversedKeys(w), models: w.models.map((m) => ({ ...reversedKeys(m), inputs: m.inputs.map(reversedKeys) })) };
    expect(encodeFrame(shuffled as Frame)).toEqual(encodeFrame(w));
    expect(encodeFrame(reversedKeys(SAMPLES.result))).toEqual(encodeFrame(SAMPLES.result));
  });

  it('omits optional fields that are undefined', () => {
    const withUndefined = { ...SAMPLES.cancel, extra: undefined } as unknown as Frame;
    expect(encodeFrame(withUndefined)).toEqual(encodeFrame(SAMPLES.cancel));
    const run = { t: FrameType.RUN, id: 1, model: 'm', inputs: {}, version: undefined, stages: undefined } as unknown as Frame;
    expect(decodeFrame(encodeFrame(run))).toEqual({ t: FrameType.RUN, id: 1, model: 'm', inputs: {} });
  });

  it('round-trips a subgraph RUN with every optional field set', () => {
    expect(decodeFrame(encodeFrame(RUN_EVERY_FIELD))).toEqual(RUN_EVERY_FIELD);
  });

  it('ignores fields it does not know, at the top level and nested (a newer peer may add them)', () => {
    const raw = {
      t: FrameType.RESULT, id: 9, outputs: {}, timing: { queueMs: 1, computeMs: 2, batchSize: 1, gpuMs: 1.5 },
      cacheHit: true, future: { nested: [1, 2, { deep: 'x' }] },
    };
    expect(decodeFrame(rawEncode(raw))).toEqual({ t: FrameType.RESULT, id: 9, outputs: {}, timing: { queueMs: 1, computeMs: 2, batchSize: 1 } });
  });

  it('maps an unknown error code to CLEAVE_E_INTERNAL and keeps the original in detail.wireCode', () => {
    const f = decodeFrame(rawEncode({ t: FrameType.ERROR, id: 3, code: 'CLEAVE_E_FROM_THE_FUTURE', message: 'x', detail: { a: 1 } }));
    expect(f).toEqual({ t: FrameType.ERROR, id: 3, code: 'CLEAVE_E_INTERNAL', message: 'x', detail: { a: 1, wireCode: 'CLEAVE_E_FROM_THE_FUTURE' } });
    const g = decodeFrame(rawEncode({ t: FrameType.GOAWAY, code: 'CLEAVE_E_NEW', reason: 'bye' }));
    expect(g).toEqual({ t: FrameType.GOAWAY, code: 'CLEAVE_E_INTERNAL', reason: 'bye' });
  });

  it('gives name-keyed maps a null prototype, so "constructor" is just a tensor name', () => {
    const f = decodeFrame(encodeFrame({
      t: FrameType.RUN, id: 1, model: 'm', inputs: { constructor: { dtype: 'uint8' as const, dims: [1], data: new Uint8Array([7]) } },
    }));
    if (f.t !== FrameType.RUN) throw new Error('expected RUN');
    expect(Object.getPrototypeOf(f.inputs)).toBeNull();
    expect(Object.keys(f.inputs)).toEqual(['constructor']);
    const name: string = 'constructor';
    expect(f.inputs[name]?.data[0]).toBe(7);
  });

  it('returns a fresh copy at byteOffset 0 from each encode, even when the encoder is reused', () => {
    const enc = new FrameEncoder();
    const a = enc.encode(SAMPLES.ping);
    const b = enc.encode(SAMPLES.credit);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(a.length);
    expect(a.buffer).not.toBe(b.buffer);
    expect(decodeFrame(a)).toEqual(SAMPLES.ping);
  });

  it('decodes many frames with one decoder', () => {
    const dec = new FrameDecoder();
    for (const [, f] of SAMPLE_LIST) expect(dec.decode(encodeFrame(f)).t).toBe(f.t);
  });

  it('refuses to encode a frame missing a required field, or of an unknown type', () => {
    const missing = err(() => encodeFrame({ t: FrameType.RUN, id: 1, inputs: {} } as unknown as Frame));
    expect(missing.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(missing.message).toBe('RUN: required field "model" is missing');
    expect(err(() => encodeFrame({ t: 99 } as unknown as Frame)).code).toBe('CLEAVE_E_UNKNOWN_FRAME');
    const proto = JSON.parse('{"__proto__": 1}') as Record<string, unknown>;
    expect(err(() => encodeFrame({ t: FrameType.RUN, id: 1, model: 'm', inputs: proto } as unknown as Frame)).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });

  it('refuses limits that are not positive integers', () => {
    expect(err(() => new FrameDecoder({ maxRank: 0 })).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(err(() => new FrameDecoder({ maxFrameBytes: 1.5 })).message).toContain('maxFrameBytes');
  });
});

describe('large frames', () => {
  it('get their own buffer: offset 0, aligned payload, not overwritten by the next encode', () => {
    const enc = new FrameEncoder();
    const big = (v: number): Frame => ({ t: FrameType.RUN, id: 1, model: 'm', inputs: { x: { dtype: 'float32', dims: [1, 65536], data: new Float32Array(65536).fill(v) } } });
    const a = enc.encode(big(1));
    const copy = a.slice();
    const b = enc.encode(big(2));
    expect(a.byteOffset).toBe(0);
    expect(a.buffer).not.toBe(b.buffer);
    expect(a).toEqual(copy);
    const f = new FrameDecoder().decode(a);
    if (f.t !== FrameType.RUN) throw new Error('not a RUN');
    // Zero-copy: the decoded tensor is a view into the frame's own buffer, so the payload was aligned.
    expect(f.inputs.x!.data.buffer).toBe(a.buffer);
    expect(f.inputs.x!.data[65535]).toBe(1);
  });
});
