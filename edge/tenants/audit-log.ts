/**
 * The audit log of administrative actions: workflow deploys, deletes and dry runs, edge model
 * loads and unloads. Each entry goes to a sink (the edge's JSON log lines, `{"event":"audit",...}`, so a
 * log shipper keeps them) and into an in-memory ring that `GET /v1/audit` reads, newest first.
 * Failed attempts are recorded too (outcome `error` with the code): a refused deploy is as
 * interesting to an auditor as a good one. Runtime-neutral.
 */
import type { Clock } from '../../shared/time.js';

/** What was done. `workflow.dry-run`: a document validated and run once without being stored (the dashboard's dry run). */
export type AuditAction = 'workflow.deploy' | 'workflow.delete' | 'workflow.dry-run' | 'model.load' | 'model.unload';
export const AUDIT_ACTIONS: readonly AuditAction[] = ['workflow.deploy', 'workflow.delete', 'workflow.dry-run', 'model.load', 'model.unload'];

/** One audited action. */
export interface AuditEntry {
  /** When, ISO 8601 (wall clock). */
  readonly at: string;
  /** Who: the key's tenant; `default` on an edge without keys; `system` for the edge's own model loads. */
  readonly tenant: string;
  /** The key used, when keys are configured. */
  readonly keyId?: string;
  readonly action: AuditAction;
  /** What it was done to: `workflow/<name>[@version]`, `model/<name>@<version>`. */
  readonly target: string;
  readonly outcome: 'ok' | 'error';
  /** The error code when outcome is `error`. */
  readonly code?: string;
  /** The request that did it, when a request did. */
  readonly requestId?: string;
  /** Small facts about the action (digest, unchanged, load time in ms). */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

/** An entry before the log stamps its time. */
export type AuditRecord = Omit<AuditEntry, 'at'>;

/** Where audited actions are recorded. */
export interface AuditLog {
  append(record: AuditRecord): void;
  /** Newest first, at most `limit`, optionally only one tenant's or one action's. */
  recent(query?: AuditQuery): readonly AuditEntry[];
}

export interface AuditQuery {
  /** Default 100. */
  readonly limit?: number;
  readonly tenant?: string;
  readonly action?: AuditAction;
}

export interface MemoryAuditLogOptions {
  /** Wall clock, ms since the epoch. */
  readonly wallClock: Clock;
  /** Entries kept for `recent`; older ones are dropped (the sink has them). Default 1000. */
  readonly capacity?: number;
  /** Receives each entry as a log event `{ event: 'audit', ...entry }`; default none. */
  readonly sink?: (event: Record<string, unknown>) => void;
}

/** An AuditLog over a fixed-size ring, forwarding every entry to a sink. */
export class MemoryAuditLog implements AuditLog {
  private readonly ring: (AuditEntry | undefined)[];
  private next = 0;
  private size = 0;

  constructor(private readonly opts: MemoryAuditLogOptions) {
    const capacity = opts.capacity ?? 1000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`audit log capacity ${capacity} is not valid; expected an integer >= 1`);
    this.ring = new Array<AuditEntry | undefined>(capacity);
  }

  append(record: AuditRecord): void {
    const entry: AuditEntry = { at: new Date(this.opts.wallClock.now()).toISOString(), ...record };
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.ring.length;
    this.size = Math.min(this.size + 1, this.ring.length);
    this.opts.sink?.({ event: 'audit', ...entry });
  }

  recent(query: AuditQuery = {}): readonly AuditEntry[] {
    const limit = query.limit ?? 100;
    const out: AuditEntry[] = [];
    for (let i = 1; i <= this.size && out.length < limit; i++) {
      const e = this.ring[(this.next - i + this.ring.length) % this.ring.length]!;
      if (query.tenant !== undefined && e.tenant !== query.tenant) continue;
      if (query.action !== undefined && e.action !== query.action) continue;
      out.push(e);
    }
    return out;
  }
}
