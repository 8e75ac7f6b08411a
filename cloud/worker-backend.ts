/**
 * onnxruntime-node behind worker threads: each loaded model runs in its own thread
 * (ort-worker.mjs), like a Triton model instance, so inference never blocks the event loop that
 * reads and writes protocol frames. Same InferenceBackend interface and session options as the
 * in-thread backend; inputs go over as copies of just their bytes, outputs come back transferred.
 */
import { Worker } from 'node:worker_threads';
import type { InferenceBackend, LoadedModel, LoadOptions } from '../shared/backend/backend.js';
import { ortSessionOptions } from '../shared/backend/ort-backend.js';
import { CleaveError } from '../shared/errors.js';
import type { NumericArray } from '../shared/onnx/dtype.js';
import { hostTensor, type HostTensor } from '../shared/tensor.js';

const WORKER_URL = new URL('./ort-worker.mjs', import.meta.url);

type WorkerReply =
  | { type: 'loaded'; inputNames: string[]; outputNames: string[] }
  | { type: 'result'; id: number; outputs: Record<string, { dtype: HostTensor['dtype']; dims: number[]; data: NumericArray }> }
  | { type: 'error'; id?: number; message: string }
  | { type: 'disposed' };

export interface WorkerBackendOptions {
  /** Providers this build can use, best first, when LoadOptions does not say. Default ['cpu']. */
  readonly providers?: readonly string[];
  /** Backend name. Default 'onnxruntime-node-worker'. */
  readonly name?: string;
}

export function createWorkerBackend(options: WorkerBackendOptions = {}): InferenceBackend {
  const providers = options.providers ?? ['cpu'];
  const name = options.name ?? 'onnxruntime-node-worker';
  return {
    name,
    priority: 110,
    describe: () => ({ name, providers }),
    load: (model: Uint8Array, opts: LoadOptions = {}) => loadInWorker(name, model, ortSessionOptions(opts, providers)),
  };
}

async function loadInWorker(backend: string, bytes: Uint8Array, options: unknown): Promise<LoadedModel> {
  const worker = new Worker(WORKER_URL);
  // A worker must not keep the process alive on its own; the repository disposes what it loads.
  worker.unref();
  const pending = new Map<number, { resolve: (o: Record<string, HostTensor>) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let loaded: ((r: WorkerReply) => void) | undefined;
  let dead: Error | undefined;
  const failAll = (e: Error): void => {
    dead = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('message', (r: WorkerReply) => {
    if (r.type === 'result') {
      const p = pending.get(r.id);
      pending.delete(r.id);
      const out: Record<string, HostTensor> = {};
      for (const [k, t] of Object.entries(r.outputs)) out[k] = hostTensor(t.dtype, t.dims, t.data);
      p?.resolve(out);
    } else if (r.type === 'error' && r.id !== undefined && pending.has(r.id)) {
      const p = pending.get(r.id)!;
      pending.delete(r.id);
      p.reject(new CleaveError('CLEAVE_E_BACKEND', `${backend} failed to run the model: ${r.message}`));
    } else {
      loaded?.(r);
    }
  });
  worker.on('error', (e) => failAll(new CleaveError('CLEAVE_E_BACKEND', `${backend} worker crashed: ${e.message}`, {}, { cause: e })));
  worker.on('exit', (code) => failAll(new CleaveError('CLEAVE_E_BACKEND', `${backend} worker exited (${code})`)));

  const call = (msg: Record<string, unknown>): Promise<WorkerReply> => new Promise((resolve) => {
    loaded = resolve;
    worker.postMessage(msg);
  });
  const reply = await call({ type: 'load', bytes, options });
  if (reply.type !== 'loaded') {
    await worker.terminate();
    throw new CleaveError('CLEAVE_E_BACKEND', `${backend} could not load the model: ${reply.type === 'error' ? reply.message : reply.type}`);
  }
  return {
    inputNames: reply.inputNames,
    outputNames: reply.outputNames,
    run(feeds, outputs) {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      const msgFeeds: Record<string, { dtype: string; dims: readonly number[]; data: NumericArray }> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [k, t] of Object.entries(feeds)) {
        // slice(): a copy of just this tensor's bytes (a view may sit in a much larger frame
        // buffer, which structured clone would copy whole); the copy is ours to transfer.
        const data = t.data.slice() as NumericArray;
        transfer.push(data.buffer as ArrayBuffer);
        msgFeeds[k] = { dtype: t.dtype, dims: t.dims, data };
      }
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'run', id, feeds: msgFeeds, ...(outputs ? { outputs: [...outputs] } : {}) }, transfer);
      });
    },
    async dispose() {
      if (!dead) {
        await call({ type: 'dispose' });
        dead = new CleaveError('CLEAVE_E_UNAVAILABLE', 'the model was unloaded');
      }
      await worker.terminate();
    },
  };
}
