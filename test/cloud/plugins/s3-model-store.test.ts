// The S3 store against a real HTTP server on loopback that checks SigV4 signatures
// (test/helpers/s3-server.ts), so signing, paging and error mapping run over real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3DefaultsFromEnv } from '../../../cloud/plugins/node-model-stores.js';
import type { CleaveError } from '../../../shared/errors.js';
import { parseS3Location, S3ModelStore, s3ModelStoreFactory, type S3ModelStoreOptions } from '../../../shared/plugins/s3-model-store.js';
import { ManualClock } from '../../../shared/time.js';
import { cleaveErrorOf } from '../../helpers/errors.js';
import { startFakeS3, type FakeS3 } from '../../helpers/s3-server.js';

const KEY = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
let s3: FakeS3;

beforeAll(async () => {
  s3 = await startFakeS3({ credentials: { AKIDTEST: 'test-secret' }, buckets: ['models', 'empty'], pageSize: 2 });
});
afterAll(async () => {
  await s3.close();
});

function store(opts: Partial<S3ModelStoreOptions> = {}): S3ModelStore {
  return new S3ModelStore({ bucket: 'models', prefix: 'repo', endpoint: s3.url, credentials: KEY, ...opts });
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('S3ModelStore against a SigV4-checking server', () => {
  it('puts, lists across pages (continuation tokens) and gets objects under its prefix', async () => {
    const st = store();
    const names = ['a/1/model.onnx', 'a/config.json', 'b/1/model.onnx', 'b/2/model.onnx', 'c/1/model.onnx'];
    for (const n of names) await st.put(n, bytes(`content of ${n}`));
    s3.putObject('models', 'elsewhere/x', bytes('not under the prefix'));
    s3.putObject('models', 'repo/bad name/1/model.onnx', bytes('a key no get could fetch'));
    const before = s3.requests.length;
    const listed = await st.list();
    expect(listed.map((o) => o.name)).toEqual(names);
    expect(listed[0]).toMatchObject({ bytes: 'content of a/1/model.onnx'.length, etag: expect.stringMatching(/^[0-9a-f]{32}$/), modified: expect.any(Number) });
    // pageSize 2: 6 keys under repo/ take 3 pages.
    expect(s3.requests.slice(before).filter((r) => r.url.includes('list-type=2'))).toHaveLength(3);
    expect((await st.list('b/')).map((o) => o.name)).toEqual(['b/1/model.onnx', 'b/2/model.onnx']);
    expect(new TextDecoder().decode(await st.get('b/2/model.onnx'))).toBe('content of b/2/model.onnx');
    expect(s3.buckets.get('models')!.has('repo/b/2/model.onnx')).toBe(true);
    expect(st.describe()).toEqual({ protocol: 's3', location: 's3://models/repo', readOnly: false });
  });

  it('a wrong secret is refused by the server (SignatureDoesNotMatch) and reported as CLEAVE_E_UNAUTHORIZED', async () => {
    const e = await store({ credentials: { ...KEY, secretAccessKey: 'wrong' } }).get('a/1/model.onnx').catch((x: CleaveError) => x) as CleaveError;
    expect(e.code).toBe('CLEAVE_E_UNAUTHORIZED');
    expect(e.httpStatus).toBe(401);
    expect(e.message).toMatch(/GET s3:\/\/models\/repo\/a\/1\/model\.onnx was refused by http:\/\/127\.0\.0\.1:\d+: 403 SignatureDoesNotMatch/);
    expect(e.detail).toMatchObject({ bucket: 'models', key: 'repo/a/1/model.onnx', status: 403, s3Code: 'SignatureDoesNotMatch' });
    const unknownKey = await store({ credentials: { ...KEY, accessKeyId: 'AKIDOTHER' } }).list().catch((x: CleaveError) => x) as CleaveError;
    expect(unknownKey).toMatchObject({ code: 'CLEAVE_E_UNAUTHORIZED', detail: { s3Code: 'InvalidAccessKeyId' } });
    const anonymous = await new S3ModelStore({ bucket: 'models', endpoint: s3.url }).list().catch((x: CleaveError) => x) as CleaveError;
    expect(anonymous.message).toMatch(/no credentials were given \(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\)/);
  });

  it('missing objects and buckets are CLEAVE_E_NOT_FOUND naming them', async () => {
    await expect(store().get('nope/1/model.onnx')).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringMatching(/s3:\/\/models\/repo\/nope\/1\/model\.onnx does not exist \(404 NoSuchKey/) });
    await expect(store({ bucket: 'no-such-bucket' }).list()).rejects.toMatchObject({ code: 'CLEAVE_E_NOT_FOUND', message: expect.stringMatching(/bucket "no-such-bucket" does not exist/) });
    expect(await store({ bucket: 'empty' }).list()).toEqual([]);
  });

  it('server failures are CLEAVE_E_UNAVAILABLE, an unreachable endpoint too', async () => {
    s3.failNext(503, 'SlowDown');
    await expect(store().get('a/1/model.onnx')).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', detail: { status: 503, s3Code: 'SlowDown' } });
    s3.failNext(500);
    await expect(store().list()).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    const closed = await startFakeS3();
    const url = closed.url;
    await closed.close();
    await expect(store({ endpoint: url }).list()).rejects.toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE', message: expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1/) });
  });

  it('a server that stops sending halfway is cut off by the request timeout on the injected clock', async () => {
    const clock = new ManualClock();
    const st = store({ timers: clock, requestTimeoutMs: 5_000 });
    s3.stallNext();
    const seen = s3.requests.length;
    const pending = st.get('a/1/model.onnx').catch((x: CleaveError) => x);
    await s3.received(seen + 1);
    // The server answered with headers and 7 of 1000000 promised bytes; give the client a moment to start reading.
    await new Promise((r) => setImmediate(r));
    expect(clock.pendingCount).toBe(1);
    clock.advance(5_000);
    const e = await pending as CleaveError;
    expect(e.code).toBe('CLEAVE_E_UNAVAILABLE');
    expect(e.message).toMatch(/no complete answer within 5000 ms \(requestTimeoutMs\)/);
  });

  it('limits: objects over maxObjectBytes are refused either way, listings over maxListedObjects too', async () => {
    const st = store({ maxObjectBytes: 10 });
    await expect(st.put('big', bytes('more than ten bytes'))).rejects.toMatchObject({ code: 'CLEAVE_E_TOO_LARGE' });
    await expect(st.get('a/1/model.onnx')).rejects.toMatchObject({ code: 'CLEAVE_E_TOO_LARGE', message: expect.stringMatching(/more than the 10-byte limit/) });
    await expect(store({ maxListedObjects: 3 }).list()).rejects.toMatchObject({ code: 'CLEAVE_E_TOO_LARGE', message: expect.stringMatching(/more than 3 objects/) });
  });

  it('a read-only store refuses put; names are checked before any request', async () => {
    await expect(store({ readOnly: true }).put('a', bytes('x'))).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT', message: expect.stringMatching(/read-only/) });
    const before = s3.requests.length;
    await expect(store().get('../../etc/passwd')).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    await expect(store().list('../')).rejects.toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    expect(s3.requests.length).toBe(before);
  });

  it('signs with the injected wall clock', async () => {
    const seen: Request[] = [];
    const st = store({ wallClock: () => Date.parse('2026-01-02T03:04:05Z'), fetch: async (r) => { seen.push(r); return new Response('<ListBucketResult></ListBucketResult>'); } });
    await st.list();
    expect(seen[0]!.headers.get('x-amz-date')).toBe('20260102T030405Z');
    expect(seen[0]!.headers.get('authorization')).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/20260102\/us-east-1\/s3\/aws4_request/);
  });
});

describe('S3 locations and options', () => {
  it('parses s3:// locations with endpoint, region and addressing', () => {
    expect(parseS3Location('s3://models/team/repo/?endpoint=http://127.0.0.1:9000&region=eu-west-1&addressing=path')).toEqual({
      bucket: 'models', prefix: 'team/repo', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', addressing: 'path',
    });
    expect(parseS3Location('s3://models')).toEqual({ bucket: 'models', prefix: '' });
  });

  it.each([
    ['s3://models?regoin=x', /query key "regoin" is not known; expected one of: endpoint, region, addressing/],
    ['s3://models?addressing=dns', /addressing = "dns"; expected path or virtual-host/],
    ['s3://AKID:secret@models/x', /credentials do not belong in the URL/],
    ['s3://', /expected s3:\/\/<bucket>\/<prefix>/],
  ])('refuses %s naming the setting and what is allowed', (location, why) => {
    const e = cleaveErrorOf(() => parseS3Location(location));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toMatch(why);
    expect(e.message).not.toContain('secret');
  });

  it.each<[S3ModelStoreOptions, RegExp]>([
    [{ bucket: 'UPPER' }, /s3 bucket "UPPER" is not valid/],
    [{ bucket: 'ab' }, /s3 bucket "ab"/],
    [{ bucket: 'models', prefix: 'a/../b' }, /s3 prefix "a\/..\/b" is not valid/],
    [{ bucket: 'models', endpoint: 'ftp://x' }, /s3 endpoint "ftp:\/\/x" is not valid/],
    [{ bucket: 'models', region: 'us east' }, /s3 region "us east"/],
  ])('refuses bad options %j', (opts, why) => {
    expect(cleaveErrorOf(() => new S3ModelStore(opts)).message).toMatch(why);
  });

  it('addresses buckets by path on custom endpoints and by virtual host on AWS', () => {
    expect(new S3ModelStore({ bucket: 'models', endpoint: 'http://minio:9000/' }).objectUrl('repo/a b').href).toBe('http://minio:9000/models/repo/a%20b');
    expect(new S3ModelStore({ bucket: 'models', region: 'eu-west-1' }).objectUrl('k').href).toBe('https://models.s3.eu-west-1.amazonaws.com/k');
    expect(new S3ModelStore({ bucket: 'models', endpoint: 'https://r2.example.com', addressing: 'virtual-host' }).objectUrl(undefined).href).toBe('https://models.r2.example.com/');
  });

  it('the factory merges location over env defaults; half a key pair in the env is refused', async () => {
    const f = s3ModelStoreFactory(s3DefaultsFromEnv({ AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://default:1' }));
    const st = await f(`s3://models/repo?endpoint=${s3.url}&region=us-east-1`, { env: {} }) as S3ModelStore;
    expect([st.endpoint, st.region, st.addressing]).toEqual([s3.url, 'us-east-1', 'path']);
    expect((await st.list()).length).toBeGreaterThan(0); // the env's credentials signed it
    expect(cleaveErrorOf(() => s3DefaultsFromEnv({ AWS_ACCESS_KEY_ID: 'AKIDTEST' })).message).toMatch(/AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not/);
  });
});
