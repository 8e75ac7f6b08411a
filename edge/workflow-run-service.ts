/**
 * Workflows over the Cleave protocol: a client's RUN whose model is `workflow:<name>` runs that
 * deployed workflow (RUN `version` picks a workflow version). With `stream`, each node's outputs
 * come back as a PARTIAL frame as the node completes (`model` = the node id, `stage` = its place
 * in completion order), then the RESULT with the workflow's outputs. Text outputs (templates)
 * travel as uint8 tensors of their UTF-8 bytes, one row per string, since protocol tensors are
 * numeric.
 */
import { CleaveError, toCleaveError } from '../shared/errors.js';
import type { TensorMap } from '../shared/protocol/frames.js';
import type { RunService, ServiceRunHandle, ServiceRunRequest } from '../shared/protocol/server-session.js';
import { hostTensor, type HostTensor } from '../shared/tensor.js';
import type { Clock } from '../shared/time.js';
import { isTextTensor, type WorkflowValue } from '../shared/workflow/transforms.js';
import type { WorkflowService } from './workflow-service.js';

/** RUN model prefix that names a workflow. */
export const WORKFLOW_RUN_PREFIX = 'workflow:';

/** Protocol tensors for workflow values: text as UTF-8 bytes, [rows, maxBytes] zero-padded. */
export function protocolTensors(values: ReadonlyMap<string, WorkflowValue>): TensorMap {
  const out: Record<string, HostTensor> = {};
  const enc = new TextEncoder();
  for (const [k, v] of values) {
    if (!isTextTensor(v)) {
      out[k] = v;
      continue;
    }
    const rows = v.text.map((t) => enc.encode(t));
    const width = Math.max(0, ...rows.map((r) => r.length));
    const data = new Uint8Array(rows.length * width);
    rows.forEach((r, i) => data.set(r, i * width));
    out[k] = hostTensor('uint8', [rows.length, width], data);
  }
  return out;
}

/** `base`, with RUNs for `workflow:<name>` answered by the workflow service. */
export function withWorkflows(base: RunService, workflows: WorkflowService, clock: Clock): RunService {
  return {
    ...base,
    infer: (r: ServiceRunRequest): ServiceRunHandle => {
      if (!r.model.startsWith(WORKFLOW_RUN_PREFIX)) return base.infer(r);
      const name = r.model.slice(WORKFLOW_RUN_PREFIX.length);
      const ac = new AbortController();
      const receivedAt = r.receivedAt ?? clock.now();
      let step = 0;
      const promise = workflows.run({
        name, inputs: r.inputs, receivedAt, signal: ac.signal,
        ...(r.version !== undefined ? { version: r.version } : {}),
        ...(r.deadline !== undefined ? { deadlineMs: Math.max(1, r.deadline - receivedAt) } : {}),
        ...(r.traceparent !== undefined ? { traceparent: r.traceparent } : {}),
        ...(r.onPartial ? { onEvent: (e) => { if (e.kind === 'node') r.onPartial!(step++, e.report.node, protocolTensors(e.outputs)); } } : {}),
      }).then(({ stored, result }) => {
        const outputs = protocolTensors(result.outputs);
        if (r.outputs) {
          for (const o of r.outputs) if (!(o in outputs)) throw new CleaveError('CLEAVE_E_NOT_FOUND', `workflow "${name}" has no output "${o}"; outputs: ${Object.keys(outputs).join(', ')}`, { workflow: name, output: o });
        }
        const picked = r.outputs ? Object.fromEntries(r.outputs.map((o) => [o, outputs[o]!])) : outputs;
        return { model: r.model, version: stored.version, outputs: picked, timing: { queueMs: 0, computeMs: result.totalMs, batchSize: 1 } };
      }, (e: unknown) => { throw toCleaveError(e); });
      return {
        promise,
        cancel: () => {
          ac.abort();
          return false;
        },
      };
    },
  };
}
