/**
 * The models a workflow document is checked against before it leaves this machine: the zoo's
 * catalogue, plus whatever an edge serves besides (learned from its KServe metadata,
 * `GET /v2/models/<name>`). Which tiers hold a model right now is the edge's business, so
 * locally every known model counts as runnable on both tiers: the local check catches the
 * document's own mistakes (shape, graph, tensors, conditions), and the edge re-checks placements
 * against its live tiers when the document arrives.
 */
import { CleaveError } from '../shared/errors.js';
import { dtypeFromKServe } from '../shared/kserve/datatype.js';
import type { TensorSpec } from '../shared/protocol/frames.js';
import type { ModelInfo, ModelLookup } from '../shared/workflow/validate.js';
import { ZOO_MODELS, type ZooTensorSpec } from '../shared/zoo/index.js';

/** The contract of a model as the validator wants it; every tier allowed (see the file comment). */
export type KnownModels = ReadonlyMap<string, ModelInfo>;

const BOTH: ModelInfo['tiers'] = ['edge', 'cloud'];

function specs(list: readonly ZooTensorSpec[]): TensorSpec[] {
  // The zoo writes the batch dim as 'N'; contracts use -1 for a dynamic dim.
  return list.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape.map((d) => (typeof d === 'number' ? d : -1)) }));
}

/** Every zoo model, by name. */
export function zooModels(): Map<string, ModelInfo> {
  return new Map(ZOO_MODELS.map((m) => [m.name, { inputs: specs(m.inputs), outputs: specs(m.outputs), tiers: BOTH }]));
}

/** A ModelLookup over `known` (versions are not pinned locally: the edge checks them). */
export function lookupOf(known: KnownModels): ModelLookup {
  return (model) => known.get(model);
}

/** Model names a document mentions (model, split model and exit head), read leniently: the document is not validated yet. */
export function modelsNamed(doc: unknown): string[] {
  const nodes = (doc as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return [];
  const out = new Set<string>();
  for (const n of nodes as unknown[]) {
    const p = (n as { params?: { model?: unknown; exit?: { head?: unknown } | null } | null } | null)?.params;
    if (typeof p?.model === 'string') out.add(p.model);
    if (typeof p?.exit?.head === 'string') out.add(p.exit.head);
  }
  return [...out];
}

/** What an HTTP GET returns, for injecting a fake in unit tests. */
export type Fetch = (url: string, init?: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<{ status: number; json(): Promise<unknown> }>;

/**
 * The zoo plus the models among `names` the zoo lacks and the edge at `edgeUrl` describes.
 * A model the edge answers 404 for stays unknown (the validator reports it); an unreachable edge
 * is CLEAVE_E_UNAVAILABLE naming the URL.
 */
export async function edgeModels(edgeUrl: string, names: readonly string[], opts: { fetch?: Fetch; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Map<string, ModelInfo>> {
  const known = zooModels();
  const get = opts.fetch ?? (fetch as unknown as Fetch);
  for (const name of names) {
    if (known.has(name)) continue;
    const url = `${edgeUrl.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(name)}`;
    let res: Awaited<ReturnType<Fetch>>;
    try {
      res = await get(url, { ...(opts.headers ? { headers: opts.headers } : {}), signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
    } catch (e) {
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `cannot reach the edge at ${edgeUrl} (GET ${url}): ${(e as Error).message}`, { url: edgeUrl });
    }
    if (res.status === 404) continue;
    if (res.status !== 200) throw new CleaveError('CLEAVE_E_UNAVAILABLE', `the edge at ${edgeUrl} answered ${res.status} to GET ${url}`, { url: edgeUrl, status: res.status });
    const meta = (await res.json()) as { inputs?: { name: string; datatype: string; shape: number[] }[]; outputs?: { name: string; datatype: string; shape: number[] }[] };
    const conv = (list: typeof meta.inputs, role: string): TensorSpec[] =>
      (list ?? []).map((t) => ({ name: t.name, dtype: dtypeFromKServe(t.datatype, `${role} "${t.name}" of model "${name}"`), shape: [...t.shape] }));
    known.set(name, { inputs: conv(meta.inputs, 'input'), outputs: conv(meta.outputs, 'output'), tiers: BOTH });
  }
  return known;
}
