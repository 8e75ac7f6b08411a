/**
 * A model store in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph, ...) over plain
 * `fetch`, signed with AWS Signature V4 by aws4fetch, so the same code runs in Node and in a
 * Worker. Three calls: ListObjectsV2 (paged with continuation tokens), GetObject and PutObject.
 *
 *   s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&addressing=path
 *
 * Every answer is bounded before it is read: an object by maxObjectBytes, a listing page by 8 MiB,
 * a listing by maxListedObjects, an error body by 64 KiB. Failures map to codes that name the
 * bucket, the key and the HTTP status: 404 -> CLEAVE_E_NOT_FOUND, 401/403 -> CLEAVE_E_UNAUTHORIZED,
 * 429/5xx and unreachable endpoints -> CLEAVE_E_UNAVAILABLE. No retries here: the caller (the
 * cloud's repository refresh) decides when to try again.
 *
 * Credentials come from options; reading them from the environment is the runtime entry's job
 * (cloud/plugins/node-model-stores.ts).
 */
import { readBounded } from '../bounded-read.js';
import { AwsV4Signer } from 'aws4fetch';
import { CleaveError, type ErrorCode } from '../errors.js';
import { systemTimers, type Timers } from '../time.js';
import {
  checkListPrefix, checkObjectName, checkObjectSize, DEFAULT_MAX_LISTED_OBJECTS, DEFAULT_MAX_OBJECT_BYTES, isObjectName,
  objectNameProblem, type ModelObject, type ModelStore, type ModelStoreDescription,
} from './model-store.js';
import type { ModelStoreFactory } from './registry.js';
import { parseListObjectsV2, parseS3Error } from './s3-xml.js';

/** AWS-style access keys. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** For temporary credentials (STS). */
  readonly sessionToken?: string;
}

/** How the bucket appears in URLs: `endpoint/bucket/key` or `bucket.endpoint/key`. */
export type S3Addressing = 'path' | 'virtual-host';

export interface S3ModelStoreOptions {
  /** Bucket name: 3 to 63 of a-z 0-9 . - starting and ending with a letter or digit. */
  readonly bucket: string;
  /** Key prefix of the store's root, without leading or trailing `/`. Default '' (the whole bucket). */
  readonly prefix?: string;
  /** Base URL of the service. Default `https://s3.<region>.amazonaws.com`. */
  readonly endpoint?: string;
  /** Signing region. Default us-east-1. */
  readonly region?: string;
  /** Default `path` with a custom endpoint (what MinIO and most local servers expect), `virtual-host` on AWS. */
  readonly addressing?: S3Addressing;
  /** Without them requests go unsigned (public buckets). */
  readonly credentials?: S3Credentials;
  /** Refuse `put`. Default false. */
  readonly readOnly?: boolean;
  /** Largest object read or written, bytes. Default 256 MiB. */
  readonly maxObjectBytes?: number;
  /** Most objects one `list` returns. Default 100000. */
  readonly maxListedObjects?: number;
  /** Longest one request may take, body included, ms. Default 300000 (a 256 MiB model on a slow link). */
  readonly requestTimeoutMs?: number;
  /** The HTTP client. Default globalThis.fetch. */
  readonly fetch?: (request: Request) => Promise<Response>;
  /** Wall-clock time for signatures, ms since the epoch. Default Date.now. */
  readonly wallClock?: () => number;
  /** Timers for the request timeout. Default the runtime's. */
  readonly timers?: Timers;
}

/** Largest ListObjectsV2 page read, bytes: 1000 keys of 1 KiB each with their XML is about 1.3 MB. */
const MAX_LIST_PAGE_BYTES = 8 * 1024 * 1024;
/** Largest error body read, bytes. */
const MAX_ERROR_BYTES = 64 * 1024;
/** Keys asked for per page; S3's own maximum. */
const PAGE_KEYS = 1000;
/** Truncated pages with no objects tolerated in one listing before the server is taken to be looping. */
const MAX_EMPTY_PAGES = 16;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,32}$/;

function bad(message: string, detail: Record<string, string> = {}): never {
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', message, detail);
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Reads a body up to `max` bytes; past it cancels the stream and returns undefined. */
async function readCapped(res: Response, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  return readBounded(res.body, max);
}

export class S3ModelStore implements ModelStore {
  readonly bucket: string;
  /** Root key prefix, '' or ending in `/`. */
  readonly root: string;
  readonly endpoint: string;
  readonly region: string;
  readonly addressing: S3Addressing;
  private readonly credentials: S3Credentials | undefined;
  private readonly readOnly: boolean;
  private readonly maxObjectBytes: number;
  private readonly maxListedObjects: number;
  private readonly requestTimeoutMs: number;
  private readonly fetchImpl: (request: Request) => Promise<Response>;
  private readonly wallClock: () => number;
  private readonly timers: Timers;
  /** Signing keys by date, reused across requests (aws4fetch's cache). */
  private readonly signingCache = new Map<string, ArrayBuffer>();

  /** Throws CLEAVE_E_BAD_ARGUMENT naming the option, the value and what is allowed. */
  constructor(opts: S3ModelStoreOptions) {
    if (!BUCKET.test(opts.bucket) || opts.bucket.includes('..')) {
      bad(`s3 bucket ${JSON.stringify(opts.bucket)} is not valid; expected 3 to 63 of a-z 0-9 . - starting and ending with a letter or digit`, { bucket: String(opts.bucket) });
    }
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') {
      const problem = objectNameProblem(prefix);
      if (problem !== undefined) bad(`s3 prefix ${JSON.stringify(opts.prefix)} is not valid (${problem}); expected "/"-separated segments of A-Z a-z 0-9 . _ -`, { prefix: String(opts.prefix) });
    }
    this.root = prefix === '' ? '' : `${prefix}/`;
    this.region = opts.region ?? 'us-east-1';
    if (!REGION.test(this.region)) bad(`s3 region ${JSON.stringify(this.region)} is not valid; expected up to 32 of a-z 0-9 - such as us-east-1`, { region: this.region });
    const endpoint = opts.endpoint ?? `https://s3.${this.region}.amazonaws.com`;
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      bad(`s3 endpoint ${JSON.stringify(endpoint)} is not valid; expected an http or https URL such as http://127.0.0.1:9000`, { endpoint });
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
      bad(`s3 endpoint ${JSON.stringify(endpoint)} is not valid; expected an http or https URL without query, fragment or credentials`, { endpoint });
    }
    this.endpoint = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    this.addressing = opts.addressing ?? (opts.endpoint === undefined ? 'virtual-host' : 'path');
    if (this.addressing !== 'path' && this.addressing !== 'virtual-host') {
      bad(`s3 addressing ${JSON.stringify(this.addressing)} is not valid; expected path or virtual-host`, { addressing: String(this.addressing) });
    }
    this.credentials = opts.credentials;
    this.readOnly = opts.readOnly ?? false;
    this.maxObjectBytes = opts.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    this.maxListedObjects = opts.maxListedObjects ?? DEFAULT_MAX_LISTED_OBJECTS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 300_000;
    this.fetchImpl = opts.fetch ?? ((r) => fetch(r));
    this.wallClock = opts.wallClock ?? Date.now;
    this.timers = opts.timers ?? systemTimers;
  }

  describe(): ModelStoreDescription {
    return { protocol: 's3', location: `s3://${this.bucket}/${this.root}`.replace(/\/$/, ''), readOnly: this.readOnly };
  }

  /** URL of `key` (a full key, root included), or of the bucket when undefined. */
  objectUrl(key: string | undefined): URL {
    const path = key === undefined ? '' : key.split('/').map(encodeURIComponent).join('/');
    if (this.addressing === 'path') return new URL(`${this.endpoint}/${this.bucket}/${path}`);
    const base = new URL(this.endpoint);
    return new URL(`${base.protocol}//${this.bucket}.${base.host}${base.pathname.replace(/\/+$/, '')}/${path}`);
  }

  async list(prefix = ''): Promise<ModelObject[]> {
    checkListPrefix(prefix);
    const out: ModelObject[] = [];
    let token: string | undefined;
    let emptyPages = 0;
    do {
      const url = this.objectUrl(undefined);
      url.searchParams.set('list-type', '2');
      url.searchParams.set('max-keys', String(PAGE_KEYS));
      url.searchParams.set('prefix', this.root + prefix);
      if (token !== undefined) url.searchParams.set('continuation-token', token);
      const what = `listing s3://${this.bucket}/${this.root}${prefix}`;
      const body = await this.call('GET', url, what, async (res) => {
        if (res.status !== 200) await this.fail(res, 'GET', what, undefined);
        const b = await readCapped(res, MAX_LIST_PAGE_BYTES);
        if (!b) throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what}: a ListObjectsV2 page from ${this.endpoint} is larger than ${MAX_LIST_PAGE_BYTES} bytes`, { bucket: this.bucket });
        return b;
      });
      let page;
      try {
        page = parseListObjectsV2(new TextDecoder().decode(body));
      } catch (e) {
        throw new CleaveError('CLEAVE_E_UNAVAILABLE', `${what}: ${this.endpoint} did not answer with a valid ListObjectsV2 result: ${(e as Error).message}`, { bucket: this.bucket }, { cause: e });
      }
      if (page.nextContinuationToken !== undefined && (page.nextContinuationToken === token || (page.objects.length === 0 && ++emptyPages > MAX_EMPTY_PAGES))) {
        throw new CleaveError('CLEAVE_E_UNAVAILABLE', `${what}: ${this.endpoint} keeps answering truncated pages without progress`, { bucket: this.bucket });
      }
      for (const o of page.objects) {
        if (!o.key.startsWith(this.root)) continue;
        const name = o.key.slice(this.root.length);
        if (!isObjectName(name)) continue;
        if (out.length >= this.maxListedObjects) {
          throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what} finds more than ${this.maxListedObjects} objects (maxListedObjects); narrow the prefix`, { bucket: this.bucket, limit: this.maxListedObjects });
        }
        out.push({ name, bytes: o.size, ...(o.etag !== undefined ? { etag: o.etag } : {}), ...(o.lastModified !== undefined ? { modified: o.lastModified } : {}) });
      }
      token = page.nextContinuationToken;
    } while (token !== undefined);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async get(name: string): Promise<Uint8Array> {
    checkObjectName(name);
    const key = this.root + name;
    const what = `s3://${this.bucket}/${key}`;
    return this.call('GET', this.objectUrl(key), what, async (res) => {
      if (res.status !== 200) await this.fail(res, 'GET', what, key);
      const body = await readCapped(res, this.maxObjectBytes);
      if (!body) {
        const declared = Number(res.headers.get('content-length') ?? NaN);
        if (Number.isFinite(declared)) checkObjectSize(what, declared, this.maxObjectBytes);
        throw new CleaveError('CLEAVE_E_TOO_LARGE', `${what} is larger than the ${this.maxObjectBytes}-byte limit for one model store object (maxObjectBytes)`, { limit: this.maxObjectBytes });
      }
      return body;
    });
  }

  async put(name: string, bytes: Uint8Array): Promise<void> {
    checkObjectName(name);
    const key = this.root + name;
    const what = `s3://${this.bucket}/${key}`;
    if (this.readOnly) bad(`model store ${this.describe().location} is read-only; cannot put ${what}`, { bucket: this.bucket, key });
    checkObjectSize(what, bytes.byteLength, this.maxObjectBytes);
    // A signed payload hash: the server rejects a body changed on the way instead of storing it.
    const sha = hex(await crypto.subtle.digest('SHA-256', bytes));
    await this.call('PUT', this.objectUrl(key), what, async (res) => {
      if (res.status !== 200) await this.fail(res, 'PUT', what, key);
      await res.body?.cancel().catch(() => undefined);
    }, bytes, { 'content-type': 'application/octet-stream', 'x-amz-content-sha256': sha });
  }

  /**
   * Signs (when there are credentials) and sends one request, then hands the answer to `consume`;
   * the request timeout covers both, so a body that stalls halfway is cut off too.
   */
  private async call<T>(
    method: string, url: URL, what: string, consume: (res: Response) => Promise<T>,
    body?: Uint8Array, headers: Record<string, string> = {},
  ): Promise<T> {
    let reqHeaders = new Headers(headers);
    let reqUrl = url;
    if (this.credentials) {
      const signer = new AwsV4Signer({
        method, url: url.toString(), headers: reqHeaders, ...(body ? { body } : {}),
        accessKeyId: this.credentials.accessKeyId, secretAccessKey: this.credentials.secretAccessKey,
        ...(this.credentials.sessionToken !== undefined ? { sessionToken: this.credentials.sessionToken } : {}),
        service: 's3', region: this.region, cache: this.signingCache,
        datetime: new Date(this.wallClock()).toISOString().replace(/[:-]|\.\d{3}/g, ''),
      });
      const signed = await signer.sign();
      reqHeaders = signed.headers;
      reqUrl = signed.url;
    }
    const abort = new AbortController();
    const timer = this.timers.setTimeout(() => abort.abort(), this.requestTimeoutMs);
    try {
      const res = await this.fetchImpl(new Request(reqUrl, { method, headers: reqHeaders, signal: abort.signal, ...(body ? { body } : {}) }));
      return await consume(res);
    } catch (e) {
      if (e instanceof CleaveError) throw e;
      const why = abort.signal.aborted ? `no complete answer within ${this.requestTimeoutMs} ms (requestTimeoutMs)` : (e as Error).message;
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `${method} ${what}: cannot reach ${this.endpoint}: ${why}`, { bucket: this.bucket, endpoint: this.endpoint }, { cause: e });
    } finally {
      this.timers.clearTimeout(timer);
    }
  }

  /** Throws the coded error for a non-success answer, with S3's own code and message when it sent one. */
  private async fail(res: Response, method: string, what: string, key: string | undefined): Promise<never> {
    const body = await readCapped(res, MAX_ERROR_BYTES).catch(() => undefined);
    const s3 = body ? parseS3Error(new TextDecoder().decode(body)) : {};
    const said = [s3.code, s3.message].filter(Boolean).join(': ');
    const status = `${res.status}${said ? ` ${said}` : ''}`;
    const detail = { bucket: this.bucket, status: res.status, ...(key !== undefined ? { key } : {}), ...(s3.code !== undefined ? { s3Code: s3.code } : {}) };
    let code: ErrorCode;
    let message: string;
    if (res.status === 404) {
      code = 'CLEAVE_E_NOT_FOUND';
      message = s3.code === 'NoSuchBucket' || key === undefined
        ? `${method} ${what}: bucket "${this.bucket}" does not exist at ${this.endpoint} (${status})`
        : `${what} does not exist (${status})`;
    } else if (res.status === 401 || res.status === 403) {
      code = 'CLEAVE_E_UNAUTHORIZED';
      const hint = this.credentials ? 'check the access key, the secret and the region' : 'no credentials were given (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';
      message = `${method} ${what} was refused by ${this.endpoint}: ${status}; ${hint}`;
    } else if (res.status === 413) {
      code = 'CLEAVE_E_TOO_LARGE';
      message = `${method} ${what} was refused as too large by ${this.endpoint}: ${status}`;
    } else if (res.status === 429 || res.status >= 500) {
      code = 'CLEAVE_E_UNAVAILABLE';
      message = `${method} ${what}: ${this.endpoint} is unavailable: ${status}`;
    } else {
      code = 'CLEAVE_E_BAD_ARGUMENT';
      message = `${method} ${what} was refused by ${this.endpoint}: ${status}; check the bucket, the region (${this.region}) and the addressing (${this.addressing})`;
    }
    throw new CleaveError(code, message, detail);
  }
}

/** Defaults for stores made from `s3://` locations; query parameters override them. */
export interface S3StoreDefaults {
  readonly credentials?: S3Credentials;
  readonly endpoint?: string;
  readonly region?: string;
  readonly addressing?: S3Addressing;
  readonly fetch?: (request: Request) => Promise<Response>;
  readonly wallClock?: () => number;
  readonly maxObjectBytes?: number;
}

const QUERY_KEYS = ['endpoint', 'region', 'addressing'] as const;

/**
 * The options an `s3://bucket/prefix?endpoint=...&region=...&addressing=path|virtual-host`
 * location stands for. Throws CLEAVE_E_BAD_ARGUMENT naming the setting, the value and what is
 * allowed (credentials in the URL are refused: they would end up in logs).
 */
export function parseS3Location(location: string): Pick<S3ModelStoreOptions, 'bucket' | 'prefix' | 'endpoint' | 'region' | 'addressing'> {
  const expected = 'expected s3://<bucket>/<prefix>, optionally with ?endpoint=<url>&region=<region>&addressing=path|virtual-host';
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    bad(`setting modelStore = ${JSON.stringify(location)} is not valid; ${expected}`, { setting: 'modelStore' });
  }
  if (url.protocol !== 's3:' || !url.hostname) bad(`setting modelStore = ${JSON.stringify(location)} is not valid; ${expected}`, { setting: 'modelStore' });
  if (url.username || url.password) {
    bad(`setting modelStore = "s3://...@${url.host}${url.pathname}" is not valid: credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`, { setting: 'modelStore' });
  }
  if (url.hash) bad(`setting modelStore = ${JSON.stringify(location)} is not valid: it has a #fragment; ${expected}`, { setting: 'modelStore' });
  const out: { bucket: string; prefix: string; endpoint?: string; region?: string; addressing?: S3Addressing } = {
    bucket: url.hostname,
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ''),
  };
  for (const [k, v] of url.searchParams) {
    if (!(QUERY_KEYS as readonly string[]).includes(k)) {
      bad(`setting modelStore = ${JSON.stringify(location)} is not valid: query key "${k}" is not known; expected one of: ${QUERY_KEYS.join(', ')}`, { setting: 'modelStore', key: k });
    }
    if (k === 'addressing' && v !== 'path' && v !== 'virtual-host') {
      bad(`setting modelStore = ${JSON.stringify(location)} is not valid: addressing = ${JSON.stringify(v)}; expected path or virtual-host`, { setting: 'modelStore', key: k });
    }
    (out as Record<string, string>)[k] = v;
  }
  return out;
}

/** The `s3` protocol's factory, with defaults (credentials, endpoint, region) from the runtime entry. */
export function s3ModelStoreFactory(defaults: S3StoreDefaults = {}): ModelStoreFactory {
  return (location) => {
    const parsed = parseS3Location(location);
    const endpoint = parsed.endpoint ?? defaults.endpoint;
    const region = parsed.region ?? defaults.region;
    const addressing = parsed.addressing ?? defaults.addressing;
    return new S3ModelStore({
      ...parsed,
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(region !== undefined ? { region } : {}),
      ...(addressing !== undefined ? { addressing } : {}),
      ...(defaults.credentials ? { credentials: defaults.credentials } : {}),
      ...(defaults.fetch ? { fetch: defaults.fetch } : {}),
      ...(defaults.wallClock ? { wallClock: defaults.wallClock } : {}),
      ...(defaults.maxObjectBytes !== undefined ? { maxObjectBytes: defaults.maxObjectBytes } : {}),
    });
  };
}
