/**
 * A Triton-style model repository on disk:
 *
 *   <root>/<model>/config.json        optional; without it the contract comes from the graph
 *   <root>/<model>/<version>/model.onnx   version = a positive integer folder name
 *
 * Model folders are listed in name order. A model folder with no usable version is reported
 * through `warn` and skipped (one half-copied model should not take the server down); a
 * config.json that does not parse or validate is an error naming the file (a config that says
 * something wrong is worse than none). Names are validated before they touch a path, so a
 * request for `../etc` never reaches the file system.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CleaveError } from '../../shared/errors.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { inferContract, type InferredContract } from './infer-config.js';
import {
  checkModelName, checkModelVersion, DEFAULT_MAX_BATCH_SIZE, MODEL_NAME_PATTERN, parseModelConfig, parseModelConfigFile,
  type ModelConfig, type ModelConfigFile,
} from './model-config.js';
import type { ModelSource } from './model-source.js';

/** File name of a version's model inside its version folder (Triton's default_model_filename). */
export const MODEL_FILE_NAME = 'model.onnx';
/** Optional per-model config file. */
export const CONFIG_FILE_NAME = 'config.json';
/** Version folder names: positive integers without leading zeros, at most 9 digits. */
const VERSION_DIR = /^[1-9][0-9]{0,8}$/;
/** Largest config.json read, bytes: a config is a few hundred bytes; anything huge is a mistake. */
const MAX_CONFIG_BYTES = 1 << 20;

export interface FolderSourceOptions {
  /** maxBatchSize for models whose config does not say and whose graph has a dynamic dim 0. Default 32. */
  readonly defaultMaxBatchSize?: number;
  /** Reports skipped folders. Default `process.emitWarning`. */
  readonly warn?: (msg: string) => void;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function isDir(p: string, d: Dirent): Promise<boolean> {
  if (d.isDirectory()) return true;
  // Symlinked model or version folders are normal (a shared disk, a blue/green swap).
  return d.isSymbolicLink() ? stat(p).then((s) => s.isDirectory(), () => false) : false;
}

export class FolderSource implements ModelSource {
  readonly description: string;
  private readonly root: string;
  private readonly defaultMaxBatchSize: number;
  private readonly warn: (msg: string) => void;
  /** Graph contracts by file, keyed on path + size + mtime, so a refresh does not decode unchanged models again. */
  private readonly inferred = new Map<string, { key: string; contract: InferredContract }>();

  /** `root`: the repository folder. */
  constructor(root: string, opts: FolderSourceOptions = {}) {
    this.root = path.resolve(root);
    this.description = `folder ${this.root}`;
    this.defaultMaxBatchSize = opts.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.warn = opts.warn ?? ((m) => process.emitWarning(m, 'CleaveRepositoryWarning'));
  }

  async list(): Promise<ModelConfig[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `model repository ${this.root} is not a folder`, { root: this.root });
      }
      throw e;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const out: ModelConfig[] = [];
    for (const d of entries) {
      if (d.name.startsWith('.')) continue;
      const dir = path.join(this.root, d.name);
      if (!(await isDir(dir, d))) continue;
      if (!MODEL_NAME_PATTERN.test(d.name)) {
        this.warn(`model folder ${dir} skipped: "${d.name}" is not a valid model name (1 to 64 of a-z 0-9 . _ - starting with a letter or digit)`);
        continue;
      }
      const config = await this.readModel(d.name, dir);
      if (config) out.push(config);
    }
    return out;
  }

  async read(name: string, version: number): Promise<Uint8Array> {
    checkModelName(name);
    checkModelVersion(version);
    const file = path.join(this.root, name, String(version), MODEL_FILE_NAME);
    try {
      const b = await readFile(file);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `model "${name}" version ${version} has no file ${file}`, { model: name, version });
      }
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `cannot read ${file}: ${(e as Error).message}`, { model: name, version }, { cause: e });
    }
  }

  /** The versions of one model folder that hold a model file, ascending. */
  private async versions(dir: string): Promise<number[]> {
    const versions: number[] = [];
    for (const v of await readdir(dir, { withFileTypes: true })) {
      const vdir = path.join(dir, v.name);
      if (!VERSION_DIR.test(v.name) || !(await isDir(vdir, v))) continue;
      const file = path.join(vdir, MODEL_FILE_NAME);
      if (await stat(file).then((s) => s.isFile(), () => false)) versions.push(Number(v.name));
      else this.warn(`version folder ${vdir} skipped: it has no ${MODEL_FILE_NAME}`);
    }
    return versions.sort((a, b) => a - b);
  }

  private async readConfigFile(file: string): Promise<ModelConfigFile | undefined> {
    let text: string;
    try {
      const s = await stat(file);
      if (s.size > MAX_CONFIG_BYTES) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${file}: ${s.size} bytes, larger than the ${MAX_CONFIG_BYTES}-byte limit for a model config`, { where: file });
      }
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${file}: not valid JSON: ${(e as Error).message}`, { where: file }, { cause: e });
    }
    return parseModelConfigFile(json, file);
  }

  private async contract(file: string): Promise<InferredContract> {
    const s = await stat(file);
    const key = `${s.size}:${s.mtimeMs}`;
    const hit = this.inferred.get(file);
    if (hit?.key === key) return hit.contract;
    const contract = inferContract(decodeModel(await readFile(file)), this.defaultMaxBatchSize, file);
    this.inferred.set(file, { key, contract });
    return contract;
  }

  private async readModel(name: string, dir: string): Promise<ModelConfig | undefined> {
    const versions = await this.versions(dir);
    const configFile = path.join(dir, CONFIG_FILE_NAME);
    const file = await this.readConfigFile(configFile);
    if (versions.length === 0) {
      this.warn(`model folder ${dir} skipped: no version folder with a ${MODEL_FILE_NAME} (expected ${path.join(dir, '1', MODEL_FILE_NAME)})`);
      return undefined;
    }
    if (file?.name !== undefined && file.name !== name) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${configFile}: name: "${file.name}" does not match its folder "${name}"`, { where: configFile, fields: ['name'] });
    }
    let inputs = file?.inputs;
    let outputs = file?.outputs;
    let maxBatchSize = file?.maxBatchSize;
    if (!inputs || !outputs || maxBatchSize === undefined) {
      // The newest version is the default one, so its graph speaks for the model.
      const latest = path.join(dir, String(versions[versions.length - 1]), MODEL_FILE_NAME);
      if (inputs && outputs) {
        maxBatchSize = [...inputs, ...outputs].every((t) => t.shape[0] === -1) ? this.defaultMaxBatchSize : 0;
      } else {
        const c = await this.contract(latest);
        inputs ??= c.inputs;
        outputs ??= c.outputs;
        maxBatchSize ??= c.maxBatchSize;
      }
    }
    const { name: _ignored, ...rest } = file ?? { warmup: { enabled: true, batchSizes: [1] } };
    // Validated again as a whole: the rules that tie fields together (batched dims start with
    // -1, warmup within maxBatchSize) must hold for the merged result too.
    return parseModelConfig({ ...rest, name, versions, inputs, outputs, maxBatchSize }, file ? configFile : dir);
  }
}
