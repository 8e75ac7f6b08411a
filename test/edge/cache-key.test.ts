import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cacheKey, cacheKeyPrefix, webCryptoSha256, type CacheKeyParts, type Digest } from '../../edge/cache-key.js';
import { CleaveError } from '../../shared/errors.js';
import type { DType, NumericArray } from '../../shared/onnx/dtype.js';
import type { HostTensor } from '../../shared/tensor.js';

/** A synchronous digest, as node:crypto gives one. */
const nodeSha256: Digest = (bytes) => createHash('sha256').update(bytes).digest();

const t = (dtype: DType, dims: readonly number[], data: NumericArray): HostTensor => ({ dtype, dims, data });

function base(): CacheKeyParts {
  return {
    tenant: 'acme',
    model: 'resnet',
    version: 3,
    inputs: {
      image: t('float32', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6])),
      ids: t('int64', [2], BigInt64Array.from([7n, -8n])),
    },
  };
}

describe.each([
  ['webCryptoSha256', webCryptoSha256],
  ['node:crypto (synchronous)', nodeSha256],
] as const)('cacheKey with %s', (_name, digest) => {
  const key = (p: CacheKeyParts): Promise<string> => cacheKey(p, digest);

  it('is tenant/model/version/hex of a 256-bit digest', async () => {
    expect(await key(base())).toMatch(/^acme\/resnet\/3\/[0-9a-f]{64}$/);
  });

  it('does not depend on the order the inputs were inserted in', async () => {
    const b = base();
    const reversed: CacheKeyParts = { ...b, inputs: { ids: b.inputs['ids']!, image: b.inputs['image']! } };
    expect(await key(reversed)).toBe(await key(b));
  });

  it('changes when any single byte of a tensor changes', async () => {
    const k0 = await key(base());
    const b = base();
    const img = b.inputs['image']!;
    const bytes = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = bytes[i]! ^ 1;
      expect(await key(b)).not.toBe(k0);
      bytes[i] = bytes[i]! ^ 1;
    }
    expect(await key(b)).toBe(k0);
  });

  it('changes with the dtype even when the bytes are the same', async () => {
    const f = Float32Array.from([1.5, -2]);
    const asInt = new Int32Array(f.buffer);
    const k1 = await key({ ...base(), inputs: { x: t('float32', [2], f) } });
    const k2 = await key({ ...base(), inputs: { x: t('int32', [2], asInt) } });
    expect(k1).not.toBe(k2);
  });

  it('changes with the dims even when the bytes are the same', async () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const k1 = await key({ ...base(), inputs: { x: t('float32', [2, 3], data) } });
    const k2 = await key({ ...base(), inputs: { x: t('float32', [3, 2], data) } });
    const k3 = await key({ ...base(), inputs: { x: t('float32', [6], data) } });
    expect(new Set([k1, k2, k3]).size).toBe(3);
  });

  it('changes with tenant, model and version', async () => {
    const keys = await Promise.all([
      key(base()),
      key({ ...base(), tenant: 'globex' }),
      key({ ...base(), model: 'resnet2' }),
      key({ ...base(), version: 4 }),
    ]);
    expect(new Set(keys).size).toBe(4);
  });

  it('tells absent outputs, an empty list and a named list apart, whatever the list order', async () => {
    const none = await key(base());
    const empty = await key({ ...base(), outputs: [] });
    const a = await key({ ...base(), outputs: ['a'] });
    const ab = await key({ ...base(), outputs: ['a', 'b'] });
    const ba = await key({ ...base(), outputs: ['b', 'a'] });
    expect(new Set([none, empty, a, ab]).size).toBe(4);
    expect(ba).toBe(ab);
    expect(await key({ ...base(), outputs: ['a', 'a'] })).toBe(a);
  });

  it('hashes only the bytes of a view at a non-zero byteOffset', async () => {
    const own = Float32Array.from([1, 2, 3]);
    const backing = new Float32Array(8);
    backing.fill(99);
    backing.set(own, 2);
    const view = new Float32Array(backing.buffer, 8, 3);
    const k1 = await key({ ...base(), inputs: { x: t('float32', [3], own) } });
    const k2 = await key({ ...base(), inputs: { x: t('float32', [3], view) } });
    expect(k2).toBe(k1);
    backing[0] = -1;
    backing[7] = -1;
    expect(await key({ ...base(), inputs: { x: t('float32', [3], view) } })).toBe(k1);
  });

  it('keeps names apart that naive concatenation would join', async () => {
    const x = t('uint8', [1], Uint8Array.from([1]));
    const y = t('uint8', [1], Uint8Array.from([2]));
    const k1 = await key({ ...base(), inputs: { ab: x, c: y } });
    const k2 = await key({ ...base(), inputs: { a: x, bc: y } });
    expect(k1).not.toBe(k2);
    // Bytes that could slide from one tensor into the next under concatenation.
    const k3 = await key({ ...base(), inputs: { a: t('uint8', [2], Uint8Array.from([1, 2])), b: t('uint8', [1], Uint8Array.from([3])) } });
    const k4 = await key({ ...base(), inputs: { a: t('uint8', [1], Uint8Array.from([1])), b: t('uint8', [2], Uint8Array.from([2, 3])) } });
    expect(k3).not.toBe(k4);
    // The separator in the clear part does not decide uniqueness.
    const k5 = await key({ ...base(), tenant: 'a/b', model: 'c' });
    const k6 = await key({ ...base(), tenant: 'a', model: 'b/c' });
    expect(k5).not.toBe(k6);
    expect(k5.startsWith(cacheKeyPrefix('a/b', 'c', 3))).toBe(true);
    // A "/" in a tenant cannot make its keys look like another tenant's.
    expect(k5.startsWith(cacheKeyPrefix('a'))).toBe(false);
    expect(k6.startsWith(cacheKeyPrefix('a'))).toBe(true);
  });

  it('rejects a version that is not an integer', async () => {
    await expect(key({ ...base(), version: 1.5 })).rejects.toBeInstanceOf(CleaveError);
    await expect(key({ ...base(), version: 1.5 })).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
  });
});

describe('cacheKey digests', () => {
  it('gives the same key with Web Crypto and node:crypto', async () => {
    expect(await cacheKey(base(), webCryptoSha256)).toBe(await cacheKey(base(), nodeSha256));
  });

  it('hands the digest one buffer holding every tensor byte once', async () => {
    const big = new Uint8Array(1 << 20).fill(5);
    const seen: Uint8Array[] = [];
    await cacheKey({ ...base(), inputs: { x: t('uint8', [big.length], big) } }, (b) => {
      seen.push(b);
      return nodeSha256(b);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.byteLength).toBeGreaterThan(big.length);
    expect(seen[0]!.byteLength).toBeLessThan(big.length + 200);
  });
});
