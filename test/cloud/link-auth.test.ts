// The cloud's token check: static tokens as before, and rotating link tokens minted by edges
// (WebCrypto, shared/auth) verified synchronously here (node:crypto) by the same rules.
import { describe, expect, it } from 'vitest';
import { TokenAuth } from '../../cloud/auth.js';
import { resolveCloudConfig } from '../../cloud/config.js';
import { mintLinkToken } from '../../shared/auth/link-token.js';
import { cleaveErrorOf } from '../helpers/errors.js';

const NOW = Date.UTC(2026, 10, 21, 4, 0, 0);
const A = 'cloud-link-secret-A-0123456789';
const B = 'cloud-link-secret-B-0123456789';

describe('TokenAuth with link secrets', () => {
  it('requires nothing when neither tokens nor secrets are set', () => {
    const auth = new TokenAuth([]);
    expect(auth.required).toBe(false);
    expect(auth.verify(undefined)).toEqual({ ok: true, kind: 'none' });
  });

  it('accepts link tokens from every listed secret and static tokens beside them', async () => {
    const auth = new TokenAuth(['static-1'], { linkSecrets: [A, B], wallClock: { now: () => NOW } });
    expect(auth.required).toBe(true);
    const fromA = await mintLinkToken({ secret: A, edgeId: 'gw-1', nowMs: NOW });
    const fromB = await mintLinkToken({ secret: B, edgeId: 'gw-2', nowMs: NOW });
    expect(auth.verify(fromA)).toEqual({ ok: true, kind: 'link', edgeId: 'gw-1', secretIndex: 0 });
    expect(auth.verify(fromB)).toEqual({ ok: true, kind: 'link', edgeId: 'gw-2', secretIndex: 1 });
    expect(auth.verify('static-1')).toEqual({ ok: true, kind: 'static' });
    expect(auth.check('static-2')).toBe(false);
    expect(auth.verify(undefined)).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('refuses wrong-secret, expired, tampered and malformed link tokens with the reason', async () => {
    let now = NOW;
    const auth = new TokenAuth([], { linkSecrets: [A], wallClock: { now: () => now } });
    const wrong = await mintLinkToken({ secret: B, edgeId: 'gw-1', nowMs: NOW });
    expect(auth.verify(wrong)).toMatchObject({ ok: false, reason: 'bad-signature' });
    const good = await mintLinkToken({ secret: A, edgeId: 'gw-1', nowMs: NOW, lifetimeMs: 60_000 });
    expect(auth.check(good)).toBe(true);
    expect(auth.check(good.replace('gw-1', 'gw-9'))).toBe(false);
    expect(auth.verify('v1.gw-1.123')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(auth.verify('some-other-token')).toMatchObject({ ok: false, reason: 'invalid' });
    now = NOW + 60_000 + 30_000;
    expect(auth.verify(good)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuses a secret shorter than 16 characters at start-up', () => {
    expect(() => new TokenAuth([], { linkSecrets: ['short'] })).toThrow(/linkSecrets entry 1 has 5 characters/);
  });
});

describe('cloud linkSecrets setting', () => {
  it('reads a comma-separated list and refuses short entries without quoting them', () => {
    expect(resolveCloudConfig({}, {}).linkSecrets).toEqual([]);
    expect(resolveCloudConfig({}, { linkSecrets: ` ${A} , ${B} ` }).linkSecrets).toEqual([A, B]);
    const e = cleaveErrorOf(() => resolveCloudConfig({}, { linkSecrets: `${A},tiny` }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('entry 2: 4 characters');
    expect(e.message).not.toContain('tiny');
  });
});
