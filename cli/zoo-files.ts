/**
 * The zoo on disk (Node side): `models/<name>.onnx` plus `models/manifest.json`, built with
 * onnxruntime-node as the runner. Work is skipped when the manifest was written by this code's
 * ZOO_VERSION and every file's SHA-256 still matches, so tests and the demo can call
 * `ensureZoo()` freely. Concurrent callers (parallel test workers) serialise on a lock directory
 * and write files by rename, so nobody ever reads a half-written model.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CleaveError } from '../shared/errors.js';
import {
  buildZoo, formatManifest, manifestEntry, selectZooModels, sha256Hex, ZOO_VERSION,
  type BuiltZooModel, type Manifest, type ManifestEntry, type ZooModelSpec, type ZooRunner,
} from '../shared/zoo/index.js';
import { nodeBackends } from './backends.js';
import { createProgress, type Progress } from './progress.js';

/** `models/` at the repository root (git-ignored). */
export const DEFAULT_ZOO_DIR = fileURLToPath(new URL('../models/', import.meta.url));
/** Manifest file name inside the zoo directory. */
export const MANIFEST_FILE = 'manifest.json';
/** A lock older than this is taken to be left by a crashed process, ms. */
const STALE_LOCK_MS = 10 * 60_000;
/** How often a waiting process looks at the lock again, ms. */
const LOCK_POLL_MS = 250;

/**
 * The zoo's runner on onnxruntime-node: one intra-op thread, so reductions run in the same
 * order every time and the fitted heads (hence the bytes) repeat exactly.
 */
export function nodeZooRunner(): ZooRunner {
  return async (model, feeds) => {
    const backend = (await nodeBackends()).get('onnxruntime-node');
    const loaded = await backend.load(model, { intraOpThreads: 1 });
    try {
      return await loaded.run(feeds);
    } finally {
      await loaded.dispose();
    }
  };
}

/** The manifest in `dir`, or undefined when there is none or it does not parse. */
export async function readManifest(dir = DEFAULT_ZOO_DIR): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
    return typeof m.zooVersion === 'number' && Array.isArray(m.models) ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The entry for `spec` when it is current: written by this ZOO_VERSION and model version, with
 * the catalogue's contract unchanged, and a file whose SHA-256 matches. An exit head is current
 * only while its base is: it was fitted to that base's logits.
 */
async function currentEntry(dir: string, manifest: Manifest | undefined, spec: ZooModelSpec): Promise<ManifestEntry | undefined> {
  if (!manifest || manifest.zooVersion !== ZOO_VERSION) return undefined;
  if (spec.exitOf) {
    const base = selectZooModels([spec.exitOf.model])[0]!;
    if (!(await currentEntry(dir, manifest, base))) return undefined;
  }
  const e = manifest.models.find((m) => m.name === spec.name);
  if (!e || e.version !== spec.version) return undefined;
  // Rebuilt from the catalogue with the recorded figures: any contract change shows as a difference.
  const expected = manifestEntry(spec, {
    bytes: new Uint8Array(e.bytes),
    sha256: e.sha256,
    params: e.params,
    meanTop1Prob: e.meanTop1Prob,
    maxClassShare: e.maxClassShare,
    ...(e.top1AgreementWithBase !== undefined ? { top1AgreementWithBase: e.top1AgreementWithBase } : {}),
    ...(e.exitCurve !== undefined ? { exitCurve: e.exitCurve } : {}),
  });
  if (JSON.stringify(expected) !== JSON.stringify(e)) return undefined;
  try {
    const bytes = await readFile(path.join(dir, e.file));
    return bytes.length === e.bytes && (await sha256Hex(bytes)) === e.sha256 ? e : undefined;
  } catch {
    return undefined;
  }
}

async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.zoo.lock');
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** What `syncZoo` should make current, and where. */
export interface SyncZooOptions {
  /** Zoo directory. Default DEFAULT_ZOO_DIR (`models/` at the repository root). */
  dir?: string;
  /** Models to make current. Default all. */
  only?: readonly string[];
  /** Rebuild even when the files are current. Default false. */
  force?: boolean;
  /** Default nodeZooRunner(). */
  runner?: ZooRunner;
  /** Called as each model is built (not for reused ones). */
  onBuilt?: (model: BuiltZooModel) => void;
  /** Called once with the models about to be built (not called when everything is current). */
  onPlan?: (names: readonly string[]) => void;
}

/** What `syncZoo` found and did. */
export interface SyncZooResult {
  readonly dir: string;
  /** The manifest now on disk. */
  readonly manifest: Manifest;
  /** Models built by this call. */
  readonly built: readonly BuiltZooModel[];
  /** Requested models whose files were already current. */
  readonly reused: readonly ManifestEntry[];
}

/**
 * Makes the requested zoo models current in `dir`: reuses intact files, builds the rest, and
 * rewrites the manifest (keeping other current entries). Throws CLEAVE_E_NOT_FOUND for an
 * unknown name.
 */
export async function syncZoo(opts: SyncZooOptions = {}): Promise<SyncZooResult> {
  const dir = path.resolve(opts.dir ?? DEFAULT_ZOO_DIR);
  const wanted = selectZooModels(opts.only);
  const stale = async (): Promise<{ reused: ManifestEntry[]; todo: ZooModelSpec[]; manifest: Manifest | undefined }> => {
    const manifest = await readManifest(dir);
    const reused: ManifestEntry[] = [];
    const todo: ZooModelSpec[] = [];
    for (const spec of wanted) {
      const e = opts.force ? undefined : await currentEntry(dir, manifest, spec);
      if (e) reused.push(e);
      else todo.push(spec);
    }
    return { reused, todo, manifest };
  };
  const first = await stale();
  if (first.todo.length === 0 && first.manifest) return { dir, manifest: first.manifest, built: [], reused: first.reused };

  await mkdir(dir, { recursive: true });
  return withLock(dir, async () => {
    // Another process may have built them while this one waited for the lock.
    const { reused, todo, manifest } = opts.force ? first : await stale();
    if (todo.length) opts.onPlan?.(todo.map((s) => s.name));
    const built = todo.length
      ? await buildZoo(opts.runner ?? nodeZooRunner(), { only: todo.map((s) => s.name), ...(opts.onBuilt ? { onBuilt: opts.onBuilt } : {}) })
      : [];
    for (const b of built) await writeAtomic(path.join(dir, b.entry.file), b.bytes);
    // Keep every other entry that is still current; drop the rest.
    const entries = new Map<string, ManifestEntry>();
    for (const spec of selectZooModels()) {
      const fresh = built.find((b) => b.name === spec.name)?.entry ?? reused.find((e) => e.name === spec.name) ?? (await currentEntry(dir, manifest, spec));
      if (fresh) entries.set(spec.name, fresh);
    }
    const next: Manifest = { zooVersion: ZOO_VERSION, models: [...entries.values()] };
    await writeAtomic(path.join(dir, MANIFEST_FILE), formatManifest(next));
    return { dir, manifest: next, built, reused };
  });
}

/**
 * Every zoo model current in `dir` (default `models/`), building what is missing or stale;
 * returns the manifest. Cheap when nothing changed: it reads and hashes the files. A build
 * (tens of seconds) shows progress: a bar on a terminal, a line per model otherwise
 * (cli/progress.ts); pass `progress` to send it elsewhere.
 */
export async function ensureZoo(dir?: string, opts: { readonly progress?: Progress } = {}): Promise<Manifest> {
  let progress: Progress | undefined;
  try {
    return (await syncZoo({
      ...(dir === undefined ? {} : { dir }),
      onPlan: (names) => {
        progress = opts.progress ?? createProgress();
        progress.start('building model zoo', names.length);
      },
      onBuilt: (m) => progress?.tick(`${m.name} ${Math.round(m.buildMs)} ms`),
    })).manifest;
  } finally {
    progress?.stop();
  }
}

/** Path of a zoo model's file, checking the manifest lists it. */
export function zooFile(manifest: Manifest, dir: string, name: string): string {
  const e = manifest.models.find((m) => m.name === name);
  if (!e) throw new CleaveError('CLEAVE_E_NOT_FOUND', `zoo manifest in ${dir} has no model "${name}"; have: ${manifest.models.map((m) => m.name).join(', ')}`, { name });
  return path.join(dir, e.file);
}
