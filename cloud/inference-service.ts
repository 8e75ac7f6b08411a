/**
 * The cloud's one way to run inference, shared by the WebSocket protocol and the KServe v2 REST
 * route: look the model up in the repository, check the inputs against its contract, queue the
 * request in that model's dynamic batcher, and account for it in the metrics. A subgraph run
 * chains several models through the same path, keeping intermediates in this process.
 *
 * Each request (a model, or a whole subgraph) opens a span, a child of the caller's traceparent
 * (a new trace without one), returns it in the result (RESULT frame, `traceparent` answer header)
 * and writes one `request` log line with it (docs/observability.md).
 */
import { CleaveError, toCleaveError } from '../shared/errors.js';
import { requestLogEvent, type LogSink } from '../shared/observability/request-log.js';
import { NOOP_SPAN_RECORDER, SPAN_NAMES, type SpanRecorder } from '../shared/observability/span-recorder.js';
import { childSpan, formatTraceparent, parseTraceparent, pooledRandomBytes, type RandomBytes } from '../shared/trace.js';
import type { ModelLoad, RunTiming, StageRef, TensorMap } from '../shared/protocol/frames.js';
import type { RunService, ServiceRunHandle, ServiceRunRequest, ServiceRunResult, ServiceStagesRequest } from '../shared/protocol/server-session.js';
import { checkInputs, checkOutputNames } from '../shared/tensor-check.js';
import type { Clock, Timers } from '../shared/time.js';
import type { ModelConfig } from './repository/model-config.js';
import type { ModelRepository } from './repository/model-lifecycle.js';
import { parseBatchingConfig, type DynamicBatchingConfig } from './scheduler/batcher-config.js';
import { DynamicBatcher, type BatchTicket } from './scheduler/dynamic-batcher.js';
import { LoadTracker } from './scheduler/load-tracker.js';
import type { CloudMetrics } from './metrics.js';

/** One inference request, whichever transport brought it (the session's request shape). */
export type InferRequest = ServiceRunRequest;
/** A subgraph request: consecutive stages as one request. */
export type StagesRequest = ServiceStagesRequest;
export type InferResult = ServiceRunResult;
/** A request in progress: its result and a way to drop it if it has not started. */
export type InferHandle = ServiceRunHandle;

export interface InferenceServiceOptions {
  readonly repository: ModelRepository;
  readonly metrics: CloudMetrics;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Default max batch size for models whose config does not set one (env CLEAVE_MAX_BATCH_SIZE). Default 32. */
  readonly defaultMaxBatchSize?: number;
  /** Overrides applied to every model's batching config (e.g. `{ maxBatchSize: 1 }` turns batching off). */
  readonly batchingOverride?: Partial<DynamicBatchingConfig>;
  /** Receives one `request` log event per request (a subgraph is one). Default: none. */
  readonly log?: LogSink;
  /** Spans around each request's execution. Default: none (NOOP_SPAN_RECORDER). */
  readonly spans?: SpanRecorder;
  /** Randomness for span ids. Default pooledRandomBytes() over Web Crypto. */
  readonly random?: RandomBytes;
}

interface ModelRuntime {
  readonly batcher: DynamicBatcher;
  readonly load: LoadTracker;
  readonly config: ModelConfig;
}

export class InferenceService implements RunService {
  private readonly runtimes = new Map<string, ModelRuntime>();
  private closed: CleaveError | undefined;
  private refusing: CleaveError | undefined;
  private readonly random: RandomBytes;
  private readonly spans: SpanRecorder;

  constructor(private readonly opts: InferenceServiceOptions) {
    this.random = opts.random ?? pooledRandomBytes();
    this.spans = opts.spans ?? NOOP_SPAN_RECORDER;
    opts.metrics.watchQueues(() => this.queueDepths());
  }

  /**
   * Runs one model. `admitted`: a stage of a subgraph already accepted, so a drain lets it
   * finish; it is part of its subgraph's span and log line, so it opens none of its own.
   */
  infer(req: InferRequest, admitted = false): InferHandle {
    if (admitted) return this.runModel(req, true);
    return this.traced(req, req.model, undefined, () => this.runModel(req, false));
  }

  /** Requests queued per model now, all versions together (the pending gauge). */
  queueDepths(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, rt] of this.runtimes) {
      const model = key.slice(0, key.lastIndexOf('@'));
      out.set(model, (out.get(model) ?? 0) + rt.batcher.stats().queued);
    }
    return out;
  }

  /** Wraps a request's handle in its span: the result carries the span, and one log line is written either way. */
  private traced(req: InferRequest | StagesRequest, name: string, stages: number | undefined, run: () => InferHandle): InferHandle {
    const receivedAt = req.receivedAt ?? this.opts.clock.now();
    const parent = req.traceparent !== undefined ? parseTraceparent(req.traceparent) : undefined;
    const span = childSpan(parent, this.random);
    // The exported span's parent is the caller's; with none, this tier's own (keeps the trace id).
    const exported = this.spans.start(SPAN_NAMES.cloudInfer, {
      role: 'server', parent: parent ?? span, attributes: { 'cleave.model': name, 'cleave.protocol': req.protocol, ...(stages !== undefined ? { 'cleave.stages': stages } : {}) },
    });
    const log = (code: string, r?: InferResult): void => {
      this.opts.log?.(requestLogEvent({
        tier: 'cloud', model: name, ...(r ? { version: r.version } : {}), code, totalMs: this.opts.clock.now() - receivedAt,
        span, ...(parent ? { parentSpanId: parent.spanId } : {}), ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
        extra: { protocol: req.protocol, stages, batch_size: r?.timing.batchSize, otel_span_id: exported.context?.spanId },
        segments: { queue: r?.timing.queueMs, compute: r?.timing.computeMs },
      }));
    };
    const handle = run();
    const promise = handle.promise.then(
      (r) => {
        exported.end();
        log('ok', r);
        return { ...r, traceparent: formatTraceparent(span) };
      },
      (e: unknown) => {
        const err = toCleaveError(e);
        exported.end({ code: err.code, message: err.message });
        log(err.code);
        throw e;
      },
    );
    return { promise, cancel: () => handle.cancel() };
  }

  private runModel(req: InferRequest, admitted: boolean): InferHandle {
    const receivedAt = req.receivedAt ?? this.opts.clock.now();
    let ticket: BatchTicket | undefined;
    let cancelled = false;
    const promise = (async (): Promise<InferResult> => {
      const labels = { model: req.model, version: String(req.version ?? '') };
      try {
        if (this.closed) throw this.closed;
        if (this.refusing && !admitted) throw this.refusing;
        const { runtime, version } = await this.runtime(req.model, req.version);
        labels.version = String(version);
        checkInputs(req.model, req.inputs, runtime.config.inputs);
        if (req.outputs) checkOutputNames(req.model, req.outputs, runtime.config.outputs);
        if (cancelled) throw cancelledError(req.model);
        ticket = runtime.batcher.submit({
          inputs: req.inputs,
          ...(req.priority !== undefined ? { priority: req.priority } : {}),
          ...(req.deadline !== undefined ? { deadline: req.deadline } : {}),
        });
        const r = await ticket.promise;
        const outputs = req.outputs ? pick(r.outputs, req.outputs) : r.outputs;
        const queueMs = Math.max(0, this.opts.clock.now() - receivedAt - r.computeMs);
        this.opts.metrics.requestSuccess.inc(labels);
        this.opts.metrics.requestDuration.observe({ ...labels, protocol: req.protocol }, (this.opts.clock.now() - receivedAt) / 1000);
        return { model: req.model, version, outputs, timing: { queueMs, computeMs: r.computeMs, batchSize: r.batchRows } };
      } catch (e) {
        const err = toCleaveError(e, 'CLEAVE_E_BACKEND');
        this.opts.metrics.requestFailure.inc({ ...labels, code: err.code });
        throw err;
      }
    })();
    return {
      promise,
      cancel: () => {
        if (ticket) return ticket.cancel();
        // Still resolving the model: mark it so it is never queued.
        cancelled = true;
        return true;
      },
    };
  }

  /**
   * Runs stages in order over a pool of tensors: the request's inputs, then each stage's outputs
   * as it finishes, under `"<id>.<output>"` for a stage with an `id` and `"<output>"` otherwise
   * (a later output of the same key replaces an earlier one). A stage reads each input from the
   * pool key its `inputs` mapping names, default the input's own name. Returns the requested
   * pool keys, default the last stage's outputs (under their own names, as PARTIALs carry them).
   * CLEAVE_E_BAD_ARGUMENT for a repeated stage id, a mapping naming an input the model lacks, or
   * an input whose pool key is missing (the message lists the keys there are).
   */
  runStages(req: StagesRequest): InferHandle {
    return this.traced(req, req.name, req.stages.length, () => this.runChain(req));
  }

  private runChain(req: StagesRequest): InferHandle {
    const receivedAt = req.receivedAt ?? this.opts.clock.now();
    let current: InferHandle | undefined;
    let cancelled = false;
    const promise = (async (): Promise<InferResult> => {
      if (this.refusing) throw this.refusing;
      if (req.stages.length === 0) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `subgraph "${req.name}" has no stages`);
      checkStageIds(req.name, req.stages);
      const pool: TensorMap = Object.create(null) as TensorMap;
      for (const [k, v] of Object.entries(req.inputs)) pool[k] = v;
      let last: InferResult | undefined;
      let queueMs = 0;
      let computeMs = 0;
      let firstBatch = 0;
      for (let i = 0; i < req.stages.length; i++) {
        const stage = req.stages[i]!;
        if (cancelled) throw cancelledError(req.name);
        if (req.deadline !== undefined && this.opts.clock.now() >= req.deadline) {
          throw new CleaveError('CLEAVE_E_DEADLINE', `subgraph "${req.name}" passed its deadline before stage ${i} ("${stage.model}")`, { stage: i });
        }
        const config = await this.opts.repository.config(stage.model, stage.version);
        const feeds = stageFeeds(req.name, i, stage, config, pool);
        current = this.infer({
          model: stage.model,
          ...(stage.version !== undefined ? { version: stage.version } : {}),
          inputs: feeds,
          protocol: req.protocol,
          // Stage 0's queue time starts when the request arrived; later stages' when they are queued.
          ...(i === 0 ? { receivedAt } : {}),
          ...(req.priority !== undefined ? { priority: req.priority } : {}),
          ...(req.deadline !== undefined ? { deadline: req.deadline } : {}),
        }, true);
        last = await current.promise;
        queueMs += last.timing.queueMs;
        computeMs += last.timing.computeMs;
        if (i === 0) firstBatch = last.timing.batchSize;
        const prefix = stage.id !== undefined ? `${stage.id}.` : '';
        for (const [k, v] of Object.entries(last.outputs)) pool[prefix + k] = v;
        req.onStage?.(i, stage.model, last.outputs);
      }
      const outputs = req.outputs ? pickFromPool(req.name, pool, req.outputs) : last!.outputs;
      return { model: req.name, version: last!.version, outputs, timing: { queueMs, computeMs, batchSize: firstBatch } };
    })();
    return {
      promise,
      cancel: () => {
        cancelled = true;
        return current ? current.cancel() : true;
      },
    };
  }

  /** Live load per model for LOAD frames. */
  loadReport(): Record<string, ModelLoad> {
    const out: Record<string, ModelLoad> = {};
    for (const [key, rt] of this.runtimes) out[key.split('@')[0]!] = rt.load.snapshot(rt.batcher.stats());
    return out;
  }

  /** Resolves when no request is queued or running. */
  async drain(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => r.batcher.drain()));
  }

  /** Refuses new requests while queued and running ones finish (the first step of a graceful drain). */
  stopAccepting(err = new CleaveError('CLEAVE_E_UNAVAILABLE', 'the server is draining for shutdown; send new requests elsewhere')): void {
    this.refusing = err;
  }

  /** Refuses new work; queued work is rejected with `err`, running batches finish. */
  close(err = new CleaveError('CLEAVE_E_UNAVAILABLE', 'the server is shutting down')): void {
    this.closed = err;
    for (const r of this.runtimes.values()) r.batcher.close(err);
  }

  private async runtime(model: string, version?: number): Promise<{ runtime: ModelRuntime; version: number }> {
    const config = await this.opts.repository.config(model, version);
    const v = version ?? Math.max(...config.versions);
    const key = `${model}@${v}`;
    let rt = this.runtimes.get(key);
    if (!rt) {
      const batching = parseBatchingConfig(
        { ...(isObject(config.dynamicBatching) ? config.dynamicBatching : {}), maxBatchSize: config.maxBatchSize, ...this.opts.batchingOverride },
        { maxBatchSize: this.opts.defaultMaxBatchSize ?? 32 },
      );
      const load = new LoadTracker();
      const labels = { model, version: String(v) };
      const batcher = new DynamicBatcher({
        model,
        config: batching,
        batchable: config.maxBatchSize > 0,
        clock: this.opts.clock,
        timers: this.opts.timers,
        execute: (inputs) => this.execute(model, v, inputs),
        onBatch: (info) => {
          load.onBatch(info);
          const m = this.opts.metrics;
          m.execCount.inc(labels);
          m.inferenceCount.inc(labels, info.rows);
          m.batchSize.observe(labels, info.rows);
          m.computeDuration.observe(labels, info.computeMs / 1000);
          for (const q of info.queueMsEach) m.queueDuration.observe(labels, q / 1000);
        },
      });
      rt = { batcher, load, config };
      this.runtimes.set(key, rt);
    }
    return { runtime: rt, version: v };
  }

  private async execute(model: string, version: number, inputs: TensorMap): Promise<TensorMap> {
    const m = this.opts.metrics;
    if (this.opts.repository.isReady(model, version)) m.modelCacheHits.inc({ model });
    else m.modelCacheMisses.inc({ model });
    const lease = await this.opts.repository.acquire(model, version);
    try {
      return await lease.model.run(inputs);
    } finally {
      lease.release();
    }
  }
}

function cancelledError(model: string): CleaveError {
  return new CleaveError('CLEAVE_E_CANCELLED', `request for "${model}" was cancelled before it started`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function pick(outputs: TensorMap, names: readonly string[]): TensorMap {
  const out: TensorMap = Object.create(null) as TensorMap;
  for (const n of names) {
    const t = outputs[n];
    if (t) out[n] = t;
  }
  return out;
}

/** `stage 1 ("asr", model "audio-large")`, for messages. */
function stageLabel(i: number, stage: StageRef): string {
  return `stage ${i} (${stage.id !== undefined ? `"${stage.id}", ` : ''}model "${stage.model}")`;
}

/** Pool keys for a message: sorted, at most 32 of them. */
function poolKeys(pool: TensorMap): string[] {
  return Object.keys(pool).sort().slice(0, 32);
}

function checkStageIds(name: string, stages: readonly StageRef[]): void {
  const seen = new Map<string, number>();
  stages.forEach((s, i) => {
    if (s.id === undefined) return;
    const first = seen.get(s.id);
    if (first !== undefined) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `subgraph "${name}": stages ${first} and ${i} both have the id "${s.id}"; stage ids must be unique in a run`, { stage: i, id: s.id });
    }
    seen.set(s.id, i);
  });
}

/** One stage's feeds from the pool, through its input mapping. */
function stageFeeds(name: string, i: number, stage: StageRef, config: ModelConfig, pool: TensorMap): TensorMap {
  const mapping = stage.inputs ?? {};
  for (const input of Object.keys(mapping)) {
    if (!config.inputs.some((s) => s.name === input)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT',
        `${stageLabel(i, stage)} of subgraph "${name}" maps input "${input}", which the model does not have; its inputs: ${config.inputs.map((s) => s.name).join(', ')}`,
        { stage: i, model: stage.model, input });
    }
  }
  const feeds: TensorMap = Object.create(null) as TensorMap;
  for (const spec of config.inputs) {
    const mapped = Object.hasOwn(mapping, spec.name) ? mapping[spec.name] : undefined;
    const key = mapped ?? spec.name;
    const t = pool[key];
    if (!t) {
      const have = poolKeys(pool);
      const source = mapped !== undefined ? `from pool key "${key}"` : 'by its own name';
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT',
        `${stageLabel(i, stage)} of subgraph "${name}" reads input "${spec.name}" ${source}, which neither the request nor an earlier stage provides; pool keys: ${have.join(', ') || 'none'}`,
        { stage: i, model: stage.model, input: spec.name, key, have });
    }
    feeds[spec.name] = t;
  }
  return feeds;
}

function pickFromPool(name: string, pool: TensorMap, names: readonly string[]): TensorMap {
  const out: TensorMap = Object.create(null) as TensorMap;
  for (const n of names) {
    const t = pool[n];
    if (!t) throw new CleaveError('CLEAVE_E_NOT_FOUND', `subgraph "${name}" produced no tensor "${n}"; have: ${Object.keys(pool).join(', ')}`, { output: n });
    out[n] = t;
  }
  return out;
}
