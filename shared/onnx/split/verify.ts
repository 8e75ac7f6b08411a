/**
 * Running a split model and checking it against the whole one, on any InferenceBackend. The CLI's
 * `--verify`, the tests and a deployment check all use this, so "head then tail equals the full
 * model" means the same thing everywhere.
 */
import { CleaveError } from '../../errors.js';
import type { InferenceBackend, LoadedModel, LoadOptions } from '../../backend/backend.js';
import type { HostTensor } from '../../tensor.js';
import { encodeModel } from '../encode.js';
import type { ModelProto } from '../types.js';
import type { SplitResult } from './split-model.js';

type Feeds = Readonly<Record<string, HostTensor>>;

function pick(feeds: Feeds, names: readonly string[], what: string): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const name of names) {
    const t = feeds[name];
    if (!t) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} needs input "${name}", which was not given`, { input: name });
    out[name] = t;
  }
  return out;
}

/**
 * Runs head then tail as a caller at the edge and in the cloud would: the head on the request's
 * inputs, the tail on the crossing tensors plus its pass-through inputs, and the head's
 * pass-through outputs merged into the tail's. Returns every original output.
 */
export async function runSplit(head: LoadedModel, tail: LoadedModel, split: Pick<SplitResult, 'crossing'>, feeds: Feeds): Promise<Record<string, HostTensor>> {
  const headOut = await head.run(pick(feeds, head.inputNames, 'the head'));
  const crossing = new Set(split.crossing.map((c) => c.name));
  const tailFeeds: Record<string, HostTensor> = {};
  for (const name of tail.inputNames) {
    const t = crossing.has(name) ? headOut[name] : feeds[name];
    if (!t) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `the tail needs input "${name}", which neither the head nor the caller gave`, { input: name });
    tailFeeds[name] = t;
  }
  const tailOut = await tail.run(tailFeeds);
  const merged: Record<string, HostTensor> = { ...tailOut };
  for (const [name, t] of Object.entries(headOut)) if (!crossing.has(name)) merged[name] = t;
  return merged;
}

/**
 * How far the split model's outputs are from the full model's. Expect a few float32 ulps rather
 * than 0 at some cuts: onnxruntime fuses operators at its extended optimization level (an Add
 * followed by LayerNormalization becomes one SkipLayerNormalization), and a cut between the two
 * leaves them unfused, which rounds differently. Judge the difference against `scale`.
 */
export interface SplitCheck {
  /** Largest absolute difference over every element of every output (0 when identical). */
  maxAbsDiff: number;
  /** Largest absolute value in the full model's outputs. */
  scale: number;
  perOutput: { name: string; maxAbsDiff: number; scale: number }[];
}

/** Compares one model's splits against its full run on fixed inputs. */
export interface SplitVerifier {
  /** Loads the head and tail, runs them, and compares with the full model's outputs. */
  check(split: SplitResult): Promise<SplitCheck>;
  /** Releases the full model's session. */
  dispose(): Promise<void>;
}

/** Loads the full model once and runs it on `feeds`; each check then costs one head and one tail load. */
export async function createSplitVerifier(backend: InferenceBackend, model: ModelProto | Uint8Array, feeds: Feeds, opts: LoadOptions = {}): Promise<SplitVerifier> {
  const full = await backend.load(model instanceof Uint8Array ? model : encodeModel(model), opts);
  let expected: Record<string, HostTensor>;
  try {
    expected = await full.run(pick(feeds, full.inputNames, 'the model'));
  } finally {
    await full.dispose();
  }
  return {
    async check(split) {
      const head = await backend.load(encodeModel(split.head), opts);
      try {
        const tail = await backend.load(encodeModel(split.tail), opts);
        try {
          const got = await runSplit(head, tail, split, feeds);
          const perOutput = Object.entries(expected).map(([name, want]) => {
            const t = got[name];
            if (!t) throw new CleaveError('CLEAVE_E_INTERNAL', `the split model does not produce output "${name}"`, { output: name });
            return { name, maxAbsDiff: outputDiff(name, want, t), scale: maxAbs(want) };
          });
          return {
            maxAbsDiff: perOutput.reduce((m, o) => Math.max(m, o.maxAbsDiff), 0),
            scale: perOutput.reduce((m, o) => Math.max(m, o.scale), 0),
            perOutput,
          };
        } finally {
          await tail.dispose();
        }
      } finally {
        await head.dispose();
      }
    },
    async dispose() {},
  };
}

/** Largest finite |x| of a tensor. */
function maxAbs(t: HostTensor): number {
  let m = 0;
  for (let i = 0; i < t.data.length; i++) {
    const x = Math.abs(Number(t.data[i]));
    if (Number.isFinite(x) && x > m) m = x;
  }
  return m;
}

/** Largest |a - b|; equal infinities and NaN against NaN count as equal, any other NaN as Infinity. */
function outputDiff(name: string, a: HostTensor, b: HostTensor): number {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) {
    throw new CleaveError('CLEAVE_E_SHAPE', `output "${name}" is [${a.dims.join(',')}] from the full model and [${b.dims.join(',')}] from the split`, { output: name });
  }
  let m = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = Number(a.data[i]);
    const y = Number(b.data[i]);
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Math.abs(x - y);
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
}
