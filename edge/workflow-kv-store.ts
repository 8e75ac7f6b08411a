/**
 * The workflow store of the Worker edge, over a Workers KV namespace (the `WORKFLOWS` binding of
 * wrangler.toml). Keys:
 *
 *   wf:<name>:<version, 6 digits>   one record, as edge/workflow-file-store.ts writes a file
 *   wf-index                        { format, workflows: { <name>: { versions, deployedAt, description? } } }
 *
 * The index makes `list()` and "latest" one read; a record is written before the index names it
 * and dropped from the index before it is deleted, so the index never points at a record that
 * was never written. A missing index is an empty store; an unreadable one is reported through
 * `warn` and rebuilt from the `wf:` keys.
 *
 * KV has no transactions and is eventually consistent (a write can take up to a minute to reach
 * other locations): puts and deletes are serialized within one isolate only, so two isolates
 * deploying at once can lose an index update (the records themselves are not lost, and
 * `rebuildIndex()` recovers them). Deploy through one place; reads tolerate the lag.
 *
 * The KV type is structural (KvNamespaceLike), so this compiles without @cloudflare/workers-types
 * and tests run it against an in-memory fake.
 */
import {
  checkWorkflowName, decidePut, decodeStoredWorkflow, encodeStoredWorkflow, resolveWorkflowStoreLimits, SerialQueue, workflowDigest,
  type PutWorkflowMeta, type PutWorkflowResult, type StoredWorkflow, type WorkflowStore, type WorkflowStoreLimits, type WorkflowSummary,
} from '../shared/workflow/store.js';
import { WORKFLOW_NAME_PATTERN, type WorkflowDefinition } from '../shared/workflow/definition.js';

/** The part of the Workers KVNamespace binding this store uses. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<{ keys: readonly { name: string }[]; list_complete: boolean; cursor?: string }>;
}

/** Options of WorkflowKvStore. */
export interface WorkflowKvStoreOptions {
  limits?: Partial<WorkflowStoreLimits>;
  /** Told about unreadable records or index, and deletes that failed; default silent. */
  warn?: (message: string) => void;
}

/** The index key. Outside the `wf:` prefix, so listing records never meets it. */
export const WORKFLOW_INDEX_KEY = 'wf-index';
const INDEX_FORMAT = 'cleave.workflow-index.v1';
const RECORD_PREFIX = 'wf:';
const VERSION_DIGITS = 6;
const RECORD_KEY = new RegExp(`^wf:(${WORKFLOW_NAME_PATTERN.source.replace(/^\^|\$$/g, '')}):([0-9]{${VERSION_DIGITS},})$`);

/** The key of a record: `wf:<name>:<version, 6 digits>`. */
export function workflowKey(name: string, version: number): string {
  checkWorkflowName(name);
  return `${RECORD_PREFIX}${name}:${String(version).padStart(VERSION_DIGITS, '0')}`;
}

interface IndexEntry {
  /** Ascending. */
  versions: number[];
  deployedAt: number;
  description?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A KV-backed WorkflowStore for Workers. */
export class WorkflowKvStore implements WorkflowStore {
  readonly limits: WorkflowStoreLimits;
  private readonly queue = new SerialQueue();
  private readonly warn: (message: string) => void;

  constructor(private readonly kv: KvNamespaceLike, opts: WorkflowKvStoreOptions = {}) {
    this.limits = resolveWorkflowStoreLimits(opts.limits);
    this.warn = opts.warn ?? (() => undefined);
  }

  async put(def: WorkflowDefinition, meta: PutWorkflowMeta): Promise<PutWorkflowResult> {
    const digest = await workflowDigest(def);
    return this.queue.run(async () => {
      checkWorkflowName(def.name);
      const index = await this.readIndex();
      const entry = index.get(def.name);
      const latestVersion = entry?.versions[entry.versions.length - 1];
      const latest = latestVersion === undefined ? undefined : await this.readRecord(def.name, latestVersion);
      const result = decidePut(def, meta, digest, { latest, highestVersion: latestVersion ?? 0, workflowCount: index.size, nameHeld: entry !== undefined }, this.limits);
      if (result.unchanged) return result;
      const { unchanged: _, ...record } = result;
      await this.kv.put(workflowKey(record.name, record.version), encodeStoredWorkflow(record));
      const versions = [...(entry?.versions ?? []), record.version];
      const pruned = versions.splice(0, Math.max(0, versions.length - this.limits.maxVersionsPerWorkflow));
      index.set(def.name, entryOf(versions, record));
      await this.writeIndex(index);
      await this.deleteKeys(def.name, pruned);
      return result;
    });
  }

  async get(name: string, version?: number): Promise<StoredWorkflow | undefined> {
    if (!WORKFLOW_NAME_PATTERN.test(name)) return undefined;
    if (version !== undefined) return this.readRecord(name, version);
    const entry = (await this.readIndex()).get(name);
    const latest = entry?.versions[entry.versions.length - 1];
    return latest === undefined ? undefined : this.readRecord(name, latest);
  }

  async list(): Promise<WorkflowSummary[]> {
    const index = await this.readIndex();
    return [...index.keys()].sort().map((name) => {
      const e = index.get(name) as IndexEntry;
      return {
        name, latestVersion: e.versions[e.versions.length - 1] ?? 0, versions: [...e.versions], deployedAt: e.deployedAt,
        ...(e.description !== undefined ? { description: e.description } : {}),
      };
    });
  }

  delete(name: string, version?: number): Promise<boolean> {
    return this.queue.run(async () => {
      if (!WORKFLOW_NAME_PATTERN.test(name)) return false;
      const index = await this.readIndex();
      const entry = index.get(name);
      if (entry === undefined) return false;
      const gone = version === undefined ? entry.versions : entry.versions.filter((v) => v === version);
      if (gone.length === 0) return false;
      const left = entry.versions.filter((v) => !gone.includes(v));
      const latest = left[left.length - 1];
      if (latest === undefined) index.delete(name);
      else if (latest === entry.versions[entry.versions.length - 1]) index.set(name, { ...entry, versions: left });
      else {
        // The latest went: the summary fields come from the new latest record.
        const r = await this.readRecord(name, latest);
        index.set(name, r === undefined ? { versions: left, deployedAt: entry.deployedAt } : entryOf(left, r));
      }
      await this.writeIndex(index);
      await this.deleteKeys(name, gone);
      return true;
    });
  }

  /** Rebuilds the index from the `wf:` keys (after a lost index update); returns the names found. */
  rebuildIndex(): Promise<string[]> {
    return this.queue.run(async () => {
      const index = await this.scan();
      await this.writeIndex(index);
      return [...index.keys()].sort();
    });
  }

  private async readRecord(name: string, version: number): Promise<StoredWorkflow | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const key = workflowKey(name, version);
    const text = await this.kv.get(key);
    if (text === null) return undefined;
    try {
      return await decodeStoredWorkflow(text, { name, version });
    } catch (e) {
      this.warn(`workflow KV ${key}: ${message(e)}`);
      return undefined;
    }
  }

  private async readIndex(): Promise<Map<string, IndexEntry>> {
    const text = await this.kv.get(WORKFLOW_INDEX_KEY);
    if (text === null) return new Map();
    try {
      return parseIndex(text);
    } catch (e) {
      this.warn(`workflow KV ${WORKFLOW_INDEX_KEY} is unreadable (${message(e)}); rebuilding it from the ${RECORD_PREFIX} keys`);
      const index = await this.scan();
      await this.writeIndex(index);
      return index;
    }
  }

  private writeIndex(index: ReadonlyMap<string, IndexEntry>): Promise<void> {
    const workflows: Record<string, IndexEntry> = {};
    for (const name of [...index.keys()].sort()) workflows[name] = index.get(name) as IndexEntry;
    return this.kv.put(WORKFLOW_INDEX_KEY, JSON.stringify({ format: INDEX_FORMAT, workflows }));
  }

  private async scan(): Promise<Map<string, IndexEntry>> {
    const found = new Map<string, number[]>();
    let cursor: string | undefined;
    do {
      const page = await this.kv.list({ prefix: RECORD_PREFIX, ...(cursor !== undefined ? { cursor } : {}) });
      for (const { name: key } of page.keys) {
        const m = RECORD_KEY.exec(key);
        const version = Number(m?.[2]);
        if (m === null || m[1] === undefined || !Number.isSafeInteger(version) || version < 1) continue;
        found.set(m[1], [...(found.get(m[1]) ?? []), version]);
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    const index = new Map<string, IndexEntry>();
    for (const [name, raw] of found) {
      const versions = [...new Set(raw)].sort((a, b) => a - b);
      // Summary fields from the newest readable record; a name with none readable is left out.
      for (let i = versions.length - 1; i >= 0; i--) {
        const r = await this.readRecord(name, versions[i] as number);
        if (r !== undefined) {
          index.set(name, entryOf(versions, r));
          break;
        }
      }
    }
    return index;
  }

  private async deleteKeys(name: string, versions: readonly number[]): Promise<void> {
    for (const v of versions) {
      const key = workflowKey(name, v);
      // The index no longer names it: a key left behind is garbage, not a visible version.
      await this.kv.delete(key).catch((e: unknown) => this.warn(`workflow KV: could not delete ${key}: ${message(e)}`));
    }
  }
}

function entryOf(versions: number[], latest: StoredWorkflow): IndexEntry {
  const description = latest.definition.description;
  return { versions, deployedAt: latest.deployedAt, ...(description !== undefined ? { description } : {}) };
}

function parseIndex(text: string): Map<string, IndexEntry> {
  const raw = JSON.parse(text) as unknown;
  if (typeof raw !== 'object' || raw === null) throw new TypeError('not a JSON object');
  const { format, workflows } = raw as { format?: unknown; workflows?: unknown };
  if (format !== INDEX_FORMAT) throw new TypeError(`format is ${JSON.stringify(format)}, expected "${INDEX_FORMAT}"`);
  if (typeof workflows !== 'object' || workflows === null || Array.isArray(workflows)) throw new TypeError('"workflows" is not an object');
  const index = new Map<string, IndexEntry>();
  for (const [name, e] of Object.entries(workflows)) {
    if (!WORKFLOW_NAME_PATTERN.test(name)) throw new TypeError(`name ${JSON.stringify(name)} is not a workflow name`);
    const { versions, deployedAt, description } = (e ?? {}) as { versions?: unknown; deployedAt?: unknown; description?: unknown };
    if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => Number.isSafeInteger(v) && (v as number) >= 1)) {
      throw new TypeError(`"${name}".versions is not a list of positive integers`);
    }
    if (typeof deployedAt !== 'number') throw new TypeError(`"${name}".deployedAt is not a number`);
    if (description !== undefined && typeof description !== 'string') throw new TypeError(`"${name}".description is not a string`);
    index.set(name, {
      versions: (versions as number[]).slice().sort((a, b) => a - b), deployedAt,
      ...(description !== undefined ? { description } : {}),
    });
  }
  return index;
}

/** The store over `env.WORKFLOWS`, or undefined when the Worker has no such binding. */
export function workflowKvStoreFromEnv(env: { readonly WORKFLOWS?: KvNamespaceLike | undefined }, opts: WorkflowKvStoreOptions = {}): WorkflowKvStore | undefined {
  return env.WORKFLOWS === undefined ? undefined : new WorkflowKvStore(env.WORKFLOWS, opts);
}
