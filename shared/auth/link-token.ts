/**
 * Rotating edge-to-cloud tokens. The edge mints a short-lived token from a secret it shares with
 * the cloud, fresh on every connect:
 *
 *   v1.<edgeId>.<expiresAtSec>.<base64url HMAC-SHA256(secret, "v1.<edgeId>.<expiresAtSec>")>
 *
 * The cloud verifies it against a LIST of secrets (the current one and the previous one), so the
 * secret itself can be rotated without downtime: the cloud accepts both, the edges move to the new
 * one, then the old one is dropped (docs/security.md). A token that leaks is good until it expires
 * (default 10 minutes), never longer than the verifier's maxLifetimeMs.
 *
 * The MAC check is split from the MAC computation (checkLinkToken takes the expected MACs) so a
 * verifier that must answer synchronously (the cloud's HELLO check, on node:crypto) applies the
 * very same rules as the WebCrypto path here. Runtime-neutral.
 */
import { CleaveError } from '../errors.js';
import { constantTimeEqual, fromBase64Url, hmacSha256, toBase64Url, utf8Bytes } from './encoding.js';

/** The version tag every token starts with. */
export const LINK_TOKEN_VERSION = 'v1';

/** Lifetime of a minted token, ms. Default 600000 (10 min). */
export const DEFAULT_LINK_TOKEN_LIFETIME_MS = 600_000;

/** Clock difference between edge and cloud a verifier tolerates, ms. Default 30000. */
export const DEFAULT_LINK_TOKEN_SKEW_MS = 30_000;

/** Longest lifetime a verifier accepts (expiry minus now), ms. Default 3600000 (1 h). */
export const DEFAULT_LINK_TOKEN_MAX_LIFETIME_MS = 3_600_000;

/** Fewest characters a link secret may have: 16 (use 32 random bytes, e.g. `openssl rand -base64 32`). */
export const MIN_LINK_SECRET_LENGTH = 16;

/** Edge ids: 1 to 64 of A-Z a-z 0-9 _ - (no '.', the token's separator). */
export const EDGE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Bytes of an HMAC-SHA256. */
const MAC_BYTES = 32;

/** A token split into its parts; nothing checked but the syntax. */
export interface ParsedLinkToken {
  readonly edgeId: string;
  /** Unix time, seconds. */
  readonly expiresAtSec: number;
  readonly mac: Uint8Array;
  /** What the MAC covers: `v1.<edgeId>.<expiresAtSec>`. */
  readonly message: string;
}

/** How a verifier judged a token. */
export type LinkTokenVerdict =
  | { readonly ok: true; readonly edgeId: string; readonly expiresAtSec: number; /** Which secret of the list signed it (0 = first). */ readonly secretIndex: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' | 'too-long-lived'; readonly message: string };

/** Verifier settings. */
export interface LinkTokenCheckOptions {
  /** Wall clock now, ms since the epoch. */
  readonly nowMs: number;
  /** Default DEFAULT_LINK_TOKEN_SKEW_MS. */
  readonly skewMs?: number;
  /** Default DEFAULT_LINK_TOKEN_MAX_LIFETIME_MS. */
  readonly maxLifetimeMs?: number;
}

/** The text a token's MAC covers. */
export function linkTokenMessage(edgeId: string, expiresAtSec: number): string {
  return `${LINK_TOKEN_VERSION}.${edgeId}.${expiresAtSec}`;
}

/** True when `token` has the shape of a link token (so a verifier need not try it as a static one). */
export function looksLikeLinkToken(token: string): boolean {
  return token.startsWith(`${LINK_TOKEN_VERSION}.`);
}

/** The parts of a well-formed token, or undefined. */
export function parseLinkToken(token: string): ParsedLinkToken | undefined {
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== LINK_TOKEN_VERSION) return undefined;
  const [, edgeId, exp, macText] = parts as [string, string, string, string];
  if (!EDGE_ID_PATTERN.test(edgeId) || !/^[1-9][0-9]{0,11}$/.test(exp)) return undefined;
  const mac = fromBase64Url(macText);
  if (!mac || mac.length !== MAC_BYTES) return undefined;
  const expiresAtSec = Number(exp);
  return { edgeId, expiresAtSec, mac, message: linkTokenMessage(edgeId, expiresAtSec) };
}

/**
 * Judges a parsed token given the MAC each accepted secret gives for its message (in the order of
 * the secret list). Every MAC is compared, whichever matches, so timing does not say which
 * secret signed it. Signature before expiry: an unsigned token learns nothing about the clock.
 */
export function checkLinkToken(parsed: ParsedLinkToken, expectedMacs: readonly Uint8Array[], opts: LinkTokenCheckOptions): LinkTokenVerdict {
  let secretIndex = -1;
  expectedMacs.forEach((m, i) => {
    if (constantTimeEqual(m, parsed.mac) && secretIndex < 0) secretIndex = i;
  });
  if (secretIndex < 0) return { ok: false, reason: 'bad-signature', message: `link token of edge "${parsed.edgeId}" is not signed by any accepted secret` };
  const skew = opts.skewMs ?? DEFAULT_LINK_TOKEN_SKEW_MS;
  const maxLifetime = opts.maxLifetimeMs ?? DEFAULT_LINK_TOKEN_MAX_LIFETIME_MS;
  const expMs = parsed.expiresAtSec * 1000;
  if (expMs + skew <= opts.nowMs) {
    return { ok: false, reason: 'expired', message: `link token of edge "${parsed.edgeId}" expired at ${new Date(expMs).toISOString()} (now ${new Date(opts.nowMs).toISOString()}, ${skew} ms skew allowed)` };
  }
  if (expMs - opts.nowMs > maxLifetime + skew) {
    return { ok: false, reason: 'too-long-lived', message: `link token of edge "${parsed.edgeId}" expires at ${new Date(expMs).toISOString()}, more than ${maxLifetime} ms from now; mint tokens with a shorter lifetime` };
  }
  return { ok: true, edgeId: parsed.edgeId, expiresAtSec: parsed.expiresAtSec, secretIndex };
}

/** Verifies a token against `secrets` (current first, then previous ones) with WebCrypto. */
export async function verifyLinkToken(token: string, secrets: readonly string[], opts: LinkTokenCheckOptions): Promise<LinkTokenVerdict> {
  const parsed = parseLinkToken(token);
  if (!parsed) return { ok: false, reason: 'malformed', message: `not a link token: expected ${LINK_TOKEN_VERSION}.<edgeId>.<expiresAtSec>.<base64url mac>` };
  const data = utf8Bytes(parsed.message);
  const macs = await Promise.all(secrets.map((s) => hmacSha256(utf8Bytes(s), data)));
  return checkLinkToken(parsed, macs, opts);
}

/** What minting a token takes. */
export interface MintLinkTokenOptions {
  /** The shared secret, at least MIN_LINK_SECRET_LENGTH characters. */
  readonly secret: string;
  /** Who the token speaks for; matches EDGE_ID_PATTERN. */
  readonly edgeId: string;
  /** Wall clock now, ms since the epoch. */
  readonly nowMs: number;
  /** Default DEFAULT_LINK_TOKEN_LIFETIME_MS. */
  readonly lifetimeMs?: number;
}

/** Mints a token. Throws CLEAVE_E_BAD_ARGUMENT for a short secret, a bad edge id or lifetime. */
export async function mintLinkToken(opts: MintLinkTokenOptions): Promise<string> {
  checkLinkSecret(opts.secret, 'secret');
  if (!EDGE_ID_PATTERN.test(opts.edgeId)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `edge id ${JSON.stringify(opts.edgeId.slice(0, 80))} must be 1 to 64 characters of A-Z a-z 0-9 _ -`, { field: 'edgeId' });
  }
  const lifetimeMs = opts.lifetimeMs ?? DEFAULT_LINK_TOKEN_LIFETIME_MS;
  if (!(lifetimeMs >= 1000) || !Number.isFinite(lifetimeMs)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `link token lifetime ${lifetimeMs} ms is not valid; expected a finite number of ms >= 1000`, { field: 'lifetimeMs' });
  }
  const expiresAtSec = Math.floor((opts.nowMs + lifetimeMs) / 1000);
  const message = linkTokenMessage(opts.edgeId, expiresAtSec);
  return `${message}.${toBase64Url(await hmacSha256(utf8Bytes(opts.secret), utf8Bytes(message)))}`;
}

/**
 * A token provider for the cloud link (edge/cloud-link.ts `tokenProvider`): a fresh token per
 * call, so every connect and reconnect presents one that has just been minted.
 */
export function linkTokenProvider(opts: Omit<MintLinkTokenOptions, 'nowMs'> & { readonly wallClock: { now(): number } }): () => Promise<string> {
  checkLinkSecret(opts.secret, 'secret');
  return () => mintLinkToken({ secret: opts.secret, edgeId: opts.edgeId, nowMs: opts.wallClock.now(), ...(opts.lifetimeMs !== undefined ? { lifetimeMs: opts.lifetimeMs } : {}) });
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless `secret` is long enough; `name` is the setting it came from. */
export function checkLinkSecret(secret: string, name: string): void {
  if (secret.length < MIN_LINK_SECRET_LENGTH) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${name} has ${secret.length} characters; a link secret needs at least ${MIN_LINK_SECRET_LENGTH} (32 random bytes in base64 are 44)`, { field: name });
  }
}
