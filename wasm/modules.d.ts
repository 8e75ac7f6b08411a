// Module kinds wrangler's bundler provides (wrangler.toml [[rules]]); tsc only needs their shapes.

/** An ONNX model imported as a `Data` module: its bytes. */
declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}

/** A .wasm imported as a `CompiledWasm` module: compiled at deploy time, instantiated at run time. */
declare module '*.wasm' {
  // A WebAssembly.Module; typed loosely because this project's lib settings carry no DOM types.
  const module: object;
  export default module;
}

/**
 * The zoo manifest the Worker bundles (edge/worker-models.ts). tsc reads the real file when
 * models/ has been generated; this covers a fresh checkout, where the type check runs first.
 */
declare module '*/models/manifest.json' {
  const manifest: unknown;
  export default manifest;
}
