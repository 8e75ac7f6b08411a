/**
 * Running deployed workflows over HTTP, mounted beside the deploy routes (workflow-routes.ts):
 *
 *   POST /v1/workflows/:name/infer[?version=v]   run it; body as the native endpoint's
 *        ({ inputs, deadlineMs?, id? } in JSON or msgpack). Answer: JSON with every output, the
 *        node reports and the exit node; with `Accept: application/x-ndjson`, one JSON line per
 *        node as it completes (and per skip and exit), then a `result` line: streaming.
 *   GET  /v1/workflows/:name/plan[?version=v&batch=n]   where each node would run now, and why.
 *
 * Every answer carries `x-cleave-plan` (`node=placement` per model node, in the order they ran;
 * `!` marks the exit node, `~` a degraded one), `x-cleave-placement` (each decision with the cost
 * terms that chose it, `node: tier=cloud; total=..; rtt=..; ... | node: ...`) and Server-Timing with the run's total and the
 * time spent on the edge and in the cloud. Tensors are JSON `{ dtype, dims, data }` (int64 as
 * numbers when safe, else strings; text outputs are dtype "string").
 */
import { Hono, type Context } from 'hono';
import { CleaveError } from '../shared/errors.js';
import type { ProtocolLimits } from '../shared/protocol/constants.js';
import { formatServerTiming, TIMING } from '../shared/server-timing.js';
import type { NodeReport, WorkflowEvent, WorkflowResult } from '../shared/workflow/executor.js';
import { isTextTensor, type WorkflowValue } from '../shared/workflow/transforms.js';
import type { Clock } from '../shared/time.js';
import { webBodyReader, type BodyReader } from './body-reader.js';
import { parseNativeRequest, requestFormat } from './native-codec.js';
import type { WorkflowService } from './workflow-service.js';

export interface WorkflowRunRoutesDeps {
  readonly service: WorkflowService;
  readonly clock: Clock;
  readonly maxBodyBytes: number;
  readonly limits: ProtocolLimits;
  readonly readBody?: BodyReader;
  /** Reads the request context the edge's middleware set (deadline header, traceparent). */
  readonly context?: (c: Context) => { deadlineMs?: number; traceparent?: string; receivedAt?: number; requestId?: string; parentSpanId?: string } | undefined;
}

export const NDJSON = 'application/x-ndjson';

/** A tensor as JSON. */
export function valueJson(v: WorkflowValue): { dtype: string; dims: number[]; data: unknown[] } {
  if (isTextTensor(v)) return { dtype: 'string', dims: [...v.dims], data: [...v.text] };
  const data: unknown[] = [];
  const src = v.data as ArrayLike<number | bigint>;
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (typeof x === 'bigint') data.push(x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString());
    else data.push(Number.isFinite(x) ? x : String(x));
  }
  return { dtype: v.dtype, dims: [...v.dims], data };
}

function outputsJson(m: ReadonlyMap<string, WorkflowValue>): Record<string, ReturnType<typeof valueJson>> {
  const o: Record<string, ReturnType<typeof valueJson>> = {};
  for (const [k, v] of m) o[k] = valueJson(v);
  return o;
}

/** The `x-cleave-plan` header: `node=placement` per model node, `!` on the exit, `~` on a degraded one. */
export function planHeader(nodes: readonly NodeReport[]): string {
  return nodes
    .filter((n) => n.status === 'done' && n.placement !== undefined && n.placement !== 'inline' && n.placement !== 'loop')
    .map((n) => `${n.node}=${n.placement!.replace(' ', '+')}${n.exited ? '!' : ''}${n.degraded ? '~' : ''}`)
    .join(', ');
}

/** The `x-cleave-placement` header: each placed node's decision with its cost terms, `node: terms | node: terms`. */
export function placementHeader(nodes: readonly NodeReport[]): string {
  return nodes.filter((n) => n.explanation !== undefined && n.placement !== 'inline').map((n) => `${n.node}: ${n.explanation!.replace(/[\r\n|]/g, ' ')}`).join(' | ');
}

/** A run's Server-Timing segments: the time its nodes spent on the edge and in the cloud (a cut counts as cloud), and its total, ms. */
export function runTimingSegments(r: WorkflowResult): { name: string; durMs: number }[] {
  let edge = 0;
  let cloud = 0;
  for (const n of r.nodes) {
    if (n.ms === undefined) continue;
    if (n.placement === 'edge') edge += n.ms;
    else if (n.placement === 'cloud' || n.placement?.startsWith('cut:')) cloud += n.ms;
  }
  return [{ name: TIMING.edge, durMs: edge }, { name: 'cloud', durMs: cloud }, { name: TIMING.total, durMs: r.totalMs }];
}

/** The Server-Timing header of a run. */
export function runServerTiming(r: WorkflowResult): string {
  return formatServerTiming(runTimingSegments(r));
}

/** The JSON answer of a run (also the dry run's, edge/dashboard/dashboard-api-routes.ts). */
export function resultJson(name: string, version: number, r: WorkflowResult, id?: string): Record<string, unknown> {
  return {
    workflow: name, version, outputs: outputsJson(r.outputs), nodes: r.nodes,
    ...(r.exitedAt !== undefined ? { exitedAt: r.exitedAt } : {}),
    degraded: r.degraded, totalMs: r.totalMs, ...(id !== undefined ? { id } : {}),
  };
}

function eventJson(e: WorkflowEvent): Record<string, unknown> {
  if (e.kind === 'node') return { event: 'node', ...e.report, outputs: outputsJson(e.outputs) };
  return { event: e.kind, node: e.node };
}

function versionOf(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const v = Number(q);
  if (!Number.isSafeInteger(v) || v < 1) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `version=${JSON.stringify(q)}: expected a positive integer`, { version: q });
  return v;
}

export function workflowRunRoutes(deps: WorkflowRunRoutesDeps): Hono {
  const app = new Hono();
  const readBody = deps.readBody ?? webBodyReader;

  app.get('/:name/plan', async (c) => {
    const b = c.req.query('batch');
    const batch = b === undefined ? 1 : Number(b);
    if (!Number.isSafeInteger(batch) || batch < 1 || batch > 65_536) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `batch=${JSON.stringify(b)}: expected an integer 1..65536`, { batch: String(b) });
    return c.json(await deps.service.plan(c.req.param('name'), versionOf(c.req.query('version')), batch));
  });

  app.post('/:name/infer', async (c) => {
    const name = c.req.param('name');
    const version = versionOf(c.req.query('version'));
    const ctx = deps.context?.(c);
    const receivedAt = ctx?.receivedAt ?? deps.clock.now();
    const req = parseNativeRequest(await readBody(c, deps.maxBodyBytes), requestFormat(c.req.header('content-type')), deps.limits);
    const deadlineMs = req.deadlineMs ?? ctx?.deadlineMs;
    // The client going away cancels the run (everything in flight, edge and cloud).
    const signal = c.req.raw.signal;
    const base = {
      name, ...(version !== undefined ? { version } : {}), inputs: req.inputs, receivedAt, signal,
      ...(deadlineMs !== undefined ? { deadlineMs } : {}), ...(ctx?.traceparent ? { traceparent: ctx.traceparent } : {}),
      ...(ctx?.requestId !== undefined ? { requestId: ctx.requestId } : {}), ...(ctx?.parentSpanId !== undefined ? { parentSpanId: ctx.parentSpanId } : {}),
    };
    if ((c.req.header('accept') ?? '').includes(NDJSON)) {
      const enc = new TextEncoder();
      let push: ((line: Record<string, unknown>) => void) | undefined;
      let end: (() => void) | undefined;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          push = (line) => controller.enqueue(enc.encode(`${JSON.stringify(line)}\n`));
          end = () => controller.close();
        },
      });
      const run = deps.service.run({ ...base, onEvent: (e) => push?.(eventJson(e)) });
      run.then(
        ({ stored, result }) => { push?.({ event: 'result', ...resultJson(stored.name, stored.version, result, req.id), plan: planHeader(result.nodes) }); end?.(); },
        (e: unknown) => {
          const err = e instanceof CleaveError ? e : new CleaveError('CLEAVE_E_INTERNAL', (e as Error).message);
          push?.({ event: 'error', error: err.code, code: err.code, message: err.message, detail: err.detail });
          end?.();
        },
      );
      // Through the context, not a bare Response: the request id and traceparent set by deps.context go out too.
      return c.body(stream, 200, { 'content-type': NDJSON, 'cache-control': 'no-store' });
    }
    const { stored, result } = await deps.service.run(base);
    return c.json(resultJson(stored.name, stored.version, result, req.id), 200, {
      'x-cleave-plan': planHeader(result.nodes),
      'x-cleave-placement': placementHeader(result.nodes),
      'server-timing': runServerTiming(result),
      'cache-control': 'no-store',
    });
  });

  return app;
}
