/**
 * The config file of `cleave edge`, `cleave cloud`, `cleave deploy` and `cleave profile`
 * (`--config <file>` or env CLEAVE_CONFIG): JSON or YAML with an `edge:` and a `cloud:` section,
 * each holding the same settings as the flags, camelCase as in EdgeConfig and CloudConfig:
 *
 *   edge:
 *     port: 8787
 *     cloudUrl: ws://10.0.0.5:9000/v1/ws
 *     cacheBytes: 64MiB
 *     warm: off
 *   cloud:
 *     maxBatchSize: 16
 *     tokens: [edge-a, edge-b]
 *
 * This file only reads and checks the document's shape: sections and keys are known (an unknown
 * one is an error naming the file, the key path and every allowed key), and each value has a
 * type its setting can take. Numbers and booleans become the strings (or booleans) the setting
 * parsers of edge/config.ts and cloud/config.ts take, so the values themselves are judged by the
 * same code as flags and env; config-layers.ts puts the file's path in those messages.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CloudConfig, RawCloudSettings } from '../cloud/config.js';
import type { EdgeConfig, RawEdgeSettings } from '../edge/config.js';
import { CleaveError } from '../shared/errors.js';

/** Environment variable naming a config file when `--config` is not given. */
export const CONFIG_ENV = 'CLEAVE_CONFIG';

/**
 * What a key's value may be in the file. 'number': a number or a numeric string; 'bytes': a
 * number or a string with a unit (64MiB); 'boolean': true/false or on/off strings; 'list': a list
 * of strings or one comma-separated string; 'string': a string.
 */
export type ConfigValueKind = 'string' | 'number' | 'bytes' | 'boolean' | 'list';

/** One setting a section takes: its kind and the flag that sets it too, if one does (for docs). */
export interface ConfigKey {
  readonly kind: ConfigValueKind;
  readonly flag?: string;
}

/**
 * Every key of the `edge:` section. Typed against EdgeConfig so a new setting there fails the
 * type check here until the file can set it too.
 */
export const EDGE_CONFIG_KEYS = {
  port: { kind: 'number', flag: '--port' },
  host: { kind: 'string', flag: '--host' },
  cloudUrl: { kind: 'string', flag: '--cloud' },
  cloudToken: { kind: 'string', flag: '--cloud-token' },
  cloudSecret: { kind: 'string' },
  edgeId: { kind: 'string' },
  apiKeysFile: { kind: 'string' },
  apiKeys: { kind: 'string' },
  logMask: { kind: 'list' },
  corsOrigins: { kind: 'list' },
  models: { kind: 'string', flag: '--models' },
  workflowsDir: { kind: 'string', flag: '--workflows-dir' },
  backend: { kind: 'string', flag: '--backend' },
  cacheBytes: { kind: 'bytes', flag: '--cache-bytes' },
  cacheTtlMs: { kind: 'number', flag: '--cache-ttl-ms' },
  maxBodyBytes: { kind: 'bytes', flag: '--max-body-bytes' },
  defaultDeadlineMs: { kind: 'number', flag: '--default-deadline-ms' },
  maxDeadlineMs: { kind: 'number', flag: '--max-deadline-ms' },
  warm: { kind: 'boolean', flag: '--no-warm' },
  log: { kind: 'boolean', flag: '--no-log' },
  emulateSlowdown: { kind: 'number', flag: '--emulate-slowdown' },
} as const satisfies Record<keyof EdgeConfig, ConfigKey>;

/** Every key of the `cloud:` section, typed against CloudConfig like EDGE_CONFIG_KEYS. */
export const CLOUD_CONFIG_KEYS = {
  port: { kind: 'number', flag: '--port' },
  host: { kind: 'string', flag: '--host' },
  repository: { kind: 'string', flag: '--repository' },
  device: { kind: 'string', flag: '--device' },
  tokens: { kind: 'list', flag: '--token' },
  linkSecrets: { kind: 'list' },
  maxBatchSize: { kind: 'number', flag: '--max-batch-size' },
  maxQueueDelayMs: { kind: 'number', flag: '--max-queue-delay-ms' },
  batching: { kind: 'boolean', flag: '--no-batching' },
  memoryBudgetBytes: { kind: 'bytes', flag: '--memory-budget' },
  maxFrameBytes: { kind: 'bytes', flag: '--max-frame-bytes' },
  maxStreams: { kind: 'number', flag: '--max-streams' },
  maxBodyBytes: { kind: 'bytes', flag: '--max-body-bytes' },
  loadIntervalMs: { kind: 'number', flag: '--load-interval-ms' },
  drainTimeoutMs: { kind: 'number', flag: '--drain-timeout-ms' },
  intraOpThreads: { kind: 'number', flag: '--intra-op-threads' },
  inferenceWorkers: { kind: 'boolean', flag: '--no-inference-workers' },
  log: { kind: 'boolean', flag: '--no-log' },
  splitTails: { kind: 'boolean', flag: '--no-split-tails' },
  modelStore: { kind: 'string', flag: '--model-store' },
  pluginDirs: { kind: 'list', flag: '--plugin-dir' },
} as const satisfies Record<keyof CloudConfig, ConfigKey>;

/** The sections a config file may have, and their keys. */
export const CONFIG_SECTIONS = { edge: EDGE_CONFIG_KEYS, cloud: CLOUD_CONFIG_KEYS } as const;
export type ConfigSection = keyof typeof CONFIG_SECTIONS;

/** A config file read and checked: each section's settings in the raw form the resolvers take. */
export interface ConfigFile {
  /** The path as given, for messages. */
  readonly path: string;
  readonly edge: RawEdgeSettings;
  readonly cloud: RawCloudSettings;
}

/** Largest config file read, bytes: a config is a few hundred bytes; this stops a wrong path to a huge file. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** The config file to read: `--config` when given, else CLEAVE_CONFIG, else none. */
export function configPath(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (flag !== undefined) return flag;
  const v = env[CONFIG_ENV];
  return v === undefined || v === '' ? undefined : v;
}

/** Reads and checks a config file; CLEAVE_E_NOT_FOUND when it is missing, CLEAVE_E_BAD_ARGUMENT for anything wrong in it. */
export async function loadConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `config file "${path}" is ${bytes.length} bytes; a config file may have at most ${MAX_CONFIG_FILE_BYTES}`, { file: path });
    }
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof CleaveError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CleaveError(code === 'ENOENT' ? 'CLEAVE_E_NOT_FOUND' : 'CLEAVE_E_BAD_ARGUMENT', `cannot read config file "${path}": ${code ?? (e as Error).message}`, { file: path });
  }
  return parseConfigText(text, path);
}

/** Parses and checks a config document (JSON for a `.json` path, YAML otherwise: YAML reads JSON too). */
export function parseConfigText(text: string, path: string): ConfigFile {
  let doc: unknown;
  const json = extname(path).toLowerCase() === '.json';
  try {
    doc = json ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    // The parsers' messages carry the line and column (YAML) or the position (JSON).
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `config file "${path}" is not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message.trim()}`, { file: path });
  }
  return checkConfig(doc ?? {}, path);
}

/** Checks a parsed config document; see the file comment. */
export function checkConfig(doc: unknown, path: string): ConfigFile {
  const sections = Object.keys(CONFIG_SECTIONS);
  if (!isPlainObject(doc)) {
    throw badFile(path, '(top level)', doc, `a mapping with the sections ${sections.join(', ')}`);
  }
  for (const key of Object.keys(doc)) {
    if (!Object.hasOwn(CONFIG_SECTIONS, key)) {
      const near = closest(key, sections);
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `config file "${path}": unknown section "${key}"${near ? ` (did you mean "${near}"?)` : ''}; allowed sections: ${sections.join(', ')}`, { file: path, key });
    }
  }
  return { path, edge: checkSection(doc, 'edge', path) as RawEdgeSettings, cloud: checkSection(doc, 'cloud', path) as RawCloudSettings };
}

function checkSection(doc: Record<string, unknown>, section: ConfigSection, path: string): Record<string, string | boolean> {
  const body = doc[section];
  if (body === undefined || body === null) return {};
  const keys: Record<string, ConfigKey> = CONFIG_SECTIONS[section];
  if (!isPlainObject(body)) throw badFile(path, section, body, `a mapping of settings (${Object.keys(keys).join(', ')})`);
  const out: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(body)) {
    // Own keys only: `toString` or `__proto__` must not find Object.prototype's.
    const spec = Object.hasOwn(keys, key) ? keys[key] : undefined;
    if (spec === undefined) {
      const near = closest(key, Object.keys(keys));
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `config file "${path}": unknown key ${section}.${key}${near ? ` (did you mean ${section}.${near}?)` : ''}; allowed keys in ${section}: ${Object.keys(keys).join(', ')}`, { file: path, key: `${section}.${key}` });
    }
    // An explicit null means "not set here", as an absent key does.
    if (value === null) continue;
    out[key] = convert(value, spec, `${section}.${key}`, path);
  }
  return out;
}

/** A file value in the form the setting parsers take, or CLEAVE_E_BAD_ARGUMENT naming the key, the value and what the key takes. */
function convert(value: unknown, spec: ConfigKey, at: string, path: string): string | boolean {
  switch (spec.kind) {
    case 'string':
      if (typeof value === 'string') return value;
      // A port-like number for a string setting (host: 10) is still a mistake worth naming.
      throw badFile(path, at, value, 'a string');
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      if (typeof value === 'string') return value;
      throw badFile(path, at, value, 'a number');
    case 'bytes':
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      if (typeof value === 'string') return value;
      throw badFile(path, at, value, 'a byte count: a number, or a string with a unit such as 64MiB');
    case 'boolean':
      if (typeof value === 'boolean' || typeof value === 'string') return value;
      throw badFile(path, at, value, 'true or false (or on/off)');
    case 'list':
      if (typeof value === 'string') return value;
      if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '' && !v.includes(','))) return value.join(',');
      throw badFile(path, at, value, 'a list of strings without commas, or one comma-separated string');
  }
}

/** The candidate within a few edits of `word` (case-insensitive), for "did you mean"; undefined when none is close. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d <= Math.max(2, Math.floor(c.length / 3)) && (best === undefined || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

/** Levenshtein distance (keys are short: the quadratic table is a few hundred cells). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function badFile(path: string, at: string, value: unknown, expected: string): CleaveError {
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `config file "${path}": ${at} = ${describe(value)} is not valid; expected ${expected}`, { file: path, key: at });
}

/** A value for a message: JSON, cut short, with the YAML/JSON type when it is a structure. */
function describe(v: unknown): string {
  if (Array.isArray(v)) return `a list ${short(JSON.stringify(v))}`;
  if (isPlainObject(v)) return `a mapping ${short(JSON.stringify(v))}`;
  return short(JSON.stringify(v) ?? String(v));
}

function short(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The config file named by `--config` or CLEAVE_CONFIG, read and checked; undefined when neither is set. */
export async function loadConfigOption(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<ConfigFile | undefined> {
  const path = configPath(flag, env);
  return path === undefined ? undefined : loadConfigFile(path);
}

/** Help line of the `--config` option, the same on every command that takes it. */
export const CONFIG_OPTION_HELP = `JSON or YAML settings file with edge: and cloud: sections (env ${CONFIG_ENV}); env and flags win over it`;
