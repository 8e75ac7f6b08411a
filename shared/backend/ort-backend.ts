/**
 * An InferenceBackend over any onnxruntime JavaScript package. onnxruntime-node and
 * onnxruntime-web share the onnxruntime-common API, so one implementation serves both; the
 * entry file hands in the module it could import. Only types come from onnxruntime-common, so
 * this file stays runtime-neutral.
 */
import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import { CleaveError } from '../errors.js';
import type { NumericArray } from '../onnx/dtype.js';
import { hostTensor, type HostTensor } from '../tensor.js';
import type { InferenceBackend, LoadedModel, LoadOptions } from './backend.js';

/** The part of an onnxruntime package this backend uses. */
export interface OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  readonly Tensor: new (type: Tensor.Type, data: Tensor.DataType, dims: readonly number[]) => Tensor;
}

export interface OrtBackendOptions {
  name: string;
  priority: number;
  /** Providers this build can use, best first (used when LoadOptions does not say). */
  providers?: readonly string[];
}

/** Session options for a load: the QDQ folding switch and threads. */
export function ortSessionOptions(opts: LoadOptions, defaults: readonly string[]): InferenceSession.SessionOptions {
  const o: InferenceSession.SessionOptions = {
    executionProviders: [...(opts.executionProviders ?? defaults)] as InferenceSession.ExecutionProviderConfig[],
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
  };
  if (opts.intraOpThreads !== undefined) o.intraOpNumThreads = opts.intraOpThreads;
  // Without this, onnxruntime keeps DequantizeLinear in the graph and re-runs it every call.
  if (opts.weightOnlyQdq) o.extra = { session: { disable_quant_qdq: '1' } };
  return o;
}

export function createOrtBackend(ort: OrtModule, options: OrtBackendOptions): InferenceBackend {
  const providers = options.providers ?? ['cpu'];
  return {
    name: options.name,
    priority: options.priority,
    describe: () => ({ name: options.name, providers }),
    async load(model: Uint8Array, opts: LoadOptions = {}): Promise<LoadedModel> {
      let session: InferenceSession;
      try {
        session = await ort.InferenceSession.create(model, ortSessionOptions(opts, providers));
      } catch (e) {
        throw new CleaveError('CLEAVE_E_BACKEND', `${options.name} could not load the model: ${(e as Error).message}`, {}, { cause: e });
      }
      return {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        async run(feeds, outputs) {
          const ortFeeds: Record<string, Tensor> = {};
          for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.dtype as Tensor.Type, t.data as Tensor.DataType, t.dims);
          let res: InferenceSession.ReturnType;
          try {
            res = outputs ? await session.run(ortFeeds, [...outputs]) : await session.run(ortFeeds);
          } catch (e) {
            throw new CleaveError('CLEAVE_E_BACKEND', `${options.name} failed to run the model: ${(e as Error).message}`, {}, { cause: e });
          }
          const out: Record<string, HostTensor> = {};
          for (const [k, t] of Object.entries(res)) {
            out[k] = hostTensor(t.type as HostTensor['dtype'], t.dims, (t as TypedTensor<'float32'>).data as NumericArray);
          }
          return out;
        },
        async dispose() {
          await session.release();
        },
      };
    },
  };
}
