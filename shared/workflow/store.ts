/**
 * Where deployed workflows live: a runtime-neutral contract, the rules every implementation
 * shares, and the in-memory store. Node persists to a directory (edge/workflow-file-store.ts),
 * Workers to a KV namespace (edge/workflow-kv-store.ts); both keep these semantics:
 *
 * - Each put of a name gets the next version, 1, 2, 3...: one past the highest version the store
 *   holds for that name. Versions are never renumbered; one is reused only when it was the
 *   highest and was deleted (there are no tombstones, so a directory or namespace is the whole
 *   state).
 * - A put whose definition has the digest of the latest version, with the same replicas, changes
 *   nothing and answers that version with `unchanged: true`: deploying twice is safe. The same
 *   definition with other replicas is a new version, so the new count takes effect.
 * - At most `maxVersionsPerWorkflow` versions per name (default 20): the oldest are pruned.
 * - At most `maxWorkflows` names (default 1000): a put of a new name past that is
 *   CLEAVE_E_TOO_LARGE (an existing name may always get a new version).
 *
 * The digest is the lowercase hex SHA-256 of the definition's canonical JSON (keys sorted at
 * every depth, no whitespace), by Web Crypto, so the same document digests the same on every
 * runtime however its keys were ordered.
 */
import { CleaveError } from '../errors.js';
import { sha256Hex } from '../zoo/manifest.js';
import { WORKFLOW_NAME_PATTERN, WorkflowSchema, type WorkflowDefinition } from './definition.js';

/** One deployed version of a workflow. Records are frozen: callers share them. */
export interface StoredWorkflow {
  readonly name: string;
  /** 1, 2, 3... per name, assigned by put. */
  readonly version: number;
  readonly definition: WorkflowDefinition;
  /** When this version was deployed, ms since the epoch (the deploying clock's). */
  readonly deployedAt: number;
  /** Replicas asked for at deploy; absent: the runtime's default. */
  readonly replicas?: number;
  /** Lowercase hex SHA-256 of the definition's canonical JSON (workflowDigest). */
  readonly digest: string;
}

/** What put answers: the stored version, and whether this put left the store as it was. */
export interface PutWorkflowResult extends StoredWorkflow {
  /** True when the definition (and replicas) equalled the latest version's, which is answered as is. */
  readonly unchanged: boolean;
}

/** One name in `list()`. */
export interface WorkflowSummary {
  readonly name: string;
  readonly latestVersion: number;
  /** Versions held, ascending. */
  readonly versions: readonly number[];
  /** When the latest version was deployed, ms since the epoch. */
  readonly deployedAt: number;
  /** The latest version's description, when it has one. */
  readonly description?: string;
}

/** What put records besides the definition. */
export interface PutWorkflowMeta {
  /** ms since the epoch. */
  deployedAt: number;
  /** Positive integer; absent: the runtime's default. */
  replicas?: number;
}

/** Versioned storage of workflow definitions, the same on every runtime. */
export interface WorkflowStore {
  /** Stores `def` as the next version of `def.name` (see the module comment for the rules). */
  put(def: WorkflowDefinition, meta: PutWorkflowMeta): Promise<PutWorkflowResult>;
  /** That version, or the latest when `version` is absent; undefined when not held. */
  get(name: string, version?: number): Promise<StoredWorkflow | undefined>;
  /** Every name held, sorted by name. */
  list(): Promise<WorkflowSummary[]>;
  /** Deletes that version, or every version when `version` is absent; false when nothing matched. */
  delete(name: string, version?: number): Promise<boolean>;
}

/** Limits every store enforces. */
export interface WorkflowStoreLimits {
  /** Most workflow names held. Default 1000. */
  readonly maxWorkflows: number;
  /** Most versions kept per name; older ones are pruned. Default 20. */
  readonly maxVersionsPerWorkflow: number;
}

/** Defaults: 1000 workflows, 20 versions each. */
export const DEFAULT_WORKFLOW_STORE_LIMITS: WorkflowStoreLimits = Object.freeze({ maxWorkflows: 1000, maxVersionsPerWorkflow: 20 });

/** Fills in defaults; CLEAVE_E_BAD_ARGUMENT unless each limit is a positive integer. */
export function resolveWorkflowStoreLimits(partial: Partial<WorkflowStoreLimits> = {}): WorkflowStoreLimits {
  const out = { ...DEFAULT_WORKFLOW_STORE_LIMITS, ...partial };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow store limit ${key} must be a positive integer, got ${String(value)}`, { limit: key });
    }
  }
  return Object.freeze(out);
}

/** CLEAVE_E_BAD_ARGUMENT unless `name` matches WORKFLOW_NAME_PATTERN (so it is safe in a path or a key). */
export function checkWorkflowName(name: string): void {
  if (!WORKFLOW_NAME_PATTERN.test(name)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow name ${JSON.stringify(name.slice(0, 80))} must be lower-case letters, digits and dashes (at most 63), starting with a letter or digit`, { field: 'name' });
  }
}

/** True when `version` could be a stored version (a positive safe integer). */
export function isWorkflowVersion(version: number): boolean {
  return Number.isSafeInteger(version) && version >= 1;
}

/** JSON with object keys sorted at every depth and no whitespace; undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(o).sort()) {
      if (o[k] !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(o[k])}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

const utf8 = new TextEncoder();

/** Lowercase hex SHA-256 of the definition's canonical JSON. */
export function workflowDigest(def: WorkflowDefinition): Promise<string> {
  return sha256Hex(utf8.encode(canonicalJson(def)));
}

/** What the store holds for a name when a put of it is decided. */
export interface HeldVersions {
  /** The latest version's record; undefined when the name is new. */
  readonly latest: StoredWorkflow | undefined;
  /** Highest version the store has seen for the name (including unreadable ones); 0 when none. */
  readonly highestVersion: number;
  /** Names the store holds now. */
  readonly workflowCount: number;
  /** Whether the name is held even when its latest record could not be read; default `latest !== undefined`. */
  readonly nameHeld?: boolean;
}

/**
 * The decision every store makes for a put: the latest record when nothing changed, else the new
 * record to write. CLEAVE_E_BAD_ARGUMENT for a bad name or replicas; CLEAVE_E_TOO_LARGE for a
 * new name past maxWorkflows. Pruning is the caller's: keep the newest maxVersionsPerWorkflow.
 */
export function decidePut(def: WorkflowDefinition, meta: PutWorkflowMeta, digest: string, held: HeldVersions, limits: WorkflowStoreLimits): PutWorkflowResult {
  checkWorkflowName(def.name);
  if (meta.replicas !== undefined && !isWorkflowVersion(meta.replicas)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `replicas must be a positive integer, got ${String(meta.replicas)}`, { field: 'replicas' });
  }
  if (!Number.isFinite(meta.deployedAt)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `deployedAt must be a finite number of ms, got ${String(meta.deployedAt)}`, { field: 'deployedAt' });
  }
  const { latest } = held;
  if (latest !== undefined && latest.digest === digest && latest.replicas === meta.replicas) return { ...latest, unchanged: true };
  if (!(held.nameHeld ?? latest !== undefined) && held.workflowCount >= limits.maxWorkflows) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `the workflow store already holds ${held.workflowCount} workflows, the limit (maxWorkflows) is ${limits.maxWorkflows}; delete one before deploying "${def.name}"`, { limit: limits.maxWorkflows, workflows: held.workflowCount });
  }
  const record = freezeRecord({
    name: def.name,
    version: Math.max(held.highestVersion, latest?.version ?? 0) + 1,
    // A private copy: the caller's object may change after put returns.
    definition: structuredClone(def),
    deployedAt: meta.deployedAt,
    ...(meta.replicas !== undefined ? { replicas: meta.replicas } : {}),
    digest,
  });
  return { ...record, unchanged: false };
}

/** The summary of a name from its records (ascending versions, at least one). */
export function summarize(records: readonly StoredWorkflow[]): WorkflowSummary {
  const latest = records[records.length - 1];
  if (latest === undefined) throw new CleaveError('CLEAVE_E_INTERNAL', 'summarize() needs at least one record');
  const description = latest.definition.description;
  return {
    name: latest.name, latestVersion: latest.version, versions: records.map((r) => r.version), deployedAt: latest.deployedAt,
    ...(description !== undefined ? { description } : {}),
  };
}

/** Tag of the persisted record format (files and KV values). */
export const STORED_WORKFLOW_FORMAT = 'cleave.workflow.v1';

/** A record as persisted: `{ format, name, version, digest, deployedAt, replicas?, definition }`, 2-space JSON. */
export function encodeStoredWorkflow(r: StoredWorkflow): string {
  return `${JSON.stringify({
    format: STORED_WORKFLOW_FORMAT, name: r.name, version: r.version, digest: r.digest, deployedAt: r.deployedAt,
    ...(r.replicas !== undefined ? { replicas: r.replicas } : {}),
    definition: r.definition,
  }, null, 2)}\n`;
}

/**
 * A persisted record read back and checked: the format tag, the fields' types, `expect`'s name
 * and version (from the file name or key), the definition against WorkflowSchema, and the digest
 * recomputed. CLEAVE_E_BAD_ARGUMENT naming what is wrong otherwise, so a store can skip one bad
 * record and keep the rest.
 */
export async function decodeStoredWorkflow(text: string, expect: { name: string; version: number }): Promise<StoredWorkflow> {
  const bad = (why: string): CleaveError => new CleaveError('CLEAVE_E_BAD_ARGUMENT', `stored workflow "${expect.name}" version ${expect.version}: ${why}`, { name: expect.name, version: expect.version });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o['format'] !== STORED_WORKFLOW_FORMAT) throw bad(`format is ${JSON.stringify(o['format'])}, expected "${STORED_WORKFLOW_FORMAT}"`);
  if (o['name'] !== expect.name || o['version'] !== expect.version) {
    throw bad(`holds ${JSON.stringify(o['name'])} version ${JSON.stringify(o['version'])} instead`);
  }
  const { deployedAt, replicas, digest } = o;
  if (typeof deployedAt !== 'number' || !Number.isFinite(deployedAt)) throw bad('deployedAt is not a number');
  if (replicas !== undefined && (typeof replicas !== 'number' || !isWorkflowVersion(replicas))) throw bad('replicas is not a positive integer');
  if (typeof digest !== 'string') throw bad('digest is not a string');
  const parsed = WorkflowSchema.safeParse(o['definition']);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw bad(`definition does not match the workflow schema${first ? ` (${first.path.join('.')}: ${first.message})` : ''}`);
  }
  if (parsed.data.name !== expect.name) throw bad(`definition is named ${JSON.stringify(parsed.data.name)}`);
  const actual = await workflowDigest(parsed.data);
  if (actual !== digest) throw bad(`digest ${digest.slice(0, 16)}... does not match the definition's ${actual.slice(0, 16)}... (edited or truncated)`);
  return freezeRecord({
    name: expect.name, version: expect.version, definition: parsed.data, deployedAt,
    ...(replicas !== undefined ? { replicas } : {}),
    digest,
  });
}

/** Freezes a record and its definition, deeply: records are handed out without copying. */
export function freezeRecord(r: StoredWorkflow): StoredWorkflow {
  deepFreeze(r.definition);
  return Object.freeze(r);
}

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return;
  Object.freeze(v);
  for (const item of Object.values(v)) deepFreeze(item);
}

/**
 * Runs async critical sections one at a time, in call order: a put reads what is held, then
 * writes, and a second put must not read before the first has written.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    // The chain continues whether this section failed or not; the caller sees its own outcome.
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Where a MemoryWorkflowStore writes through to (edge/workflow-file-store.ts). */
export interface WorkflowPersistence {
  /** Makes `record` durable; the store holds it only once this resolves. */
  write(record: StoredWorkflow): Promise<void>;
  /** Removes these versions of one name; the store has already dropped them. */
  remove(records: readonly StoredWorkflow[]): Promise<void>;
}

/** Options of MemoryWorkflowStore. */
export interface MemoryWorkflowStoreOptions {
  limits?: Partial<WorkflowStoreLimits>;
  /** Records to start with (loaded by a persistent store); any order. */
  records?: Iterable<StoredWorkflow>;
  /** Highest version seen per name, including records that could not be read: never reused. */
  reservedVersions?: ReadonlyMap<string, number>;
  /** Writes through to durable storage; default none. */
  persistence?: WorkflowPersistence;
  /** Told when pruned versions could not be removed (the put itself stood); default silent. */
  warn?: (message: string) => void;
}

/**
 * The store in memory: a map of name -> records in version order. With `persistence` every
 * change is written through before it is visible, which is how the file store is built.
 */
export class MemoryWorkflowStore implements WorkflowStore {
  readonly limits: WorkflowStoreLimits;
  private readonly byName = new Map<string, StoredWorkflow[]>();
  private readonly reserved: Map<string, number>;
  private readonly queue = new SerialQueue();
  private readonly persistence: WorkflowPersistence | undefined;
  private readonly warn: (message: string) => void;

  constructor(opts: MemoryWorkflowStoreOptions = {}) {
    this.limits = resolveWorkflowStoreLimits(opts.limits);
    this.persistence = opts.persistence;
    this.warn = opts.warn ?? (() => undefined);
    this.reserved = new Map(opts.reservedVersions);
    for (const r of opts.records ?? []) {
      const held = this.byName.get(r.name) ?? [];
      held.push(freezeRecord(r));
      this.byName.set(r.name, held);
    }
    for (const held of this.byName.values()) held.sort((a, b) => a.version - b.version);
  }

  async put(def: WorkflowDefinition, meta: PutWorkflowMeta): Promise<PutWorkflowResult> {
    const digest = await workflowDigest(def);
    return this.queue.run(async () => {
      const held = this.byName.get(def.name) ?? [];
      const result = decidePut(def, meta, digest, {
        latest: held[held.length - 1], highestVersion: this.reserved.get(def.name) ?? 0, workflowCount: this.byName.size,
      }, this.limits);
      if (result.unchanged) return result;
      const { unchanged: _, ...record } = result;
      const stored = Object.freeze(record);
      await this.persistence?.write(stored);
      const next = [...held, stored];
      const pruned = next.splice(0, Math.max(0, next.length - this.limits.maxVersionsPerWorkflow));
      this.byName.set(def.name, next);
      if (pruned.length > 0 && this.persistence !== undefined) {
        // The new version is durable and answered; versions left behind by a failed removal come
        // back at the next load and are pruned again by the next put.
        await this.persistence.remove(pruned).catch((e: unknown) => {
          this.warn(`workflow "${def.name}": could not remove pruned versions ${pruned.map((r) => r.version).join(', ')}: ${e instanceof Error ? e.message : String(e)}`);
        });
      }
      return result;
    });
  }

  get(name: string, version?: number): Promise<StoredWorkflow | undefined> {
    const held = this.byName.get(name);
    if (held === undefined) return Promise.resolve(undefined);
    return Promise.resolve(version === undefined ? held[held.length - 1] : held.find((r) => r.version === version));
  }

  list(): Promise<WorkflowSummary[]> {
    return Promise.resolve([...this.byName.keys()].sort().map((name) => summarize(this.byName.get(name) ?? [])));
  }

  delete(name: string, version?: number): Promise<boolean> {
    return this.queue.run(async () => {
      const held = this.byName.get(name);
      if (held === undefined) return false;
      const gone = version === undefined ? held : held.filter((r) => r.version === version);
      if (gone.length === 0) return false;
      // Removed from disk first: when that fails the store still shows what is still there.
      await this.persistence?.remove(gone);
      const left = held.filter((r) => !gone.includes(r));
      if (left.length === 0) this.byName.delete(name);
      else this.byName.set(name, left);
      return true;
    });
  }
}
