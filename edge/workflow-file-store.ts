/**
 * The workflow store of the Node edge: a MemoryWorkflowStore written through to a directory,
 * one JSON file per (name, version) and nothing else, so the directory is the whole state and
 * can be backed up, diffed or edited by hand:
 *
 *   .cleave/workflows/image-cascade.v000001.json
 *   .cleave/workflows/image-cascade.v000002.json
 *
 * Writes are atomic: the record goes to a temp file in the same directory (`.<file>.<uuid>.tmp`),
 * is fsynced, then renamed over its name, so a crash leaves the old state or the new one, never
 * half a file. Loading reads every file once at open: a file that does not parse, does not
 * match the workflow schema or whose digest is wrong is reported through `warn` and skipped
 * (left in place for a person to look at), and its version is never reused; temp files left by a
 * crash are removed. Names are checked against WORKFLOW_NAME_PATTERN (lower-case letters, digits,
 * dashes) before they reach a path, so none can escape the directory.
 *
 * One process per directory: the index lives in memory, so a second process writing the same
 * directory would not see the first's versions until it restarts.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkWorkflowName, decodeStoredWorkflow, encodeStoredWorkflow, MemoryWorkflowStore, type PutWorkflowMeta, type PutWorkflowResult, type StoredWorkflow,
  type WorkflowPersistence, type WorkflowStore, type WorkflowStoreLimits, type WorkflowSummary,
} from '../shared/workflow/store.js';
import { WORKFLOW_NAME_PATTERN, type WorkflowDefinition } from '../shared/workflow/definition.js';

/** Default directory, relative to the working directory. */
export const DEFAULT_WORKFLOW_DIR = './.cleave/workflows';

/** Options of WorkflowFileStore.open. */
export interface WorkflowFileStoreOptions {
  /** Directory of the records; created when missing. Default `./.cleave/workflows`. */
  dir?: string;
  limits?: Partial<WorkflowStoreLimits>;
  /** Told about each file skipped or cleaned up at load, and removals that failed; default silent. */
  warn?: (message: string) => void;
}

/** Zero-padded so a plain directory listing sorts versions in order. */
const VERSION_DIGITS = 6;
const RECORD_FILE = new RegExp(`^(${WORKFLOW_NAME_PATTERN.source.replace(/^\^|\$$/g, '')})\\.v([0-9]{${VERSION_DIGITS},})\\.json$`);
const TEMP_FILE = /^\..*\.tmp$/;

/** The file name of a record: `<name>.v<version, 6 digits>.json`. */
export function workflowFileName(name: string, version: number): string {
  checkWorkflowName(name);
  return `${name}.v${String(version).padStart(VERSION_DIGITS, '0')}.json`;
}

/** Writes `text` to `path` atomically: a synced temp file in the same directory, then a rename. */
async function writeAtomic(dir: string, file: string, text: string): Promise<void> {
  const temp = join(dir, `.${file}.${randomUUID()}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(text, 'utf8');
      // Without the sync a crash right after the rename can leave an empty file under the new name.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, file));
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A directory-backed WorkflowStore for Node. Open with `WorkflowFileStore.open()`. */
export class WorkflowFileStore implements WorkflowStore {
  private constructor(private readonly inner: MemoryWorkflowStore, readonly dir: string) {}

  /** Creates the directory when missing and loads every record in it. */
  static async open(opts: WorkflowFileStoreOptions = {}): Promise<WorkflowFileStore> {
    const dir = opts.dir ?? DEFAULT_WORKFLOW_DIR;
    const warn = opts.warn ?? (() => undefined);
    await mkdir(dir, { recursive: true });
    const records: StoredWorkflow[] = [];
    const reserved = new Map<string, number>();
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (TEMP_FILE.test(entry.name)) {
        // Only this store writes temp files here; one left over is a write that never finished.
        await unlink(join(dir, entry.name)).then(
          () => warn(`workflow store ${dir}: removed ${entry.name}, left by an interrupted write`),
          (e: unknown) => warn(`workflow store ${dir}: could not remove ${entry.name}: ${message(e)}`),
        );
        continue;
      }
      const m = RECORD_FILE.exec(entry.name);
      if (m === null || !entry.isFile()) {
        warn(`workflow store ${dir}: ignoring ${entry.name}, which is not a workflow record (<name>.v<version>.json)`);
        continue;
      }
      const name = m[1] ?? '';
      const version = Number(m[2]);
      if (!Number.isSafeInteger(version) || version < 1 || workflowFileName(name, version) !== entry.name) {
        warn(`workflow store ${dir}: ignoring ${entry.name}: version ${m[2] ?? ''} is not a positive integer in ${VERSION_DIGITS} digits`);
        continue;
      }
      reserved.set(name, Math.max(reserved.get(name) ?? 0, version));
      try {
        records.push(await decodeStoredWorkflow(await readFile(join(dir, entry.name), 'utf8'), { name, version }));
      } catch (e) {
        warn(`workflow store ${dir}: skipping ${entry.name}: ${message(e)}`);
      }
    }
    const persistence: WorkflowPersistence = {
      write: (r) => writeAtomic(dir, workflowFileName(r.name, r.version), encodeStoredWorkflow(r)),
      remove: async (gone) => {
        for (const r of gone) {
          await unlink(join(dir, workflowFileName(r.name, r.version))).catch((e: unknown) => {
            if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
          });
        }
      },
    };
    const inner = new MemoryWorkflowStore({
      records, reservedVersions: reserved, persistence, warn,
      ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
    });
    return new WorkflowFileStore(inner, dir);
  }

  get limits(): WorkflowStoreLimits {
    return this.inner.limits;
  }

  put(def: WorkflowDefinition, meta: PutWorkflowMeta): Promise<PutWorkflowResult> {
    return this.inner.put(def, meta);
  }

  get(name: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.inner.get(name, version);
  }

  list(): Promise<WorkflowSummary[]> {
    return this.inner.list();
  }

  delete(name: string, version?: number): Promise<boolean> {
    return this.inner.delete(name, version);
  }
}
