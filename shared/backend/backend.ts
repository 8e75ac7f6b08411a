/**
 * The one interface every inference backend implements (onnxruntime-node, onnxruntime-web, and
 * whatever comes later), and a registry that picks one by name or by priority. Entry files
 * register the backends their runtime can load; shared code only sees this interface.
 */
import { CleaveError } from '../errors.js';
import type { HostTensor } from '../tensor.js';

/** Options for loading one model. */
export interface LoadOptions {
  /**
   * The model stores int8 weights behind DequantizeLinear (weight-only QDQ). onnxruntime would
   * re-run the dequantization on every call (10x slower, FACTS.md); this folds it once at load.
   */
  weightOnlyQdq?: boolean;
  /** Threads for one operator; default 1 on the edge (one request per core), runtime default elsewhere. */
  intraOpThreads?: number;
  /**
   * Graph optimization level. Default 'all'. 'basic' skips the fusions (Add + LayerNormalization
   * into SkipLayerNormalization, ...) that round differently from the unfused ops; equivalence
   * checks that compare a whole model with its split parts use it to compare equal arithmetic.
   */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Execution providers in preference order, e.g. ['cuda', 'cpu']. Default ['cpu']. */
  executionProviders?: readonly string[];
}

/** A model loaded in a backend, ready to run. */
export interface LoadedModel {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model. `outputs` picks a subset; default all. */
  run(feeds: Readonly<Record<string, HostTensor>>, outputs?: readonly string[]): Promise<Record<string, HostTensor>>;
  dispose(): Promise<void>;
}

export interface InferenceBackend {
  /** Stable name: 'onnxruntime-node', 'onnxruntime-web'. */
  readonly name: string;
  /** Higher wins when no name is asked for. */
  readonly priority: number;
  load(model: Uint8Array, opts?: LoadOptions): Promise<LoadedModel>;
  /** What the backend runs on, for logs and /metadata. */
  describe(): { name: string; providers: readonly string[] };
}

/** Backends available in this process. */
export class BackendRegistry {
  private readonly backends: InferenceBackend[] = [];

  register(b: InferenceBackend): this {
    this.backends.push(b);
    this.backends.sort((x, y) => y.priority - x.priority);
    return this;
  }

  /** The named backend, or the highest-priority one. */
  get(name?: string): InferenceBackend {
    const b = name === undefined ? this.backends[0] : this.backends.find((x) => x.name === name);
    if (!b) {
      throw new CleaveError('CLEAVE_E_BACKEND', name === undefined
        ? 'no inference backend is registered'
        : `inference backend "${name}" is not available; have: ${this.backends.map((x) => x.name).join(', ') || 'none'}`, { backend: name ?? '' });
    }
    return b;
  }

  list(): readonly InferenceBackend[] {
    return this.backends;
  }
}
