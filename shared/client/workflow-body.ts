/**
 * Answers of `POST /v1/workflows/:name/infer` (docs/workflows.md) read into typed values: the JSON
 * result, and the NDJSON events of a streamed run (`node`, `skip`, `exit`, then `result` or
 * `error`). Tensors are JSON `{ dtype, dims, data }`; text outputs (templates) have dtype
 * "string" and come back as TextTensors.
 */
import { CleaveError } from '../errors.js';
import { describeJson, isJsonObject, own } from '../kserve/json-fields.js';
import type { NodeReport } from '../workflow/executor.js';
import type { TextTensor } from '../workflow/transforms.js';
import { readJsonTensor } from './native-body.js';
import { errorFromBody } from './error-body.js';
import type { TypedTensor } from './typed-tensor.js';

export type { NodeReport, TextTensor };

/** A workflow output: a typed tensor, or text. */
export type WorkflowOutput = TypedTensor | TextTensor;

/** A workflow run's answer. */
export interface WorkflowRunResult {
  readonly workflow: string;
  readonly version: number;
  readonly outputs: Record<string, WorkflowOutput>;
  /** Every node in the order it finished or was skipped. */
  readonly nodes: readonly NodeReport[];
  /** The node whose exit condition answered the request. */
  readonly exitedAt?: string;
  readonly degraded: boolean;
  /** The run as the edge measured it, ms. */
  readonly totalMs: number;
  /** Where each model node ran (`x-cleave-plan`: `small=edge, big=cut:block3.pool_out!`). */
  readonly plan: string;
  /** The request's `id`, echoed. */
  readonly id?: string;
}

/** One event of a streamed workflow run, in the order things happened on the edge. */
export type WorkflowStreamEvent =
  | { readonly type: 'node'; readonly node: string; readonly report: NodeReport; readonly outputs: Record<string, WorkflowOutput> }
  | { readonly type: 'skip'; readonly node: string }
  | { readonly type: 'exit'; readonly node: string }
  | { readonly type: 'result'; readonly result: WorkflowRunResult };

function bad(path: string, expected: string, got: unknown): CleaveError {
  return new CleaveError('CLEAVE_E_PROTOCOL', `workflow answer field ${path} must be ${expected}, got ${describeJson(got)}`, { field: path });
}

/** A map of workflow outputs. */
export function readWorkflowOutputs(raw: unknown, path = 'outputs'): Record<string, WorkflowOutput> {
  if (!isJsonObject(raw)) throw bad(path, 'a map of name to tensor', raw);
  const out = Object.create(null) as Record<string, WorkflowOutput>;
  for (const [name, v] of Object.entries(raw)) {
    const p = `${path}.${name}`;
    if (isJsonObject(v) && own(v, 'dtype') === 'string') {
      const data = own(v, 'data');
      const dims = own(v, 'dims');
      if (!Array.isArray(data) || !data.every((s) => typeof s === 'string')) throw bad(`${p}.data`, 'an array of strings', data);
      if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d))) throw bad(`${p}.dims`, 'an array of integers', dims);
      out[name] = { dtype: 'string', dims: dims as number[], text: data as string[] };
    } else {
      out[name] = readJsonTensor(v, p) as TypedTensor;
    }
  }
  return out;
}

function readNodes(raw: unknown): NodeReport[] {
  if (!Array.isArray(raw)) throw bad('nodes', 'an array of node reports', raw);
  return raw.map((n: unknown, i) => {
    if (!isJsonObject(n) || typeof own(n, 'node') !== 'string' || typeof own(n, 'status') !== 'string') throw bad(`nodes[${i}]`, 'a report with node and status', n);
    return n as unknown as NodeReport;
  });
}

/** The JSON answer (or an NDJSON `result` line); `plan` from the header, or the line's own field. */
export function readWorkflowResult(o: unknown, planHeader?: string | null): WorkflowRunResult {
  if (!isJsonObject(o)) throw bad('(body)', 'an object', o);
  const workflow = own(o, 'workflow');
  const version = own(o, 'version');
  const totalMs = own(o, 'totalMs');
  if (typeof workflow !== 'string') throw bad('workflow', 'a string', workflow);
  if (typeof version !== 'number') throw bad('version', 'a number', version);
  if (typeof totalMs !== 'number') throw bad('totalMs', 'a number', totalMs);
  const exitedAt = own(o, 'exitedAt');
  const id = own(o, 'id');
  const plan = planHeader ?? own(o, 'plan');
  return {
    workflow, version, totalMs,
    outputs: readWorkflowOutputs(own(o, 'outputs')),
    nodes: readNodes(own(o, 'nodes')),
    degraded: own(o, 'degraded') === true,
    plan: typeof plan === 'string' ? plan : '',
    ...(typeof exitedAt === 'string' ? { exitedAt } : {}),
    ...(typeof id === 'string' ? { id } : {}),
  };
}

/**
 * One NDJSON line as an event. An `error` line (the run failed after the 200 went out) is thrown
 * as its CleaveError, with the edge's code; an unknown event kind (a newer edge) gives undefined.
 */
export function readWorkflowEvent(line: unknown, where: string): WorkflowStreamEvent | undefined {
  if (!isJsonObject(line)) throw bad('(line)', 'an object', line);
  const kind = own(line, 'event');
  const node = own(line, 'node');
  switch (kind) {
    case 'node': {
      if (typeof node !== 'string') throw bad('node', 'a string', node);
      const { event: _e, outputs, ...report } = line as Record<string, unknown>;
      return { type: 'node', node, report: report as unknown as NodeReport, outputs: readWorkflowOutputs(outputs) };
    }
    case 'skip':
    case 'exit':
      if (typeof node !== 'string') throw bad('node', 'a string', node);
      return { type: kind, node };
    case 'result':
      return { type: 'result', result: readWorkflowResult(line) };
    case 'error':
      throw errorFromBody(500, JSON.stringify(line), where);
    default:
      return undefined;
  }
}
