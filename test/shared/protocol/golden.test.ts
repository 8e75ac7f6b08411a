// Golden wire fixtures: the exact bytes of one frame of each type (and an int8 tensor), as hex
// under fixtures/. Any change to the encoding shows up here as a diff. Regenerate deliberately
// with `UPDATE_GOLDEN=1 npx vitest run test/shared/protocol/golden.test.ts` and review it.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeFrame, dequantizeInt8, encodeFrame, quantizeInt8, type EncodeOptions, type Frame } from '../../../shared/protocol/index.js';
import { RUN_INT8, SAMPLE_LIST } from './samples.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Lowercase hex, 64 characters (32 bytes) per line. */
function toHex(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.match(/.{1,64}/g)?.join('\n') ?? ''}\n`;
}

/** Bytes of a fixture; whitespace (the line wrapping) is ignored. */
function fromHex(text: string): Uint8Array {
  const hex = text.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error('fixture is not hex');
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function fixture(name: string, bytes: Uint8Array): Uint8Array {
  const url = new URL(`./fixtures/${name}.hex`, import.meta.url);
  if (UPDATE) writeFileSync(url, toHex(bytes));
  return fromHex(readFileSync(url, 'utf8'));
}

const int8Expected: Frame = { ...RUN_INT8, inputs: { features: dequantizeInt8(quantizeInt8(RUN_INT8.inputs.features!)) } };

const CASES: [name: string, frame: Frame, expected: Frame, opts: EncodeOptions][] = [
  ...SAMPLE_LIST.map(([name, f]): [string, Frame, Frame, EncodeOptions] => [name, f, f, {}]),
  ['run-int8', RUN_INT8, int8Expected, { int8Floats: true }],
];

describe('golden fixtures', () => {
  it('has one fixture per frame type plus the int8 tensor', () => {
    expect(CASES.map(([n]) => n)).toEqual([
      'hello', 'welcome', 'run', 'partial', 'result', 'error', 'cancel', 'ping', 'pong', 'credit', 'load', 'goaway', 'run-int8',
    ]);
  });

  for (const [name, frame, expected, opts] of CASES) {
    it(`${name}: encodes to the fixture's bytes and decodes back to the frame`, () => {
      const bytes = encodeFrame(frame, opts);
      const golden = fixture(name, bytes);
      expect(toHex(bytes)).toBe(toHex(golden));
      expect(decodeFrame(golden)).toEqual(expected);
    });
  }

  it('starts every frame with its type: a map whose first key is "t"', () => {
    for (const [name, frame, , opts] of CASES) {
      const bytes = encodeFrame(frame, opts);
      expect(bytes[0]! & 0xf0, name).toBe(0x80);
      expect([bytes[1], bytes[2], bytes[3]], name).toEqual([0xa1, 0x74, frame.t]);
    }
  });
});
