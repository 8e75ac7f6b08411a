// A DynamicBatcher on a ManualClock with an execute that waits to be told to finish, so tests
// decide exactly when each batch starts and ends.
import { parseBatchingConfig, type DynamicBatchingInput } from '../../../cloud/scheduler/batcher-config.js';
import { DynamicBatcher, type BatchInfo, type BatchRequest, type BatchResult, type BatchTicket } from '../../../cloud/scheduler/dynamic-batcher.js';
import { CleaveError } from '../../../shared/errors.js';
import type { TensorMap } from '../../../shared/protocol/frames.js';
import { ManualClock } from '../../../shared/time.js';

/** Lets every pending promise callback run. */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Input of request `id` (1..9) with `rows` rows of `cols` columns: row r is all `id * 10 + r`,
 * so a row tells which request it came from, and its sum tells whether it came back right.
 */
export function req(id: number, rows = 1, cols = 2): TensorMap {
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) data.fill(id * 10 + r, r * cols, (r + 1) * cols);
  return { x: { dtype: 'float32', dims: [rows, cols], data } };
}

/** The model: y[r] = sum of row r of x. */
export function rowSums(inputs: TensorMap): TensorMap {
  const x = inputs.x!;
  const rows = x.dims[0]!;
  const cols = x.data.length / rows;
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[r]! += Number(x.data[r * cols + c]);
  return { y: { dtype: 'float32', dims: [rows], data: y } };
}

/** One call of execute, waiting to be completed or failed. */
export interface Call {
  readonly inputs: TensorMap;
  readonly rows: number;
  /** Request ids in the batch, in batch order. */
  readonly ids: number[];
  /** Resolves with rowSums(inputs), or with `outputs` when given. */
  complete(outputs?: TensorMap): void;
  fail(err: unknown): void;
}

/** A ticket's outcome, filled in as it settles. */
export interface Watched {
  settled: boolean;
  value?: BatchResult;
  error?: CleaveError;
  readonly ticket: BatchTicket;
}

export function watch(ticket: BatchTicket): Watched {
  const w: Watched = { settled: false, ticket };
  ticket.promise.then(
    (v) => {
      w.settled = true;
      w.value = v;
    },
    (e: CleaveError) => {
      w.settled = true;
      w.error = e;
    },
  );
  return w;
}

export function harness(config: DynamicBatchingInput = {}, opts: { batchable?: boolean; start?: number } = {}) {
  const clock = new ManualClock(opts.start ?? 0);
  const calls: Call[] = [];
  const batches: BatchInfo[] = [];
  const batcher = new DynamicBatcher({
    model: 'm',
    config: parseBatchingConfig({ maxBatchSize: 8, maxQueueDelayMs: 10, ...config }),
    batchable: opts.batchable ?? true,
    clock,
    timers: clock,
    onBatch: (info) => batches.push(info),
    execute: (inputs, rows) =>
      new Promise<TensorMap>((resolve, reject) => {
        const x = inputs.x;
        const ids: number[] = [];
        if (x && x.dims.length === 2) {
          const cols = x.dims[1]!;
          for (let r = 0; r < x.dims[0]!; r++) {
            const id = Math.floor(Number(x.data[r * cols]) / 10);
            if (ids[ids.length - 1] !== id) ids.push(id);
          }
        }
        calls.push({ inputs, rows, ids, complete: (o) => resolve(o ?? rowSums(inputs)), fail: reject });
      }),
  });
  const submit = (r: BatchRequest): Watched => watch(batcher.submit(r));
  return { clock, calls, batches, batcher, submit };
}
