/**
 * Protocol-buffers wire format, the little that ONNX needs: varints, fixed32/64 and
 * length-delimited fields. Written by hand because the ONNX schema is small and stable, and a
 * generated codec would drag a runtime into `shared/`. Every read is bounds-checked so that
 * truncated or hostile bytes give a coded error at a known offset, never a crash or a hang.
 */
import { CleaveError } from '../errors.js';

/** Protobuf wire types. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const TWO_32 = 4294967296;

/** Sequential reader over one message's bytes. */
export class ProtoReader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(what: string): never {
    throw new CleaveError('CLEAVE_E_ONNX_DECODE', `malformed protobuf at byte ${this.pos}: ${what}`, { offset: this.pos });
  }

  /** Reads a tag and splits it into field number and wire type. */
  tag(): { field: number; wire: number } {
    const t = this.varint();
    const field = Math.floor(t / 8);
    const wire = t % 8;
    if (field === 0) this.fail('field number 0');
    return { field, wire };
  }

  /** Varint as a JS number; fails past 2^53 (use varintBig for int64 payloads). */
  varint(): number {
    const v = this.varintBig();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail(`integer ${v} is outside the safe range for this field`);
    }
    return Number(v);
  }

  /** Varint as a signed 64-bit bigint (two's complement, as protobuf int64 is). */
  varintBig(): bigint {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.bytes[this.pos++]!;
      if (i < 4) lo += (b & 0x7f) * 2 ** (7 * i);
      else if (i === 4) {
        lo += (b & 0x0f) * 2 ** 28;
        hi += (b & 0x7f) >>> 4;
      } else hi += (b & 0x7f) * 2 ** (7 * i - 32);
      if ((b & 0x80) === 0) {
        const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
        return BigInt.asIntN(64, u);
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Varint interpreted as int32 (negative values arrive sign-extended to 64 bits). */
  int32(): number {
    return Number(BigInt.asIntN(32, this.varintBig()));
  }

  fixed32Float(): number {
    if (this.pos + 4 > this.end) this.fail('truncated fixed32');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  fixed64Double(): number {
    if (this.pos + 8 > this.end) this.fail('truncated fixed64');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  fixed64Big(): bigint {
    if (this.pos + 8 > this.end) this.fail('truncated fixed64');
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Length prefix of a LEN field, checked against the bytes that remain. */
  length(): number {
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) this.fail(`length ${n} runs past the end (${this.end - this.pos} bytes left)`);
    return n;
  }

  /** A LEN field's payload as a view into the input (no copy). */
  bytesField(): Uint8Array {
    const n = this.length();
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return utf8Decoder.decode(this.bytesField());
  }

  /** A reader over an embedded message; advances past it. */
  sub(): ProtoReader {
    const n = this.length();
    const r = new ProtoReader(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Skips over the payload of a field of the given wire type. */
  skip(wire: number): void {
    switch (wire) {
      case WireType.VARINT:
        this.varintBig();
        return;
      case WireType.I64:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case WireType.LEN: {
        // Read the length first: `this.pos += this.length()` would add to the old position.
        const n = this.length();
        this.pos += n;
        return;
      }
      case WireType.I32:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        // Groups are deprecated and never used by ONNX; refusing them keeps skipping linear.
        this.fail(`unsupported wire type ${wire}`);
    }
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

/**
 * Growable output buffer. Nested messages are written into a child writer and copied in with
 * their length, which keeps the code simple; ONNX graphs are small next to their weights, and
 * weights are copied exactly once (raw_data is appended as a chunk, not byte by byte).
 */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private len = 0;
  private total = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    this.flushBuf();
    if (n > this.buf.length) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
  }

  private flushBuf(): void {
    if (this.len > 0) {
      this.chunks.push(this.buf.slice(0, this.len));
      this.len = 0;
    }
  }

  get byteLength(): number {
    return this.total;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  varint(v: number): this {
    if (v < 0) return this.varintBig(BigInt(v));
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
      this.total++;
    }
    this.buf[this.len++] = v;
    this.total++;
    return this;
  }

  varintBig(v: bigint): this {
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
      this.total++;
    }
    this.buf[this.len++] = Number(u);
    this.total++;
    return this;
  }

  float32(v: number): this {
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
    this.total += 4;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    new DataView(this.buf.buffer).setFloat64(this.len, v, true);
    this.len += 8;
    this.total += 8;
    return this;
  }

  uint64(v: bigint): this {
    this.ensure(8);
    new DataView(this.buf.buffer).setBigUint64(this.len, BigInt.asUintN(64, v), true);
    this.len += 8;
    this.total += 8;
    return this;
  }

  raw(bytes: Uint8Array): this {
    if (bytes.length <= 64) {
      this.ensure(bytes.length);
      this.buf.set(bytes, this.len);
      this.len += bytes.length;
    } else {
      this.flushBuf();
      this.chunks.push(bytes);
    }
    this.total += bytes.length;
    return this;
  }

  /** Writes a LEN field with the given payload. */
  bytesField(field: number, bytes: Uint8Array): this {
    return this.tag(field, WireType.LEN).varint(bytes.length).raw(bytes);
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, utf8Encoder.encode(s));
  }

  /** Writes an embedded message produced by `write` into a fresh writer. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const child = new ProtoWriter();
    write(child);
    this.tag(field, WireType.LEN).varint(child.byteLength);
    for (const c of child.finishChunks()) this.raw(c);
    return this;
  }

  private finishChunks(): Uint8Array[] {
    this.flushBuf();
    return this.chunks;
  }

  finish(): Uint8Array {
    const chunks = this.finishChunks();
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
