/**
 * onnxruntime-web inside workerd (Cloudflare Workers). Workers refuse to compile WebAssembly
 * from bytes at run time and refuse to load scripts by URL, so ORT cannot fetch and compile its
 * own .wasm as it does in a browser (../shared/FACTS.md records each failure). What works:
 *
 * 1. wrangler imports the .wasm as a compiled WebAssembly.Module (the CompiledWasm module rule);
 * 2. `WebAssembly.instantiate(bytes, imports)` is wrapped so that, when ORT asks to instantiate
 *    bytes, it gets an instance of that precompiled module instead;
 * 3. `env.wasm.wasmBinary` is set to a tiny placeholder, so ORT takes the "binary given" path and
 *    never looks for a script URL; one thread, no proxy worker (Workers have neither).
 *
 * The hook only replaces instantiation from bytes; instantiating a Module passes through.
 */
import wasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import type { InferenceBackend } from '../shared/backend/backend.js';
import { createOrtBackend, type OrtModule } from '../shared/backend/ort-backend.js';

/** The 8-byte wasm header: enough for ORT to believe it was given a binary. */
const PLACEHOLDER = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** The slice of the WebAssembly global this hook touches (the lib types here have no DOM). */
interface WasmApi {
  Module: abstract new (...args: never[]) => object;
  instantiate(source: unknown, imports?: object): Promise<unknown>;
}

let hooked = false;

function hookInstantiate(): void {
  if (hooked) return;
  hooked = true;
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const original = wasm.instantiate.bind(wasm);
  wasm.instantiate = (source, imports) => {
    if (source instanceof wasm.Module) return original(source, imports);
    // Instantiating a Module resolves to an Instance; from bytes it resolves to { module, instance }, which ORT expects.
    return original(wasmModule, imports).then((instance) => ({ module: wasmModule, instance }));
  };
}

let ort: Promise<OrtModule> | undefined;

/** The onnxruntime-web module, set up for workerd; the first call instantiates the runtime. */
export function workerdOrt(): Promise<OrtModule> {
  ort ??= (async () => {
    hookInstantiate();
    const mod = (await import('onnxruntime-web/wasm')) as unknown as OrtModule & { env: { wasm: { numThreads: number; proxy: boolean; wasmBinary?: Uint8Array } } };
    mod.env.wasm.numThreads = 1;
    mod.env.wasm.proxy = false;
    mod.env.wasm.wasmBinary = PLACEHOLDER;
    return mod;
  })();
  return ort;
}

/** An InferenceBackend over onnxruntime-web in workerd; the runtime starts on the first load. */
export function workerdOrtBackend(): InferenceBackend {
  let backend: Promise<InferenceBackend> | undefined;
  const get = (): Promise<InferenceBackend> => (backend ??= workerdOrt().then((m) => createOrtBackend(m, { name: 'onnxruntime-web', priority: 10, providers: ['wasm'] })));
  return {
    name: 'onnxruntime-web',
    priority: 10,
    describe: () => ({ name: 'onnxruntime-web', providers: ['wasm'] }),
    load: async (model, opts) => (await get()).load(model, opts),
  };
}
