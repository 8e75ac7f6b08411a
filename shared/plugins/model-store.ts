/**
 * The model-store interface: a flat namespace of objects (model files, configs) addressed by
 * `/`-separated names relative to the store's root, the way S3 keys and folder paths both work.
 * A local folder (cloud/plugins/fs-model-store.ts), an S3-compatible bucket
 * (s3-model-store.ts) and any plugin all look the same to the code that syncs models from them.
 *
 * Object names are checked here, once, for every store: a name becomes a file path in one store
 * and a URL path in another, so the rule is what keeps `../`, absolute paths and control
 * characters away from both. Runtime-neutral.
 */
import { CleaveError } from '../errors.js';

/** One stored object as `list` reports it. */
export interface ModelObject {
  /** Name relative to the store root, e.g. `mlp-small/1/model.onnx`. */
  readonly name: string;
  /** Size, bytes. */
  readonly bytes: number;
  /** Content tag when the store has one (S3 ETag without quotes); changes when the content does. */
  readonly etag?: string;
  /** Last modification, ms since the Unix epoch, when the store knows it. */
  readonly modified?: number;
}

/** What a store is, for logs and `describe()`. */
export interface ModelStoreDescription {
  /** The protocol it serves (`fs`, `s3`, or a plugin's). */
  readonly protocol: string;
  /** Where it points, without credentials: `/srv/models`, `s3://bucket/prefix`. */
  readonly location: string;
  /** True when `put` always fails. */
  readonly readOnly: boolean;
}

/** A place model files live. Every method validates names with checkObjectName first. */
export interface ModelStore {
  /**
   * Every object whose name starts with `prefix` (default: all), sorted by name. Objects whose
   * names break the naming rule are left out (they could never be fetched).
   * Throws CLEAVE_E_TOO_LARGE past the store's listing limit.
   */
  list(prefix?: string): Promise<ModelObject[]>;
  /** The object's bytes. CLEAVE_E_NOT_FOUND when absent, CLEAVE_E_TOO_LARGE past the store's object limit. */
  get(name: string): Promise<Uint8Array>;
  /** Writes (replaces) an object; readers never see half an object. CLEAVE_E_BAD_ARGUMENT on a read-only store. */
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** Removes an object if present (absent is not an error). Optional: stores that cannot delete leave it out. */
  delete?(name: string): Promise<void>;
  describe(): ModelStoreDescription;
}

/** Longest object name, characters (all allowed characters are ASCII). S3 allows 1024 bytes. */
export const MAX_OBJECT_NAME_LENGTH = 1024;
/** Most `/`-separated segments in a name: deeper trees are a mistake, and bound fs recursion. */
export const MAX_OBJECT_NAME_DEPTH = 32;
/** Longest segment, characters: the common file-system limit for one path component. */
export const MAX_SEGMENT_LENGTH = 255;
/** Largest object a built-in store reads or writes, bytes. Default 256 MiB: the biggest model file expected. */
export const DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024;
/** Most objects one `list` returns. Default 100000. */
export const DEFAULT_MAX_LISTED_OBJECTS = 100_000;

/**
 * One segment: ASCII letters, digits, `.`, `_`, `-`, not starting with `.` (so no `.`, `..`,
 * nor hidden files, which stores use for temporary files). Deliberately narrower than S3 keys.
 */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const EXPECTED_NAME = `1 to ${MAX_OBJECT_NAME_DEPTH} "/"-separated segments of A-Z a-z 0-9 . _ - (not starting with ".", at most ${MAX_SEGMENT_LENGTH} characters each, ${MAX_OBJECT_NAME_LENGTH} in all)`;

/** Why `name` is not a valid object name, or undefined when it is. */
export function objectNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'it is empty';
  if (name.length > MAX_OBJECT_NAME_LENGTH) return `it has ${name.length} characters`;
  const segments = name.split('/');
  if (segments.length > MAX_OBJECT_NAME_DEPTH) return `it has ${segments.length} segments`;
  for (const s of segments) {
    if (s.length === 0) return name.startsWith('/') ? 'it is absolute' : 'it has an empty segment';
    if (s === '.' || s === '..') return `it has a "${s}" segment`;
    if (s.length > MAX_SEGMENT_LENGTH) return `a segment has ${s.length} characters`;
    if (!SEGMENT.test(s)) return `segment ${JSON.stringify(s)} has a character outside A-Z a-z 0-9 . _ - or starts with "."`;
  }
  return undefined;
}

/** True when `name` is a valid object name. */
export function isObjectName(name: string): boolean {
  return objectNameProblem(name) === undefined;
}

/** Throws CLEAVE_E_BAD_ARGUMENT naming the value, the problem and the rule, unless `name` is valid. */
export function checkObjectName(name: string): void {
  const problem = objectNameProblem(name);
  if (problem !== undefined) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model store object name ${JSON.stringify(name)} is not valid (${problem}); expected ${EXPECTED_NAME}`, { name: String(name) });
  }
}

/**
 * Throws CLEAVE_E_BAD_ARGUMENT unless `prefix` is a valid list prefix: empty, or a name or the
 * start of one, optionally ending in `/` (`mlp-small/`, `mlp`).
 */
export function checkListPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = objectNameProblem(trimmed);
  if (problem !== undefined) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model store list prefix ${JSON.stringify(prefix)} is not valid (${problem}); expected "" or ${EXPECTED_NAME}, optionally ending in "/"`, { prefix: String(prefix) });
  }
}

/** Throws CLEAVE_E_TOO_LARGE when `bytes` exceeds `max`, naming the object and both sizes. */
export function checkObjectSize(where: string, bytes: number, max: number): void {
  if (bytes > max) {
    throw new CleaveError('CLEAVE_E_TOO_LARGE', `${where} is ${bytes} bytes, more than the ${max}-byte limit for one model store object (maxObjectBytes)`, { bytes, limit: max });
  }
}

/** The ModelStore methods `v` lacks, empty when it has them all (checks what a plugin hands back). */
export function missingModelStoreMethods(v: unknown): string[] {
  if (typeof v !== 'object' || v === null) return ['list', 'get', 'put', 'describe'];
  const o = v as Record<string, unknown>;
  return ['list', 'get', 'put', 'describe'].filter((m) => typeof o[m] !== 'function');
}
