/**
 * Presented API key -> tenant. The key id (in clear inside the key) finds the one stored digest;
 * the SHA-256 of the presented key is compared with it in constant time. An unknown id and a
 * wrong secret get the same answer, so probing does not tell which key ids exist. Runtime-neutral.
 */
import { constantTimeEqual } from '../../shared/auth/encoding.js';
import { CleaveError } from '../../shared/errors.js';
import type { Clock } from '../../shared/time.js';
import { webCryptoSha256, type Digest } from '../cache-key.js';
import { apiKeyId } from './api-key.js';
import type { KeyFile, KeyRecord, Scope, TenantRecord } from './key-file.js';

/** Who a request comes from, once its key is verified. */
export interface Principal {
  readonly tenant: string;
  readonly keyId: string;
  readonly scopes: readonly Scope[];
}

/** The header clients may use instead of `Authorization: Bearer`. */
export const API_KEY_HEADER = 'x-api-key';

/** A digest compared against when the key id is unknown, so both paths hash and compare. */
const DECOY = new Uint8Array(32);

export class KeyRegistry {
  private readonly keys = new Map<string, { key: KeyRecord; tenant: TenantRecord }>();
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly digest: Digest;

  /** `wallClock`: ms since the epoch, for key expiry. */
  constructor(file: KeyFile, private readonly wallClock: Clock, digest: Digest = webCryptoSha256) {
    this.digest = digest;
    for (const t of file.tenants) {
      this.tenants.set(t.id, t);
      for (const k of t.keys) this.keys.set(k.id, { key: k, tenant: t });
    }
  }

  /** The tenant record by id. */
  tenant(id: string): TenantRecord | undefined {
    return this.tenants.get(id);
  }

  /** Every tenant, in file order. */
  list(): readonly TenantRecord[] {
    return [...this.tenants.values()];
  }

  /**
   * The principal of a presented key. Throws CLEAVE_E_UNAUTHORIZED when it is missing, malformed,
   * unknown, wrong or expired; the message never quotes the secret.
   */
  async verify(presented: string | undefined): Promise<Principal> {
    if (presented === undefined || presented === '') {
      throw new CleaveError('CLEAVE_E_UNAUTHORIZED', `an API key is required: send "Authorization: Bearer ck_<id>_<secret>" or "${API_KEY_HEADER}: ck_<id>_<secret>"`, { reason: 'missing' });
    }
    const id = apiKeyId(presented);
    if (id === undefined) {
      throw new CleaveError('CLEAVE_E_UNAUTHORIZED', 'the API key is malformed: expected ck_<id>_<secret> (see docs/security.md)', { reason: 'malformed' });
    }
    const found = this.keys.get(id);
    const d = await this.digest(new TextEncoder().encode(presented));
    const ok = constantTimeEqual(d, found?.key.sha256 ?? DECOY) && found !== undefined;
    if (!ok || !found) {
      throw new CleaveError('CLEAVE_E_UNAUTHORIZED', `the API key with id ${JSON.stringify(id)} is not valid (unknown id or wrong secret)`, { reason: 'invalid', keyId: id });
    }
    const exp = found.key.expiresAtMs;
    if (exp !== undefined && this.wallClock.now() >= exp) {
      throw new CleaveError('CLEAVE_E_UNAUTHORIZED', `the API key with id ${JSON.stringify(id)} expired at ${new Date(exp).toISOString()}; mint a new one`, { reason: 'expired', keyId: id });
    }
    return { tenant: found.tenant.id, keyId: id, scopes: found.key.scopes };
  }
}

/** The key a request presents: `Authorization: Bearer <key>`, else `x-api-key`. */
export function presentedKey(header: (name: string) => string | undefined): string | undefined {
  const auth = header('authorization');
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const k = header(API_KEY_HEADER);
  return k === undefined ? undefined : k.trim();
}
