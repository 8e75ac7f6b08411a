/**
 * Edge node settings: defaults, then `CLEAVE_*` variables (the process environment on Node, the
 * Worker's `[vars]` and secrets in workerd), then command-line flags; each validated with a
 * message naming the setting, the value and what was expected. Runtime-neutral.
 */
import { bad, bool, bytes, int, str } from '../shared/settings.js';
import { EDGE_ID_PATTERN, MIN_LINK_SECRET_LENGTH } from '../shared/auth/link-token.js';
import type { EdgeSettings } from './edge-node.js';

/** Everything an edge node can be told. Units in the names. */
export interface EdgeConfig extends Required<Omit<EdgeSettings, 'protocolLimits'>> {
  /** TCP port (Node only); 0 picks a free one. Default 8787 (env CLEAVE_PORT). */
  readonly port: number;
  /** Interface to bind (Node only). Default 127.0.0.1 (env CLEAVE_HOST). */
  readonly host: string;
  /**
   * Cloud protocol URL, e.g. ws://10.0.0.5:9000/v1/ws, or several separated by commas (one pool
   * of endpoints; see cloudUrlList); none = serve edge models only (env CLEAVE_CLOUD_URL).
   * Resolved without blanks around the commas.
   */
  readonly cloudUrl?: string;
  /** Bearer token for the cloud (env CLEAVE_CLOUD_TOKEN). */
  readonly cloudToken?: string;
  /**
   * Secret shared with the cloud's linkSecrets: the edge mints a short-lived HMAC token from it on
   * every connect (shared/auth/link-token.ts) instead of sending a static cloudToken. At least 16
   * characters; not together with cloudToken (env CLEAVE_CLOUD_SECRET). docs/security.md.
   */
  readonly cloudSecret?: string;
  /** Who this edge is in its link tokens: 1 to 64 of A-Z a-z 0-9 _ -. Default `edge` when unset (env CLEAVE_EDGE_ID). */
  readonly edgeId?: string;
  /**
   * Tenant key file, JSON or YAML (Node only): with it every inference, workflow and admin route
   * needs an API key; without it the edge is open and honours x-cleave-tenant (env CLEAVE_API_KEYS_FILE).
   */
  readonly apiKeysFile?: string;
  /** The key file's text itself, for runtimes without files (a Worker secret; env CLEAVE_API_KEYS). Not together with apiKeysFile. */
  readonly apiKeys?: string;
  /**
   * Field names masked as "***" in every log event, at any depth, case-insensitive, e.g.
   * authorization,apiKey,input; unset = none (env CLEAVE_LOG_MASK, comma-separated).
   */
  readonly logMask?: readonly string[];
  /** Model folder with a zoo manifest.json (Node only); default the generated zoo (env CLEAVE_MODELS). */
  readonly models?: string;
  /** Folder deployed workflows persist in (Node only); none = kept in memory (env CLEAVE_WORKFLOWS_DIR). */
  readonly workflowsDir?: string;
  /** Inference backend: auto (onnxruntime-node, falling back to onnxruntime-web), or one by name (env CLEAVE_BACKEND). */
  readonly backend: 'auto' | 'onnxruntime-node' | 'onnxruntime-web';
  /** Load every edge model before reporting ready. Default true (env CLEAVE_WARM). */
  readonly warm: boolean;
  /** Write JSON log lines to stderr. Default true (env CLEAVE_LOG=off). */
  readonly log: boolean;
  /**
   * Benchmarks only: every edge model run takes this many times as long (the extra spent
   * waiting), to emulate a weaker device on the bench box. Default 1 (env CLEAVE_EMULATE_SLOWDOWN).
   */
  readonly emulateSlowdown: number;
}

export const DEFAULT_EDGE_CONFIG: EdgeConfig = {
  port: 8787,
  host: '127.0.0.1',
  backend: 'auto',
  cacheBytes: 64 * 1024 * 1024,
  cacheTtlMs: 60_000,
  maxBodyBytes: 16 * 1024 * 1024,
  defaultDeadlineMs: 30_000,
  maxDeadlineMs: 300_000,
  warm: true,
  log: true,
  emulateSlowdown: 1,
  corsOrigins: [],
};

/** Raw settings as strings, from env or flags. */
export type RawEdgeSettings = Partial<Record<keyof EdgeConfig, string | boolean | undefined>>;

const ENV: Record<string, keyof EdgeConfig> = {
  CLEAVE_PORT: 'port', CLEAVE_HOST: 'host', CLEAVE_CLOUD_URL: 'cloudUrl', CLEAVE_CLOUD_TOKEN: 'cloudToken', CLEAVE_MODELS: 'models', CLEAVE_WORKFLOWS_DIR: 'workflowsDir',
  CLEAVE_BACKEND: 'backend', CLEAVE_CACHE_BYTES: 'cacheBytes', CLEAVE_CACHE_TTL_MS: 'cacheTtlMs', CLEAVE_MAX_BODY_BYTES: 'maxBodyBytes',
  CLEAVE_DEFAULT_DEADLINE_MS: 'defaultDeadlineMs', CLEAVE_MAX_DEADLINE_MS: 'maxDeadlineMs', CLEAVE_WARM: 'warm', CLEAVE_LOG: 'log', CLEAVE_EMULATE_SLOWDOWN: 'emulateSlowdown',
  CLEAVE_CORS_ORIGINS: 'corsOrigins', CLEAVE_CLOUD_SECRET: 'cloudSecret', CLEAVE_EDGE_ID: 'edgeId', CLEAVE_API_KEYS_FILE: 'apiKeysFile', CLEAVE_API_KEYS: 'apiKeys', CLEAVE_LOG_MASK: 'logMask',
};

/** Settings found in `env` (process.env, or a Worker's env bindings). */
export function edgeSettingsFromEnv(env: Readonly<Record<string, unknown>>): RawEdgeSettings {
  const out: RawEdgeSettings = {};
  for (const [k, key] of Object.entries(ENV)) {
    const v = env[k];
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return out;
}

/** Resolves defaults < env < flags into a validated config. */
export function resolveEdgeConfig(env: RawEdgeSettings, flags: RawEdgeSettings = {}): EdgeConfig {
  const raw: RawEdgeSettings = { ...env };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) raw[k as keyof EdgeConfig] = v;
  const d = DEFAULT_EDGE_CONFIG;
  const backend = str(raw.backend) ?? d.backend;
  if (backend !== 'auto' && backend !== 'onnxruntime-node' && backend !== 'onnxruntime-web') bad('backend', backend, 'auto, onnxruntime-node or onnxruntime-web');
  const cloudUrl = checkCloudUrls(str(raw.cloudUrl));
  const cloudToken = str(raw.cloudToken);
  const cloudSecret = str(raw.cloudSecret);
  // The message never quotes a secret: only its length.
  if (cloudSecret !== undefined && cloudSecret.length < MIN_LINK_SECRET_LENGTH) bad('cloudSecret', `(${cloudSecret.length} characters)`, `at least ${MIN_LINK_SECRET_LENGTH} characters, e.g. 32 random bytes in base64`);
  if (cloudSecret !== undefined && cloudToken !== undefined) bad('cloudSecret', '(set)', 'either cloudSecret (rotating tokens) or cloudToken (a static token), not both');
  const edgeId = str(raw.edgeId);
  if (edgeId !== undefined && !EDGE_ID_PATTERN.test(edgeId)) bad('edgeId', edgeId, '1 to 64 characters of A-Z a-z 0-9 _ -');
  const apiKeysFile = str(raw.apiKeysFile);
  const apiKeys = str(raw.apiKeys);
  if (apiKeysFile !== undefined && apiKeys !== undefined) bad('apiKeys', '(set)', 'either apiKeysFile (a path) or apiKeys (the file\'s text), not both');
  const logMask = maskList(str(raw.logMask));
  const corsOrigins = originList(str(raw.corsOrigins));
  const models = str(raw.models);
  const workflowsDir = str(raw.workflowsDir);
  const maxDeadlineMs = int(raw.maxDeadlineMs, 'maxDeadlineMs', 1, 3_600_000) ?? d.maxDeadlineMs;
  const defaultDeadlineMs = int(raw.defaultDeadlineMs, 'defaultDeadlineMs', 1, 3_600_000) ?? Math.min(d.defaultDeadlineMs, maxDeadlineMs);
  if (defaultDeadlineMs > maxDeadlineMs) bad('defaultDeadlineMs', defaultDeadlineMs, `at most maxDeadlineMs (${maxDeadlineMs})`);
  // Zero passes the byte parser but not the node: the result cache needs a positive bound, and a
  // zero body limit would refuse every request.
  const cacheBytes = bytes(raw.cacheBytes, 'cacheBytes') ?? d.cacheBytes;
  if (cacheBytes < 1) bad('cacheBytes', raw.cacheBytes, 'a byte count of at least 1, such as 64MiB');
  const maxBodyBytes = bytes(raw.maxBodyBytes, 'maxBodyBytes') ?? d.maxBodyBytes;
  if (maxBodyBytes < 1) bad('maxBodyBytes', raw.maxBodyBytes, 'a byte count of at least 1, such as 16MiB');
  return {
    port: int(raw.port, 'port', 0, 65535) ?? d.port,
    host: str(raw.host) ?? d.host,
    ...(cloudUrl !== undefined ? { cloudUrl } : {}),
    ...(cloudToken !== undefined ? { cloudToken } : {}),
    ...(cloudSecret !== undefined ? { cloudSecret } : {}),
    ...(edgeId !== undefined ? { edgeId } : {}),
    ...(apiKeysFile !== undefined ? { apiKeysFile } : {}),
    ...(apiKeys !== undefined ? { apiKeys } : {}),
    ...(logMask !== undefined ? { logMask } : {}),
    corsOrigins: corsOrigins ?? d.corsOrigins,
    ...(models !== undefined ? { models } : {}),
    ...(workflowsDir !== undefined ? { workflowsDir } : {}),
    backend: backend as EdgeConfig['backend'],
    cacheBytes,
    cacheTtlMs: int(raw.cacheTtlMs, 'cacheTtlMs', 0, 86_400_000) ?? d.cacheTtlMs,
    maxBodyBytes,
    defaultDeadlineMs,
    maxDeadlineMs,
    warm: bool(raw.warm, 'warm') ?? d.warm,
    log: bool(raw.log, 'log') ?? d.log,
    emulateSlowdown: int(raw.emulateSlowdown, 'emulateSlowdown', 1, 1000) ?? d.emulateSlowdown,
  };
}

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

/** The origins of a corsOrigins setting: `*` alone, or exact origins (scheme://host[:port]). */
function originList(setting: string | undefined): string[] | undefined {
  if (setting === undefined) return undefined;
  const list = setting.split(',').map((o) => o.trim()).filter((o) => o !== '');
  const expected = '* or a comma-separated list of origins such as https://app.example.com,http://localhost:5173';
  if (list.includes('*')) {
    if (list.length > 1) bad('corsOrigins', setting, `${expected}; * cannot be mixed with origins`);
    return list;
  }
  for (const o of list) if (!ORIGIN.test(o)) bad('corsOrigins', setting, `${expected}; ${JSON.stringify(o.slice(0, 100))} is not an origin (no path, no trailing slash)`);
  return list;
}

/** The field names of a logMask setting; undefined when unset or empty. */
function maskList(setting: string | undefined): string[] | undefined {
  if (setting === undefined) return undefined;
  const names = setting.split(',').map((f) => f.trim()).filter((f) => f !== '');
  for (const n of names) if (!/^[A-Za-z0-9_.-]{1,64}$/.test(n)) bad('logMask', setting, `a comma-separated list of field names such as authorization,apiKey,input; ${JSON.stringify(n.slice(0, 64))} is not one`);
  return names.length > 0 ? names : undefined;
}

/** The cloud URLs of a resolved `cloudUrl` setting, in order (one for a single cloud). */
export function cloudUrlList(cloudUrl: string): string[] {
  return cloudUrl.split(',').map((u) => u.trim());
}

const WS_URL = /^wss?:\/\/[^\s/,]+\S*$/;

/** Validates every entry of a cloudUrl setting; returns it with the blanks around commas removed. */
function checkCloudUrls(setting: string | undefined): string | undefined {
  if (setting === undefined) return undefined;
  const urls = cloudUrlList(setting);
  if (urls.length === 1) {
    if (!WS_URL.test(urls[0]!)) bad('cloudUrl', setting, 'a ws:// or wss:// URL such as ws://127.0.0.1:9000/v1/ws');
    return urls[0];
  }
  const expected = 'a comma-separated list of ws:// or wss:// URLs such as ws://10.0.0.5:9000/v1/ws,ws://10.0.0.6:9000/v1/ws';
  urls.forEach((u, i) => {
    if (u === '') bad('cloudUrl', setting, `${expected}; entry ${i + 1} is empty`);
    if (!WS_URL.test(u)) bad('cloudUrl', setting, `${expected}; entry ${i + 1} ${JSON.stringify(u)} is not one`);
    const first = urls.indexOf(u);
    if (first < i) bad('cloudUrl', setting, `${expected}, each once; entry ${i + 1} ${JSON.stringify(u)} repeats entry ${first + 1}`);
  });
  return urls.join(',');
}
