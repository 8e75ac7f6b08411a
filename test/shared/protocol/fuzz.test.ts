// Hostile bytes: random, mutated, truncated and length-inflated frames either decode to a Frame
// or fail with a CleaveError of a small set of codes; nothing else is ever thrown, and a few bytes
// can never make the decoder allocate gigabytes or spin for seconds.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CleaveError, type ErrorCode } from '../../../shared/errors.js';
import { FrameDecoder, encodeFrame, type Frame } from '../../../shared/protocol/index.js';
import { RUN_EVERY_FIELD, RUN_INT8, SAMPLE_LIST } from './samples.js';

const ALLOWED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['CLEAVE_E_PROTOCOL', 'CLEAVE_E_UNKNOWN_FRAME', 'CLEAVE_E_TOO_LARGE', 'CLEAVE_E_DTYPE', 'CLEAVE_E_SHAPE']);

const decoder = new FrameDecoder();

/** Decodes; a frame that decodes must re-encode to bytes that decode and re-encode identically. */
function decodesOrCodedError(bytes: Uint8Array): boolean {
  let frame: Frame;
  try {
    frame = decoder.decode(bytes);
  } catch (e) {
    if (!(e instanceof CleaveError)) throw e;
    if (!ALLOWED.has(e.code)) throw e;
    return true;
  }
  const again = encodeFrame(frame);
  expect(encodeFrame(decoder.decode(again))).toEqual(again);
  return true;
}

const VALID: Uint8Array[] = [
  ...SAMPLE_LIST.map(([, f]) => encodeFrame(f)),
  encodeFrame(RUN_INT8, { int8Floats: true }),
  encodeFrame(RUN_EVERY_FIELD),
];

const validFrame = fc.integer({ min: 0, max: VALID.length - 1 }).map((i) => VALID[i]!);

/** Length-field headers declaring about 4 GiB (or 64 Ki) of str, bin, ext, array, map. */
const INFLATED: number[][] = [
  [0xdb, 0xff, 0xff, 0xff, 0xff], [0xc6, 0xff, 0xff, 0xff, 0xff], [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01],
  [0xc9, 0xff, 0xff, 0xff, 0xf0, 0x02], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff],
  [0xdc, 0xff, 0xff], [0xde, 0xff, 0xff], [0xda, 0xff, 0xff], [0xc5, 0xff, 0xff], [0xc8, 0xff, 0xff, 0x01],
];

/** Offsets of the ext data of every tensor in a frame we encoded (ext 32 with type 1 or 2). */
function tensorOffsets(bytes: Uint8Array): { at: number; int8: boolean }[] {
  const out: { at: number; int8: boolean }[] = [];
  for (let i = 0; i + 6 < bytes.length; i++) {
    if (bytes[i] !== 0xc9 || (bytes[i + 5] !== 1 && bytes[i + 5] !== 2)) continue;
    const len = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
    if (i + 6 + len <= bytes.length) out.push({ at: i + 6, int8: bytes[i + 5] === 2 });
  }
  return out;
}

describe('fuzz', () => {
  it('random bytes give a frame or a coded error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodesOrCodedError), { numRuns: 2000 });
  });

  it('random bytes after a plausible frame start (map, "t", a frame type) go deeper and still fail cleanly', () => {
    const start = fc.tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 13 }), fc.uint8Array({ maxLength: 120 }));
    fc.assert(fc.property(start, ([n, t, rest]) => decodesOrCodedError(Uint8Array.from([0x80 | n, 0xa1, 0x74, t, ...rest]))), { numRuns: 1500 });
  });

  it('byte flips in valid frames give a frame or a coded error', () => {
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(validFrame, flips, (frame, fl) => {
      const b = frame.slice();
      for (const [pos, v] of fl) b[pos % b.length] = v;
      return decodesOrCodedError(b);
    }), { numRuns: 1500 });
  });

  it('every truncation of every valid frame fails cleanly', () => {
    for (const frame of VALID) {
      for (let n = 0; n < frame.length; n++) {
        expect(() => decoder.decode(frame.subarray(0, n))).toThrow(CleaveError);
      }
    }
  });

  it('inflated length fields in str/bin/ext/array/map headers give a coded error, quickly', () => {
    const header = fc.integer({ min: 0, max: INFLATED.length - 1 }).map((i) => INFLATED[i]!);
    fc.assert(fc.property(validFrame, fc.nat(), header, (frame, pos, h) => {
      const b = frame.slice();
      b.set(h.slice(0, b.length), Math.min(pos % b.length, Math.max(0, b.length - h.length)));
      return decodesOrCodedError(b);
    }), { numRuns: 1000 });
  });

  it('huge or odd dims, ranks and pads in tensor headers give a coded error', () => {
    const frames = VALID.filter((b) => tensorOffsets(b).length > 0);
    const dim = fc.constantFrom(0, 1, 3, 65536, 0x7fff_ffff, 0xffff_ffff);
    fc.assert(fc.property(fc.integer({ min: 0, max: frames.length - 1 }), fc.nat(), fc.nat(7), dim, fc.nat(255), fc.boolean(), (fi, ti, di, d, byte, rankOrPad) => {
      const b = frames[fi]!.slice();
      const offsets = tensorOffsets(b);
      const { at, int8 } = offsets[ti % offsets.length]!;
      const rank = b[at + 1]!;
      if (rank > 0) new DataView(b.buffer).setUint32(at + (int8 ? 12 : 4) + 4 * (di % rank), d, true);
      if (rankOrPad) b[at + 1 + (byte % 2)] = byte; // rank or pad byte
      return decodesOrCodedError(b);
    }), { numRuns: 1000 });
  });
});

describe('hostile sizes fail before allocating', () => {
  /** Runs `fn` and reports how much memory (heap + array buffers) it kept, bytes, and how long it took, ms. */
  function measure(fn: () => void): { grew: number; ms: number } {
    const before = process.memoryUsage();
    const t0 = performance.now();
    fn();
    const ms = performance.now() - t0;
    const after = process.memoryUsage();
    return { grew: after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers, ms };
  }

  function failsWith(bytes: Uint8Array, dec: FrameDecoder, codes: ErrorCode[]): CleaveError {
    let caught: unknown;
    const { grew, ms } = measure(() => {
      try {
        dec.decode(bytes);
      } catch (e) {
        caught = e;
      }
    });
    expect(caught).toBeInstanceOf(CleaveError);
    expect(codes).toContain((caught as CleaveError).code);
    expect(grew).toBeLessThan(4 * 1024 * 1024);
    expect(ms).toBeLessThan(200);
    return caught as CleaveError;
  }

  // {t: 3, id: 1, model: "m", inputs: {x: <value>}}
  const run = (value: number[]): Uint8Array => Uint8Array.from([
    0x84, 0xa1, 0x74, 0x03, 0xa2, 0x69, 0x64, 0x01, 0xa5, ...Buffer.from('model'), 0xa1, 0x6d,
    0xa6, ...Buffer.from('inputs'), 0x81, 0xa1, 0x78, ...value,
  ]);

  it('a tiny frame declaring a 4 GiB bin or ext', () => {
    const loose = new FrameDecoder({ maxTensorBytes: 2 ** 40, maxFrameBytes: 2 ** 40 });
    for (const dec of [new FrameDecoder(), loose]) {
      const bin = failsWith(run([0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]), dec, ['CLEAVE_E_TOO_LARGE', 'CLEAVE_E_PROTOCOL']);
      expect(bin.detail).toMatchObject({ t: 3, id: 1 });
      failsWith(run([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3]), dec, ['CLEAVE_E_TOO_LARGE', 'CLEAVE_E_PROTOCOL']);
    }
  });

  it('a tensor header declaring dims [65536, 65536, 65536]', () => {
    const ext = [0xc7, 16, 0x01, 1, 3, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0];
    for (const dec of [new FrameDecoder(), new FrameDecoder({ maxTensorBytes: 1024 })]) {
      const e = failsWith(run(ext), dec, ['CLEAVE_E_TOO_LARGE']);
      expect(e.message).toContain('tensor dims [65536,65536,65536] of float32 need 1125899906842624 bytes, exceeds maxTensorBytes');
      expect(e.detail).toMatchObject({ t: 3, id: 1, tensor: 'x' });
    }
  });

  it('900 KB of nested array headers (which make @msgpack/msgpack alone allocate gigabytes)', () => {
    const bomb = new Uint8Array(300_000 * 3);
    for (let i = 0; i < bomb.length; i += 3) bomb.set([0xdc, 0x04, 0x00], i);
    failsWith(bomb, new FrameDecoder(), ['CLEAVE_E_PROTOCOL']);
    const deep = new Uint8Array(1000).fill(0x91);
    expect(failsWith(deep, new FrameDecoder(), ['CLEAVE_E_PROTOCOL']).message).toContain('deeper than 16');
  });

  it('an array or map declaring more items than there are bytes left', () => {
    const e = failsWith(Uint8Array.from([0x81, 0xa1, 0x74, 0xdd, 0x00, 0x00, 0x03, 0xff]), new FrameDecoder(), ['CLEAVE_E_PROTOCOL']);
    expect(e.message).toBe('array at offset 3 declares 1023 items but only 0 byte(s) follow');
  });
});
