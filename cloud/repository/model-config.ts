/**
 * What the cloud knows about one model before loading it: its name, the versions on offer, the
 * tensor contract, how it is batched and how it is warmed up. The same shape whichever source it
 * came from (a Triton-style folder, the zoo manifest); validated with zod so a typo in a
 * config.json is an error that names the file and the field, not a silent default.
 */
import { z } from 'zod';
import { CleaveError } from '../../shared/errors.js';
import { DTYPES, type DType } from '../../shared/onnx/dtype.js';
import type { TensorSpec } from '../../shared/protocol/frames.js';

/**
 * Model names: lowercase letters, digits, '.', '_', '-', 1 to 64 characters, not starting with a
 * punctuation mark. Names become folder names and URL path segments, so this rule is also what
 * keeps `../` and friends out of the file system.
 */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Largest batch the dynamic batcher forms when a source does not say. Default 32. */
export const DEFAULT_MAX_BATCH_SIZE = 32;

/** Upper bound on `maxBatchSize` and warmup batch sizes: beyond it a typo is likelier than intent. */
export const MAX_BATCH_SIZE_LIMIT = 65_536;

/** Warmup: run the model on random inputs before it is marked READY, so the first request does not pay for lazy allocation. */
export interface WarmupConfig {
  /** Default true. */
  readonly enabled: boolean;
  /** Batch sizes to run once each, in order. Default [1]. Each must be <= maxBatchSize (only [1] when not batched). */
  readonly batchSizes: readonly number[];
}

/** One model as a source offers it. */
export interface ModelConfig {
  /** Matches MODEL_NAME_PATTERN. */
  readonly name: string;
  /** Versions on offer, ascending, positive integers; the highest is the default. */
  readonly versions: readonly number[];
  /** Input contract; dim 0 is -1 when the model is batched, other -1 dims are dynamic. */
  readonly inputs: readonly TensorSpec[];
  /** Output contract, same conventions. */
  readonly outputs: readonly TensorSpec[];
  /** Largest batch the dynamic batcher forms; 0 = the model has no batch dim and is not batched. */
  readonly maxBatchSize: number;
  /**
   * Dynamic batcher settings, raw. The server validates them against the batcher's own schema;
   * the repository only carries them (and keeps the two modules independent).
   */
  readonly dynamicBatching?: unknown;
  readonly warmup: WarmupConfig;
  /** Default priority level of this model's requests; 1 is the highest. Unset: the scheduler's default. */
  readonly priority?: number;
  /** Free text for /metadata and logs. */
  readonly description?: string;
  /**
   * Load on first use only: loadAll does not load it at startup and offers() leaves it out of
   * WELCOME (and the startup log), but it resolves, loads and runs by name like any other model and
   * is in the repository index. For models that exist in dozens (split tails: split-source.ts)
   * and that clients name themselves. Default false.
   */
  readonly onDemand?: boolean;
}

/**
 * What a `config.json` in a model folder holds: a ModelConfig without `versions` (the version
 * folders say which exist), where `name` (must match the folder), `inputs`, `outputs` and
 * `maxBatchSize` are optional and then come from the ONNX graph.
 */
export interface ModelConfigFile {
  readonly name?: string;
  readonly inputs?: readonly TensorSpec[];
  readonly outputs?: readonly TensorSpec[];
  readonly maxBatchSize?: number;
  readonly dynamicBatching?: unknown;
  readonly warmup: WarmupConfig;
  readonly priority?: number;
  readonly description?: string;
  readonly onDemand?: boolean;
}

const nameSchema = z.string().regex(MODEL_NAME_PATTERN, {
  message: 'expected 1 to 64 of a-z 0-9 . _ - starting with a letter or digit',
});

const dimSchema = z.int().refine((d) => d === -1 || d > 0, { message: 'expected -1 (dynamic) or a positive size' });

const tensorSpecSchema = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(DTYPES as unknown as [DType, ...DType[]]),
  shape: z.array(dimSchema).max(32),
});

const tensorListSchema = z.array(tensorSpecSchema).min(1).max(1024);

const warmupSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    batchSizes: z.array(z.int().min(1).max(MAX_BATCH_SIZE_LIMIT)).min(1).max(64).default([1]),
  })
  .prefault({});

const commonFields = {
  dynamicBatching: z.unknown().optional(),
  warmup: warmupSchema,
  priority: z.int().min(1).optional(),
  description: z.string().max(4096).optional(),
  onDemand: z.boolean().optional(),
};

type Issue = { path: PropertyKey[]; message: string };

/** Cross-field rules shared by both schemas: batched tensors start with -1, names are unique, warmup fits the batch. */
function crossCheck(v: { inputs?: readonly TensorSpec[] | undefined; outputs?: readonly TensorSpec[] | undefined; maxBatchSize?: number | undefined; warmup: WarmupConfig }): Issue[] {
  const issues: Issue[] = [];
  for (const key of ['inputs', 'outputs'] as const) {
    const list = v[key];
    if (!list) continue;
    const seen = new Set<string>();
    list.forEach((t, i) => {
      if (seen.has(t.name)) issues.push({ path: [key, i, 'name'], message: `duplicate ${key.slice(0, -1)} name "${t.name}"` });
      seen.add(t.name);
      if (v.maxBatchSize !== undefined && v.maxBatchSize > 0 && t.shape[0] !== -1) {
        issues.push({
          path: [key, i, 'shape'],
          message: `maxBatchSize ${v.maxBatchSize} means dim 0 is the batch and must be -1; got [${t.shape.join(',')}] (set maxBatchSize 0 for a model without a batch dim)`,
        });
      }
    });
  }
  if (v.maxBatchSize !== undefined) {
    const cap = v.maxBatchSize === 0 ? 1 : v.maxBatchSize;
    v.warmup.batchSizes.forEach((b, i) => {
      if (b > cap) {
        issues.push({
          path: ['warmup', 'batchSizes', i],
          message: v.maxBatchSize === 0 ? `batch size ${b} for a model that is not batched (maxBatchSize 0); only 1 applies` : `batch size ${b} exceeds maxBatchSize ${v.maxBatchSize}`,
        });
      }
    });
  }
  return issues;
}

/** zod schema of a complete ModelConfig (versions included). */
export const modelConfigSchema = z
  .strictObject({
    name: nameSchema,
    versions: z.array(z.int().min(1)).min(1).max(10_000),
    inputs: tensorListSchema,
    outputs: tensorListSchema,
    maxBatchSize: z.int().min(0).max(MAX_BATCH_SIZE_LIMIT),
    ...commonFields,
  })
  .superRefine((v, ctx) => {
    if (new Set(v.versions).size !== v.versions.length) ctx.addIssue({ code: 'custom', path: ['versions'], message: `duplicate versions in [${v.versions.join(',')}]` });
    for (const i of crossCheck(v)) ctx.addIssue({ code: 'custom', ...i });
  });

/** zod schema of a model folder's `config.json`. */
export const modelConfigFileSchema = z
  .strictObject({
    name: nameSchema.optional(),
    inputs: tensorListSchema.optional(),
    outputs: tensorListSchema.optional(),
    maxBatchSize: z.int().min(0).max(MAX_BATCH_SIZE_LIMIT).optional(),
    ...commonFields,
  })
  .superRefine((v, ctx) => {
    for (const i of crossCheck(v)) ctx.addIssue({ code: 'custom', ...i });
  });

/** `inputs[0].shape[1]` from zod's path array. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(root)';
}

function fail(where: string, issues: readonly Issue[]): never {
  const shown = issues.slice(0, 5).map((i) => `${formatFieldPath(i.path)}: ${i.message}`);
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${where}: ${shown.join('; ')}${more}`, {
    where,
    fields: issues.map((i) => formatFieldPath(i.path)),
  });
}

/** Drops keys whose value is undefined, so results satisfy exactOptionalPropertyTypes. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Validates a complete model config (e.g. one built in code or given in a server config).
 * `where` names the origin for messages (a file path). Versions come back sorted ascending.
 * Throws CLEAVE_E_BAD_ARGUMENT naming `where` and each bad field's path.
 */
export function parseModelConfig(json: unknown, where: string): ModelConfig {
  const r = modelConfigSchema.safeParse(json);
  if (!r.success) fail(where, r.error.issues);
  return defined({ ...r.data, versions: [...r.data.versions].sort((a, b) => a - b) }) as ModelConfig;
}

/** Validates the contents of a model folder's `config.json`. Errors as parseModelConfig. */
export function parseModelConfigFile(json: unknown, where: string): ModelConfigFile {
  const r = modelConfigFileSchema.safeParse(json);
  if (!r.success) fail(where, r.error.issues);
  return defined(r.data) as ModelConfigFile;
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless `name` is a valid model name. */
export function checkModelName(name: string): void {
  if (!MODEL_NAME_PATTERN.test(name)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model name ${JSON.stringify(name)} is not valid: expected 1 to 64 of a-z 0-9 . _ - starting with a letter or digit`, { name });
  }
}

/** Throws CLEAVE_E_BAD_ARGUMENT unless `version` is a positive integer. */
export function checkModelVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model version ${version} is not a positive integer`, { version: String(version) });
  }
}
