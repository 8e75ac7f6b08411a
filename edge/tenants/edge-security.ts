/**
 * An edge node's security parts in one object, built by the runtime entry (edge/node.ts,
 * edge/worker.ts) and handed to the node: the tenant guard when a key file is configured (none:
 * the edge stays open and `x-cleave-tenant` is honoured, as before keys existed) and the audit
 * log, which exists either way. Runtime-neutral.
 */
import type { Clock } from '../../shared/time.js';
import type { Digest } from '../cache-key.js';
import type { CatalogEvent } from '../model-catalog.js';
import { MemoryAuditLog, type AuditLog } from './audit-log.js';
import { parseKeyFile, type KeyFile } from './key-file.js';
import { TenantGuard, type Rejection } from './tenant-guard.js';

export interface EdgeSecurity {
  /** Undefined when no keys are configured: every route is open. */
  readonly guard?: TenantGuard;
  readonly audit: AuditLog;
}

export interface EdgeSecurityOptions {
  /** The validated key file; none = open edge. */
  readonly keys?: KeyFile;
  /** Monotonic clock, ms (token buckets). */
  readonly clock: Clock;
  /** Wall clock, ms since the epoch (key expiry, audit times). Default Date.now. */
  readonly wallClock?: Clock;
  readonly digest?: Digest;
  /** The edge's log: audit entries are written to it as `{ event: 'audit', ... }`. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Rejections, for a metrics counter. */
  readonly onReject?: (r: Rejection) => void;
  /** Audit entries kept in memory for GET /v1/audit. Default 1000. */
  readonly auditCapacity?: number;
}

export function createEdgeSecurity(opts: EdgeSecurityOptions): EdgeSecurity {
  const wallClock = opts.wallClock ?? { now: () => Date.now() };
  const audit = new MemoryAuditLog({ wallClock, ...(opts.auditCapacity !== undefined ? { capacity: opts.auditCapacity } : {}), ...(opts.log ? { sink: opts.log } : {}) });
  if (!opts.keys) return { audit };
  const guard = new TenantGuard({
    keys: opts.keys, clock: opts.clock, wallClock,
    ...(opts.digest ? { digest: opts.digest } : {}),
    ...(opts.onReject ? { onReject: opts.onReject } : {}),
  });
  return { guard, audit };
}

/**
 * Edge model loads and unloads as audit entries (the catalog's onEvent). The edge loads models
 * itself (warm-up, first use), so the actor is `system`; a failed load is outcome `error`.
 */
export function auditCatalogEvents(audit: AuditLog): (e: CatalogEvent) => void {
  return (e) => audit.append({
    tenant: 'system', action: e.type === 'unload' ? 'model.unload' : 'model.load', target: `model/${e.model}@${e.version}`,
    outcome: e.type === 'load-failed' ? 'error' : 'ok',
    ...(e.type === 'load-failed' ? { code: 'CLEAVE_E_BACKEND', detail: { error: (e.error ?? '').slice(0, 200) } } : {}),
  });
}

/** The key file given by the `apiKeys` setting (its text: a Worker secret CLEAVE_API_KEYS), if set. */
export function keyFileFromText(text: string | undefined): KeyFile | undefined {
  return text !== undefined && text.trim() !== '' ? parseKeyFile(text, 'apiKeys (CLEAVE_API_KEYS)') : undefined;
}
