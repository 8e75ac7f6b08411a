/**
 * The dynamic batcher's knobs, named after Triton's `dynamic_batching` block so an operator who
 * tuned Triton can tune Cleave: max batch size, max queue delay, preferred batch sizes,
 * priority levels and queue policies. Parsed with zod from the model config; every error is a
 * CLEAVE_E_BAD_ARGUMENT naming the field path, the value and what was expected.
 */
import { z } from 'zod';
import { CleaveError } from '../../shared/errors.js';

/** Default max batch size, rows, when neither the config nor CLEAVE_MAX_BATCH_SIZE sets one. */
export const DEFAULT_MAX_BATCH_SIZE = 32;

/** Environment variable the server reads for the default max batch size. */
export const MAX_BATCH_SIZE_ENV = 'CLEAVE_MAX_BATCH_SIZE';

/** Default max queue delay, ms: short enough to be invisible next to a WAN round trip. */
export const DEFAULT_MAX_QUEUE_DELAY_MS = 2;

/**
 * What happens to a request that waited past its queue timeout: 'reject' fails it with
 * CLEAVE_E_OVERLOADED; 'delay' keeps it queued behind every on-time request of its priority
 * level (Triton's DELAY), so late work yields to work that can still be on time.
 */
export type TimeoutAction = 'reject' | 'delay';

/** Triton's ModelQueuePolicy: limits on how long and how many requests queue at one level. */
export interface QueuePolicy {
  /** Queue timeout, ms from submit; 0 = none. Default 0. */
  readonly timeoutMs: number;
  /** What a timeout does. Default 'reject'. */
  readonly timeoutAction: TimeoutAction;
  /**
   * Whether a request's own timeoutMs applies. As in Triton it may only shorten the policy's
   * timeout (any value shortens "none"); a longer one is ignored. Default false.
   */
  readonly allowTimeoutOverride: boolean;
  /** Requests queued at the level (delayed ones included) before submits are refused; 0 = unbounded. Default 0. */
  readonly maxQueueSize: number;
}

/** The dynamic batcher of one model, resolved: every field set. */
export interface DynamicBatchingConfig {
  /**
   * Most rows in one batch. 0 = the model has no batch dim (each request runs alone, whole);
   * 1 = a batch dim but no batching (requests of one row run alone). Default: the `defaults`
   * argument, else CLEAVE_MAX_BATCH_SIZE, else 32.
   */
  readonly maxBatchSize: number;
  /** Longest a request waits for a batch to fill before a partial batch runs, ms; 0 = never wait. Default 2. */
  readonly maxQueueDelayMs: number;
  /** Batch sizes (rows) worth running at once without waiting out the delay, ascending. Default []. */
  readonly preferredBatchSizes: readonly number[];
  /** Priority levels; 1 is the highest. Default 1. */
  readonly priorityLevels: number;
  /**
   * Level of a request that names none. Default: the lowest level (priorityLevels), so levels
   * above it are for callers that ask to jump the queue and ordinary traffic never does.
   */
  readonly defaultPriority: number;
  /** Policy of every level without an override. Default: no timeout, reject, no override, unbounded. */
  readonly defaultQueuePolicy: QueuePolicy;
  /** Per-level policy overrides by level; each is merged over defaultQueuePolicy. Default {}. */
  readonly priorityQueuePolicy: Readonly<Record<number, QueuePolicy>>;
  /** Batches executing at once (Triton's instance count). Default 1. */
  readonly maxConcurrentBatches: number;
}

/** Defaults the caller (the server) supplies, e.g. maxBatchSize from CLEAVE_MAX_BATCH_SIZE. */
export type BatchingDefaults = Partial<Pick<DynamicBatchingConfig, 'maxBatchSize' | 'maxQueueDelayMs' | 'maxConcurrentBatches'>>;

/** Queue policy when nothing is configured. */
export const DEFAULT_QUEUE_POLICY: QueuePolicy = Object.freeze({
  timeoutMs: 0,
  timeoutAction: 'reject',
  allowTimeoutOverride: false,
  maxQueueSize: 0,
});

const int = (min: number) => {
  const error = `expected an integer >= ${min}`;
  return z.number({ error }).int({ error }).min(min, { error });
};
const ms = () => {
  const error = 'expected a number of ms >= 0';
  return z.number({ error }).min(0, { error });
};

const queuePolicySchema = z.strictObject({
  timeoutMs: ms().optional(),
  timeoutAction: z.enum(['reject', 'delay'], { error: 'expected "reject" or "delay"' }).optional(),
  allowTimeoutOverride: z.boolean({ error: 'expected true or false' }).optional(),
  maxQueueSize: int(0).optional(),
}, { error: 'expected an object' });

/** The config as written (every field optional); parseBatchingConfig fills the defaults in. */
export const dynamicBatchingSchema = z.strictObject({
  maxBatchSize: int(0).optional(),
  maxQueueDelayMs: ms().optional(),
  preferredBatchSizes: z.array(int(1), { error: 'expected an array of integers >= 1' }).optional(),
  priorityLevels: int(1).optional(),
  defaultPriority: int(1).optional(),
  defaultQueuePolicy: queuePolicySchema.optional(),
  priorityQueuePolicy: z.record(z.string().regex(/^[1-9][0-9]*$/), queuePolicySchema, { error: 'expected an object keyed by priority level' }).optional(),
  maxConcurrentBatches: int(1).optional(),
}, { error: 'expected an object' });

/** Input accepted by parseBatchingConfig. */
export type DynamicBatchingInput = z.input<typeof dynamicBatchingSchema>;

function pathText(where: string, path: readonly PropertyKey[]): string {
  let s = where;
  for (const k of path) {
    if (typeof k === 'number' || (typeof k === 'string' && /^[0-9]+$/.test(k))) s += `[${String(k)}]`;
    else if (typeof k === 'string' && /^[A-Za-z_$][\w$]*$/.test(k)) s += `.${k}`;
    else s += `[${JSON.stringify(String(k))}]`;
  }
  return s;
}

function valueText(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === undefined) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function bad(field: string, message: string): CleaveError {
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', message, { field });
}

/**
 * Resolves a `dynamicBatching` config block: validates it, fills defaults (`defaults` first,
 * then the documented ones) and checks the fields against each other. `where` is the path
 * printed in errors. Preferred sizes come back sorted ascending without repeats.
 * Throws CLEAVE_E_BAD_ARGUMENT, e.g. `dynamicBatching.preferredBatchSizes[1] = 64 exceeds maxBatchSize 32`.
 */
export function parseBatchingConfig(input: unknown, defaults: BatchingDefaults = {}, where = 'dynamicBatching'): DynamicBatchingConfig {
  const d = parseInput(defaults, 'batching defaults');
  const c = parseInput(input ?? {}, where);

  const maxBatchSize = c.maxBatchSize ?? d.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  const preferred = c.preferredBatchSizes ?? [];
  preferred.forEach((size, i) => {
    if (size > maxBatchSize) {
      const field = `${where}.preferredBatchSizes[${i}]`;
      throw bad(field, `${field} = ${size} exceeds maxBatchSize ${maxBatchSize}`);
    }
  });

  const priorityLevels = c.priorityLevels ?? 1;
  const defaultPriority = c.defaultPriority ?? priorityLevels;
  if (defaultPriority > priorityLevels) {
    const field = `${where}.defaultPriority`;
    throw bad(field, `${field} = ${defaultPriority}: expected a level 1..${priorityLevels} (priorityLevels)`);
  }

  const defaultQueuePolicy = mergePolicy(DEFAULT_QUEUE_POLICY, c.defaultQueuePolicy);
  const priorityQueuePolicy: Record<number, QueuePolicy> = {};
  for (const [key, policy] of Object.entries(c.priorityQueuePolicy ?? {})) {
    const level = Number(key);
    if (level > priorityLevels) {
      const field = `${where}.priorityQueuePolicy[${key}]`;
      throw bad(field, `${field}: level ${key} does not exist; expected a level 1..${priorityLevels} (priorityLevels)`);
    }
    priorityQueuePolicy[level] = mergePolicy(defaultQueuePolicy, policy);
  }

  return {
    maxBatchSize,
    maxQueueDelayMs: c.maxQueueDelayMs ?? d.maxQueueDelayMs ?? DEFAULT_MAX_QUEUE_DELAY_MS,
    preferredBatchSizes: [...new Set(preferred)].sort((a, b) => a - b),
    priorityLevels,
    defaultPriority,
    defaultQueuePolicy,
    priorityQueuePolicy,
    maxConcurrentBatches: c.maxConcurrentBatches ?? d.maxConcurrentBatches ?? 1,
  };
}

/** `over` on top of `base`, skipping fields that are absent or explicitly undefined. */
function mergePolicy(base: QueuePolicy, over: z.output<typeof queuePolicySchema> | undefined): QueuePolicy {
  return {
    timeoutMs: over?.timeoutMs ?? base.timeoutMs,
    timeoutAction: over?.timeoutAction ?? base.timeoutAction,
    allowTimeoutOverride: over?.allowTimeoutOverride ?? base.allowTimeoutOverride,
    maxQueueSize: over?.maxQueueSize ?? base.maxQueueSize,
  };
}

function parseInput(input: unknown, where: string): z.output<typeof dynamicBatchingSchema> {
  const r = dynamicBatchingSchema.safeParse(input);
  if (r.success) return r.data;
  const messages = r.error.issues.map((issue) => {
    const field = pathText(where, issue.path);
    if (issue.code === 'unrecognized_keys') {
      return `${field}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    }
    if (issue.code === 'invalid_key') {
      return `${field}: "${String(issue.path[issue.path.length - 1])}" is not a priority level; expected an integer >= 1`;
    }
    return `${field} = ${valueText(valueAt(input, issue.path))}: ${issue.message}`;
  });
  const first = r.error.issues[0];
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', messages.join('; '), { field: pathText(where, first?.path ?? []) });
}

/** The policy that governs requests at `level`. */
export function queuePolicyFor(config: DynamicBatchingConfig, level: number): QueuePolicy {
  return config.priorityQueuePolicy[level] ?? config.defaultQueuePolicy;
}

/**
 * maxBatchSize default from the environment (CLEAVE_MAX_BATCH_SIZE); 32 when unset or empty.
 * Takes the env as an argument so the caller decides where it comes from (process.env, a
 * Workers binding, a test).
 */
export function maxBatchSizeFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[MAX_BATCH_SIZE_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_BATCH_SIZE;
  const s = raw.trim();
  if (!/^[0-9]{1,9}$/.test(s)) {
    throw bad(MAX_BATCH_SIZE_ENV, `${MAX_BATCH_SIZE_ENV} = ${JSON.stringify(raw)}: expected an integer >= 0`);
  }
  return Number(s);
}
