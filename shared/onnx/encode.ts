/**
 * ONNX ModelProto encoder. Fields are written in field-number order with protoc's packing
 * (dims and attribute lists unpacked, *_data packed), so a model written here and read back is
 * byte-identical, and files written by the official tools usually are too. Unknown fields kept
 * by the decoder are written back at the end of their message, as protoc does.
 */
import { ProtoWriter, WireType } from './wire.js';
import { AttributeType } from './types.js';
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

/** Encodes a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.tag(1, WireType.VARINT).varint(m.irVersion);
  str(w, 2, m.producerName);
  str(w, 3, m.producerVersion);
  str(w, 4, m.domain);
  if (m.modelVersion !== undefined) w.tag(5, WireType.VARINT).varint(m.modelVersion);
  str(w, 6, m.docString);
  w.message(7, (g) => writeGraph(g, m.graph));
  for (const o of m.opsetImport) w.message(8, (x) => writeOpset(x, o));
  for (const e of m.metadataProps) w.message(14, (x) => writeEntry(x, e));
  unknown(w, m.unknown);
  return w.finish();
}

function str(w: ProtoWriter, field: number, s: string | undefined): void {
  if (s !== undefined && s !== '') w.stringField(field, s);
}

function unknown(w: ProtoWriter, u: UnknownField[] | undefined): void {
  if (u) for (const f of u) w.raw(f.bytes);
}

function writeEntry(w: ProtoWriter, e: StringStringEntry): void {
  str(w, 1, e.key);
  str(w, 2, e.value);
  unknown(w, e.unknown);
}

function writeOpset(w: ProtoWriter, o: OperatorSetId): void {
  str(w, 1, o.domain);
  w.tag(2, WireType.VARINT).varint(o.version);
  unknown(w, o.unknown);
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.node) w.message(1, (x) => writeNode(x, n));
  str(w, 2, g.name);
  for (const t of g.initializer) w.message(5, (x) => writeTensor(x, t));
  str(w, 10, g.docString);
  for (const v of g.input) w.message(11, (x) => writeValueInfo(x, v));
  for (const v of g.output) w.message(12, (x) => writeValueInfo(x, v));
  for (const v of g.valueInfo) w.message(13, (x) => writeValueInfo(x, v));
  unknown(w, g.unknown);
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  // Empty strings in input/output are meaningful (an omitted optional input), so always write.
  for (const s of n.input) w.stringField(1, s);
  for (const s of n.output) w.stringField(2, s);
  str(w, 3, n.name);
  str(w, 4, n.opType);
  for (const a of n.attribute) w.message(5, (x) => writeAttribute(x, a));
  str(w, 6, n.docString);
  str(w, 7, n.domain);
  unknown(w, n.unknown);
}

function writeAttribute(w: ProtoWriter, a: Attribute): void {
  str(w, 1, a.name);
  // The field that matches `type` is written even when it holds the default, because an
  // attribute's presence is its meaning (an INT attribute with value 0 is still set).
  if (a.f !== undefined || a.type === AttributeType.FLOAT) w.tag(2, WireType.I32).float32(a.f ?? 0);
  if (a.i !== undefined || a.type === AttributeType.INT) w.tag(3, WireType.VARINT).varintBig(a.i ?? 0n);
  if (a.s !== undefined || a.type === AttributeType.STRING) w.bytesField(4, a.s ?? new Uint8Array(0));
  if (a.t) w.message(5, (x) => writeTensor(x, a.t!));
  if (a.g) w.message(6, (x) => writeGraph(x, a.g!));
  if (a.floats) for (const f of a.floats) w.tag(7, WireType.I32).float32(f);
  if (a.ints) for (const i of a.ints) w.tag(8, WireType.VARINT).varintBig(i);
  if (a.strings) for (const s of a.strings) w.bytesField(9, s);
  if (a.tensors) for (const t of a.tensors) w.message(10, (x) => writeTensor(x, t));
  if (a.graphs) for (const g of a.graphs) w.message(11, (x) => writeGraph(x, g));
  str(w, 13, a.docString);
  if (a.type !== 0) w.tag(20, WireType.VARINT).varint(a.type);
  str(w, 21, a.refAttrName);
  unknown(w, a.unknown);
}

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  for (const d of t.dims) w.tag(1, WireType.VARINT).varint(d);
  w.tag(2, WireType.VARINT).varint(t.dataType);
  if (t.floatData?.length) w.message(4, (x) => { for (const f of t.floatData!) x.float32(f); });
  if (t.int32Data?.length) w.message(5, (x) => { for (const v of t.int32Data!) x.varint(v); });
  if (t.stringData) for (const s of t.stringData) w.bytesField(6, s);
  if (t.int64Data?.length) w.message(7, (x) => { for (const v of t.int64Data!) x.varintBig(v); });
  str(w, 8, t.name);
  if (t.rawData !== undefined) w.bytesField(9, t.rawData);
  if (t.doubleData?.length) w.message(10, (x) => { for (const v of t.doubleData!) x.float64(v); });
  if (t.uint64Data?.length) w.message(11, (x) => { for (const v of t.uint64Data!) x.varintBig(v); });
  str(w, 12, t.docString);
  if (t.externalData) for (const e of t.externalData) w.message(13, (x) => writeEntry(x, e));
  if (t.dataLocation !== undefined) w.tag(14, WireType.VARINT).varint(t.dataLocation);
  unknown(w, t.unknown);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  str(w, 1, v.name);
  if (v.type) w.message(2, (x) => writeType(x, v.type!));
  str(w, 3, v.docString);
  unknown(w, v.unknown);
}

function writeType(w: ProtoWriter, t: TypeProto): void {
  if (t.tensorType) w.message(1, (x) => writeTensorType(x, t.tensorType!));
  str(w, 6, t.denotation);
  unknown(w, t.unknown);
}

function writeTensorType(w: ProtoWriter, t: TensorTypeProto): void {
  w.tag(1, WireType.VARINT).varint(t.elemType);
  if (t.shape) {
    w.message(2, (s) => {
      for (const d of t.shape!) s.message(1, (x) => writeDim(x, d));
      unknown(s, t.shapeUnknown);
    });
  }
  unknown(w, t.unknown);
}

function writeDim(w: ProtoWriter, d: Dimension): void {
  if (d.value !== undefined) w.tag(1, WireType.VARINT).varint(d.value);
  else if (d.param !== undefined) w.stringField(2, d.param);
  str(w, 3, d.denotation);
  unknown(w, d.unknown);
}
