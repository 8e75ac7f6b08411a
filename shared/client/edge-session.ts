/**
 * A WebSocket session with one edge (`/v1/ws`): the Cleave protocol through the shared
 * ProtocolClient, so frames, credits, local deadlines and CANCEL are the protocol's own code.
 * This adds typed tensors, AbortSignal cancellation and streaming as an async iterator:
 *
 *   const session = await client.connect();
 *   for await (const ev of session.stream('workflow:voice', { features })) {
 *     if (ev.type === 'partial') show(ev.node, ev.outputs);   // one per node (or subgraph stage)
 *     else done(ev.outputs);                                   // the RESULT, always last
 *   }
 *
 * Stopping early (`break`, an aborted signal) sends CANCEL, so the edge drops work not yet started.
 */
import { CleaveError, toCleaveError } from '../errors.js';
import type { ProtocolClient, RunHandle, RunResult } from '../protocol/client.js';
import type { RunTiming, TensorMap, WelcomeFrame } from '../protocol/frames.js';
import { toTypedTensor, type TensorInput, type TypedTensor } from './typed-tensor.js';

/** RUN model prefix that names a deployed workflow on an edge. */
export const WORKFLOW_MODEL_PREFIX = 'workflow:';

/** Options of one run over the session. */
export interface SessionRunOptions {
  /** Budget, ms: enforced locally and sent in the RUN. Default: the client's defaultDeadlineMs. */
  readonly deadlineMs?: number;
  /** Aborting cancels the run (CANCEL goes to the edge) and rejects with CLEAVE_E_CANCELLED. */
  readonly signal?: AbortSignal;
  readonly version?: number;
  readonly outputs?: readonly string[];
  readonly priority?: number;
  readonly traceparent?: string;
  /** Send float32 inputs as TENSOR_INT8 (a quarter of the bytes, error at most scale/2). */
  readonly int8Inputs?: boolean;
  /** Ask for float32 outputs as TENSOR_INT8. */
  readonly int8Outputs?: boolean;
}

/** A run's answer over the session. */
export interface SessionRunResult {
  readonly outputs: Record<string, TypedTensor>;
  /** The server's queue and compute time. */
  readonly timing: RunTiming;
  /** From the call to its RESULT, ms. */
  readonly totalMs: number;
  /** The server's span for the run, when its RESULT carried one. */
  readonly traceparent?: string;
}

/** A streamed run's events: PARTIALs as they come, then the RESULT. */
export type SessionStreamEvent =
  | { readonly type: 'partial'; readonly stage: number; readonly node: string; readonly outputs: Record<string, TypedTensor> }
  | ({ readonly type: 'result' } & SessionRunResult);

export class EdgeSession {
  private closed = false;

  /**
   * @param edge base URL of the edge this session talks to
   * @param onClose called once when the session closes (the client forgets it)
   */
  constructor(
    private readonly client: ProtocolClient,
    readonly edge: string,
    readonly welcome: WelcomeFrame,
    private readonly defaultDeadlineMs: number,
    private readonly onClose: () => void,
  ) {}

  /** Smoothed round trip measured by ping(), ms. */
  get rttMs(): number | undefined {
    return this.client.rttMs;
  }

  /** True once closed, or once the edge closed the connection or said GOAWAY: connect again. */
  get unusable(): boolean {
    return this.closed || this.client.unusable;
  }

  /** One round trip over the socket, ms. */
  ping(): Promise<number> {
    return this.client.ping();
  }

  /** Runs a model (or `workflow:<name>`) and resolves with its outputs. */
  run(model: string, inputs: Readonly<Record<string, TensorInput>>, opts: SessionRunOptions = {}): Promise<SessionRunResult> {
    let handle: RunHandle;
    try {
      handle = this.start(model, inputs, opts, undefined);
    } catch (e) {
      return Promise.reject(toCleaveError(e));
    }
    return handle.promise.then((r) => resultOf(r));
  }

  /** Runs a deployed workflow (RUN `workflow:<name>`); text outputs arrive as uint8 tensors of UTF-8 bytes. */
  runWorkflow(name: string, inputs: Readonly<Record<string, TensorInput>>, opts: SessionRunOptions = {}): Promise<SessionRunResult> {
    return this.run(`${WORKFLOW_MODEL_PREFIX}${name}`, inputs, opts);
  }

  /** Streams a run: a `partial` per stage or workflow node as it completes, then the `result`. */
  async *stream(model: string, inputs: Readonly<Record<string, TensorInput>>, opts: SessionRunOptions = {}): AsyncGenerator<SessionStreamEvent, void, undefined> {
    const queue: SessionStreamEvent[] = [];
    let failure: CleaveError | undefined;
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const handle = this.start(model, inputs, opts, (stage, node, outputs) => {
      queue.push({ type: 'partial', stage, node, outputs: outputs as Record<string, TypedTensor> });
      notify();
    });
    handle.promise.then((r) => {
      queue.push({ type: 'result', ...resultOf(r) });
      finished = true;
      notify();
    }, (e: unknown) => {
      failure = toCleaveError(e);
      notify();
    });
    let delivered = false;
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          if (next.type === 'result') delivered = true;
          yield next;
          if (delivered) return;
          continue;
        }
        if (failure) throw failure;
        if (finished) return;
        await new Promise<void>((r) => { wake = r; });
      }
    } finally {
      // The consumer stopped before the result: the edge should stop too.
      if (!delivered && !failure) handle.cancel();
    }
  }

  /** Streams a deployed workflow: a `partial` per node (`node` is its id), then the `result`. */
  streamWorkflow(name: string, inputs: Readonly<Record<string, TensorInput>>, opts: SessionRunOptions = {}): AsyncGenerator<SessionStreamEvent, void, undefined> {
    return this.stream(`${WORKFLOW_MODEL_PREFIX}${name}`, inputs, opts);
  }

  /** Closes the socket; runs in flight reject with CLEAVE_E_UNAVAILABLE. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close(1000, 'client closing');
    this.onClose();
  }

  private start(
    model: string, inputs: Readonly<Record<string, TensorInput>>, opts: SessionRunOptions,
    onPartial: ((stage: number, node: string, outputs: Record<string, TypedTensor>) => void) | undefined,
  ): RunHandle {
    if (typeof model !== 'string' || model === '') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model must be a non-empty string, got ${JSON.stringify(model)}`);
    if (this.closed) throw new CleaveError('CLEAVE_E_UNAVAILABLE', `the session with ${this.edge} is closed; connect again`);
    const tensors: Record<string, TypedTensor> = {};
    for (const [name, t] of Object.entries(inputs)) tensors[name] = toTypedTensor(t, `input "${name}"`);
    const deadlineMs = opts.deadlineMs ?? this.defaultDeadlineMs;
    if (!(typeof deadlineMs === 'number' && Number.isFinite(deadlineMs) && deadlineMs > 0)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `deadlineMs must be a number of milliseconds > 0, got ${JSON.stringify(deadlineMs)}`, { field: 'deadlineMs' });
    }
    if (opts.signal?.aborted) throw new CleaveError('CLEAVE_E_CANCELLED', `run of "${model}" was cancelled by the caller before it started`);
    const handle = this.client.run({
      model, inputs: tensors, deadlineMs,
      ...(opts.version !== undefined ? { version: opts.version } : {}),
      ...(opts.outputs !== undefined ? { outputs: opts.outputs } : {}),
      ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
      ...(opts.traceparent !== undefined ? { traceparent: opts.traceparent } : {}),
      ...(opts.int8Inputs ? { int8Inputs: true } : {}),
      ...(opts.int8Outputs ? { int8Outputs: true } : {}),
      ...(onPartial ? { onPartial: (stage: number, node: string, outputs: TensorMap) => onPartial(stage, node, outputs as Record<string, TypedTensor>) } : {}),
    });
    const signal = opts.signal;
    if (signal) {
      const onAbort = (): void => handle.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      const unlink = (): void => signal.removeEventListener('abort', onAbort);
      handle.promise.then(unlink, unlink);
    }
    return handle;
  }
}

function resultOf(r: RunResult): SessionRunResult {
  // Read loosely: RESULT frames carry a traceparent only from servers that trace.
  const tp = (r as { readonly traceparent?: unknown }).traceparent;
  return { outputs: r.outputs as Record<string, TypedTensor>, timing: r.timing, totalMs: r.totalMs, ...(typeof tp === 'string' ? { traceparent: tp } : {}) };
}
