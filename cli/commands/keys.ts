import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { CleaveError } from '../../shared/errors.js';
import { createApiKey } from '../../edge/tenants/api-key.js';
import { SCOPES, TENANT_ID_PATTERN, type Scope } from '../../edge/tenants/key-file.js';

/**
 * `cleave keys create`: mints a tenant API key. The key itself is printed once, to stdout, and
 * never written anywhere; what goes into the edge's key file (docs/security.md) is the entry
 * printed after it, which holds only the key's SHA-256.
 */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('tenant API keys for the edge (docs/security.md)')
    .addHelpText('after', '\nExamples:\n  cleave keys create --tenant acme\n  cleave keys create --tenant acme --scopes infer,admin --json');
  keys
    .command('create')
    .description('mint an API key: prints the key once and the key-file entry that holds only its SHA-256')
    .requiredOption('--tenant <id>', 'tenant the key belongs to (1 to 64 of A-Z a-z 0-9 . _ -)')
    .option('--id <keyId>', 'key id (1 to 64 of A-Z a-z 0-9 -); default 12 random hex characters')
    .option('--scopes <list>', `comma-separated scopes, of ${SCOPES.join(', ')}`, 'infer')
    .option('--expires <iso>', 'expiry as an ISO 8601 time, e.g. 2027-01-01T00:00:00Z')
    .option('--json', 'print { key, tenant, entry } as JSON instead')
    .addHelpText('after', '\nExamples:\n  cleave keys create --tenant acme\n  cleave keys create --tenant acme --id ops --scopes infer,admin --expires 2027-01-01T00:00:00Z')
    .action(async (opts: { tenant: string; id?: string; scopes: string; expires?: string; json?: boolean }) => {
      if (!TENANT_ID_PATTERN.test(opts.tenant)) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--tenant ${JSON.stringify(opts.tenant.slice(0, 80))}: expected 1 to 64 characters of A-Z a-z 0-9 . _ -`, { field: 'tenant' });
      }
      const scopes = opts.scopes.split(',').map((s) => s.trim());
      for (const s of scopes) {
        if (!(SCOPES as readonly string[]).includes(s)) {
          throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--scopes ${JSON.stringify(opts.scopes)}: scope ${JSON.stringify(s)} is not one of ${SCOPES.join(', ')}`, { field: 'scopes' });
        }
      }
      if (opts.expires !== undefined && !(Number.isFinite(Date.parse(opts.expires)) && /^\d{4}-\d{2}-\d{2}T/.test(opts.expires))) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--expires ${JSON.stringify(opts.expires)}: expected an ISO 8601 time such as 2027-01-01T00:00:00Z`, { field: 'expires' });
      }
      const minted = await createApiKey({ random: (n) => new Uint8Array(randomBytes(n)), ...(opts.id !== undefined ? { id: opts.id } : {}) });
      const entry = { id: minted.id, sha256: minted.sha256, scopes: [...new Set(scopes)] as Scope[], ...(opts.expires !== undefined ? { expires: opts.expires } : {}) };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ key: minted.key, tenant: opts.tenant, entry }, null, 2)}\n`);
        return;
      }
      process.stdout.write([
        `key (shown once; give it to tenant ${opts.tenant}, store it nowhere else):`,
        `  ${minted.key}`,
        '',
        `add this under tenants[id=${opts.tenant}].keys in the key file (apiKeysFile / CLEAVE_API_KEYS):`,
        stringify([entry]).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'),
        '',
      ].join('\n'));
    });
}
