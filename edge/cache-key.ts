/**
 * Result-cache keys: a digest over one canonical byte serialization of a request, so two requests
 * get the same key exactly when they ask the same model version for the same outputs of the same
 * tensors. Runtime-neutral (no Node imports): the default digest is Web Crypto, present in Node 20,
 * workerd and browsers.
 *
 * The serialization (v1) is, with u32/f64 little-endian and str = u32 UTF-8 byte length + bytes:
 *
 *   str("cleave.result-key.v1") str(tenant) str(model) f64(version)
 *   u32(input count), then per input in name order:
 *     str(name) str(dtype) u32(rank) f64(dim)×rank f64(byte length) raw bytes
 *   u8(0) when outputs are absent ("all outputs"), or
 *   u8(1) u32(count) str(name)× in name order, duplicates dropped
 *
 * Every variable-length field is length-prefixed, so no two different requests share a
 * serialization however their names or bytes line up; the tag lets a later format never collide
 * with this one.
 */
import { CleaveError } from '../shared/errors.js';
import type { TensorMap } from '../shared/protocol/frames.js';

/** A hash function: synchronous (node:crypto) or asynchronous (Web Crypto) alike. */
export type Digest = (bytes: Uint8Array) => Promise<Uint8Array> | Uint8Array;

/** SHA-256 through `crypto.subtle` (Web Crypto): the runtime-neutral default. */
export const webCryptoSha256: Digest = async (bytes) =>
  new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));

/** What identifies one cacheable inference request. */
export interface CacheKeyParts {
  /** Whose request: results are never shared across tenants. */
  tenant: string;
  model: string;
  /** Resolved model version (a safe integer), not "latest". */
  version: number;
  /** Requested output names; absent = all outputs, which is not the same as an empty list. */
  outputs?: readonly string[];
  inputs: TensorMap;
}

const FORMAT_TAG = 'cleave.result-key.v1';
const utf8 = new TextEncoder();

/**
 * The key of a request: `${tenant}/${model}/${version}/${hex digest}`. Tenant and model stand in
 * clear (URI-component encoded, so a "/" inside them cannot fake another prefix) to allow
 * invalidation by prefix; uniqueness rests on the digest alone, which covers them too.
 */
export async function cacheKey(parts: CacheKeyParts, digest: Digest): Promise<string> {
  const { tenant, model, version, outputs, inputs } = parts;
  if (!Number.isSafeInteger(version)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model "${model}" version is ${version}, expected an integer`, { model });
  }
  const hash = await digest(serialize(inputs, tenant, model, version, outputs));
  return `${cacheKeyPrefix(tenant, model, version)}${toHex(hash)}`;
}

/**
 * The leading part of every key for a tenant, optionally narrowed to a model and a version,
 * ending in "/": keys that start with it belong to exactly that tenant (model, version).
 */
export function cacheKeyPrefix(tenant: string, model?: string, version?: number): string {
  let p = `${encodeURIComponent(tenant)}/`;
  if (model !== undefined) {
    p += `${encodeURIComponent(model)}/`;
    if (version !== undefined) p += `${version}/`;
  }
  return p;
}

/** The canonical bytes, written into one buffer sized up front: inputs can be megabytes. */
function serialize(inputs: TensorMap, tenant: string, model: string, version: number, outputs: readonly string[] | undefined): Uint8Array {
  // Strings are encoded first (they are short) so the single big allocation can be sized exactly.
  const tag = utf8.encode(FORMAT_TAG);
  const tenantBytes = utf8.encode(tenant);
  const modelBytes = utf8.encode(model);
  const names = Object.keys(inputs).sort();
  const entries = names.map((name) => {
    const t = inputs[name];
    if (t === undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `input "${name}" is undefined`, { name });
    return {
      name: utf8.encode(name),
      dtype: utf8.encode(t.dtype),
      dims: t.dims,
      // Exactly the view's bytes: a tensor may be a window into a larger buffer.
      bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    };
  });
  const outNames = outputs === undefined ? undefined : [...new Set(outputs)].sort().map((n) => utf8.encode(n));

  let size = 4 + tag.length + 4 + tenantBytes.length + 4 + modelBytes.length + 8 + 4;
  for (const e of entries) size += 4 + e.name.length + 4 + e.dtype.length + 4 + 8 * e.dims.length + 8 + e.bytes.length;
  size += 1;
  if (outNames !== undefined) {
    size += 4;
    for (const n of outNames) size += 4 + n.length;
  }

  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  const u32 = (n: number): void => {
    view.setUint32(pos, n, true);
    pos += 4;
  };
  const f64 = (n: number): void => {
    view.setFloat64(pos, n, true);
    pos += 8;
  };
  const raw = (b: Uint8Array): void => {
    out.set(b, pos);
    pos += b.length;
  };
  const str = (b: Uint8Array): void => {
    u32(b.length);
    raw(b);
  };

  str(tag);
  str(tenantBytes);
  str(modelBytes);
  f64(version);
  u32(entries.length);
  for (const e of entries) {
    str(e.name);
    str(e.dtype);
    u32(e.dims.length);
    for (const d of e.dims) f64(d);
    f64(e.bytes.length);
    raw(e.bytes);
  }
  if (outNames === undefined) {
    out[pos++] = 0;
  } else {
    out[pos++] = 1;
    u32(outNames.length);
    for (const n of outNames) str(n);
  }
  if (pos !== size) throw new CleaveError('CLEAVE_E_INTERNAL', `cache key serialization wrote ${pos} bytes, sized ${size}`);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b] ?? '';
  return s;
}
