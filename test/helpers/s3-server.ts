/**
 * A small S3-compatible server on loopback for tests: path-style buckets in memory with the
 * calls Cleave uses (ListObjectsV2 with continuation tokens, GetObject, PutObject, plus
 * DeleteObject and CreateBucket), and real AWS Signature V4 checking: each signed request's
 * signature is computed again from what arrived (aws4fetch's AwsV4Signer over the received
 * method, URL and signed headers, with the secret this server holds), so a wrong secret, a
 * tampered header or a payload that does not match its signed hash is refused as S3 refuses it.
 *
 *   const s3 = await startFakeS3({ credentials: { AKIDTEST: 'secret' }, buckets: ['models'] });
 *   // s3.url = http://127.0.0.1:<port>; s3.failNext(503); s3.stallNext(); await s3.close();
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AwsV4Signer } from 'aws4fetch';

export interface FakeS3Object {
  readonly bytes: Uint8Array;
  /** MD5 hex, as S3 computes ETags for single-part uploads. */
  readonly etag: string;
  readonly modified: Date;
}

export interface FakeS3Request {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly status: number;
}

export interface FakeS3Options {
  /** Access key id -> secret. Default { AKIDTEST: 'test-secret' }. */
  readonly credentials?: Readonly<Record<string, string>>;
  /** Signing region requests must use. Default us-east-1. */
  readonly region?: string;
  /** Buckets that exist at start. Default ['models']. */
  readonly buckets?: readonly string[];
  /** Largest page ListObjectsV2 answers, whatever max-keys asks. Default 1000. */
  readonly pageSize?: number;
  /** Serve unsigned requests. Default false (403 AccessDenied). */
  readonly allowAnonymous?: boolean;
}

export interface FakeS3 {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly buckets: Map<string, Map<string, FakeS3Object>>;
  /** Every request answered, in order. */
  readonly requests: FakeS3Request[];
  /** Stores an object directly (no HTTP). */
  putObject(bucket: string, key: string, bytes: Uint8Array): void;
  /** The next request is answered with this status and S3 error code, before any check. */
  failNext(status: number, code?: string): void;
  /** The next request gets its status line, headers and a few body bytes, then nothing more. */
  stallNext(): void;
  /** Resolves when the server has received `n` requests in all (counting stalled ones). */
  received(n: number): Promise<void>;
  close(): Promise<void>;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/([0-9]{8})\/([^/,\s]+)\/s3\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const MAX_BODY = 512 * 1024 * 1024;

/** Starts the server on 127.0.0.1 and a free port. */
export async function startFakeS3(opts: FakeS3Options = {}): Promise<FakeS3> {
  const credentials = opts.credentials ?? { AKIDTEST: 'test-secret' };
  const region = opts.region ?? 'us-east-1';
  const pageSize = opts.pageSize ?? 1000;
  const buckets = new Map<string, Map<string, FakeS3Object>>((opts.buckets ?? ['models']).map((b) => [b, new Map()]));
  const requests: FakeS3Request[] = [];
  const sockets = new Set<Socket>();
  let failure: { status: number; code: string } | undefined;
  let stall = false;
  let seen = 0;
  const waiters: { n: number; resolve: () => void }[] = [];

  const putObject = (bucket: string, key: string, bytes: Uint8Array): void => {
    const b = buckets.get(bucket);
    if (!b) throw new Error(`no bucket ${bucket}`);
    b.set(key, { bytes: new Uint8Array(bytes), etag: createHash('md5').update(bytes).digest('hex'), modified: new Date() });
  };

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string | Uint8Array, headers: Record<string, string> = {}): void => {
    requests.push({ method: req.method ?? '?', url: req.url ?? '', status });
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': String(bytes.byteLength), ...(typeof body === 'string' && body ? { 'content-type': 'application/xml' } : {}), ...headers });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };
  const error = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void => {
    send(req, res, status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message><Resource>${xml(req.url ?? '')}</Resource></Error>`);
  };

  /** undefined when the request is signed correctly (or anonymous and allowed), else the refusal. */
  const checkSignature = async (req: IncomingMessage, body: Uint8Array): Promise<{ status: number; code: string; message: string } | undefined> => {
    const auth = req.headers.authorization;
    if (auth === undefined) return opts.allowAnonymous ? undefined : { status: 403, code: 'AccessDenied', message: 'Anonymous access is forbidden' };
    const m = AUTH.exec(auth);
    if (!m) return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed' };
    const [, keyId, date, reqRegion, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string];
    const secret = credentials[keyId];
    if (secret === undefined) return { status: 403, code: 'InvalidAccessKeyId', message: `The AWS Access Key Id ${keyId} does not exist in our records` };
    if (reqRegion !== region) return { status: 400, code: 'AuthorizationHeaderMalformed', message: `the region '${reqRegion}' is wrong; expecting '${region}'` };
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    if (!amzDate.startsWith(date)) return { status: 403, code: 'SignatureDoesNotMatch', message: 'X-Amz-Date does not match the credential date' };
    const names = signedHeaders.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date') || !names.includes('x-amz-content-sha256')) {
      return { status: 403, code: 'AccessDenied', message: 'host, x-amz-date and x-amz-content-sha256 must be signed' };
    }
    const headers = new Headers();
    for (const h of names) {
      if (h === 'host') continue;
      const v = req.headers[h];
      if (v === undefined) return { status: 403, code: 'SignatureDoesNotMatch', message: `signed header ${h} is missing` };
      headers.set(h, Array.isArray(v) ? v.join(',') : v);
    }
    const signer = new AwsV4Signer({
      method: req.method ?? 'GET', url: `http://${req.headers.host}${req.url}`, headers,
      accessKeyId: keyId, secretAccessKey: secret, service: 's3', region, datetime: amzDate,
    });
    if (signer.signedHeaders !== signedHeaders) return { status: 403, code: 'SignatureDoesNotMatch', message: 'signed header list differs' };
    if ((await signer.signature()) !== signature) {
      return { status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' };
    }
    const claimed = String(req.headers['x-amz-content-sha256']);
    if (claimed !== 'UNSIGNED-PAYLOAD' && claimed !== sha256(body)) {
      return { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
    }
    return undefined;
  };

  const list = (req: IncomingMessage, res: ServerResponse, bucketName: string, objects: Map<string, FakeS3Object>, q: URLSearchParams): void => {
    if (q.get('list-type') !== '2') return error(req, res, 400, 'NotImplemented', 'only ListObjectsV2 (list-type=2) is implemented');
    const prefix = q.get('prefix') ?? '';
    const maxKeys = Math.min(pageSize, Number(q.get('max-keys') ?? 1000));
    const token = q.get('continuation-token');
    const after = token ? Buffer.from(token, 'base64url').toString() : '';
    const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const contents = page.map((k) => {
      const o = objects.get(k)!;
      return `<Contents><Key>${xml(k)}</Key><LastModified>${o.modified.toISOString()}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.bytes.byteLength}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    }).join('');
    const next = truncated ? `<NextContinuationToken>${Buffer.from(page[page.length - 1]!).toString('base64url')}</NextContinuationToken>` : '';
    send(req, res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucketName)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${next}</ListBucketResult>`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Uint8Array): Promise<void> => {
    if (stall) {
      stall = false;
      requests.push({ method: req.method ?? '?', url: req.url ?? '', status: 200 });
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('partial');
      return;
    }
    if (failure) {
      const f = failure;
      failure = undefined;
      return error(req, res, f.status, f.code, 'injected failure');
    }
    const refused = await checkSignature(req, body);
    if (refused) return error(req, res, refused.status, refused.code, refused.message);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (!bucketName) return error(req, res, 400, 'NotImplemented', 'ListBuckets is not implemented');
    const bucket = buckets.get(bucketName);
    if (req.method === 'PUT' && key === '') {
      if (!bucket) buckets.set(bucketName, new Map());
      return send(req, res, 200, '');
    }
    if (!bucket) return error(req, res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (key === '') return req.method === 'GET' ? list(req, res, bucketName, bucket, url.searchParams) : error(req, res, 405, 'MethodNotAllowed', 'not allowed on a bucket');
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const o = bucket.get(key);
        if (!o) return error(req, res, 404, 'NoSuchKey', 'The specified key does not exist.');
        return send(req, res, 200, o.bytes, { etag: `"${o.etag}"`, 'last-modified': o.modified.toUTCString(), 'content-type': 'application/octet-stream' });
      }
      case 'PUT':
        putObject(bucketName, key, body);
        return send(req, res, 200, '', { etag: `"${bucket.get(key)!.etag}"` });
      case 'DELETE':
        bucket.delete(key);
        return send(req, res, 204, '');
      default:
        return error(req, res, 405, 'MethodNotAllowed', `${req.method} is not allowed`);
    }
  };

  const server = createServer((req, res) => {
    seen++;
    for (const w of waiters.filter((x) => seen >= x.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      handle(req, res, new Uint8Array(Buffer.concat(chunks))).catch((e: unknown) => {
        if (!res.headersSent) error(req, res, 500, 'InternalError', (e as Error).message);
      });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    buckets,
    requests,
    putObject,
    failNext: (status, code = status >= 500 ? 'ServiceUnavailable' : 'InjectedError') => { failure = { status, code }; },
    stallNext: () => { stall = true; },
    received: (n) => (seen >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
