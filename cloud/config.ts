/**
 * Cloud server settings: defaults, then `CLEAVE_*` environment variables, then command-line
 * flags, each validated with a message naming the setting, the value and what was expected.
 */
import { bad, bool, bytes, int, str } from '../shared/settings.js';
import { DEFAULT_LIMITS } from '../shared/protocol/constants.js';
import { MIN_LINK_SECRET_LENGTH } from '../shared/auth/link-token.js';

export type DeviceChoice = 'auto' | 'cuda' | 'cpu';

/** Everything `cleave cloud` can be told. Units in the names. */
export interface CloudConfig {
  /** TCP port; 0 picks a free one. Default 9000 (env CLEAVE_PORT). */
  readonly port: number;
  /** Interface to bind. Default 127.0.0.1; use 0.0.0.0 to serve other hosts (env CLEAVE_HOST). */
  readonly host: string;
  /** Triton-style model repository folder; default: the generated zoo (env CLEAVE_REPOSITORY). */
  readonly repository?: string;
  /** Execution device (env CLEAVE_DEVICE). Default auto. */
  readonly device: DeviceChoice;
  /** Accepted tokens; empty = no auth (env CLEAVE_TOKENS, comma-separated, or CLEAVE_TOKEN). */
  readonly tokens: readonly string[];
  /**
   * Secrets edges mint rotating link tokens from (shared/auth/link-token.ts), current first, then
   * the previous one while a rotation is under way; each at least 16 characters. Any set turns
   * auth on, beside `tokens` (env CLEAVE_LINK_SECRETS, comma-separated). docs/security.md.
   */
  readonly linkSecrets: readonly string[];
  /** Max batch size for models whose config sets none (env CLEAVE_MAX_BATCH_SIZE). Default 32. */
  readonly maxBatchSize: number;
  /** Overrides every model's max queue delay when set, ms (env CLEAVE_MAX_QUEUE_DELAY_MS). */
  readonly maxQueueDelayMs?: number;
  /** False turns the dynamic batcher off for every model (env CLEAVE_BATCHING=off). Default true. */
  readonly batching: boolean;
  /** Memory budget for loaded models, bytes; 0 = unlimited (env CLEAVE_MEMORY_BUDGET, e.g. 2GiB). */
  readonly memoryBudgetBytes: number;
  /** Largest protocol frame, bytes (env CLEAVE_MAX_FRAME_BYTES). Default 64 MiB. */
  readonly maxFrameBytes: number;
  /** Runs in flight per connection (env CLEAVE_MAX_STREAMS). Default 256. */
  readonly maxStreams: number;
  /** Largest HTTP body, bytes (env CLEAVE_MAX_BODY_BYTES). Default 64 MiB. */
  readonly maxBodyBytes: number;
  /** LOAD frame interval, ms (env CLEAVE_LOAD_INTERVAL_MS). Default 1000. */
  readonly loadIntervalMs: number;
  /** Longest graceful drain on SIGTERM before remaining work is dropped, ms (env CLEAVE_DRAIN_TIMEOUT_MS). Default 30000. */
  readonly drainTimeoutMs: number;
  /** Threads per onnxruntime operator; 0 = runtime default (env CLEAVE_INTRA_OP_THREADS). */
  readonly intraOpThreads: number;
  /**
   * Run each model in its own worker thread (default true, env CLEAVE_INFERENCE_WORKERS). onnxruntime-node
   * runs synchronously on the calling thread; in-thread inference blocks protocol I/O for the whole batch.
   */
  readonly inferenceWorkers: boolean;
  /** Write JSON log lines to stderr. Default true (env CLEAVE_LOG=off turns it off). */
  readonly log: boolean;
  /**
   * Serve every single-tensor split tail of each float batched model, named by splitPartName and
   * loaded on first use (cloud/repository/split-source.ts). Default true (env CLEAVE_SPLIT_TAILS=off).
   */
  readonly splitTails: boolean;
  /**
   * Model store to serve models from (env CLEAVE_MODEL_STORE): a folder path, `file:` URL or
   * `s3://bucket/prefix[?endpoint=&region=&addressing=]`, or a plugin's protocol. Its Triton-style
   * objects are synced into `repository` (default: a folder under the OS temp dir) and served
   * from there (docs/plugins.md). Unset: the repository folder or the zoo, as before.
   */
  readonly modelStore?: string;
  /** Folders of plugins (or plugin folders) to load at start (env CLEAVE_PLUGIN_DIRS, comma-separated). Default none. */
  readonly pluginDirs: readonly string[];
}

export const DEFAULT_CLOUD_CONFIG: CloudConfig = {
  port: 9000,
  host: '127.0.0.1',
  device: 'auto',
  tokens: [],
  linkSecrets: [],
  maxBatchSize: 32,
  batching: true,
  memoryBudgetBytes: 0,
  maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
  maxStreams: DEFAULT_LIMITS.maxStreams,
  maxBodyBytes: 64 * 1024 * 1024,
  loadIntervalMs: 1000,
  drainTimeoutMs: 30_000,
  intraOpThreads: 0,
  inferenceWorkers: true,
  log: true,
  splitTails: true,
  pluginDirs: [],
};

/** Raw settings as strings, from env or flags. */
export type RawCloudSettings = Partial<Record<keyof CloudConfig, string | boolean | undefined>>;

const ENV: Record<string, keyof CloudConfig> = {
  CLEAVE_PORT: 'port', CLEAVE_HOST: 'host', CLEAVE_REPOSITORY: 'repository', CLEAVE_DEVICE: 'device',
  CLEAVE_MAX_BATCH_SIZE: 'maxBatchSize', CLEAVE_MAX_QUEUE_DELAY_MS: 'maxQueueDelayMs', CLEAVE_BATCHING: 'batching',
  CLEAVE_MEMORY_BUDGET: 'memoryBudgetBytes', CLEAVE_MAX_FRAME_BYTES: 'maxFrameBytes', CLEAVE_MAX_STREAMS: 'maxStreams',
  CLEAVE_MAX_BODY_BYTES: 'maxBodyBytes', CLEAVE_LOAD_INTERVAL_MS: 'loadIntervalMs', CLEAVE_DRAIN_TIMEOUT_MS: 'drainTimeoutMs',
  CLEAVE_INTRA_OP_THREADS: 'intraOpThreads', CLEAVE_INFERENCE_WORKERS: 'inferenceWorkers', CLEAVE_LOG: 'log', CLEAVE_LINK_SECRETS: 'linkSecrets',
  CLEAVE_SPLIT_TAILS: 'splitTails', CLEAVE_MODEL_STORE: 'modelStore', CLEAVE_PLUGIN_DIRS: 'pluginDirs',
};

/** Settings found in `env`. */
export function cloudSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): RawCloudSettings {
  const out: RawCloudSettings = {};
  for (const [k, key] of Object.entries(ENV)) if (env[k] !== undefined && env[k] !== '') out[key] = env[k];
  const tokens = env.CLEAVE_TOKENS ?? env.CLEAVE_TOKEN;
  if (tokens) out.tokens = tokens;
  return out;
}

/** Resolves defaults < env < flags into a validated config. */
export function resolveCloudConfig(env: RawCloudSettings, flags: RawCloudSettings): CloudConfig {
  const raw: RawCloudSettings = { ...env };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) raw[k as keyof CloudConfig] = v;
  const d = DEFAULT_CLOUD_CONFIG;
  const device = str(raw.device) ?? d.device;
  if (device !== 'auto' && device !== 'cuda' && device !== 'cpu') bad('device', device, 'auto, cuda or cpu');
  const maxQueueDelayMs = raw.maxQueueDelayMs !== undefined ? int(raw.maxQueueDelayMs, 'maxQueueDelayMs', 0, 60_000) : undefined;
  const repository = str(raw.repository);
  return {
    port: int(raw.port, 'port', 0, 65535) ?? d.port,
    host: str(raw.host) ?? d.host,
    ...(repository !== undefined ? { repository } : {}),
    device: device as DeviceChoice,
    tokens: (str(raw.tokens) ?? '').split(',').map((t) => t.trim()).filter(Boolean),
    linkSecrets: linkSecretList(str(raw.linkSecrets)),
    maxBatchSize: int(raw.maxBatchSize, 'maxBatchSize', 1, 4096) ?? d.maxBatchSize,
    ...(maxQueueDelayMs !== undefined ? { maxQueueDelayMs } : {}),
    batching: bool(raw.batching, 'batching') ?? d.batching,
    memoryBudgetBytes: bytes(raw.memoryBudgetBytes, 'memoryBudgetBytes') ?? d.memoryBudgetBytes,
    maxFrameBytes: bytes(raw.maxFrameBytes, 'maxFrameBytes') ?? d.maxFrameBytes,
    maxStreams: int(raw.maxStreams, 'maxStreams', 1, 65536) ?? d.maxStreams,
    maxBodyBytes: bytes(raw.maxBodyBytes, 'maxBodyBytes') ?? d.maxBodyBytes,
    loadIntervalMs: int(raw.loadIntervalMs, 'loadIntervalMs', 10, 3_600_000) ?? d.loadIntervalMs,
    drainTimeoutMs: int(raw.drainTimeoutMs, 'drainTimeoutMs', 0, 3_600_000) ?? d.drainTimeoutMs,
    intraOpThreads: int(raw.intraOpThreads, 'intraOpThreads', 0, 1024) ?? d.intraOpThreads,
    inferenceWorkers: bool(raw.inferenceWorkers, 'inferenceWorkers') ?? d.inferenceWorkers,
    log: bool(raw.log, 'log') ?? d.log,
    splitTails: bool(raw.splitTails, 'splitTails') ?? d.splitTails,
    ...modelStoreSettings(raw),
  };
}

/** `modelStore` and `pluginDirs`, validated: a store location is non-blank; plugin folders are a comma-separated list. */
function modelStoreSettings(raw: RawCloudSettings): { modelStore?: string; pluginDirs: readonly string[] } {
  const store = raw.modelStore;
  if (store !== undefined && (typeof store !== 'string' || store.trim() === '')) {
    bad('modelStore', store, 'a folder path or a URL such as s3://bucket/prefix');
  }
  const dirs = raw.pluginDirs;
  if (dirs !== undefined && typeof dirs !== 'string') bad('pluginDirs', dirs, 'a comma-separated list of folders');
  const pluginDirs = (dirs ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  return { ...(typeof store === 'string' ? { modelStore: store.trim() } : {}), pluginDirs };
}

/** The linkSecrets setting as a list; each entry long enough (the message gives lengths, never a secret). */
function linkSecretList(setting: string | undefined): string[] {
  const list = (setting ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  list.forEach((secret, i) => {
    if (secret.length < MIN_LINK_SECRET_LENGTH) bad('linkSecrets', `(entry ${i + 1}: ${secret.length} characters)`, `a comma-separated list of secrets of at least ${MIN_LINK_SECRET_LENGTH} characters each`);
  });
  return list;
}
