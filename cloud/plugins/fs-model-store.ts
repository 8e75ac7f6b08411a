/**
 * A model store in a local folder: object `a/b/c.onnx` is the file `<root>/a/b/c.onnx`.
 *
 * Nothing leaves the root: names are checked by checkObjectName (no `..`, no absolute path, no
 * hidden segment) before they touch a path, and the real path of what is opened must still be
 * inside the root's real path, so a symlink planted in the folder cannot lead elsewhere. Writes
 * are atomic: a hidden temporary file in the target folder, then a rename over the name, so a
 * reader (or a crash) never sees half a model. Hidden files (temporaries, `.cleave-sync.json`)
 * are not listed. Node only.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CleaveError } from '../../shared/errors.js';
import {
  checkListPrefix, checkObjectName, checkObjectSize, DEFAULT_MAX_LISTED_OBJECTS, DEFAULT_MAX_OBJECT_BYTES, isObjectName,
  MAX_OBJECT_NAME_DEPTH, type ModelObject, type ModelStore, type ModelStoreDescription,
} from '../../shared/plugins/model-store.js';
import type { ModelStoreFactory } from '../../shared/plugins/registry.js';

export interface FsModelStoreOptions {
  /** Refuse `put` and `delete`. Default false. */
  readonly readOnly?: boolean;
  /** Largest object read or written, bytes. Default 256 MiB. */
  readonly maxObjectBytes?: number;
  /** Most objects one `list` returns. Default 100000. */
  readonly maxListedObjects?: number;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function byName(a: ModelObject, b: ModelObject): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export class FsModelStore implements ModelStore {
  /** Absolute root folder. */
  readonly root: string;
  private readonly readOnly: boolean;
  private readonly maxObjectBytes: number;
  private readonly maxListedObjects: number;

  /** `root`: the folder; created on the first `put` when missing. */
  constructor(root: string, opts: FsModelStoreOptions = {}) {
    this.root = path.resolve(root);
    this.readOnly = opts.readOnly ?? false;
    this.maxObjectBytes = opts.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    this.maxListedObjects = opts.maxListedObjects ?? DEFAULT_MAX_LISTED_OBJECTS;
  }

  describe(): ModelStoreDescription {
    return { protocol: 'fs', location: this.root, readOnly: this.readOnly };
  }

  /** The root's real path; CLEAVE_E_NOT_FOUND when it does not exist. */
  private async realRoot(): Promise<string> {
    try {
      return await realpath(this.root);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `model store folder ${this.root} does not exist`, { root: this.root });
      }
      throw e;
    }
  }

  /** Throws CLEAVE_E_BAD_ARGUMENT unless `real` is inside `realRoot`. */
  private inside(realRoot: string, real: string, name: string): void {
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model store object "${name}" resolves to ${real}, outside the store folder ${realRoot} (a symlink leads out)`, { name });
    }
  }

  async list(prefix = ''): Promise<ModelObject[]> {
    checkListPrefix(prefix);
    const realRoot = await this.realRoot();
    const out: ModelObject[] = [];
    // Each real folder once: symlinked folders pointing back up would otherwise loop, or multiply.
    const visited = new Set<string>([realRoot]);
    const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
      if (depth > MAX_OBJECT_NAME_DEPTH) return;
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return;
        throw e;
      }
      for (const d of entries) {
        const name = rel ? `${rel}/${d.name}` : d.name;
        // Skip whole subtrees that cannot hold a match, and names no get could fetch.
        if (!isObjectName(name)) continue;
        if (!name.startsWith(prefix) && !prefix.startsWith(`${name}/`)) continue;
        const full = path.join(dir, d.name);
        let real: string;
        try {
          real = await realpath(full);
        } catch {
          continue; // a dangling symlink
        }
        if (real !== realRoot && !real.startsWith(realRoot + path.sep)) continue;
        const s = await stat(real).catch(() => undefined);
        if (!s) continue;
        if (s.isDirectory()) {
          if (visited.has(real)) continue;
          visited.add(real);
          await walk(full, name, depth + 1);
        } else if (s.isFile() && name.startsWith(prefix)) {
          if (out.length >= this.maxListedObjects) {
            throw new CleaveError('CLEAVE_E_TOO_LARGE', `listing ${this.root} finds more than ${this.maxListedObjects} files (maxListedObjects); narrow the prefix`, { limit: this.maxListedObjects });
          }
          out.push({ name, bytes: s.size, modified: Math.round(s.mtimeMs) });
        }
      }
    };
    await walk(realRoot, '', 1);
    return out.sort(byName);
  }

  async get(name: string): Promise<Uint8Array> {
    checkObjectName(name);
    const realRoot = await this.realRoot();
    const file = path.join(realRoot, ...name.split('/'));
    let real: string;
    try {
      real = await realpath(file);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `model store ${this.root} has no object "${name}"`, { name });
      }
      throw e;
    }
    this.inside(realRoot, real, name);
    const s = await stat(real);
    if (!s.isFile()) throw new CleaveError('CLEAVE_E_NOT_FOUND', `model store ${this.root} has no object "${name}" (${file} is not a file)`, { name });
    checkObjectSize(file, s.size, this.maxObjectBytes);
    const b = await readFile(real);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  async put(name: string, bytes: Uint8Array): Promise<void> {
    checkObjectName(name);
    this.writable(name);
    checkObjectSize(`model store object "${name}"`, bytes.byteLength, this.maxObjectBytes);
    await mkdir(this.root, { recursive: true });
    const realRoot = await this.realRoot();
    const parts = name.split('/');
    const dir = path.join(realRoot, ...parts.slice(0, -1));
    await mkdir(dir, { recursive: true });
    this.inside(realRoot, await realpath(dir), name);
    const target = path.join(dir, parts[parts.length - 1]!);
    // A hidden temporary in the same folder: rename is atomic only within one file system.
    const tmp = path.join(dir, `.${parts[parts.length - 1]}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, bytes, { flag: 'wx' });
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `cannot write ${target}: ${(e as Error).message}`, { name }, { cause: e });
    }
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    this.writable(name);
    const realRoot = await this.realRoot();
    const file = path.join(realRoot, ...name.split('/'));
    const parent = await realpath(path.dirname(file)).catch(() => undefined);
    if (parent === undefined) return;
    this.inside(realRoot, parent, name);
    await unlink(file).catch((e: unknown) => {
      if (errno(e) !== 'ENOENT') throw e;
    });
  }

  private writable(name: string): void {
    if (this.readOnly) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model store ${this.root} is read-only; cannot write "${name}"`, { name });
    }
  }
}

/**
 * The `fs` protocol's factory: a plain path (relative to the working directory) or a `file:` URL.
 * Throws CLEAVE_E_BAD_ARGUMENT for a `file:` URL that names no local path.
 */
export function fsModelStoreFactory(opts: FsModelStoreOptions = {}): ModelStoreFactory {
  return (location) => {
    let dir = location;
    if (/^file:/i.test(location)) {
      try {
        dir = fileURLToPath(location);
      } catch (e) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `setting modelStore = ${JSON.stringify(location)} is not valid: ${(e as Error).message}; expected a folder path or a file:///absolute/path URL`, { setting: 'modelStore' });
      }
    }
    return new FsModelStore(dir, opts);
  };
}
