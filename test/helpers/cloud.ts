/**
 * A real cloud server in the test process, over a small temporary model repository built from
 * zoo files (mlp-small, text-tiny, cnn-small and cnn-small split into head and tail), so each
 * test file starts in a couple of seconds rather than warming the whole zoo.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveCloudConfig, type RawCloudSettings } from '../../cloud/config.js';
import { startCloudServer, type CloudServer } from '../../cloud/server.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { listCutPoints, splitModel } from '../../shared/onnx/split/index.js';
import { zooModelBytes } from './zoo.js';

export interface RepoModel {
  readonly name: string;
  /** version -> ONNX bytes */
  readonly versions: Readonly<Record<number, Uint8Array>>;
  /** Written as config.json when given. */
  readonly config?: Record<string, unknown>;
}

/** Writes a Triton-style repository folder. */
export async function writeRepository(dir: string, models: readonly RepoModel[]): Promise<void> {
  for (const m of models) {
    for (const [v, bytes] of Object.entries(m.versions)) {
      await mkdir(path.join(dir, m.name, v), { recursive: true });
      await writeFile(path.join(dir, m.name, v, 'model.onnx'), bytes);
    }
    if (m.config) await writeFile(path.join(dir, m.name, 'config.json'), JSON.stringify(m.config));
  }
}

/** cnn-small cut at its smallest single-tensor cut that leaves work on both sides. */
export async function cnnSmallParts(): Promise<{ head: Uint8Array; tail: Uint8Array; cut: string[] }> {
  const model = decodeModel(await zooModelBytes('cnn-small'));
  const cuts = listCutPoints(model).filter((c) => c.tensors.length === 1 && c.headNodes > 2 && c.tailNodes > 2);
  cuts.sort((a, b) => (a.bytesPerSample ?? Infinity) - (b.bytesPerSample ?? Infinity));
  const cut = cuts[0]!.tensors.map((t) => t.name);
  const parts = splitModel(model, cut);
  return { head: encodeModel(parts.head), tail: encodeModel(parts.tail), cut };
}

/** The default test repository. `slow` has a 300 ms max queue delay, for deadline and cancel tests. */
export async function defaultTestModels(): Promise<RepoModel[]> {
  const mlp = await zooModelBytes('mlp-small');
  const parts = await cnnSmallParts();
  return [
    { name: 'mlp-small', versions: { 1: mlp, 2: mlp } },
    { name: 'text-tiny', versions: { 1: await zooModelBytes('text-tiny') } },
    { name: 'cnn-small', versions: { 1: await zooModelBytes('cnn-small') } },
    { name: 'cnn-head', versions: { 1: parts.head } },
    { name: 'cnn-tail', versions: { 1: parts.tail } },
    { name: 'slow', versions: { 1: mlp }, config: { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMs: 300 } } },
  ];
}

export interface TestCloud {
  readonly server: CloudServer;
  readonly dir: string;
  readonly wsUrl: string;
  readonly httpUrl: string;
  stop(): Promise<void>;
}

/** Starts a cloud server on a free loopback port over a fresh repository. */
export async function startTestCloud(settings: RawCloudSettings = {}, models?: readonly RepoModel[]): Promise<TestCloud> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cleave-repo-'));
  await writeRepository(dir, models ?? await defaultTestModels());
  const config = resolveCloudConfig({}, { port: '0', repository: dir, device: 'cpu', log: false, ...settings });
  const server = await startCloudServer(config, { processMetrics: false });
  await server.ready;
  return {
    server, dir,
    httpUrl: `http://127.0.0.1:${server.port}`,
    wsUrl: `ws://127.0.0.1:${server.port}/v1/ws`,
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
