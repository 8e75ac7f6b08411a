import { describe, expect, it } from 'vitest';
import { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from '../../../shared/kserve/half-float.js';

describe('FP16 and BF16 bits', () => {
  it('every FP16 pattern survives bits -> number -> bits (NaNs become the quiet NaN)', () => {
    const wrong: number[] = [];
    for (let b = 0; b < 0x10000; b++) {
      const v = fromFloat16Bits(b);
      if (toFloat16Bits(v) !== (Number.isNaN(v) ? 0x7e00 : b)) wrong.push(b);
    }
    expect(wrong).toEqual([]);
  });

  it('BF16 is the top half of a float32, and every pattern round-trips', () => {
    const u32 = new Uint32Array(1);
    const f32 = new Float32Array(u32.buffer);
    const wrong: number[] = [];
    for (let b = 0; b < 0x10000; b++) {
      u32[0] = b << 16;
      const v = fromBFloat16Bits(b);
      const decoded = Number.isNaN(v) ? Number.isNaN(f32[0]) : Object.is(v, f32[0]);
      if (!decoded || toBFloat16Bits(v) !== (Number.isNaN(v) ? 0x7fc0 : b)) wrong.push(b);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest, ties to even, and overflows to infinity', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, 0x3c00 is even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, rounds up to even
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65519.99)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00);
    expect(toFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie to even zero
    expect(toBFloat16Bits(1 / 3)).toBe(0x3eab);
    expect(toBFloat16Bits(3.4e38)).toBe(0x7f80);
    expect(toBFloat16Bits(NaN)).toBe(0x7fc0);
  });
});
