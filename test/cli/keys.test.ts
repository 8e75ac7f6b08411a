// `cleave keys create` (a real process): the key it prints verifies against the entry it prints,
// through the edge's own key registry; bad flags exit 2 naming the flag.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { apiKeyDigestHex, apiKeyId } from '../../edge/tenants/api-key.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/cleave.mjs', import.meta.url).pathname;

describe('cleave keys create', () => {
  it('prints a key whose SHA-256 is the entry it prints, with the asked scopes', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'keys', 'create', '--tenant', 'acme', '--id', 'ops-1', '--scopes', 'infer,admin', '--json']);
    const out = JSON.parse(stdout) as { key: string; tenant: string; entry: { id: string; sha256: string; scopes: string[] } };
    expect(out.tenant).toBe('acme');
    expect(apiKeyId(out.key)).toBe('ops-1');
    expect(out.entry).toEqual({ id: 'ops-1', sha256: await apiKeyDigestHex(out.key), scopes: ['infer', 'admin'] });
    const again = JSON.parse((await run(process.execPath, [BIN, 'keys', 'create', '--tenant', 'acme', '--json'])).stdout) as { key: string };
    expect(again.key).not.toBe(out.key);
  }, 30_000);

  it('exits 2 naming a bad scope or tenant', async () => {
    const bad = await run(process.execPath, [BIN, 'keys', 'create', '--tenant', 'acme', '--scopes', 'root']).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/--scopes "root": scope "root" is not one of infer, admin/);
    const badTenant = await run(process.execPath, [BIN, 'keys', 'create', '--tenant', 'a b']).catch((e: { code: number; stderr: string }) => e);
    expect((badTenant as { code: number }).code).toBe(2);
    expect((badTenant as { stderr: string }).stderr).toMatch(/--tenant "a b"/);
  }, 30_000);
});
