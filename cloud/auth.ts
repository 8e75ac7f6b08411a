/**
 * Token checks for edges and trusted services. Tokens are compared as SHA-256 digests with
 * crypto.timingSafeEqual: equal-length digests make the compare constant-time whatever the
 * lengths of the guess and the secret, so neither the token nor its length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Checks presented tokens against the configured set (a shared token, or one per edge). */
export class TokenAuth {
  private readonly digests: Buffer[];

  /** `tokens`: accepted tokens; empty means no authentication is required. */
  constructor(tokens: readonly string[]) {
    this.digests = tokens.filter((t) => t.length > 0).map(digest);
  }

  /** True when a token is required. */
  get required(): boolean {
    return this.digests.length > 0;
  }

  /** True when `token` is one of the accepted tokens. Compares against every one, so timing does not tell which. */
  check(token: string | undefined): boolean {
    if (!this.required) return true;
    if (token === undefined) return false;
    const d = digest(token);
    let ok = false;
    for (const x of this.digests) ok = timingSafeEqual(d, x) || ok;
    return ok;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
