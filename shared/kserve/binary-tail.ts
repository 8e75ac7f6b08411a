/**
 * The binary part of a v2 body (Triton's binary tensor data extension): after the JSON header
 * come the raw tensors, little-endian, row-major, unpadded, one after another in the order the
 * JSON lists them. A reader walks it with a running offset and insists it is used up exactly,
 * since bytes left over or missing mean the header and the tail disagree.
 */
import { CleaveError } from '../errors.js';
import { dtypeSize } from '../onnx/dtype.js';
import type { HostTensor } from '../tensor.js';

/** Reads consecutive tensor payloads from the bytes after the JSON header. */
export class BinaryTail {
  #offset = 0;

  /** `bytes`: the tail, from the first byte after the JSON header to the end of the body. */
  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes not yet taken. */
  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  /**
   * The next `n` bytes as a fresh copy: typed arrays need an aligned buffer, and a copy lets the
   * body be collected while the tensor lives. CLEAVE_E_PROTOCOL when fewer than `n` remain.
   */
  take(n: number, what: string): Uint8Array {
    if (n > this.remaining) {
      throw new CleaveError(
        'CLEAVE_E_PROTOCOL',
        `${what} needs ${n} bytes of binary data at tail offset ${this.#offset}, only ${this.remaining} remain`,
        { offset: this.#offset, needed: n, remaining: this.remaining },
      );
    }
    // Uint8Array's own slice: a Node Buffer's slice() would return a view, not a copy.
    const out = Uint8Array.prototype.slice.call(this.bytes, this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** CLEAVE_E_PROTOCOL when bytes are left over after the last binary tensor. */
  finish(what: string): void {
    if (this.remaining !== 0) {
      throw new CleaveError(
        'CLEAVE_E_PROTOCOL',
        `binary data has ${this.remaining} bytes left over after the last binary ${what} (used ${this.#offset} of ${this.bytes.length})`,
        { leftover: this.remaining },
      );
    }
  }
}

/**
 * A tensor's payload as little-endian bytes (hosts are little-endian, as in shared/onnx/dtype.ts).
 * A view when possible; bool is copied and normalised to 0/1, as the extension requires.
 * CLEAVE_E_SHAPE when the data's byte length does not fit dims x dtype (checkTensorBytes).
 */
export function tensorPayload(t: HostTensor, what: string): Uint8Array {
  checkTensorBytes(t, what);
  const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (t.dtype !== 'bool') return view;
  const out = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i++) out[i] = view[i] ? 1 : 0;
  return out;
}

/**
 * Checks that a tensor's data holds exactly dims x dtype bytes (a Float64Array under a float32
 * dtype, or a short array, would otherwise be written wrong). CLEAVE_E_SHAPE when it does not.
 */
export function checkTensorBytes(t: HostTensor, what: string): void {
  let count = 1;
  for (const d of t.dims) count *= d;
  const bytes = count * dtypeSize(t.dtype);
  if (t.data.byteLength !== bytes) {
    throw new CleaveError(
      'CLEAVE_E_SHAPE',
      `${what}: ${t.dtype} tensor of shape [${t.dims.join(',')}] needs ${bytes} bytes, its data has ${t.data.byteLength}`,
      { dims: [...t.dims] },
    );
  }
}
