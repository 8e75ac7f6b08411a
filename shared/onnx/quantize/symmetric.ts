/**
 * Symmetric linear quantization of a weight tensor, per tensor or per channel:
 * `w ≈ scale[c] * (q - zeroPoint)`, with `scale[c] = max|w[c]| / qmax` and `zeroPoint` at the
 * middle of the integer range. Symmetric keeps zero exact and lets integer kernels skip the
 * weight zero-point correction; per channel keeps small-range channels from being crushed by
 * one large channel.
 */

/** The integer grid weights are mapped onto. */
export interface IntGrid {
  /** Storage type of the quantized values. */
  readonly type: 'int8' | 'uint8';
  /**
   * Largest level used on each side of zero: 127 uses the full int8 range minus -128 (so the
   * grid is symmetric). Smaller values trade precision for kernel headroom.
   */
  readonly qmax: number;
}

/** The default grid: int8 in [-127, 127], zero point 0. */
export const INT8_SYMMETRIC: IntGrid = Object.freeze({ type: 'int8', qmax: 127 });

export interface SymmetricQuantized {
  /** Quantized values, same layout as the input. */
  readonly values: Int8Array | Uint8Array;
  /** One float32 scale per channel (length 1 per tensor). */
  readonly scales: Float32Array;
  /** The zero point every channel shares: 0 for int8, 128 for uint8. */
  readonly zeroPoint: number;
}

/** Rounds half to even, as ONNX QuantizeLinear does, so results match a runtime's own quantizer. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantizes `w` (row-major with shape `dims`) along `axis`, or per tensor when axis is
 * undefined. A channel of all zeros gets scale 1 rather than 0, which DequantizeLinear accepts
 * and which maps back to zeros exactly. Values must be finite (see `allFinite`).
 */
export function quantizeSymmetric(w: Float32Array, dims: readonly number[], axis: number | undefined, grid: IntGrid = INT8_SYMMETRIC): SymmetricQuantized {
  const channels = axis === undefined ? 1 : dims[axis] ?? 1;
  let inner = 1;
  if (axis !== undefined) for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  const channelOf = (i: number): number => (axis === undefined ? 0 : Math.floor(i / inner) % channels);

  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(w[i]!);
    if (a > maxAbs[c]!) maxAbs[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = maxAbs[c]! > 0 ? maxAbs[c]! / grid.qmax : 1;

  const zeroPoint = grid.type === 'int8' ? 0 : 128;
  const values = grid.type === 'int8' ? new Int8Array(w.length) : new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    // Divide by the float32 scale that is stored, so dequantizing gives the nearest grid point.
    const q = roundHalfEven(w[i]! / scales[channelOf(i)]!);
    values[i] = Math.max(-grid.qmax, Math.min(grid.qmax, q)) + zeroPoint;
  }
  return { values, scales, zeroPoint };
}

/** True when no element is NaN or infinite (such weights cannot get a finite scale). */
export function allFinite(w: Float32Array): boolean {
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) return false;
  return true;
}
