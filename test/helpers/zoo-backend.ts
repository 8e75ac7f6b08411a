// The zoo (manifest and folder) with onnxruntime-node, which the edge's in-process tests build
// their nodes from.
import { nodeBackends } from '../../cli/backends.js';
import type { InferenceBackend } from '../../shared/backend/backend.js';
import type { Manifest } from '../../shared/zoo/index.js';
import { zooDir, zooManifest } from './zoo.js';

export interface ZooBackend {
  readonly manifest: Manifest;
  readonly dir: string;
  readonly ort: InferenceBackend;
}

/** The generated zoo (built on first use) and the onnxruntime-node backend. */
export async function zooBackend(): Promise<ZooBackend> {
  return { manifest: await zooManifest(), dir: await zooDir(), ort: (await nodeBackends()).get('onnxruntime-node') };
}
