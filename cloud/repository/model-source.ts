/**
 * Where the cloud's models come from. The lifecycle (model-lifecycle.ts) only sees this
 * interface, so it never touches the file system itself: a Triton-style folder
 * (folder-source.ts), the zoo manifest (zoo-source.ts), or an in-memory set in a test all look
 * the same to it.
 */
import type { ModelConfig } from './model-config.js';

export interface ModelSource {
  /** What the source is, for logs: `folder /srv/models`, `zoo /app/models`. */
  readonly description: string;
  /**
   * Every model on offer, in a stable order (the order loadAll loads them in). Reads the
   * underlying store again on each call, so models added since the last call appear on refresh.
   */
  list(): Promise<ModelConfig[]>;
  /**
   * The ONNX bytes of one version. Throws CLEAVE_E_NOT_FOUND when the source has no such model
   * or version, CLEAVE_E_BAD_ARGUMENT for a name that is not a valid model name.
   */
  read(name: string, version: number): Promise<Uint8Array>;
}
