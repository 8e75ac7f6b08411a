/**
 * Token checks for edges and trusted services. Two kinds of token are accepted:
 *
 * - static tokens (`tokens`), compared as SHA-256 digests with crypto.timingSafeEqual: equal-length
 *   digests make the compare constant-time whatever the lengths of the guess and the secret, so
 *   neither the token nor its length leaks through timing;
 * - rotating link tokens (`linkSecrets`), `v1.<edgeId>.<expiresAtSec>.<mac>` minted by edges from
 *   a shared secret (shared/auth/link-token.ts), checked against every listed secret so the secret
 *   can be rotated without downtime, with expiry and a small clock-skew allowance.
 *
 * The MAC is computed with node:crypto so the check stays synchronous (the protocol session asks
 * for HELLO tokens synchronously); the rules are shared/auth/link-token.ts's checkLinkToken.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { checkLinkSecret, checkLinkToken, looksLikeLinkToken, parseLinkToken, type LinkTokenVerdict } from '../shared/auth/link-token.js';
import type { Clock } from '../shared/time.js';

/** Link-token settings. */
export interface TokenAuthOptions {
  /** Secrets edges mint link tokens from, current first; none = link tokens are not accepted. */
  readonly linkSecrets?: readonly string[];
  /** Wall clock, ms since the epoch, for token expiry. Default Date.now. */
  readonly wallClock?: Clock;
  /** Clock difference tolerated, ms. Default 30000 (shared/auth/link-token.ts). */
  readonly skewMs?: number;
  /** Longest token lifetime accepted, ms. Default 3600000. */
  readonly maxLifetimeMs?: number;
}

/** How a presented token was judged. */
export type TokenVerdict =
  | { readonly ok: true; readonly kind: 'none' | 'static' }
  | { readonly ok: true; readonly kind: 'link'; readonly edgeId: string; readonly secretIndex: number }
  | { readonly ok: false; readonly reason: 'missing' | 'invalid' | Exclude<LinkTokenVerdict, { ok: true }>['reason']; readonly message: string };

/** Checks presented tokens against the configured set (a shared token, one per edge, and link secrets). */
export class TokenAuth {
  private readonly digests: Buffer[];
  private readonly linkSecrets: readonly Buffer[];
  private readonly wallClock: Clock;

  /** `tokens`: accepted static tokens; with no tokens and no link secrets no authentication is required. */
  constructor(tokens: readonly string[], private readonly opts: TokenAuthOptions = {}) {
    this.digests = tokens.filter((t) => t.length > 0).map(digest);
    const secrets = (opts.linkSecrets ?? []).filter((s) => s.length > 0);
    secrets.forEach((s, i) => checkLinkSecret(s, `linkSecrets entry ${i + 1}`));
    this.linkSecrets = secrets.map((s) => Buffer.from(s, 'utf8'));
    this.wallClock = opts.wallClock ?? { now: () => Date.now() };
  }

  /** True when a token is required. */
  get required(): boolean {
    return this.digests.length > 0 || this.linkSecrets.length > 0;
  }

  /** True when `token` is accepted. */
  check(token: string | undefined): boolean {
    return this.verify(token).ok;
  }

  /**
   * Judges a token. Static tokens are compared against every one, so timing does not tell which;
   * a token shaped like a link token that is also a configured static token is accepted as static.
   */
  verify(token: string | undefined): TokenVerdict {
    if (!this.required) return { ok: true, kind: 'none' };
    if (token === undefined) return { ok: false, reason: 'missing', message: 'a token is required' };
    const d = digest(token);
    let ok = false;
    for (const x of this.digests) ok = timingSafeEqual(d, x) || ok;
    if (ok) return { ok: true, kind: 'static' };
    if (this.linkSecrets.length > 0 && looksLikeLinkToken(token)) {
      const parsed = parseLinkToken(token);
      if (!parsed) return { ok: false, reason: 'malformed', message: 'the link token is malformed: expected v1.<edgeId>.<expiresAtSec>.<base64url mac>' };
      const macs = this.linkSecrets.map((k) => new Uint8Array(createHmac('sha256', k).update(parsed.message, 'utf8').digest()));
      const v = checkLinkToken(parsed, macs, {
        nowMs: this.wallClock.now(),
        ...(this.opts.skewMs !== undefined ? { skewMs: this.opts.skewMs } : {}),
        ...(this.opts.maxLifetimeMs !== undefined ? { maxLifetimeMs: this.opts.maxLifetimeMs } : {}),
      });
      return v.ok ? { ok: true, kind: 'link', edgeId: v.edgeId, secretIndex: v.secretIndex } : v;
    }
    return { ok: false, reason: 'invalid', message: 'the token is not valid' };
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
