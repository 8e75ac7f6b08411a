// End to end: zoo model files in an S3-compatible bucket (a SigV4-checking server on loopback),
// `cleave cloud` as a real child process told only CLEAVE_MODEL_STORE and AWS credentials, and an
// inference over KServe HTTP that can only succeed if the cloud fetched the model from the bucket.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudProcess } from '../../../bench/cloud-process.js';
import { resolveCloudConfig } from '../../../cloud/config.js';
import { startCloudServer } from '../../../cloud/server.js';
import { S3ModelStore } from '../../../shared/plugins/s3-model-store.js';
import { startFakeS3, type FakeS3 } from '../../helpers/s3-server.js';
import { zooModelBytes } from '../../helpers/zoo.js';

let s3: FakeS3;
let cache: string;
const AWS = { AWS_ACCESS_KEY_ID: 'AKIDCLOUD', AWS_SECRET_ACCESS_KEY: 'cloud-secret' };

beforeAll(async () => {
  s3 = await startFakeS3({ credentials: { AKIDCLOUD: 'cloud-secret' }, buckets: ['zoo'] });
  const store = new S3ModelStore({ bucket: 'zoo', prefix: 'prod', endpoint: s3.url, credentials: { accessKeyId: 'AKIDCLOUD', secretAccessKey: 'cloud-secret' } });
  await store.put('mlp-small/1/model.onnx', await zooModelBytes('mlp-small'));
  await store.put('mlp-small/config.json', new TextEncoder().encode(JSON.stringify({ maxBatchSize: 8, description: 'from the bucket' })));
  cache = await mkdtemp(path.join(tmpdir(), 'cleave-store-e2e-'));
});
afterAll(async () => {
  await s3.close();
  await rm(cache, { recursive: true, force: true });
});

describe('cleave cloud with a model store', () => {
  it('serves a model it fetched from an S3 bucket and answers a KServe inference with it', async () => {
    const location = `s3://zoo/prod?endpoint=${s3.url}`;
    const cloud = await startCloudProcess(['--no-log', '--repository', cache], { env: { ...AWS, CLEAVE_MODEL_STORE: location } });
    try {
      expect(cloud.output()).toMatch(/^ready: mlp-small@1$/m);
      const fetched = s3.requests.filter((r) => r.method === 'GET' && r.url === '/zoo/prod/mlp-small/1/model.onnx');
      expect(fetched).toEqual([{ method: 'GET', url: '/zoo/prod/mlp-small/1/model.onnx', status: 200 }]);
      expect(await readdir(path.join(cache, 'mlp-small', '1'))).toEqual(['model.onnx']);
      const meta = await (await fetch(`${cloud.httpUrl}/v2/models/mlp-small`)).json() as Record<string, unknown>;
      expect(meta).toMatchObject({ name: 'mlp-small', versions: ['1'] });
      const res = await fetch(`${cloud.httpUrl}/v2/models/mlp-small/infer`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => i / 64) }] }),
      });
      expect(res.status).toBe(200);
      const body = await res.json() as { model_name: string; outputs: { shape: number[]; data: number[] }[] };
      expect(body.model_name).toBe('mlp-small');
      expect(body.outputs[0]!.shape).toEqual([1, 10]);
      expect(body.outputs[0]!.data.every(Number.isFinite)).toBe(true);
    } finally {
      expect(await cloud.stop()).toBe(0);
    }
  });

  it('a wrong secret stops the start with CLEAVE_E_UNAUTHORIZED naming the bucket', async () => {
    const start = startCloudProcess(['--no-log'], { env: { ...AWS, AWS_SECRET_ACCESS_KEY: 'wrong', CLEAVE_MODEL_STORE: `s3://zoo/prod?endpoint=${s3.url}`, CLEAVE_REPOSITORY: path.join(cache, 'other') } });
    await expect(start).rejects.toThrow(/exited \(2\) before ready:[\s\S]*error CLEAVE_E_UNAUTHORIZED: GET listing s3:\/\/zoo\/prod\/ was refused .*403 SignatureDoesNotMatch/);
  });

  it('a bad store location is refused at start naming the setting and what is allowed', async () => {
    // In process: the CLI's error path is covered above; this checks the server's wiring alone.
    const config = resolveCloudConfig({}, { port: '0', device: 'cpu', log: false, modelStore: 's3://zoo/prod?regoin=us-east-1' });
    await expect(startCloudServer(config, { processMetrics: false })).rejects.toMatchObject({
      code: 'CLEAVE_E_BAD_ARGUMENT',
      message: 'setting modelStore = "s3://zoo/prod?regoin=us-east-1" is not valid: query key "regoin" is not known; expected one of: endpoint, region, addressing',
    });
  });
});
