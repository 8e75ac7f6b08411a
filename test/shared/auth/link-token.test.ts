// Rotating edge-to-cloud tokens: minted with WebCrypto, verified against a list of secrets, with
// expiry, clock skew, rotation and tampering; the byte helpers they stand on.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, fromBase64Url, fromHex, toBase64Url, toHex } from '../../../shared/auth/encoding.js';
import {
  DEFAULT_LINK_TOKEN_SKEW_MS, linkTokenProvider, mintLinkToken, parseLinkToken, verifyLinkToken,
} from '../../../shared/auth/link-token.js';
import { isCleaveError } from '../../../shared/errors.js';

const NOW = Date.UTC(2026, 10, 21, 4, 0, 0);
const CURRENT = 'current-secret-0123456789abcdef';
const PREVIOUS = 'previous-secret-0123456789abcdef';

describe('byte helpers', () => {
  it('base64url and hex agree with Node for every length 0..40', () => {
    for (let n = 0; n <= 40; n++) {
      const b = new Uint8Array(randomBytes(n));
      expect(toBase64Url(b)).toBe(Buffer.from(b).toString('base64url'));
      expect(fromBase64Url(toBase64Url(b))).toEqual(b);
      expect(toHex(b)).toBe(Buffer.from(b).toString('hex'));
      expect(fromHex(toHex(b))).toEqual(b);
    }
  });

  it('refuses non-canonical base64url and bad hex', () => {
    expect(fromBase64Url('abc=')).toBeUndefined();
    expect(fromBase64Url('a')).toBeUndefined();
    expect(fromBase64Url('ab+/')).toBeUndefined();
    // "AB" has non-zero bits after its one byte; "AA" is the canonical spelling.
    expect(fromBase64Url('AB')).toBeUndefined();
    expect(fromBase64Url('AA')).toEqual(new Uint8Array([0]));
    expect(fromHex('abc')).toBeUndefined();
    expect(fromHex('zz')).toBeUndefined();
    expect(fromHex('AB')).toBeUndefined();
  });

  it('compares bytes', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(false);
  });
});

describe('link tokens', () => {
  it('mints v1.<edgeId>.<expiresAtSec>.<mac> that verifies with its secret', async () => {
    const t = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-7', nowMs: NOW });
    expect(t).toMatch(/^v1\.gw-7\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(parseLinkToken(t)!.expiresAtSec).toBe(NOW / 1000 + 600);
    expect(await verifyLinkToken(t, [CURRENT], { nowMs: NOW })).toEqual({ ok: true, edgeId: 'gw-7', expiresAtSec: NOW / 1000 + 600, secretIndex: 0 });
  });

  it('is refused under a wrong secret', async () => {
    const t = await mintLinkToken({ secret: 'an-attacker-guess-0123456789', edgeId: 'gw-7', nowMs: NOW });
    const v = await verifyLinkToken(t, [CURRENT, PREVIOUS], { nowMs: NOW });
    expect(v).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('accepts the previous secret during a rotation, and says which one signed', async () => {
    const old = await mintLinkToken({ secret: PREVIOUS, edgeId: 'gw-7', nowMs: NOW });
    const fresh = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-7', nowMs: NOW });
    expect(await verifyLinkToken(old, [CURRENT, PREVIOUS], { nowMs: NOW })).toMatchObject({ ok: true, secretIndex: 1 });
    expect(await verifyLinkToken(fresh, [CURRENT, PREVIOUS], { nowMs: NOW })).toMatchObject({ ok: true, secretIndex: 0 });
    // Rotation done: the old secret is dropped and its tokens stop working.
    expect(await verifyLinkToken(old, [CURRENT], { nowMs: NOW })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('expires after its lifetime plus the skew allowance, not before', async () => {
    const t = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-7', nowMs: NOW, lifetimeMs: 60_000 });
    const exp = NOW + 60_000;
    expect((await verifyLinkToken(t, [CURRENT], { nowMs: exp + DEFAULT_LINK_TOKEN_SKEW_MS - 1 })).ok).toBe(true);
    const late = await verifyLinkToken(t, [CURRENT], { nowMs: exp + DEFAULT_LINK_TOKEN_SKEW_MS });
    expect(late).toMatchObject({ ok: false, reason: 'expired' });
    expect(!late.ok && late.message).toContain('expired at 2026-11-21T04:01:00.000Z');
    expect((await verifyLinkToken(t, [CURRENT], { nowMs: exp + 5000, skewMs: 0 })).ok).toBe(false);
  });

  it('refuses a token that claims to live longer than the verifier allows', async () => {
    const t = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-7', nowMs: NOW, lifetimeMs: 24 * 3_600_000 });
    expect(await verifyLinkToken(t, [CURRENT], { nowMs: NOW })).toMatchObject({ ok: false, reason: 'too-long-lived' });
    expect((await verifyLinkToken(t, [CURRENT], { nowMs: NOW, maxLifetimeMs: 25 * 3_600_000 })).ok).toBe(true);
  });

  it('detects tampering with the edge id, the expiry or the mac', async () => {
    const t = await mintLinkToken({ secret: CURRENT, edgeId: 'gw-7', nowMs: NOW });
    const [v, id, exp, mac] = t.split('.') as [string, string, string, string];
    const flipped = mac.slice(0, 10) + (mac[10] === 'A' ? 'B' : 'A') + mac.slice(11);
    for (const bad of [`${v}.gw-8.${exp}.${mac}`, `${v}.${id}.${Number(exp) + 3600}.${mac}`, `${v}.${id}.${exp}.${flipped}`]) {
      expect((await verifyLinkToken(bad, [CURRENT], { nowMs: NOW })).ok, bad).toBe(false);
    }
  });

  it('calls malformed tokens malformed', async () => {
    for (const bad of ['', 'v1', 'v2.gw.1.AAAA', 'v1.gw.1', 'v1.g.w.1.AAAA', 'v1.gw.01.' + 'A'.repeat(43), 'v1.gw.x.' + 'A'.repeat(43), 'v1.gw.1.AAAA', 'v1.gw!.1.' + 'A'.repeat(43)]) {
      expect(await verifyLinkToken(bad, [CURRENT], { nowMs: NOW }), bad).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });

  it('refuses to mint from a short secret or with a bad edge id, without quoting the secret', async () => {
    const short = await mintLinkToken({ secret: 'short', edgeId: 'gw', nowMs: NOW }).catch((e: unknown) => e);
    expect(isCleaveError(short, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
    expect((short as Error).message).not.toContain('short');
    const id = await mintLinkToken({ secret: CURRENT, edgeId: 'gw.7', nowMs: NOW }).catch((e: unknown) => e);
    expect(isCleaveError(id, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
  });

  it('a provider mints a fresh token per call from its clock', async () => {
    let now = NOW;
    const next = linkTokenProvider({ secret: CURRENT, edgeId: 'gw-7', wallClock: { now: () => now } });
    const a = await next();
    now += 5000;
    const b = await next();
    expect(a).not.toBe(b);
    expect(parseLinkToken(b)!.expiresAtSec - parseLinkToken(a)!.expiresAtSec).toBe(5);
  });
});
