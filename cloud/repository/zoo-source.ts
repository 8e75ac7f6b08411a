/**
 * The generated model zoo (`models/manifest.json` + `models/<name>.onnx`) as a model source, so
 * a fresh checkout serves something without a model repository. The server runs ensureZoo()
 * first; this file only reads what is there.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_ZOO_DIR, MANIFEST_FILE, readManifest } from '../../cli/zoo-files.js';
import { CleaveError } from '../../shared/errors.js';
import type { TensorSpec } from '../../shared/protocol/frames.js';
import type { ManifestEntry } from '../../shared/zoo/manifest.js';
import { checkModelName, checkModelVersion, DEFAULT_MAX_BATCH_SIZE, parseModelConfig, type ModelConfig } from './model-config.js';
import type { ModelSource } from './model-source.js';

export interface ZooSourceOptions {
  /** maxBatchSize of every zoo model (all have a symbolic batch dim 'N'); the server passes CLEAVE_MAX_BATCH_SIZE. Default 32. */
  readonly defaultMaxBatchSize?: number;
  /** Serve only these models, in this order. Default every manifest entry, in manifest order. */
  readonly only?: readonly string[];
}

function specs(list: ManifestEntry['inputs']): TensorSpec[] {
  // Zoo shapes name their symbolic dims ('N' for the batch); the protocol writes -1 for any.
  return list.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) }));
}

/** Every manifest entry as a ModelConfig, with 'N' (and any other symbolic dim) as -1. */
export function zooModelConfig(e: ManifestEntry, maxBatchSize: number, where: string): ModelConfig {
  const inputs = specs(e.inputs);
  const outputs = specs(e.outputs);
  const batched = [...inputs, ...outputs].every((t) => t.shape[0] === -1);
  return parseModelConfig({
    name: e.name,
    versions: [e.version],
    inputs,
    outputs,
    maxBatchSize: batched ? maxBatchSize : 0,
    description: e.description,
  }, where);
}

export class ZooSource implements ModelSource {
  readonly description: string;
  private readonly dir: string;
  private readonly maxBatchSize: number;
  private readonly only: readonly string[] | undefined;

  /** `dir`: the zoo folder holding manifest.json. Default DEFAULT_ZOO_DIR (`models/` at the repository root). */
  constructor(dir: string = DEFAULT_ZOO_DIR, opts: ZooSourceOptions = {}) {
    this.dir = path.resolve(dir);
    this.description = `zoo ${this.dir}`;
    this.maxBatchSize = opts.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.only = opts.only;
  }

  private async entries(): Promise<ManifestEntry[]> {
    const m = await readManifest(this.dir);
    if (!m) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `no readable zoo manifest ${path.join(this.dir, MANIFEST_FILE)}; build the zoo with \`cleave models\``, { dir: this.dir });
    }
    if (!this.only) return [...m.models];
    return this.only.map((name) => {
      const e = m.models.find((x) => x.name === name);
      if (!e) throw new CleaveError('CLEAVE_E_NOT_FOUND', `zoo manifest in ${this.dir} has no model "${name}"; have: ${m.models.map((x) => x.name).join(', ')}`, { model: name });
      return e;
    });
  }

  async list(): Promise<ModelConfig[]> {
    const where = path.join(this.dir, MANIFEST_FILE);
    return (await this.entries()).map((e) => zooModelConfig(e, this.maxBatchSize, `${where} (model "${e.name}")`));
  }

  async read(name: string, version: number): Promise<Uint8Array> {
    checkModelName(name);
    checkModelVersion(version);
    const e = (await this.entries()).find((x) => x.name === name);
    if (!e) throw new CleaveError('CLEAVE_E_NOT_FOUND', `zoo ${this.dir} has no model "${name}"`, { model: name });
    if (e.version !== version) throw new CleaveError('CLEAVE_E_NOT_FOUND', `zoo model "${name}" has version ${e.version}, not ${version}`, { model: name, version });
    // The manifest is a file like any other: a `file` with a path in it must not lead elsewhere.
    if (path.basename(e.file) !== e.file || e.file.startsWith('.')) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `zoo manifest entry "${name}" names file ${JSON.stringify(e.file)}, expected a plain file name`, { model: name });
    }
    const file = path.join(this.dir, e.file);
    const b = await readFile(file).catch((err: unknown) => {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `zoo model "${name}": cannot read ${file}: ${(err as Error).message}`, { model: name }, { cause: err });
    });
    // ensureZoo checked the SHA-256; a size mismatch here means the file changed since.
    if (b.byteLength !== e.bytes) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `zoo model file ${file} is ${b.byteLength} bytes, the manifest says ${e.bytes}; rebuild the zoo`, { model: name });
    }
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
}
