/**
 * Node entry for inference backends: onnxruntime-node first, onnxruntime-web (wasm) as the
 * fallback when the native binding cannot load (an unsupported libc, a missing .so).
 */
import { BackendRegistry } from '../shared/backend/backend.js';
import { createOrtBackend, type OrtModule } from '../shared/backend/ort-backend.js';

let registry: Promise<BackendRegistry> | undefined;

/** The process-wide registry, created on first use (the native addon loads lazily). */
export function nodeBackends(): Promise<BackendRegistry> {
  registry ??= (async () => {
    const r = new BackendRegistry();
    try {
      const ort = (await import('onnxruntime-node')) as unknown as OrtModule & { listSupportedBackends?: () => { name: string }[] };
      const providers = ort.listSupportedBackends?.().map((b) => b.name).filter((n) => n === 'cpu' || n === 'cuda') ?? ['cpu'];
      r.register(createOrtBackend(ort, { name: 'onnxruntime-node', priority: 100, providers: providers.includes('cpu') ? ['cpu'] : providers }));
    } catch (e) {
      process.emitWarning(`onnxruntime-node could not load (${(e as Error).message}); using onnxruntime-web`);
    }
    const web = (await import('onnxruntime-web')) as unknown as OrtModule & { env: { wasm: { numThreads: number } } };
    // One wasm thread: the Node edge serves one request per core; threads would contend.
    web.env.wasm.numThreads = 1;
    r.register(createOrtBackend(web, { name: 'onnxruntime-web', priority: 10, providers: ['wasm'] }));
    return r;
  })();
  return registry;
}
