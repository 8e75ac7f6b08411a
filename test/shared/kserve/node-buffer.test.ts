/**
 * Bodies often arrive as Node Buffers at a non-zero offset of a larger allocation, and
 * Buffer.prototype.slice returns a view instead of a copy. The binary tail must still read each
 * tensor's own bytes.
 */
import { describe, expect, it } from 'vitest';
import { parseInferRequest } from '../../../shared/kserve/index.js';

describe('KServe binary bodies in Node Buffers', () => {
  it('reads binary tensors from a Buffer at an unaligned offset of a larger buffer', () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => i / 8);
    const json = new TextEncoder().encode(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', parameters: { binary_data_size: 256 } }] }));
    const slab = Buffer.alloc(3 + json.length + 256 + 5, 0xee);
    slab.set(json, 3);
    slab.set(new Uint8Array(values.buffer), 3 + json.length);
    const body = slab.subarray(3, 3 + json.length + 256);
    const req = parseInferRequest(body, { headerLength: json.length });
    expect(Array.from(req.inputs.x!.data as Float32Array)).toEqual(Array.from(values));
  });
});
