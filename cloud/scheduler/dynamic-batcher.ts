/**
 * The dynamic batcher of one model, after Triton's DynamicBatchScheduler: requests queue, are
 * joined along dim 0 into one model run, and each gets its own rows of the outputs back.
 *
 * Contract (what the tests pin down):
 *
 * - Rows. A request's rows are the dim 0 of its inputs, which must all agree. A batch never
 *   holds more than `maxBatchSize` rows; a request with more is rejected at submit
 *   (CLEAVE_E_SHAPE naming its rows and the max), as is one with 0 rows. A model that is not
 *   `batchable`, or has maxBatchSize 0, has no batch dim: every request runs alone, whole, and
 *   counts as one row.
 * - Compatibility. Only requests with the same batchSignature (names, dtypes, dims after 0) share
 *   a batch. The batch being formed is the one of the request at the head of the queue; queued
 *   requests of other signatures are passed over and wait for a batch of their own.
 * - Order. Priority level (1 first), then, within a level, on-time requests before ones whose
 *   queue timeout passed under 'delay', then age. A batch takes same-signature requests in that
 *   order and stops at the first one that does not fit, so a big request is never starved by
 *   small ones slipping past it.
 * - When. Whenever a slot is free (running < maxConcurrentBatches) the batcher forms a candidate
 *   batch from the head as above and dispatches it now if
 *   1. it is full: it holds maxBatchSize rows, or the next same-signature request does not fit;
 *   2. or its oldest request has waited maxQueueDelayMs (0 = at once): everything in it goes;
 *   3. or, before that, some prefix of it holds exactly one of preferredBatchSizes rows: the
 *      largest such prefix goes and the rest keep waiting (their wait keeps counting from their
 *      own submit).
 *   Otherwise one timer is set for the moment rule 2 will hold. Forming repeats while slots are
 *   free, and a finished batch frees its slot and forms the next batch at once.
 * - Deadlines (absolute clock ms): a request still queued when its deadline comes is rejected
 *   CLEAVE_E_DEADLINE by a timer at that instant and never runs; one found expired while forming
 *   a batch is dropped the same way. A deadline at or before submit is rejected at submit. A
 *   request that has started runs to the end.
 * - Queue policy (per priority level): `maxQueueSize` requests queued at the level (delayed ones
 *   included) refuse further submits with CLEAVE_E_OVERLOADED; past `timeoutMs` in the queue a
 *   request is rejected CLEAVE_E_OVERLOADED ('reject') or moved behind the level's on-time
 *   requests ('delay'). A request's own timeoutMs counts only with allowTimeoutOverride and
 *   only to shorten the timeout (Triton's rule).
 * - Results. Inputs are joined with concatTensorMaps, outputs cut back with splitTensorMap
 *   (views, no copy). An execute failure rejects every request of the batch with the same error
 *   (CLEAVE_E_BACKEND unless already coded); an output whose dim 0 is not the batch's rows is a
 *   CLEAVE_E_SHAPE for all of them.
 *
 * Errors never throw out of submit(): they come back as the ticket's rejected promise, so a
 * caller has one place to handle them. Time is read only from the injected Clock and waited on
 * only through the injected Timers, so tests are exact and never sleep.
 */
import { CleaveError, toCleaveError } from '../../shared/errors.js';
import { elementCount } from '../../shared/onnx/tensor-data.js';
import type { TensorMap } from '../../shared/protocol/frames.js';
import { batchSignature, concatTensorMaps, splitTensorMap } from '../../shared/tensor-batch.js';
import type { Clock, TimerHandle, Timers } from '../../shared/time.js';
import { queuePolicyFor, type DynamicBatchingConfig, type TimeoutAction } from './batcher-config.js';
import { PriorityQueue, type QueueEntry } from './priority-queue.js';

/** One request to the batcher. */
export interface BatchRequest {
  /** Input tensors; for a batched model each has the request's rows as dim 0. */
  readonly inputs: TensorMap;
  /** Priority level, 1 (highest) .. priorityLevels. Default: config.defaultPriority. */
  readonly priority?: number;
  /** Absolute clock time, ms, after which the request must not start. Default: none. */
  readonly deadline?: number;
  /** Queue timeout for this request, ms (> 0); used only when the level's policy allows overrides. */
  readonly timeoutMs?: number;
}

/** What a request gets back. */
export interface BatchResult {
  /** This request's rows of every output. */
  readonly outputs: TensorMap;
  /** From submit to the start of its batch, ms. */
  readonly queueMs: number;
  /** Execution time of its batch, ms. */
  readonly computeMs: number;
  /** Rows in the batch it ran in. */
  readonly batchRows: number;
  /** Requests in the batch it ran in. */
  readonly batchRequests: number;
}

/** Handle on a submitted request. */
export interface BatchTicket {
  readonly promise: Promise<BatchResult>;
  /**
   * Takes the request out of the queue: true if it had not started (the promise then rejects
   * CLEAVE_E_CANCELLED, already marked handled); false once it runs or has settled.
   */
  cancel(): boolean;
}

/** One executed batch, for metrics (LoadTracker, Prometheus). */
export interface BatchInfo {
  /** Rows in the batch. */
  readonly rows: number;
  /** Requests in the batch. */
  readonly requests: number;
  /** Queue time of each request, ms, in batch order. */
  readonly queueMsEach: readonly number[];
  /** Execution time of the batch, ms. */
  readonly computeMs: number;
  /** False when execute failed or its outputs could not be split. */
  readonly ok: boolean;
}

/** What is in the batcher now. */
export interface BatcherStats {
  /** Requests waiting. */
  readonly queued: number;
  /** Rows of the requests waiting. */
  readonly queuedRows: number;
  /** Batches executing. */
  readonly running: number;
}

/** Runs one batch: the joined inputs and their rows (1 for a model run unbatched). */
export type ExecuteBatch = (inputs: TensorMap, rows: number) => Promise<TensorMap>;

/** Everything a DynamicBatcher needs. */
export interface DynamicBatcherOptions {
  /** Model name, for messages. */
  readonly model: string;
  readonly config: DynamicBatchingConfig;
  /** False when the model has no batch dim: each request runs alone and unbatched. */
  readonly batchable: boolean;
  readonly execute: ExecuteBatch;
  readonly clock: Clock;
  readonly timers: Timers;
  /**
   * Called once per executed batch, before its requests settle. Must not throw; an exception
   * is swallowed so that a broken metrics hook cannot wedge the model's queue.
   */
  readonly onBatch?: (info: BatchInfo) => void;
}

/** Node's setTimeout fires at once past 2^31-1 ms; longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

interface Pending {
  readonly inputs: TensorMap;
  /** Rows counted against maxBatchSize (1 when unbatched). */
  readonly rows: number;
  readonly signature: string;
  readonly enqueuedAt: number;
  readonly deadline: number | undefined;
  /** Effective queue timeout, ms; 0 = none. */
  readonly timeoutMs: number;
  readonly timeoutAction: TimeoutAction;
  entry: QueueEntry<Pending> | undefined;
  deadlineTimer: TimerHandle | undefined;
  timeoutTimer: TimerHandle | undefined;
  state: 'queued' | 'running' | 'settled';
  readonly resolve: (r: BatchResult) => void;
  readonly reject: (e: CleaveError) => void;
  readonly promise: Promise<BatchResult>;
}

/** Dynamic batcher for one model; see the file header for the scheduling contract. */
export class DynamicBatcher {
  private readonly model: string;
  private readonly config: DynamicBatchingConfig;
  /** True when requests are joined along dim 0. */
  private readonly batching: boolean;
  /** Rows per batch: maxBatchSize when batching, else 1 (one request). */
  private readonly capacity: number;
  private readonly execute: ExecuteBatch;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly onBatch: ((info: BatchInfo) => void) | undefined;

  private readonly queue: PriorityQueue<Pending>;
  private queuedRows = 0;
  private running = 0;
  private delayTimer: TimerHandle | undefined = undefined;
  private delayAt = 0;
  private closedWith: CleaveError | undefined = undefined;
  private drainWaiters: (() => void)[] = [];
  private scheduling = false;
  private rescheduled = false;

  constructor(opts: DynamicBatcherOptions) {
    this.model = opts.model;
    this.config = opts.config;
    this.batching = opts.batchable && opts.config.maxBatchSize > 0;
    this.capacity = this.batching ? opts.config.maxBatchSize : 1;
    this.execute = opts.execute;
    this.clock = opts.clock;
    this.timers = opts.timers;
    this.onBatch = opts.onBatch;
    this.queue = new PriorityQueue<Pending>(opts.config.priorityLevels);
  }

  /** Queues a request. Never throws: every failure rejects the ticket's promise. */
  submit(req: BatchRequest): BatchTicket {
    let resolve!: (r: BatchResult) => void;
    let reject!: (e: CleaveError) => void;
    const promise = new Promise<BatchResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const refuse = (e: CleaveError): BatchTicket => {
      reject(e);
      return { promise, cancel: () => false };
    };
    if (this.closedWith) return refuse(this.closedWith);

    const priority = req.priority ?? this.config.defaultPriority;
    if (!Number.isInteger(priority) || priority < 1 || priority > this.config.priorityLevels) {
      return refuse(this.badArgument(`priority ${priority} is not a level of model "${this.model}"; expected an integer 1..${this.config.priorityLevels}`, { priority }));
    }
    if (req.deadline !== undefined && !Number.isFinite(req.deadline)) {
      return refuse(this.badArgument(`deadline ${req.deadline} is not a finite clock time in ms`, {}));
    }
    if (req.timeoutMs !== undefined && !(Number.isFinite(req.timeoutMs) && req.timeoutMs >= 0)) {
      return refuse(this.badArgument(`timeoutMs ${req.timeoutMs}: expected a number of ms >= 0`, {}));
    }
    let rows: number;
    let signature: string;
    try {
      rows = this.measure(req.inputs);
      signature = this.batching ? batchSignature(req.inputs) : '';
    } catch (e) {
      return refuse(toCleaveError(e));
    }

    const now = this.clock.now();
    if (req.deadline !== undefined && req.deadline <= now) {
      return refuse(new CleaveError('CLEAVE_E_DEADLINE', `request to model "${this.model}" arrived ${now - req.deadline} ms after its deadline`, { model: this.model, deadline: req.deadline }));
    }
    const policy = queuePolicyFor(this.config, priority);
    const atLevel = this.queue.sizeAt(priority);
    if (policy.maxQueueSize > 0 && atLevel >= policy.maxQueueSize) {
      return refuse(new CleaveError('CLEAVE_E_OVERLOADED', `queue of model "${this.model}" is full: ${atLevel} requests queued at priority ${priority}, maxQueueSize ${policy.maxQueueSize}`, {
        model: this.model,
        priority,
        queued: atLevel,
        maxQueueSize: policy.maxQueueSize,
      }));
    }
    let timeoutMs = policy.timeoutMs;
    const own = req.timeoutMs;
    if (policy.allowTimeoutOverride && own !== undefined && own > 0 && (timeoutMs === 0 || own < timeoutMs)) timeoutMs = own;

    const p: Pending = {
      inputs: req.inputs,
      rows,
      signature,
      enqueuedAt: now,
      deadline: req.deadline,
      timeoutMs,
      timeoutAction: policy.timeoutAction,
      entry: undefined,
      deadlineTimer: undefined,
      timeoutTimer: undefined,
      state: 'queued',
      resolve,
      reject,
      promise,
    };
    p.entry = this.queue.push(p, priority);
    this.queuedRows += rows;
    if (p.deadline !== undefined) this.armDeadline(p);
    if (timeoutMs > 0) this.armTimeout(p);
    this.schedule();
    return { promise, cancel: () => this.cancel(p) };
  }

  /** Requests and rows waiting, batches running. */
  stats(): BatcherStats {
    return { queued: this.queue.size, queuedRows: this.queuedRows, running: this.running };
  }

  /** Resolves once nothing is queued or running (at once if idle now). Never rejects. */
  drain(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((res) => this.drainWaiters.push(res));
  }

  /**
   * Stops taking work: rejects every queued request with `err` (default CLEAVE_E_UNAVAILABLE)
   * and refuses later submits with the same error. Running batches finish and deliver.
   * A second call does nothing.
   */
  close(err?: CleaveError): void {
    if (this.closedWith) return;
    this.closedWith = err ?? new CleaveError('CLEAVE_E_UNAVAILABLE', `model "${this.model}" is shutting down`, { model: this.model });
    this.disarmDelay();
    const queued = [...this.queue];
    for (const p of queued) this.settleQueued(p, this.closedWith);
    this.checkDrain();
  }

  // ---- submit helpers ----

  /** Rows a request counts for; throws CLEAVE_E_SHAPE / CLEAVE_E_BAD_ARGUMENT on a bad request. */
  private measure(inputs: TensorMap): number {
    if (inputs === null || typeof inputs !== 'object') {
      throw this.badArgument(`request to model "${this.model}" has no input map`, {});
    }
    if (!this.batching) return 1;
    let rows: number | undefined;
    let firstName = '';
    for (const [name, t] of Object.entries(inputs)) {
      const r = t.dims[0];
      if (r === undefined) {
        throw new CleaveError('CLEAVE_E_SHAPE', `input "${name}" of model "${this.model}" is a scalar; a batched model needs dim 0 (rows) on every input`, { model: this.model, name, dims: [] });
      }
      const n = elementCount(t.dims);
      if (t.data.length !== n) {
        throw new CleaveError('CLEAVE_E_SHAPE', `input "${name}" has ${t.data.length} elements, shape [${t.dims.join(',')}] needs ${n}`, { model: this.model, name, dims: [...t.dims] });
      }
      if (rows === undefined) {
        rows = r;
        firstName = name;
      } else if (r !== rows) {
        throw new CleaveError('CLEAVE_E_SHAPE', `input "${name}" has ${r} rows but input "${firstName}" has ${rows}; every input of a request needs the same dim 0`, { model: this.model, name, rows: r, expected: rows });
      }
    }
    if (rows === undefined) throw this.badArgument(`request to model "${this.model}" has no inputs`, {});
    if (rows === 0 || rows > this.capacity) {
      throw new CleaveError('CLEAVE_E_SHAPE', `request has ${rows} rows; model "${this.model}" takes 1..${this.capacity} (maxBatchSize ${this.capacity})`, {
        model: this.model,
        rows,
        maxBatchSize: this.capacity,
      });
    }
    return rows;
  }

  private badArgument(message: string, detail: Record<string, number>): CleaveError {
    return new CleaveError('CLEAVE_E_BAD_ARGUMENT', message, { model: this.model, ...detail });
  }

  private armDeadline(p: Pending): void {
    const wait = Math.min(p.deadline! - this.clock.now(), MAX_TIMER_MS);
    p.deadlineTimer = this.timers.setTimeout(() => {
      p.deadlineTimer = undefined;
      if (p.state !== 'queued') return;
      if (this.clock.now() < p.deadline!) return this.armDeadline(p);
      this.settleQueued(p, this.deadlineError(p));
      this.schedule();
    }, wait);
  }

  private armTimeout(p: Pending): void {
    const wait = Math.min(p.enqueuedAt + p.timeoutMs - this.clock.now(), MAX_TIMER_MS);
    p.timeoutTimer = this.timers.setTimeout(() => {
      p.timeoutTimer = undefined;
      if (p.state !== 'queued') return;
      const waited = this.clock.now() - p.enqueuedAt;
      if (waited < p.timeoutMs) return this.armTimeout(p);
      if (p.timeoutAction === 'reject') {
        this.settleQueued(p, new CleaveError('CLEAVE_E_OVERLOADED', `request to model "${this.model}" waited ${waited} ms in queue, timeout ${p.timeoutMs} ms`, {
          model: this.model,
          waitedMs: waited,
          timeoutMs: p.timeoutMs,
        }));
      } else {
        this.queue.delay(p.entry!);
      }
      this.schedule();
    }, wait);
  }

  private deadlineError(p: Pending): CleaveError {
    const waited = this.clock.now() - p.enqueuedAt;
    return new CleaveError('CLEAVE_E_DEADLINE', `request to model "${this.model}" reached its deadline after ${waited} ms in queue`, {
      model: this.model,
      waitedMs: waited,
      deadline: p.deadline ?? 0,
    });
  }

  private cancel(p: Pending): boolean {
    if (p.state !== 'queued') return false;
    // The caller asked for this rejection; do not report it as unhandled if they drop the promise.
    p.promise.catch(() => undefined);
    this.settleQueued(p, new CleaveError('CLEAVE_E_CANCELLED', `request to model "${this.model}" was cancelled while queued`, { model: this.model }));
    this.schedule();
    return true;
  }

  /** Takes a queued request out and rejects it. */
  private settleQueued(p: Pending, err: CleaveError): void {
    this.unqueue(p);
    p.state = 'settled';
    p.reject(err);
    this.checkDrain();
  }

  private unqueue(p: Pending): void {
    this.queue.remove(p.entry!);
    this.queuedRows -= p.rows;
    if (p.deadlineTimer !== undefined) this.timers.clearTimeout(p.deadlineTimer);
    if (p.timeoutTimer !== undefined) this.timers.clearTimeout(p.timeoutTimer);
    p.deadlineTimer = undefined;
    p.timeoutTimer = undefined;
  }

  // ---- scheduling ----

  /** Dispatches batches while a slot is free and one is ready (see the header). Re-entrant calls fold into the running one. */
  private schedule(): void {
    if (this.scheduling) {
      this.rescheduled = true;
      return;
    }
    this.scheduling = true;
    try {
      do {
        this.rescheduled = false;
        while (this.running < this.config.maxConcurrentBatches && !this.closedWith) {
          const batch = this.nextBatch();
          if (!batch) break;
          this.dispatch(batch);
        }
      } while (this.rescheduled);
    } finally {
      this.scheduling = false;
    }
  }

  /** The batch to run now, or undefined (then the delay timer is set, or the queue is empty). */
  private nextBatch(): Pending[] | undefined {
    const now = this.clock.now();
    const take: Pending[] = [];
    let signature: string | undefined;
    let rows = 0;
    let oldest = Infinity;
    let full = false;
    for (const e of this.queue.entries()) {
      const p = e.value;
      if (p.deadline !== undefined && p.deadline <= now) {
        this.settleQueued(p, this.deadlineError(p));
        continue;
      }
      if (signature === undefined) signature = p.signature;
      else if (p.signature !== signature) continue;
      if (rows + p.rows > this.capacity) {
        full = true;
        break;
      }
      take.push(p);
      rows += p.rows;
      oldest = Math.min(oldest, p.enqueuedAt);
      if (rows === this.capacity) {
        full = true;
        break;
      }
    }
    if (take.length === 0) {
      this.disarmDelay();
      return undefined;
    }
    if (full || now - oldest >= this.config.maxQueueDelayMs) return take;
    const preferred = this.config.preferredBatchSizes;
    if (preferred.length > 0) {
      let prefixRows = rows;
      for (let i = take.length - 1; i >= 0; i--) {
        if (preferred.includes(prefixRows)) return take.slice(0, i + 1);
        prefixRows -= take[i]!.rows;
      }
    }
    this.armDelay(oldest + this.config.maxQueueDelayMs);
    return undefined;
  }

  private armDelay(at: number): void {
    if (this.delayTimer !== undefined && this.delayAt === at) return;
    this.disarmDelay();
    this.delayAt = at;
    this.delayTimer = this.timers.setTimeout(() => {
      this.delayTimer = undefined;
      this.schedule();
    }, Math.min(at - this.clock.now(), MAX_TIMER_MS));
  }

  private disarmDelay(): void {
    if (this.delayTimer === undefined) return;
    this.timers.clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
  }

  // ---- execution ----

  private dispatch(batch: Pending[]): void {
    const start = this.clock.now();
    let rows = 0;
    for (const p of batch) {
      this.unqueue(p);
      p.state = 'running';
      rows += p.rows;
    }
    this.running++;
    let run: Promise<TensorMap>;
    try {
      const inputs = batch.length === 1 ? batch[0]!.inputs : concatTensorMaps(batch.map((p) => p.inputs));
      run = this.execute(inputs, rows);
    } catch (e) {
      run = Promise.reject(e);
    }
    Promise.resolve(run).then(
      (outputs) => this.finish(batch, start, rows, outputs, undefined),
      (err: unknown) => this.finish(batch, start, rows, undefined, err),
    );
  }

  private finish(batch: Pending[], start: number, rows: number, outputs: TensorMap | undefined, failure: unknown): void {
    const computeMs = this.clock.now() - start;
    this.running--;
    let error: CleaveError | undefined;
    let parts: TensorMap[] = [];
    if (outputs === undefined) {
      error = this.backendError(failure ?? new Error('execute resolved without outputs'));
    } else {
      try {
        parts = this.splitOutputs(outputs, batch, rows);
      } catch (e) {
        error = toCleaveError(e);
      }
    }
    if (this.onBatch) {
      try {
        this.onBatch({ rows, requests: batch.length, queueMsEach: batch.map((p) => start - p.enqueuedAt), computeMs, ok: error === undefined });
      } catch {
        // See DynamicBatcherOptions.onBatch: metrics must not break serving.
      }
    }
    batch.forEach((p, i) => {
      p.state = 'settled';
      if (error) p.reject(error);
      else p.resolve({ outputs: parts[i]!, queueMs: start - p.enqueuedAt, computeMs, batchRows: rows, batchRequests: batch.length });
    });
    this.schedule();
    this.checkDrain();
  }

  private backendError(e: unknown): CleaveError {
    if (e instanceof CleaveError) return e;
    const message = e instanceof Error ? e.message : String(e);
    return new CleaveError('CLEAVE_E_BACKEND', `model "${this.model}" failed to run a batch: ${message}`, { model: this.model }, { cause: e });
  }

  private splitOutputs(outputs: TensorMap, batch: readonly Pending[], rows: number): TensorMap[] {
    if (outputs === null || typeof outputs !== 'object') {
      throw new CleaveError('CLEAVE_E_BACKEND', `model "${this.model}" returned no output map`, { model: this.model });
    }
    if (!this.batching) return [outputs];
    for (const [name, t] of Object.entries(outputs)) {
      if (t.dims[0] !== rows) {
        throw new CleaveError('CLEAVE_E_SHAPE', `model "${this.model}" output "${name}" has shape [${t.dims.join(',')}] for a batch of ${rows} rows; expected dim 0 = ${rows}`, {
          model: this.model,
          name,
          dims: [...t.dims],
          rows,
        });
      }
    }
    return splitTensorMap(outputs, batch.map((p) => p.rows));
  }

  private idle(): boolean {
    return this.queue.size === 0 && this.running === 0;
  }

  private checkDrain(): void {
    if (!this.idle() || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
