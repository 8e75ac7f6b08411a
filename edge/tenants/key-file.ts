/**
 * The tenant key file: who may call the edge, with which scopes, at what rate. JSON, or YAML
 * where the runtime entry hands in a YAML parser (a file named by `apiKeysFile` on Node; the JSON
 * text of CLEAVE_API_KEYS on Workers, which keeps the yaml package out of the Worker bundle):
 *
 *   { "tenants": [ { "id": "acme",
 *       "keys": [ { "id": "k1", "sha256": "<64 hex: SHA-256 of the key>", "scopes": ["infer"], "expires": "2027-01-01T00:00:00Z" } ],
 *       "rateLimit": { "requestsPerSecond": 50, "burst": 100 },
 *       "maxConcurrent": 8 } ] }
 *
 * Validated with zod, then checked for what a schema cannot say (ids unique across the file);
 * every problem is reported at once with its path (`tenants[0].keys[1].sha256`) and the source.
 * Runtime-neutral.
 */
import { z } from 'zod';
import { fromHex } from '../../shared/auth/encoding.js';
import { CleaveError } from '../../shared/errors.js';
import { KEY_ID_PATTERN } from './api-key.js';

/** What a key may do: `infer` runs models and workflows; `admin` deploys, deletes and reads /metrics, /v1/status, /v1/audit. */
export type Scope = 'infer' | 'admin';
export const SCOPES: readonly Scope[] = ['infer', 'admin'];

/** Tenant ids, as the `x-cleave-tenant` header allows. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Limits that keep a hostile key file cheap to refuse. */
export const KEY_FILE_LIMITS = Object.freeze({ maxTenants: 10_000, maxKeysPerTenant: 100, maxBytes: 4 * 1024 * 1024 });

/** One key as stored: its id, the digest of the key, its scopes and expiry. */
export interface KeyRecord {
  readonly id: string;
  /** SHA-256 of the key, 32 bytes. */
  readonly sha256: Uint8Array;
  readonly scopes: readonly Scope[];
  /** Expiry, ms since the epoch; none = never. */
  readonly expiresAtMs?: number;
}

/** A token bucket's shape: sustained rate and burst. */
export interface RateLimit {
  /** Sustained requests per second (may be fractional, e.g. 0.5). */
  readonly requestsPerSecond: number;
  /** Bucket capacity: requests allowed at once after an idle spell. */
  readonly burst: number;
}

/** One tenant: its keys and its quotas (none = unlimited). */
export interface TenantRecord {
  readonly id: string;
  readonly keys: readonly KeyRecord[];
  readonly rateLimit?: RateLimit;
  /** Requests (and WebSocket runs) in flight at once. */
  readonly maxConcurrent?: number;
}

/** A validated key file. */
export interface KeyFile {
  readonly tenants: readonly TenantRecord[];
}

const keySchema = z.strictObject({
  id: z.string().regex(KEY_ID_PATTERN, 'must be 1 to 64 characters of A-Z a-z 0-9 - (the <id> of ck_<id>_<secret>)'),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters: the SHA-256 of the key, never the key itself'),
  scopes: z.array(z.enum(['infer', 'admin'], { error: (i) => `unknown scope ${JSON.stringify(i.input)}; scopes are infer, admin` })).min(1).max(8),
  expires: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'must be an ISO 8601 date such as 2027-01-01T00:00:00Z').optional(),
});

const tenantSchema = z.strictObject({
  id: z.string().regex(TENANT_ID_PATTERN, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -'),
  keys: z.array(keySchema).min(1).max(KEY_FILE_LIMITS.maxKeysPerTenant),
  rateLimit: z.strictObject({
    requestsPerSecond: z.number().positive().max(1_000_000),
    burst: z.number().int().min(1).max(1_000_000),
  }).optional(),
  maxConcurrent: z.number().int().min(1).max(100_000).optional(),
});

const fileSchema = z.strictObject({ tenants: z.array(tenantSchema).min(1).max(KEY_FILE_LIMITS.maxTenants) });

/** One problem of a key file. */
export interface KeyFileProblem {
  /** Path in the document, e.g. `tenants[0].keys[1].sha256`. */
  readonly at: string;
  readonly message: string;
}

/** How key file text is read: YAML needs a parser from the entry (Node passes the yaml package's). */
export interface KeyFileParseOptions {
  /** Parses YAML text; without it only JSON is read. */
  readonly yaml?: (text: string) => unknown;
}

/**
 * Parses and validates key file text. `source` names it in errors (a path, or CLEAVE_API_KEYS).
 * Throws CLEAVE_E_BAD_ARGUMENT listing every problem as `{ at, message }` in `detail.problems`.
 */
export function parseKeyFile(text: string, source: string, opts: KeyFileParseOptions = {}): KeyFile {
  if (text.length > KEY_FILE_LIMITS.maxBytes) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `key file ${source} has ${text.length} characters; at most ${KEY_FILE_LIMITS.maxBytes} are read`, { source });
  }
  let doc: unknown;
  // JSON when it looks like JSON (its errors give positions), YAML otherwise when a parser was given.
  const json = text.trimStart().startsWith('{') || !opts.yaml;
  try {
    doc = json ? JSON.parse(text) : opts.yaml!(text);
  } catch (e) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `key file ${source} is not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message}`, { source });
  }
  const parsed = fileSchema.safeParse(doc);
  const problems: KeyFileProblem[] = parsed.success ? [] : parsed.error.issues.map((i) => ({ at: formatPath(i.path), message: i.message }));
  if (parsed.success) problems.push(...duplicates(parsed.data));
  if (problems.length > 0) {
    const list = problems.slice(0, 20).map((p, i) => `${i + 1}) ${p.at}: ${p.message}`).join('; ');
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `key file ${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${list}`, {
      source, problems: problems.map((p) => ({ at: p.at, message: p.message })),
    });
  }
  const data = parsed.data!;
  return {
    tenants: data.tenants.map((t) => ({
      id: t.id,
      keys: t.keys.map((k) => ({
        id: k.id, sha256: fromHex(k.sha256.toLowerCase())!, scopes: [...new Set(k.scopes)],
        ...(k.expires !== undefined ? { expiresAtMs: Date.parse(k.expires) } : {}),
      })),
      ...(t.rateLimit ? { rateLimit: t.rateLimit } : {}),
      ...(t.maxConcurrent !== undefined ? { maxConcurrent: t.maxConcurrent } : {}),
    })),
  };
}

/** Tenant ids unique; key ids unique across the whole file (a key names its key id, not its tenant). */
function duplicates(doc: z.infer<typeof fileSchema>): KeyFileProblem[] {
  const out: KeyFileProblem[] = [];
  const tenants = new Map<string, number>();
  const keys = new Map<string, string>();
  doc.tenants.forEach((t, ti) => {
    const first = tenants.get(t.id);
    if (first !== undefined) out.push({ at: `tenants[${ti}].id`, message: `tenant id ${JSON.stringify(t.id)} repeats tenants[${first}].id` });
    else tenants.set(t.id, ti);
    t.keys.forEach((k, ki) => {
      const at = `tenants[${ti}].keys[${ki}].id`;
      const seen = keys.get(k.id);
      if (seen !== undefined) out.push({ at, message: `key id ${JSON.stringify(k.id)} repeats ${seen}; key ids must be unique across all tenants` });
      else keys.set(k.id, at);
    });
  });
  return out;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out === '' ? '(document)' : out;
}
