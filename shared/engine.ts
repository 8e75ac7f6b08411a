/**
 * The seed's engine API in TypeScript, over an edge node's HTTP API (fetch only, so it runs in
 * Node, browsers, workerd and React Native):
 *
 *   const engine = new Engine({ url: 'http://127.0.0.1:8787' });
 *   await engine.deploy({ name: 'classify', model: 'cnn-small', placement: 'auto' });
 *   const r = await engine.infer({ image }, { task: 'classify' });
 *   r.outputs.logits   // a HostTensor; r.plan says where each node ran
 *
 * `deploy` of one model is a one-node workflow under the task's name, so every workflow feature
 * (placement, fallback, deadlines, plan) applies; `WorkflowBuilder.deploy(opts, engine)` deploys
 * a whole graph. Errors come back as CleaveErrors with the edge's code.
 */
import { CleaveError, isCleaveError, type ErrorCode } from './errors.js';
import { dtypeFromKServe } from './kserve/datatype.js';
import { isDType, type DType } from './onnx/dtype.js';
import type { TensorMap } from './protocol/frames.js';
import { hostTensor, type HostTensor } from './tensor.js';
import type { Placement, WorkflowDefinition } from './workflow/definition.js';
import type { NodeReport } from './workflow/executor.js';
import type { TextTensor } from './workflow/transforms.js';

export interface EngineOptions {
  /** Base URL of an edge node, e.g. http://127.0.0.1:8787. */
  readonly url: string;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Headers sent with every request (tenant, auth). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One model deployed as a task: the seed's `engine.deploy(config)`. */
export interface ModelDeployConfig {
  /** Task name (a workflow name: lower-case letters, digits, dashes). */
  readonly name: string;
  readonly model: string;
  readonly version?: number;
  /** Default 'auto'. */
  readonly placement?: Placement;
  readonly replicas?: number;
  /** Budget of a request that states none, ms. */
  readonly deadlineMs?: number;
}

export interface InferOptions {
  /** The deployed task (workflow) to run. */
  readonly task: string;
  readonly version?: number;
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}

export interface EngineResult {
  readonly outputs: Record<string, HostTensor | TextTensor>;
  /** Where each model node ran (the `x-cleave-plan` header). */
  readonly plan: string;
  readonly nodes: readonly NodeReport[];
  readonly exitedAt?: string;
  readonly degraded: boolean;
  readonly totalMs: number;
}

interface JsonTensor { dtype: string; dims: number[]; data: (number | string | boolean)[] }

function tensorOf(name: string, t: JsonTensor): HostTensor | TextTensor {
  if (t.dtype === 'string') return { dtype: 'string', dims: t.dims, text: t.data.map(String) };
  if (!isDType(t.dtype)) throw new CleaveError('CLEAVE_E_DTYPE', `output "${name}" has unknown dtype ${JSON.stringify(t.dtype)}`, { output: name });
  const d: DType = t.dtype;
  const data = d === 'int64' ? BigInt64Array.from(t.data, (v) => BigInt(v as number | string))
    : d === 'uint64' ? BigUint64Array.from(t.data, (v) => BigInt(v as number | string))
      : d === 'float64' ? Float64Array.from(t.data, Number)
        : d === 'int32' ? Int32Array.from(t.data, Number)
          : d === 'uint8' || d === 'bool' ? Uint8Array.from(t.data, Number)
            : d === 'int8' ? Int8Array.from(t.data, Number)
              : Float32Array.from(t.data, Number);
  return hostTensor(d, t.dims, data);
}

function jsonTensor(t: HostTensor): JsonTensor {
  const data: (number | string)[] = [];
  const src = t.data as ArrayLike<number | bigint>;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    data.push(typeof v === 'bigint' ? v.toString() : v);
  }
  return { dtype: t.dtype, dims: [...t.dims], data };
}

export class Engine {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: EngineOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.fetch = opts.fetch ?? ((...a) => fetch(...a));
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ json: T; res: Response }> {
    const res = await this.fetch(`${this.base}${path}`, {
      method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...this.opts.headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new CleaveError('CLEAVE_E_PROTOCOL', `${method} ${path} answered ${res.status} with a body that is not JSON`, { status: res.status });
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string; detail?: Record<string, string> };
      const code = (e.code ?? 'CLEAVE_E_INTERNAL') as ErrorCode;
      const err = new CleaveError(code, e.message ?? `${method} ${path} answered ${res.status}`, e.detail ?? {});
      throw isCleaveError(err) ? err : new CleaveError('CLEAVE_E_INTERNAL', String(e.message));
    }
    return { json: json as T, res };
  }

  /** Deploys one model as a task (a one-node workflow), from the model's metadata on the edge. */
  async deploy(config: ModelDeployConfig): Promise<{ name: string; version: number }> {
    const path = config.version !== undefined ? `/v2/models/${encodeURIComponent(config.model)}/versions/${config.version}` : `/v2/models/${encodeURIComponent(config.model)}`;
    const { json: meta } = await this.call<{ inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { name: string }[] }>('GET', path);
    const def: WorkflowDefinition = {
      name: config.name,
      inputs: meta.inputs.map((i) => ({ name: i.name, dtype: dtypeFromKServe(i.datatype, `input "${i.name}"`), shape: i.shape })),
      nodes: [{ id: 'model', type: 'model', params: { model: config.model, ...(config.version !== undefined ? { version: config.version } : {}), placement: config.placement ?? 'auto' } }],
      edges: [{ source: 'input', target: 'model' }],
      outputs: meta.outputs.map((o) => ({ name: o.name, from: `model.${o.name}` })),
      ...(config.deadlineMs !== undefined ? { deadlineMs: config.deadlineMs } : {}),
    };
    return this.deployWorkflow(def, config.replicas !== undefined ? { replicas: config.replicas } : {});
  }

  /** Deploys a workflow document (WorkflowBuilder.deploy's target). */
  async deployWorkflow(def: WorkflowDefinition, opts: { replicas?: number } = {}): Promise<{ name: string; version: number }> {
    const q = opts.replicas !== undefined ? `?replicas=${opts.replicas}` : '';
    const { json } = await this.call<{ name: string; version: number }>('POST', `/v1/workflows${q}`, def);
    return { name: json.name, version: json.version };
  }

  /** Runs a deployed task: the seed's `engine.infer(inputs, { task })`. */
  async infer(inputs: TensorMap, opts: InferOptions): Promise<EngineResult> {
    const q = opts.version !== undefined ? `?version=${opts.version}` : '';
    const body = { inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, jsonTensor(t)])), ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}) };
    const { json, res } = await this.call<{ outputs: Record<string, JsonTensor>; nodes: NodeReport[]; exitedAt?: string; degraded: boolean; totalMs: number }>(
      'POST', `/v1/workflows/${encodeURIComponent(opts.task)}/infer${q}`, body, opts.signal);
    return {
      outputs: Object.fromEntries(Object.entries(json.outputs).map(([k, t]) => [k, tensorOf(k, t)])),
      plan: res.headers.get('x-cleave-plan') ?? '',
      nodes: json.nodes, degraded: json.degraded, totalMs: json.totalMs,
      ...(json.exitedAt !== undefined ? { exitedAt: json.exitedAt } : {}),
    };
  }
}
