/**
 * ONNX ModelProto decoder. Accepts fields in any order, packed or unpacked repeated scalars,
 * and unknown fields (kept verbatim). Limits bound the work hostile input can cause: the byte
 * size, the nesting of subgraphs, and the node count. Weights (raw_data) are views into the
 * input, not copies: keep the input alive as long as the model.
 */
import { CleaveError } from '../errors.js';
import { ProtoReader, WireType } from './wire.js';
import type {
  Attribute,
  Dimension,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetId,
  StringStringEntry,
  TensorProto,
  TensorTypeProto,
  TypeProto,
  UnknownField,
  ValueInfo,
} from './types.js';

/** Decoder limits. */
export interface DecodeLimits {
  /** Largest model accepted, bytes. Default 2 GiB - 1 (the protobuf ceiling). */
  maxBytes: number;
  /** Deepest nesting of subgraphs (If/Loop bodies). Default 32. */
  maxGraphDepth: number;
  /** Most nodes across all graphs. Default 1,000,000. */
  maxNodes: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxBytes: 2 ** 31 - 1,
  maxGraphDepth: 32,
  maxNodes: 1_000_000,
};

interface Ctx {
  limits: DecodeLimits;
  nodes: number;
}

/** Decodes ONNX ModelProto bytes. Throws CLEAVE_E_ONNX_DECODE / CLEAVE_E_ONNX_LIMIT. */
export function decodeModel(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): ModelProto {
  const ctx: Ctx = { limits: { ...DEFAULT_DECODE_LIMITS, ...limits }, nodes: 0 };
  if (bytes.length > ctx.limits.maxBytes) {
    throw new CleaveError('CLEAVE_E_ONNX_LIMIT', `model is ${bytes.length} bytes, the limit is ${ctx.limits.maxBytes}`, {
      bytes: bytes.length,
      limit: ctx.limits.maxBytes,
    });
  }
  if (bytes.length === 0) throw new CleaveError('CLEAVE_E_ONNX_DECODE', 'model bytes are empty, expected an ONNX ModelProto');
  const r = new ProtoReader(bytes);
  const m: ModelProto = { irVersion: 0, opsetImport: [], metadataProps: [], graph: emptyGraph() };
  let sawGraph = false;
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1: expect(r, wire, WireType.VARINT, 'ir_version'); m.irVersion = r.varint(); break;
      case 2: expect(r, wire, WireType.LEN, 'producer_name'); m.producerName = r.string(); break;
      case 3: expect(r, wire, WireType.LEN, 'producer_version'); m.producerVersion = r.string(); break;
      case 4: expect(r, wire, WireType.LEN, 'domain'); m.domain = r.string(); break;
      case 5: expect(r, wire, WireType.VARINT, 'model_version'); m.modelVersion = r.varint(); break;
      case 6: expect(r, wire, WireType.LEN, 'doc_string'); m.docString = r.string(); break;
      case 7: expect(r, wire, WireType.LEN, 'graph'); m.graph = readGraph(r.sub(), ctx, 1); sawGraph = true; break;
      case 8: expect(r, wire, WireType.LEN, 'opset_import'); m.opsetImport.push(readOpset(r.sub())); break;
      case 14: expect(r, wire, WireType.LEN, 'metadata_props'); m.metadataProps.push(readEntry(r.sub())); break;
      default: keepUnknown(r, m, field, wire, start);
    }
  }
  if (!sawGraph) throw new CleaveError('CLEAVE_E_ONNX_DECODE', 'ONNX model has no graph (field 7): not an ONNX ModelProto?');
  if (m.irVersion <= 0) throw new CleaveError('CLEAVE_E_ONNX_DECODE', `ONNX model has ir_version ${m.irVersion}, expected >= 1: not an ONNX ModelProto?`);
  return m;
}

function emptyGraph(): GraphProto {
  return { name: '', node: [], initializer: [], input: [], output: [], valueInfo: [] };
}

function expect(r: ProtoReader, got: number, want: number, name: string): void {
  if (got !== want) r.fail(`field ${name} has wire type ${got}, expected ${want}`);
}

function keepUnknown(r: ProtoReader, msg: { unknown?: UnknownField[] }, field: number, wire: number, start: number): void {
  r.skip(wire);
  (msg.unknown ??= []).push({ field, bytes: r.bytes.subarray(start, r.pos) });
}

function readEntry(r: ProtoReader): StringStringEntry {
  const e: StringStringEntry = { key: '', value: '' };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WireType.LEN) e.key = r.string();
    else if (field === 2 && wire === WireType.LEN) e.value = r.string();
    else keepUnknown(r, e, field, wire, start);
  }
  return e;
}

function readOpset(r: ProtoReader): OperatorSetId {
  const o: OperatorSetId = { domain: '', version: 0 };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WireType.LEN) o.domain = r.string();
    else if (field === 2 && wire === WireType.VARINT) o.version = r.varint();
    else keepUnknown(r, o, field, wire, start);
  }
  return o;
}

function readGraph(r: ProtoReader, ctx: Ctx, depth: number): GraphProto {
  if (depth > ctx.limits.maxGraphDepth) {
    throw new CleaveError('CLEAVE_E_ONNX_LIMIT', `subgraphs nest deeper than ${ctx.limits.maxGraphDepth}`, {
      limit: ctx.limits.maxGraphDepth,
    });
  }
  const g = emptyGraph();
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (wire !== WireType.LEN) {
      keepUnknown(r, g, field, wire, start);
      continue;
    }
    switch (field) {
      case 1:
        if (++ctx.nodes > ctx.limits.maxNodes) {
          throw new CleaveError('CLEAVE_E_ONNX_LIMIT', `model has more than ${ctx.limits.maxNodes} nodes`, { limit: ctx.limits.maxNodes });
        }
        g.node.push(readNode(r.sub(), ctx, depth));
        break;
      case 2: g.name = r.string(); break;
      case 5: g.initializer.push(readTensor(r.sub())); break;
      case 10: g.docString = r.string(); break;
      case 11: g.input.push(readValueInfo(r.sub())); break;
      case 12: g.output.push(readValueInfo(r.sub())); break;
      case 13: g.valueInfo.push(readValueInfo(r.sub())); break;
      default: keepUnknown(r, g, field, wire, start);
    }
  }
  return g;
}

function readNode(r: ProtoReader, ctx: Ctx, depth: number): NodeProto {
  const n: NodeProto = { input: [], output: [], opType: '', attribute: [] };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (wire !== WireType.LEN) {
      keepUnknown(r, n, field, wire, start);
      continue;
    }
    switch (field) {
      case 1: n.input.push(r.string()); break;
      case 2: n.output.push(r.string()); break;
      case 3: n.name = r.string(); break;
      case 4: n.opType = r.string(); break;
      case 5: n.attribute.push(readAttribute(r.sub(), ctx, depth)); break;
      case 6: n.docString = r.string(); break;
      case 7: n.domain = r.string(); break;
      default: keepUnknown(r, n, field, wire, start);
    }
  }
  if (n.opType === '') r.fail('node without op_type');
  return n;
}

function readAttribute(r: ProtoReader, ctx: Ctx, depth: number): Attribute {
  const a: Attribute = { name: '', type: 0 };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1: expect(r, wire, WireType.LEN, 'attribute.name'); a.name = r.string(); break;
      case 2: expect(r, wire, WireType.I32, 'attribute.f'); a.f = r.fixed32Float(); break;
      case 3: expect(r, wire, WireType.VARINT, 'attribute.i'); a.i = r.varintBig(); break;
      case 4: expect(r, wire, WireType.LEN, 'attribute.s'); a.s = r.bytesField(); break;
      case 5: expect(r, wire, WireType.LEN, 'attribute.t'); a.t = readTensor(r.sub()); break;
      case 6: expect(r, wire, WireType.LEN, 'attribute.g'); a.g = readGraph(r.sub(), ctx, depth + 1); break;
      case 7: readRepeatedFloat32(r, wire, (a.floats ??= [])); break;
      case 8: readRepeatedVarint(r, wire, (a.ints ??= [])); break;
      case 9: expect(r, wire, WireType.LEN, 'attribute.strings'); (a.strings ??= []).push(r.bytesField()); break;
      case 10: expect(r, wire, WireType.LEN, 'attribute.tensors'); (a.tensors ??= []).push(readTensor(r.sub())); break;
      case 11: expect(r, wire, WireType.LEN, 'attribute.graphs'); (a.graphs ??= []).push(readGraph(r.sub(), ctx, depth + 1)); break;
      case 13: expect(r, wire, WireType.LEN, 'attribute.doc_string'); a.docString = r.string(); break;
      case 20: expect(r, wire, WireType.VARINT, 'attribute.type'); a.type = r.int32(); break;
      case 21: expect(r, wire, WireType.LEN, 'attribute.ref_attr_name'); a.refAttrName = r.string(); break;
      default: keepUnknown(r, a, field, wire, start);
    }
  }
  return a;
}

function readTensor(r: ProtoReader): TensorProto {
  const t: TensorProto = { name: '', dims: [], dataType: 0 };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1: {
        const dims: bigint[] = [];
        readRepeatedVarint(r, wire, dims);
        for (const d of dims) {
          if (d < 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`tensor dimension ${d} is not a valid size`);
          t.dims.push(Number(d));
        }
        break;
      }
      case 2: expect(r, wire, WireType.VARINT, 'tensor.data_type'); t.dataType = r.int32(); break;
      case 4: readRepeatedFloat32(r, wire, (t.floatData ??= [])); break;
      case 5: {
        const v: bigint[] = [];
        readRepeatedVarint(r, wire, v);
        const out = (t.int32Data ??= []);
        for (const x of v) out.push(Number(BigInt.asIntN(32, x)));
        break;
      }
      case 6: expect(r, wire, WireType.LEN, 'tensor.string_data'); (t.stringData ??= []).push(r.bytesField()); break;
      case 7: readRepeatedVarint(r, wire, (t.int64Data ??= [])); break;
      case 8: expect(r, wire, WireType.LEN, 'tensor.name'); t.name = r.string(); break;
      case 9: expect(r, wire, WireType.LEN, 'tensor.raw_data'); t.rawData = r.bytesField(); break;
      case 10: readRepeatedFloat64(r, wire, (t.doubleData ??= [])); break;
      case 11: {
        const v: bigint[] = [];
        readRepeatedVarint(r, wire, v);
        const out = (t.uint64Data ??= []);
        for (const x of v) out.push(BigInt.asUintN(64, x));
        break;
      }
      case 12: expect(r, wire, WireType.LEN, 'tensor.doc_string'); t.docString = r.string(); break;
      case 13: expect(r, wire, WireType.LEN, 'tensor.external_data'); (t.externalData ??= []).push(readEntry(r.sub())); break;
      case 14: expect(r, wire, WireType.VARINT, 'tensor.data_location'); t.dataLocation = r.int32(); break;
      default: keepUnknown(r, t, field, wire, start);
    }
  }
  return t;
}

function readValueInfo(r: ProtoReader): ValueInfo {
  const v: ValueInfo = { name: '' };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WireType.LEN) v.name = r.string();
    else if (field === 2 && wire === WireType.LEN) v.type = readType(r.sub());
    else if (field === 3 && wire === WireType.LEN) v.docString = r.string();
    else keepUnknown(r, v, field, wire, start);
  }
  return v;
}

function readType(r: ProtoReader): TypeProto {
  const t: TypeProto = {};
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WireType.LEN) t.tensorType = readTensorType(r.sub());
    else if (field === 6 && wire === WireType.LEN) t.denotation = r.string();
    else keepUnknown(r, t, field, wire, start);
  }
  return t;
}

function readTensorType(r: ProtoReader): TensorTypeProto {
  const t: TensorTypeProto = { elemType: 0 };
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WireType.VARINT) t.elemType = r.int32();
    else if (field === 2 && wire === WireType.LEN) {
      const s = r.sub();
      const shape: Dimension[] = (t.shape = []);
      const holder: { unknown?: UnknownField[] } = {};
      while (!s.done) {
        const st = s.pos;
        const tag = s.tag();
        if (tag.field === 1 && tag.wire === WireType.LEN) shape.push(readDim(s.sub()));
        else keepUnknown(s, holder, tag.field, tag.wire, st);
      }
      if (holder.unknown) t.shapeUnknown = holder.unknown;
    } else keepUnknown(r, t, field, wire, start);
  }
  return t;
}

function readDim(r: ProtoReader): Dimension {
  const d: Dimension = {};
  while (!r.done) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WireType.VARINT) {
      d.value = r.varint();
      delete d.param;
    } else if (field === 2 && wire === WireType.LEN) {
      d.param = r.string();
      delete d.value;
    } else if (field === 3 && wire === WireType.LEN) d.denotation = r.string();
    else keepUnknown(r, d, field, wire, start);
  }
  return d;
}

function readRepeatedVarint(r: ProtoReader, wire: number, out: bigint[]): void {
  if (wire === WireType.VARINT) out.push(r.varintBig());
  else if (wire === WireType.LEN) {
    const s = r.sub();
    while (!s.done) out.push(s.varintBig());
  } else r.fail(`repeated integer field has wire type ${wire}`);
}

function readRepeatedFloat32(r: ProtoReader, wire: number, out: number[]): void {
  if (wire === WireType.I32) out.push(r.fixed32Float());
  else if (wire === WireType.LEN) {
    const s = r.sub();
    if ((s.end - s.pos) % 4 !== 0) r.fail('packed float field length is not a multiple of 4');
    while (!s.done) out.push(s.fixed32Float());
  } else r.fail(`repeated float field has wire type ${wire}`);
}

function readRepeatedFloat64(r: ProtoReader, wire: number, out: number[]): void {
  if (wire === WireType.I64) out.push(r.fixed64Double());
  else if (wire === WireType.LEN) {
    const s = r.sub();
    if ((s.end - s.pos) % 8 !== 0) r.fail('packed double field length is not a multiple of 8');
    while (!s.done) out.push(s.fixed64Double());
  } else r.fail(`repeated double field has wire type ${wire}`);
}
