/**
 * What `cleave profile --edge <url>` measures on a running edge node (an ARM gateway, a Worker):
 * its own compute for a model, read from the `edge` segment of the Server-Timing header of KServe
 * v2 infer calls sent with the result cache bypassed. Link time between this machine and the
 * edge is not part of it: it is the edge's compute the router prices.
 */
import { CleaveError } from '../../shared/errors.js';
import { kserveFromDType } from '../../shared/kserve/datatype.js';
import { parseServerTiming, TIMING } from '../../shared/server-timing.js';
import type { HostTensor } from '../../shared/tensor.js';
import { summarize, type ComputeStats, type TimingOptions } from './measure.js';

/** The KServe v2 JSON body of an infer call with these inputs. */
export function kserveJsonBody(inputs: Readonly<Record<string, HostTensor>>): string {
  return JSON.stringify({
    inputs: Object.entries(inputs).map(([name, t]) => ({
      name, shape: t.dims, datatype: kserveFromDType(t.dtype, `input "${name}"`),
      // int64 comes as BigInt64Array; JSON has only numbers (token ids and the like fit).
      data: Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v)),
    })),
  });
}

/** One infer call; the edge's own compute, ms, from Server-Timing. */
async function edgeCompute(url: string, body: string, headers: Record<string, string>): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cleave-cache': 'bypass', ...headers }, body, signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new CleaveError('CLEAVE_E_UNAVAILABLE', `cannot reach the edge (POST ${url}): ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`, { url });
  }
  const text = await res.text();
  if (res.status !== 200) {
    let message = text.slice(0, 300);
    try {
      message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
    } catch { /* not JSON: keep the text */ }
    throw new CleaveError(res.status === 404 ? 'CLEAVE_E_NOT_FOUND' : 'CLEAVE_E_UNAVAILABLE', `the edge answered ${res.status} to POST ${url}: ${message}`, { url, status: res.status });
  }
  const edge = parseServerTiming(res.headers.get('server-timing') ?? '').find((s) => s.name === TIMING.edge)?.durMs;
  if (edge === undefined) {
    throw new CleaveError('CLEAVE_E_UNAVAILABLE', `the edge did not run the model itself (no "${TIMING.edge}" Server-Timing segment in its answer to POST ${url}); it forwards it to the cloud`, { url });
  }
  return edge;
}

/** The edge's compute for `model` at each batch, warm-up first. */
export async function measureEdgeNode(
  edgeUrl: string, model: string, batches: readonly number[], feeds: (batch: number) => Record<string, HostTensor>,
  opts: TimingOptions & { headers?: Record<string, string> } = {},
): Promise<ComputeStats[]> {
  const url = `${edgeUrl.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(model)}/infer`;
  const out: ComputeStats[] = [];
  for (const batch of batches) {
    const body = kserveJsonBody(feeds(batch));
    for (let i = 0; i < (opts.warmup ?? 2); i++) await edgeCompute(url, body, opts.headers ?? {});
    const samples: number[] = [];
    for (let i = 0; i < (opts.runs ?? 20); i++) samples.push(await edgeCompute(url, body, opts.headers ?? {}));
    out.push(summarize(batch, samples));
  }
  return out;
}
