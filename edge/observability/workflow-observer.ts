/**
 * What the edge records of each workflow run (WorkflowService's `onRun`): every router decision
 * of its model and split nodes, with the estimate error where the node's time is comparable
 * (shared/observability/router-decisions.ts), and one `request` log line with the run's trace
 * ids, plan and total. Runtime-neutral.
 */
import { toCleaveError } from '../../shared/errors.js';
import { requestLogEvent, type LogSink } from '../../shared/observability/request-log.js';
import { workflowDecisions } from '../../shared/observability/router-decisions.js';
import type { Clock } from '../../shared/time.js';
import { parseTraceparent } from '../../shared/trace.js';
import type { EdgeMetrics } from '../metrics.js';
import { planHeader } from '../workflow-run-routes.js';
import type { WorkflowRunOutcome, WorkflowRunRequest } from '../workflow-service.js';

/** What the observer reports to. */
export interface WorkflowObserverOptions {
  readonly metrics: EdgeMetrics;
  /** Receives the `request` line; none: metrics only. */
  readonly log?: LogSink;
  /** For the total of a run that failed (a finished run reports its own). */
  readonly clock: Clock;
}

/** The `model` field of a workflow's log line: `workflow:<name>`, apart from model names. */
export function workflowLogModel(name: string): string {
  return `workflow:${name}`;
}

/** An `onRun` hook for WorkflowService. */
export function workflowRunObserver(opts: WorkflowObserverOptions): (req: WorkflowRunRequest, outcome: WorkflowRunOutcome) => void {
  return (req, outcome) => {
    const { stored, result } = outcome;
    if (stored && result) for (const d of workflowDecisions(stored.definition, result.nodes)) opts.metrics.decision(d);
    const log = opts.log;
    if (!log) return;
    const span = parseTraceparent(req.traceparent);
    const code = outcome.error === undefined ? 'ok' : toCleaveError(outcome.error).code;
    const totalMs = result?.totalMs ?? (req.receivedAt !== undefined ? opts.clock.now() - req.receivedAt : 0);
    log(requestLogEvent({
      tier: 'edge', model: workflowLogModel(stored?.name ?? req.name), ...(stored ? { version: stored.version } : {}), code, totalMs,
      ...(span ? { span } : {}), ...(req.parentSpanId !== undefined ? { parentSpanId: req.parentSpanId } : {}),
      ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
      extra: {
        plan: result ? planHeader(result.nodes) : undefined,
        exited_at: result?.exitedAt,
        degraded: result?.degraded === true ? true : undefined,
      },
    }));
  };
}
