/**
 * Catalog entries from the generated zoo's manifest: the `edge` tier models run here, the
 * `cloud` tier models are forwarded, and each cloud model gets the fp32 edge model with the same
 * signature as its degraded fallback (text-base -> text-tiny, cnn-large -> cnn-small, ...).
 * Runtime-neutral: the Worker hands in bundled bytes, the Node gateway reads its model folder.
 */
import type { Manifest, ManifestEntry } from '../shared/zoo/manifest.js';
import type { TensorSpec } from '../shared/protocol/frames.js';
import { sameSignature, type CatalogEntry } from './model-catalog.js';

export interface ZooCatalogOptions {
  /** Bytes of a model file named in the manifest (e.g. `cnn-small.onnx`). */
  readonly bytesOf: (file: string) => Promise<Uint8Array>;
  /** Include the cloud-tier models (as forwarded entries). False for an edge with no cloud. */
  readonly cloud: boolean;
  /** Only these edge models (default all edge-tier models). */
  readonly edgeModels?: readonly string[];
}

function specs(list: ManifestEntry['inputs']): TensorSpec[] {
  // The zoo writes the batch dim as 'N'; the protocol's contracts use -1 for a dynamic dim.
  return list.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape.map((d) => (typeof d === 'number' ? d : -1)) }));
}

export function zooCatalogEntries(manifest: Manifest, opts: ZooCatalogOptions): CatalogEntry[] {
  const edge: CatalogEntry[] = [];
  const fp32Edge: CatalogEntry[] = [];
  for (const m of manifest.models) {
    if (m.tier !== 'edge' || (opts.edgeModels && !opts.edgeModels.includes(m.name))) continue;
    const e: CatalogEntry = {
      name: m.name, version: m.version, placement: 'edge', inputs: specs(m.inputs), outputs: specs(m.outputs),
      maxBatchSize: 64, description: m.description, bytes: () => opts.bytesOf(m.file),
      ...(m.quantization === 'qdq-weight' ? { loadOptions: { weightOnlyQdq: true } } : {}),
    };
    edge.push(e);
    if (m.quantization === 'none') fp32Edge.push(e);
  }
  const cloud: CatalogEntry[] = [];
  if (opts.cloud) {
    for (const m of manifest.models) {
      if (m.tier !== 'cloud') continue;
      const base = { name: m.name, version: m.version, placement: 'cloud' as const, inputs: specs(m.inputs), outputs: specs(m.outputs), maxBatchSize: 64, description: m.description };
      const fallback = fp32Edge.find((e) => sameSignature(e, base));
      cloud.push(fallback ? { ...base, fallback: fallback.name } : base);
    }
  }
  return [...edge, ...cloud];
}
