// The thread that runs one model instance. onnxruntime-node's session.run is synchronous on the
// calling thread (it only defers with setImmediate), so a 5 ms batch would freeze the server's
// event loop: no frames read, no results written. Each loaded model gets a worker thread with
// this file as its entry; cloud/worker-backend.ts is the other end. Plain JavaScript on purpose:
// a worker does not inherit the TypeScript loader of its parent (tsx, vitest).
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/** @type {import('onnxruntime-node').InferenceSession | undefined} */
let session;

parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'load') {
      session = await ort.InferenceSession.create(msg.bytes, msg.options);
      parentPort.postMessage({ type: 'loaded', inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (msg.type === 'run') {
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
      const res = msg.outputs ? await session.run(feeds, msg.outputs) : await session.run(feeds);
      const outputs = {};
      const transfer = new Set();
      for (const [name, t] of Object.entries(res)) {
        outputs[name] = { dtype: t.type, dims: [...t.dims], data: t.data };
        if (t.data.buffer instanceof ArrayBuffer) transfer.add(t.data.buffer);
      }
      // Hand the output buffers over instead of copying them; they belong to this thread alone.
      parentPort.postMessage({ type: 'result', id: msg.id, outputs }, [...transfer]);
    } else if (msg.type === 'dispose') {
      await session?.release();
      session = undefined;
      parentPort.postMessage({ type: 'disposed' });
    }
  } catch (e) {
    parentPort.postMessage({ type: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) });
  }
});
