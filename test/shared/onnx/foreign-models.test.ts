// Models Cleave did not write: hand-encoded with other field orders, unpacked and packed
// repeated fields, and unknown fields at several levels. They must decode to the right model,
// re-encode to an equivalent one, and still run in onnxruntime.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../../../shared/onnx/decode.js';
import { encodeModel } from '../../../shared/onnx/encode.js';
import { tensorValues } from '../../../shared/onnx/tensor-data.js';
import { toNumbers } from '../../../shared/onnx/dtype.js';
import { ProtoWriter, WireType } from '../../../shared/onnx/wire.js';
import type { ModelProto } from '../../../shared/onnx/types.js';

type W = ProtoWriter;
const msg = (field: number, f: (w: W) => void) => (w: W) => w.message(field, f);

/** An unknown varint field and an unknown length-delimited field, to be carried through. */
function unknownFields(w: W, base: number): void {
  w.tag(base, WireType.VARINT).varint(12345);
  w.stringField(base + 1, 'future-field');
}

function valueInfo(name: string, dims: (number | string)[], packedDims = false) {
  return (w: W) => {
    w.message(2, (t) => {
      t.message(1, (tt) => {
        // shape written before elem_type: reversed field order
        tt.message(2, (s) => {
          for (const d of dims) s.message(1, (dim) => (typeof d === 'number' ? dim.tag(1, WireType.VARINT).varint(d) : dim.stringField(2, d)));
          void packedDims;
        });
        tt.tag(1, WireType.VARINT).varint(1);
      });
    });
    w.stringField(1, name);
  };
}

/** y = Softmax(x @ W + b, axis -1), W [3,2] as unpacked float_data, b [2] as packed raw_data. */
function foreignModel(): Uint8Array {
  const w = new ProtoWriter();
  // opset_import and graph before ir_version: any order must be accepted.
  w.message(8, (o) => { o.tag(2, WireType.VARINT).varint(13); o.stringField(1, ''); });
  w.message(7, (g) => {
    g.stringField(2, 'foreign');
    unknownFields(g, 40);
    // initializer W: dims unpacked... in packed form, float_data unpacked (one tag per float)
    g.message(5, (t) => {
      t.stringField(8, 'W');
      t.message(1, (p) => { p.varint(3).varint(2); }); // packed dims
      t.tag(2, WireType.VARINT).varint(1);
      for (const f of [1, -1, 0.5, 2, -2, 0.25]) t.tag(4, WireType.I32).float32(f);
      unknownFields(t, 50);
    });
    g.message(5, (t) => {
      t.tag(1, WireType.VARINT).varint(2);
      t.tag(2, WireType.VARINT).varint(1);
      const raw = new Uint8Array(new Float32Array([0.1, -0.1]).buffer);
      t.bytesField(9, raw);
      t.stringField(8, 'b');
    });
    g.message(1, (n) => {
      n.stringField(4, 'MatMul');
      n.stringField(1, 'x');
      n.stringField(1, 'W');
      n.stringField(2, 'xw');
      unknownFields(n, 60);
    });
    g.message(1, (n) => { n.stringField(2, 'xwb'); n.stringField(1, 'xw'); n.stringField(1, 'b'); n.stringField(4, 'Add'); });
    // attribute before op_type, type after value, and a negative int (10-byte varint)
    g.message(1, (n) => {
      n.message(5, (a) => { a.tag(3, WireType.VARINT).varint(-1); a.tag(20, WireType.VARINT).varint(2); a.stringField(1, 'axis'); });
      n.stringField(4, 'Softmax'); n.stringField(1, 'xwb'); n.stringField(2, 'y'); n.stringField(3, 'softmax');
    });
    g.message(12, valueInfo('y', ['batch', 2]));
    g.message(11, valueInfo('x', ['batch', 3]));
  });
  unknownFields(w, 30);
  w.tag(1, WireType.VARINT).varint(7);
  w.stringField(2, 'hand-written');
  return w.finish();
}

function structure(m: ModelProto) {
  return {
    ir: m.irVersion,
    opsets: m.opsetImport.map((o) => [o.domain, o.version]),
    nodes: m.graph.node.map((n) => [n.opType, n.input, n.output]),
    inits: m.graph.initializer.map((t) => [t.name, t.dims, toNumbers(tensorValues(t))]),
    inputs: m.graph.input.map((v) => [v.name, v.type?.tensorType?.shape]),
    outputs: m.graph.output.map((v) => [v.name, v.type?.tensorType?.shape]),
  };
}

describe('decoding models Cleave did not write', () => {
  it('reads any field order, packed and unpacked repeated fields', () => {
    const m = decodeModel(foreignModel());
    expect(m.irVersion).toBe(7);
    expect(m.producerName).toBe('hand-written');
    expect(m.graph.name).toBe('foreign');
    expect(m.graph.node.map((n) => n.opType)).toEqual(['MatMul', 'Add', 'Softmax']);
    const W = m.graph.initializer.find((t) => t.name === 'W')!;
    expect(W.dims).toEqual([3, 2]);
    expect(toNumbers(tensorValues(W))).toEqual([1, -1, 0.5, 2, -2, 0.25]);
    const b = m.graph.initializer.find((t) => t.name === 'b')!;
    expect(toNumbers(tensorValues(b))[0]).toBeCloseTo(0.1, 6);
    expect(m.graph.input[0]!.type!.tensorType!.shape).toEqual([{ param: 'batch' }, { value: 3 }]);
    expect(m.graph.node[2]!.attribute[0]).toMatchObject({ name: 'axis', type: 2, i: -1n });
  });

  it('keeps unknown fields at every level and writes them back', () => {
    const m = decodeModel(foreignModel());
    expect(m.unknown?.map((u) => u.field)).toEqual([30, 31]);
    expect(m.graph.unknown?.map((u) => u.field)).toEqual([40, 41]);
    expect(m.graph.node[0]!.unknown?.map((u) => u.field)).toEqual([60, 61]);
    expect(m.graph.initializer[0]!.unknown?.map((u) => u.field)).toEqual([50, 51]);
    const again = decodeModel(encodeModel(m));
    expect(again.graph.node[0]!.unknown?.map((u) => u.field)).toEqual([60, 61]);
    expect(structure(again)).toEqual(structure(m));
    // Canonical form is a fixed point: encode(decode(encode(m))) is byte-identical.
    const canon = encodeModel(m);
    expect(Buffer.compare(Buffer.from(encodeModel(decodeModel(canon))), Buffer.from(canon))).toBe(0);
  });

  it('the re-encoded model runs in onnxruntime and computes the same thing', async () => {
    const original = foreignModel();
    const reencoded = encodeModel(decodeModel(original));
    const x = new ort.Tensor('float32', new Float32Array([1, 2, 3, -1, 0, 1]), [2, 3]);
    const run = async (bytes: Uint8Array) => (await (await ort.InferenceSession.create(bytes)).run({ x })).y!.data as Float32Array;
    const a = await run(original);
    const b = await run(reencoded);
    expect(Array.from(b)).toEqual(Array.from(a));
    // hand check of row 0: [1,2,3] @ W = [1+1-6, -1+4+0.75] = [-4, 3.75]; + b = [-3.9, 3.65]
    expect(a[1]).toBeCloseTo(1 / (1 + Math.exp(-7.55)), 6);
    expect(a[0]! + a[1]!).toBeCloseTo(1, 6);
  });
});
