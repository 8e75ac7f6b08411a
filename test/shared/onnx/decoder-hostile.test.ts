// Hostile bytes: random, mutated and truncated models never crash the decoder, never hang,
// and always fail with a coded CleaveError; limits are enforced.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GraphBuilder } from '../../../shared/onnx/builder.js';
import { decodeModel } from '../../../shared/onnx/decode.js';
import { encodeModel } from '../../../shared/onnx/encode.js';
import { ProtoWriter, WireType } from '../../../shared/onnx/wire.js';
import { isCleaveError } from '../../../shared/errors.js';

function validModel(): Uint8Array {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', ['N', 8]);
  const w = b.weight('w', 'float32', [8, 4], Array.from({ length: 32 }, (_, i) => i / 10));
  b.output(b.op('Softmax', [b.op('MatMul', [x, w])], { axis: -1 }), 'y');
  return encodeModel(b.build());
}

function decodesOrCodedError(bytes: Uint8Array): boolean {
  try {
    decodeModel(bytes);
    return true;
  } catch (e) {
    if (!isCleaveError(e)) throw e;
    return e.code === 'CLEAVE_E_ONNX_DECODE' || e.code === 'CLEAVE_E_ONNX_LIMIT' || e.code === 'CLEAVE_E_DTYPE';
  }
}

describe('decoder against hostile input', () => {
  it('random bytes give a model or a coded error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => decodesOrCodedError(bytes)), { numRuns: 2000 });
  });

  it('mutated valid models give a model or a coded error', () => {
    const base = validModel();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (muts) => {
        const m = base.slice();
        for (const [i, v] of muts) m[i] = v;
        return decodesOrCodedError(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('a length prefix larger than the input fails without allocating it', () => {
    const w = new ProtoWriter();
    w.tag(7, WireType.LEN).varint(2 ** 40); // claims a 1 TiB graph
    expect(() => decodeModel(w.finish())).toThrowError(/runs past the end/);
  });

  it('enforces the byte-size and subgraph-depth limits', () => {
    const bytes = validModel();
    try {
      decodeModel(bytes, { maxBytes: 10 });
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_ONNX_LIMIT')).toBe(true);
    }
    // Graph -> node -> attribute g -> graph -> ... nested 40 deep.
    const nest = (depth: number): ((w: ProtoWriter) => void) => (g) => {
      g.message(1, (n) => {
        n.stringField(4, 'If');
        if (depth > 0) n.message(5, (a) => { a.stringField(1, 'then_branch'); a.message(6, nest(depth - 1)); a.tag(20, WireType.VARINT).varint(5); });
      });
    };
    const w = new ProtoWriter();
    w.tag(1, WireType.VARINT).varint(8);
    w.message(7, nest(40));
    expect(() => decodeModel(w.finish())).toThrowError(/nest deeper than 32/);
    expect(() => decodeModel(w.finish(), { maxGraphDepth: 64 })).not.toThrow();
  });

  it('empty input and non-ONNX protobuf are named for what they are', () => {
    expect(() => decodeModel(new Uint8Array())).toThrowError(/empty/);
    const w = new ProtoWriter();
    w.tag(1, WireType.VARINT).varint(8);
    expect(() => decodeModel(w.finish())).toThrowError(/no graph/);
  });
});
