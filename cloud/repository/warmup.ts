/**
 * What the repository does between "the backend loaded the bytes" and READY: check that the
 * config's contract is the graph's, then run the model once per warmup batch size on random
 * inputs. onnxruntime allocates its arena and picks kernels (cuDNN algorithms on CUDA) on the
 * first run of each shape; warming up moves that cost off the first real request.
 */
import type { LoadedModel } from '../../shared/backend/backend.js';
import { CleaveError, isCleaveError } from '../../shared/errors.js';
import { randomInputs } from '../../shared/onnx/eval-inputs.js';
import { valueTypeOf } from '../../shared/onnx/shape/value-type.js';
import type { ModelProto, ValueInfo } from '../../shared/onnx/types.js';
import type { TensorSpec } from '../../shared/protocol/frames.js';
import type { HostTensor } from '../../shared/tensor.js';
import type { ModelConfig } from './model-config.js';

/** Seed of warmup inputs: fixed, so a warmup that fails fails the same way every time. */
export const WARMUP_SEED = 0x5eed;

function checkList(kind: 'input' | 'output', what: string, specs: readonly TensorSpec[], graph: readonly ValueInfo[], loadedNames: readonly string[]): void {
  for (const s of specs) {
    const v = graph.find((g) => g.name === s.name);
    if (!v || !loadedNames.includes(s.name)) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what}: config ${kind} "${s.name}" is not an ${kind} of the model; the model has: ${loadedNames.join(', ')}`, { tensor: s.name });
    }
    const t = valueTypeOf(v);
    if (t && t.dtype !== s.dtype) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what}: config ${kind} "${s.name}" is ${s.dtype}, the model's is ${t.dtype}`, { tensor: s.name });
    }
    if (t?.shape && t.shape.length !== s.shape.length) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what}: config ${kind} "${s.name}" has shape [${s.shape.join(',')}], the model's has rank ${t.shape.length}`, { tensor: s.name });
    }
    t?.shape?.forEach((d, i) => {
      const c = s.shape[i];
      if (typeof d === 'number' && c !== undefined && c !== -1 && c !== d) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what}: config ${kind} "${s.name}" has dim ${i} = ${c}, the model's is ${d}`, { tensor: s.name });
      }
    });
  }
}

/**
 * Throws CLEAVE_E_BAD_ARGUMENT when the config does not describe the loaded graph: every graph
 * input must be in the config (a request could not feed it otherwise), config outputs must be
 * graph outputs (a subset is fine), and dtypes, ranks and fixed dims must agree.
 */
export function checkContract(config: ModelConfig, version: number, model: ModelProto, loaded: LoadedModel): void {
  const what = `model "${config.name}" version ${version}`;
  const missing = loaded.inputNames.filter((n) => !config.inputs.some((s) => s.name === n));
  if (missing.length) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what}: the model has input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} that the config does not list`, { inputs: missing });
  }
  checkList('input', what, config.inputs, model.graph.input, loaded.inputNames);
  checkList('output', what, config.outputs, model.graph.output, loaded.outputNames);
}

/**
 * Random feeds for one warmup run. Symbolic non-batch dims take the config's size where the
 * config fixes one (a graph with `[N, T]` served as `[-1, 32]` warms up at T = 32); the batch
 * dim is `batchSize` for a batched model, the graph's own for one that is not.
 */
export function warmupFeeds(config: ModelConfig, model: ModelProto, batchSize: number): Record<string, HostTensor> {
  const dims: Record<string, number> = {};
  for (const v of model.graph.input) {
    const spec = config.inputs.find((s) => s.name === v.name);
    valueTypeOf(v)?.shape?.forEach((d, i) => {
      const c = spec?.shape[i];
      if (i > 0 && typeof d === 'string' && c !== undefined && c > 0) dims[d] = c;
    });
  }
  return randomInputs(model, config.maxBatchSize === 0 ? 1 : batchSize, WARMUP_SEED, { dims });
}

/**
 * Runs the config's warmup (each batch size once, in order). Returns the batch sizes run: empty
 * when warmup is off, or when no random inputs can be made for the model's input types (string
 * or 16-bit float inputs), which `warn` reports instead of failing the load. A failing run
 * throws CLEAVE_E_BACKEND naming the batch size.
 */
export async function runWarmup(config: ModelConfig, version: number, model: ModelProto, loaded: LoadedModel, warn: (msg: string) => void): Promise<number[]> {
  if (!config.warmup.enabled) return [];
  const done: number[] = [];
  for (const b of config.warmup.batchSizes) {
    let feeds: Record<string, HostTensor>;
    try {
      feeds = warmupFeeds(config, model, b);
    } catch (e) {
      if (isCleaveError(e, 'CLEAVE_E_DTYPE') || isCleaveError(e, 'CLEAVE_E_SHAPE')) {
        warn(`model "${config.name}" version ${version}: warmup skipped: ${e.message}`);
        return done;
      }
      throw e;
    }
    try {
      await loaded.run(feeds);
    } catch (e) {
      throw new CleaveError('CLEAVE_E_BACKEND', `model "${config.name}" version ${version}: warmup at batch size ${b} failed: ${(e as Error).message}`, { batchSize: b }, { cause: e });
    }
    done.push(b);
  }
  return done;
}
