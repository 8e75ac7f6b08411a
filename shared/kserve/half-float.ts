/**
 * IEEE half (FP16) and bfloat16 (BF16) bit patterns to and from JS numbers. Cleave keeps both
 * as raw Uint16Array bits (as onnxruntime does); JSON bodies carry them as plain numbers, so the
 * codec converts at its edge. Conversion from a double rounds once, to nearest, ties to even,
 * straight to the 16-bit format (no double rounding through float32).
 */

interface MiniFloat {
  readonly manBits: number;
  readonly bias: number;
  /** Bits of +Infinity. */
  readonly inf: number;
  /** Bits of the canonical quiet NaN. */
  readonly nan: number;
  readonly sign: number;
}

function format(expBits: number, manBits: number): MiniFloat {
  const inf = ((1 << expBits) - 1) << manBits;
  return { manBits, bias: (1 << (expBits - 1)) - 1, inf, nan: inf | (1 << (manBits - 1)), sign: 1 << (expBits + manBits) };
}

const FP16 = format(5, 10);
const BF16 = format(8, 7);

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // Math.round sends ties up; pull odd results of a tie back to even. v >= 0 here.
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function encode(f: MiniFloat, x: number): number {
  if (Number.isNaN(x)) return f.nan;
  const sign = x < 0 || Object.is(x, -0) ? f.sign : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | f.inf;
  const emin = 1 - f.bias;
  const one = 2 ** f.manBits;
  if (a < 2 ** emin) {
    // Subnormal: a whole number of the smallest steps; a carry to `one` is the smallest normal.
    return sign | roundHalfEven(a * 2 ** (f.manBits - emin));
  }
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two; settle e so that 2^e <= a < 2^(e+1).
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e) * one) - one;
  if (m === one) {
    e++;
    m = 0;
  }
  if (e > f.bias) return sign | f.inf;
  return sign | ((e + f.bias) << f.manBits) | m;
}

function decode(f: MiniFloat, bits: number): number {
  const sign = bits & f.sign ? -1 : 1;
  const exp = (bits & f.inf) >>> f.manBits;
  const man = bits & ((1 << f.manBits) - 1);
  if (exp === f.inf >>> f.manBits) return man === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * man * 2 ** (1 - f.bias - f.manBits);
  return sign * (2 ** f.manBits + man) * 2 ** (exp - f.bias - f.manBits);
}

/** FP16 bits (0..0xffff) of `x`, rounded to nearest even; overflow gives ±Infinity, NaN gives 0x7e00. */
export function toFloat16Bits(x: number): number {
  return encode(FP16, x);
}

/** The number an FP16 bit pattern holds. */
export function fromFloat16Bits(bits: number): number {
  return decode(FP16, bits);
}

/** BF16 bits (0..0xffff) of `x`, rounded to nearest even; overflow gives ±Infinity, NaN gives 0x7fc0. */
export function toBFloat16Bits(x: number): number {
  return encode(BF16, x);
}

/** The number a BF16 bit pattern holds. */
export function fromBFloat16Bits(bits: number): number {
  return decode(BF16, bits);
}
