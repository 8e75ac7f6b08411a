/**
 * Frames to bytes and back (docs/protocol.md). One FrameEncoder / FrameDecoder per connection
 * reuses its msgpack instance; encodeFrame/decodeFrame are thin wrappers over default instances.
 *
 * Decoding runs in three steps, each refusing hostile input before it costs memory:
 * 1. the size check against maxFrameBytes, before looking at the bytes;
 * 2. scanFrame (msgpack-scan.ts): structure, depth, every length against its limit, map keys;
 * 3. msgpack decoding, then validateFrame (validate.ts): fields, ranges, tensors.
 * Every failure is a CleaveError; when the frame's `t` and `id` could be read they are in
 * `detail.t` / `detail.id`, so a server can fail that one stream and keep the connection.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { CleaveError } from '../errors.js';
import { canonicalFrame } from './canonical.js';
import { DEFAULT_LIMITS, FrameType, type ProtocolLimits } from './constants.js';
import { TensorExtensionCodec } from './extension-codec.js';
import type { Frame } from './frames.js';
import { headDetail, peekFrameHead, scanFrame } from './msgpack-scan.js';
import { maxTensorExtBytes } from './tensor-codec.js';
import { validateFrame } from './validate.js';

/** Options of FrameEncoder.encode. */
export interface EncodeOptions {
  /**
   * Send the float32 tensors of RUN inputs and PARTIAL/RESULT outputs as TENSOR_INT8: a quarter
   * of the payload bytes, absolute error at most scale/2 per element. Tensors of other dtypes,
   * and float32 tensors holding NaN or ±Infinity, still go as TENSOR. Default false.
   */
  readonly int8Floats?: boolean;
}

const CODEC = new TensorExtensionCodec();

/** Tensor payload at which a frame gets its own exactly sized buffer, bytes. */
const LARGE_FRAME_BYTES = 64 * 1024;
/** Room for the non-tensor fields and tensor headers of a large frame, bytes; more just grows the buffer. */
const LARGE_FRAME_SLACK = 16 * 1024;

/** Payload bytes the tensors of a frame will take on the wire (0 for frames without tensors). */
function tensorPayloadBytes(frame: Frame, int8Floats: boolean): number {
  const map = frame.t === FrameType.RUN ? frame.inputs : frame.t === FrameType.RESULT || frame.t === FrameType.PARTIAL ? frame.outputs : undefined;
  if (!map) return 0;
  let n = 0;
  for (const t of Object.values(map)) {
    const bytes = t.data.byteLength;
    n += int8Floats && t.dtype === 'float32' ? bytes / 4 : bytes;
  }
  return n;
}

/** Encodes frames; keeps one msgpack Encoder and its buffer (which grows to the largest frame). */
export class FrameEncoder {
  private readonly encoder = new Encoder({ extensionCodec: CODEC });

  /**
   * The frame's bytes: a fresh Uint8Array at byteOffset 0 of its own buffer, fields in canonical
   * order, each tensor payload 8-byte aligned from the start. Throws CLEAVE_E_BAD_ARGUMENT for a
   * missing required field, CLEAVE_E_SHAPE / CLEAVE_E_DTYPE for a tensor whose data does not
   * match its dims or dtype, CLEAVE_E_UNKNOWN_FRAME for an unknown `t`.
   */
  encode(frame: Frame, opts: EncodeOptions = {}): Uint8Array {
    const plain = canonicalFrame(frame, opts.int8Floats === true);
    try {
      const payload = tensorPayloadBytes(frame, opts.int8Floats === true);
      if (payload < LARGE_FRAME_BYTES) return this.encoder.encode(plain);
      // Large frames: a one-off Encoder sized for the frame, whose buffer we can hand out as is.
      // The shared encoder would need a final copy (its buffer is reused), and at 4 MB that copy
      // is a third of the encode time.
      const once = new Encoder({ extensionCodec: CODEC, initialBufferSize: payload + LARGE_FRAME_SLACK });
      return once.encodeSharedRef(plain);
    } catch (e) {
      if (e instanceof CleaveError) throw e;
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `cannot encode frame t=${frame.t}: ${e instanceof Error ? e.message : String(e)}`, { t: frame.t }, { cause: e });
    }
  }
}

/** Decodes frames under a set of limits (DEFAULT_LIMITS for any not given). */
export class FrameDecoder {
  readonly limits: ProtocolLimits;
  private readonly decoder: Decoder;

  /** Throws CLEAVE_E_BAD_ARGUMENT when a limit is not a positive integer. */
  constructor(limits: Partial<ProtocolLimits> = {}) {
    const merged: ProtocolLimits = { ...DEFAULT_LIMITS, ...limits };
    for (const [k, v] of Object.entries(merged)) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `protocol limit ${k} must be a positive integer, got ${String(v)}`, { limit: k });
    }
    this.limits = Object.freeze(merged);
    // The scan enforces the same limits with better messages; these are the library's own backstop.
    // The library applies maxBinLength to ext data as well, so it must admit the largest tensor ext.
    this.decoder = new Decoder({
      extensionCodec: CODEC,
      maxStrLength: merged.maxStringBytes,
      maxBinLength: maxTensorExtBytes(merged),
      maxArrayLength: merged.maxArrayLength,
      maxMapLength: merged.maxMapLength,
      maxExtLength: maxTensorExtBytes(merged),
      mapKeyConverter: stringKey,
    });
  }

  /**
   * The frame in `bytes`. Tensor data are views of `bytes` where alignment allows (see
   * decodeTensor), so keep `bytes` unchanged while the frame is in use. Throws CleaveError:
   * CLEAVE_E_TOO_LARGE (a limit; the message names it and the value), CLEAVE_E_PROTOCOL
   * (malformed msgpack, a missing or mistyped field), CLEAVE_E_UNKNOWN_FRAME (unknown `t`),
   * CLEAVE_E_SHAPE / CLEAVE_E_DTYPE (a tensor whose payload does not match its header).
   */
  decode(bytes: Uint8Array): Frame {
    const n = bytes.byteLength;
    const max = this.limits.maxFrameBytes;
    if (n > max) {
      throw new CleaveError('CLEAVE_E_TOO_LARGE', `frame of ${n} bytes exceeds maxFrameBytes (${max})`, { ...headDetail(peekFrameHead(bytes)), limit: 'maxFrameBytes', value: n, max });
    }
    const head = scanFrame(bytes, this.limits);
    let raw: unknown;
    try {
      raw = this.decoder.decode(bytes);
    } catch (e) {
      if (e instanceof CleaveError) throw new CleaveError(e.code, e.message, { ...e.detail, ...headDetail(head) }, { cause: e });
      throw new CleaveError('CLEAVE_E_PROTOCOL', `malformed msgpack: ${e instanceof Error ? e.message : String(e)}`, headDetail(head), { cause: e });
    }
    return validateFrame(raw, this.limits);
  }
}

function stringKey(key: unknown): string {
  if (typeof key === 'string') return key;
  throw new CleaveError('CLEAVE_E_PROTOCOL', `map keys must be strings, got ${typeof key}`);
}

const defaultEncoder = new FrameEncoder();
const defaultDecoder = new FrameDecoder();

/** Encodes with a shared default FrameEncoder; see FrameEncoder.encode. */
export function encodeFrame(frame: Frame, opts?: EncodeOptions): Uint8Array {
  return defaultEncoder.encode(frame, opts);
}

/** Decodes under DEFAULT_LIMITS with a shared default FrameDecoder; see FrameDecoder.decode. */
export function decodeFrame(bytes: Uint8Array): Frame {
  return defaultDecoder.decode(bytes);
}
