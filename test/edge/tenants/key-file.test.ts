// Tenant key files (hostile ones too) and API key verification: minted keys verify, anything
// else is 401 without quoting the secret, and every file problem names its path.
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { apiKeyDigestHex, apiKeyId, createApiKey } from '../../../edge/tenants/api-key.js';
import { parseKeyFile } from '../../../edge/tenants/key-file.js';
import { KeyRegistry, presentedKey } from '../../../edge/tenants/key-registry.js';
import { CleaveError, isCleaveError } from '../../../shared/errors.js';
import { cryptoRandomBytes } from '../../../shared/trace.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const HEX = 'a'.repeat(64);

function file(tenants: unknown[]): string {
  return JSON.stringify({ tenants });
}

async function rejection(p: Promise<unknown>): Promise<CleaveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CleaveError) return e;
    throw e;
  }
  throw new Error('expected a CleaveError');
}

describe('parseKeyFile', () => {
  it('reads tenants, keys, scopes, expiry and quotas', () => {
    const f = parseKeyFile(file([{
      id: 'acme', keys: [{ id: 'k1', sha256: HEX.toUpperCase(), scopes: ['infer', 'admin', 'infer'], expires: '2027-01-01T00:00:00Z' }],
      rateLimit: { requestsPerSecond: 0.5, burst: 3 }, maxConcurrent: 4,
    }]), 'keys.json');
    expect(f.tenants).toHaveLength(1);
    const t = f.tenants[0]!;
    expect(t).toMatchObject({ id: 'acme', rateLimit: { requestsPerSecond: 0.5, burst: 3 }, maxConcurrent: 4 });
    expect(t.keys[0]).toMatchObject({ id: 'k1', scopes: ['infer', 'admin'], expiresAtMs: Date.UTC(2027, 0, 1) });
    expect(t.keys[0]!.sha256).toEqual(new Uint8Array(32).fill(0xaa));
  });

  it('reads YAML when given a parser, and only JSON without one', () => {
    const yaml = `tenants:\n  - id: acme\n    keys:\n      - { id: k1, sha256: "${HEX}", scopes: [infer] }\n`;
    expect(parseKeyFile(yaml, 'keys.yaml', { yaml: (t) => parseYaml(t) }).tenants[0]!.id).toBe('acme');
    const e = cleaveErrorOf(() => parseKeyFile(yaml, 'CLEAVE_API_KEYS'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toMatch(/^key file CLEAVE_API_KEYS is not valid JSON/);
  });

  it('lists every problem of a hostile file with its path', () => {
    const e = cleaveErrorOf(() => parseKeyFile(file([
      { id: 'acme', keys: [{ id: 'k1', sha256: 'xyz', scopes: ['infer', 'root'] }, { id: 'k_2', sha256: HEX, scopes: [] }] },
      { id: 'beta', keys: [{ id: 'k3', sha256: HEX, scopes: ['admin'], expires: 'soon' }], maxConcurrent: 0, extra: true },
    ]), '/etc/cleave/keys.json'));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toMatch(/^key file \/etc\/cleave\/keys.json has 7 problems: 1\) tenants\[0\]\.keys\[0\]\.sha256: must be 64 hex characters/);
    const at = (e.detail.problems as { at: string; message: string }[]).map((p) => p.at);
    expect(at).toEqual(expect.arrayContaining([
      'tenants[0].keys[0].sha256', 'tenants[0].keys[0].scopes[1]', 'tenants[0].keys[1].id', 'tenants[0].keys[1].scopes',
      'tenants[1].keys[0].expires', 'tenants[1].maxConcurrent', 'tenants[1]',
    ]));
    const scope = (e.detail.problems as { at: string; message: string }[]).find((p) => p.at === 'tenants[0].keys[0].scopes[1]')!;
    expect(scope.message).toBe('unknown scope "root"; scopes are infer, admin');
  });

  it('refuses duplicate tenant ids and key ids repeated across tenants', () => {
    const e = cleaveErrorOf(() => parseKeyFile(file([
      { id: 'acme', keys: [{ id: 'k1', sha256: HEX, scopes: ['infer'] }] },
      { id: 'acme', keys: [{ id: 'k2', sha256: HEX, scopes: ['infer'] }] },
      { id: 'beta', keys: [{ id: 'k1', sha256: HEX, scopes: ['infer'] }] },
    ]), 'keys.json'));
    expect(e.detail.problems).toEqual([
      { at: 'tenants[1].id', message: 'tenant id "acme" repeats tenants[0].id' },
      { at: 'tenants[2].keys[0].id', message: 'key id "k1" repeats tenants[0].keys[0].id; key ids must be unique across all tenants' },
    ]);
  });

  it('refuses what is not a key file at all', () => {
    for (const text of ['', '{', '[]', '{"tenants": []}', '{"__proto__": {"x": 1}, "tenants": []}', 'null']) {
      expect(cleaveErrorOf(() => parseKeyFile(text, 'k.json')).code, text).toBe('CLEAVE_E_BAD_ARGUMENT');
    }
    expect(cleaveErrorOf(() => parseKeyFile(' '.repeat(5 * 1024 * 1024), 'k.json')).message).toMatch(/at most/);
  });
});

describe('API keys', () => {
  it('mints ck_<id>_<secret> keys whose digest is what the file stores', async () => {
    const k = await createApiKey({ random: cryptoRandomBytes, id: 'ops-1' });
    expect(k.key).toMatch(/^ck_ops-1_[A-Za-z0-9_-]{43}$/);
    expect(k.sha256).toBe(await apiKeyDigestHex(k.key));
    expect(apiKeyId(k.key)).toBe('ops-1');
    const auto = await createApiKey({ random: cryptoRandomBytes });
    expect(auto.id).toMatch(/^[0-9a-f]{12}$/);
    await expect(createApiKey({ random: cryptoRandomBytes, id: 'bad_id' })).rejects.toThrow(/key id "bad_id"/);
  });

  it('verifies the right key and refuses every wrong one with 401, never quoting a secret', async () => {
    const good = await createApiKey({ random: cryptoRandomBytes, id: 'k1' });
    const old = await createApiKey({ random: cryptoRandomBytes, id: 'k-old' });
    const now = Date.UTC(2026, 10, 21);
    const registry = new KeyRegistry(parseKeyFile(file([{ id: 'acme', keys: [
      { id: 'k1', sha256: good.sha256, scopes: ['infer'] },
      { id: 'k-old', sha256: old.sha256, scopes: ['infer'], expires: '2026-11-01T00:00:00Z' },
    ] }]), 'k.json'), { now: () => now });
    expect(await registry.verify(good.key)).toEqual({ tenant: 'acme', keyId: 'k1', scopes: ['infer'] });

    const secret = good.key.slice('ck_k1_'.length);
    const wrongSecret = `ck_k1_${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const unknownId = good.key.replace('ck_k1_', 'ck_k9_');
    const cases: [string | undefined, string][] = [
      [undefined, 'missing'], ['', 'missing'], ['not-a-key', 'malformed'], [wrongSecret, 'invalid'], [unknownId, 'invalid'], [old.key, 'expired'],
    ];
    for (const [key, reason] of cases) {
      const e = await rejection(registry.verify(key));
      expect(e.code, String(key)).toBe('CLEAVE_E_UNAUTHORIZED');
      expect(e.httpStatus).toBe(401);
      expect(e.detail.reason).toBe(reason);
      expect(e.message).not.toContain(secret);
    }
    // An unknown id and a wrong secret read the same apart from the id the caller sent.
    const a = await rejection(registry.verify(wrongSecret));
    const b = await rejection(registry.verify(unknownId));
    expect(a.message.replace('"k1"', '"?"')).toBe(b.message.replace('"k9"', '"?"'));
    expect(isCleaveError(await rejection(registry.verify(old.key)), 'CLEAVE_E_UNAUTHORIZED')).toBe(true);
  });

  it('reads the key from Authorization: Bearer, else x-api-key', () => {
    const h = (m: Record<string, string>) => (n: string) => m[n];
    expect(presentedKey(h({ authorization: 'Bearer ck_a_b' }))).toBe('ck_a_b');
    expect(presentedKey(h({ authorization: 'bearer   ck_a_b ' }))).toBe('ck_a_b');
    expect(presentedKey(h({ 'x-api-key': ' ck_a_b ' }))).toBe('ck_a_b');
    expect(presentedKey(h({ authorization: 'Basic Zm9v', 'x-api-key': 'ck_x_y' }))).toBe('ck_x_y');
    expect(presentedKey(h({}))).toBeUndefined();
  });
});
