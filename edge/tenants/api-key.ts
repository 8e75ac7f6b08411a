/**
 * Tenant API keys: `ck_<keyId>_<secret>`, the secret 32 random bytes in base64url. Only the
 * SHA-256 of the whole key is kept at rest (the key file's `sha256`); the key id in clear lets the
 * edge find the one digest to compare against, instead of hashing against every tenant. A plain
 * SHA-256 (no slow KDF) is enough because the secret is 256 random bits, not a password.
 * Runtime-neutral: randomness and the digest are injected.
 */
import { CleaveError } from '../../shared/errors.js';
import { toBase64Url, toHex } from '../../shared/auth/encoding.js';
import type { RandomBytes } from '../../shared/trace.js';
import { webCryptoSha256, type Digest } from '../cache-key.js';

/** Every key starts with this, so leaked keys are easy to grep for. */
export const API_KEY_PREFIX = 'ck_';

/** Key ids: 1 to 64 of A-Z a-z 0-9 - (no '_', the key's separator). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** Random bytes in a minted key's secret: 32 (256 bits). */
export const API_KEY_SECRET_BYTES = 32;

/** A presented key's parts. The secret stays in the key; only its digest is ever compared. */
const KEY_RE = /^ck_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{16,256})$/;

/** The key id of a well-formed key, or undefined. */
export function apiKeyId(key: string): string | undefined {
  return KEY_RE.exec(key)?.[1];
}

/** A freshly minted key: hand `key` to the tenant once, store `id` and `sha256` in the key file. */
export interface MintedApiKey {
  /** The key itself, `ck_<id>_<secret>`: shown once, never stored. */
  readonly key: string;
  readonly id: string;
  /** Lowercase hex SHA-256 of `key`, for the key file. */
  readonly sha256: string;
}

/**
 * Mints a key. `id` defaults to 12 random hex characters. For `cleave keys create` (the CLI wires
 * it): print `key` once, and the `{ id, sha256, scopes }` entry for the key file.
 */
export async function createApiKey(opts: { readonly random: RandomBytes; readonly id?: string; readonly digest?: Digest }): Promise<MintedApiKey> {
  const id = opts.id ?? toHex(opts.random(6));
  if (!KEY_ID_PATTERN.test(id)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `key id ${JSON.stringify(id.slice(0, 80))} must be 1 to 64 characters of A-Z a-z 0-9 -`, { field: 'id' });
  }
  const key = `${API_KEY_PREFIX}${id}_${toBase64Url(opts.random(API_KEY_SECRET_BYTES))}`;
  return { key, id, sha256: await apiKeyDigestHex(key, opts.digest) };
}

/** Lowercase hex SHA-256 of a key's UTF-8 bytes (what the key file stores). */
export async function apiKeyDigestHex(key: string, digest: Digest = webCryptoSha256): Promise<string> {
  return toHex(await digest(new TextEncoder().encode(key)));
}
