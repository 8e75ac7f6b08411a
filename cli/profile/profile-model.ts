/**
 * Profiles one model for `cleave profile`: compute per batch size on each local backend, the
 * frontier of cut points (the same list the edge offers the router: edge/split-models.ts
 * defaultCuts) with each head's and tail's compute and activation sizes, and, when asked, the
 * cloud's compute for the model and its tails and an edge node's own compute. Recommendations
 * are added by the caller once the measured link is known (recommend.ts).
 */
import { basename } from 'node:path';
import { defaultCuts } from '../../edge/split-models.js';
import type { InferenceBackend, LoadedModel, LoadOptions } from '../../shared/backend/backend.js';
import { CleaveError, toCleaveError } from '../../shared/errors.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { isWeightOnlyQdq } from '../../shared/onnx/quantize/index.js';
import { listCutPoints, splitModel, splitPartName, type CutPoint } from '../../shared/onnx/split/index.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import { tensorBytes, type HostTensor } from '../../shared/tensor.js';
import { ZOO_MODELS, zooModel } from '../../shared/zoo/index.js';
import { evaluationInputs } from '../commands/quantize.js';
import { readModelFile } from '../model-file.js';
import type { Progress } from '../progress.js';
import { DEFAULT_ZOO_DIR, ensureZoo, zooFile } from '../zoo-files.js';
import { measureCloud, sizedRows, sizedRuns, type CloudSession } from './cloud-probe.js';
import { measureEdgeNode } from './edge-probe.js';
import { summarize, takeRows, timeCalls, type ComputeStats } from './measure.js';
import type { BackendCompute, CutProfile, ModelProfile } from './report.js';

/** Metadata key the zoo stamps on its models, naming the zoo entry. */
const ZOO_MODEL_KEY = 'cleave.zoo.model';

/** A model to profile: its name (as the tiers serve it), file and decoded graph. */
export interface ResolvedModel {
  readonly name: string;
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly proto: ModelProto;
}

/**
 * A zoo model name (the zoo is built first if needed) or a path to an .onnx file. The name of a
 * file is its zoo name when it is a zoo model, else the file name without `.onnx`.
 */
export async function resolveModel(arg: string, progress?: Progress): Promise<ResolvedModel> {
  if (!arg.toLowerCase().endsWith('.onnx')) {
    if (!zooModel(arg)) {
      throw new CleaveError('CLEAVE_E_NOT_FOUND', `"${arg}" is neither an .onnx file nor a zoo model; zoo models: ${ZOO_MODELS.map((m) => m.name).join(', ')}`, { model: arg });
    }
    const manifest = await ensureZoo(DEFAULT_ZOO_DIR, progress ? { progress } : {});
    const file = zooFile(manifest, DEFAULT_ZOO_DIR, arg);
    const { bytes, model } = await readModelFile(file);
    return { name: arg, file, bytes, proto: model };
  }
  const { bytes, model } = await readModelFile(arg);
  const zooName = model.metadataProps.find((e) => e.key === ZOO_MODEL_KEY)?.value;
  return { name: zooName ?? basename(arg).replace(/\.onnx$/i, ''), file: arg, bytes, proto: model };
}

/** What to measure and where. */
export interface ProfileModelOptions {
  /** Batch sizes (rows per call), ascending. */
  readonly batches: readonly number[];
  readonly runs: number;
  readonly warmup: number;
  /** Local backends; the first prices the edge side and runs the cut parts. */
  readonly backends: readonly InferenceBackend[];
  /** Profile the frontier cuts. Default true. */
  readonly cuts?: boolean;
  readonly cloud?: CloudSession;
  readonly edgeUrl?: string;
  readonly edgeHeaders?: Record<string, string>;
  readonly progress?: Progress;
  /** ms. Default performance.now. */
  readonly now?: () => number;
}

/** Rows of the input pool: enough for every batch size, and for a sized cloud request. */
function poolRows(batches: readonly number[]): number {
  return Math.max(1, ...batches);
}

/** True when every graph input has a symbolic (or unknown) first dim: the model takes any batch. */
function isBatched(m: ModelProto): boolean {
  const inits = new Set(m.graph.initializer.map((t) => t.name));
  return m.graph.input.filter((i) => !inits.has(i.name)).every((i) => {
    const d = i.type?.tensorType?.shape?.[0];
    return d === undefined || d.value === undefined || d.value <= 0;
  });
}

function sumBytes(m: Readonly<Record<string, HostTensor>>): number {
  return Object.values(m).reduce((s, t) => s + tensorBytes(t), 0);
}

/** Everything in ModelProfile except the recommendations. */
export type ModelMeasurements = Omit<ModelProfile, 'recommendations'>;

/** Measures `m`; see the file comment. */
export async function profileModel(m: ResolvedModel, opts: ProfileModelOptions): Promise<ModelMeasurements> {
  const backends = opts.backends;
  if (backends.length === 0) throw new CleaveError('CLEAVE_E_BACKEND', 'no inference backend to profile with', {});
  const batched = isBatched(m.proto);
  // A model with a fixed batch dim runs at that size only: one "batch" of 1 request.
  const batches = batched ? opts.batches : [1];
  const timing = { runs: opts.runs, warmup: opts.warmup, ...(opts.now ? { now: opts.now } : {}) };
  let pool = await evaluationInputs(m.proto, poolRows(batches), 1);
  const feedsAt = (b: number): Record<string, HostTensor> => (batched ? takeRows(pool.inputs, b) : pool.inputs);
  const inputBytesPerRow = sumBytes(feedsAt(1));
  const sized = opts.cloud && batched ? sizedRows(opts.cloud, m.name, inputBytesPerRow) : 0;
  if (sized > poolRows(batches)) pool = await evaluationInputs(m.proto, sized, 1);
  const loadOptions: LoadOptions = { weightOnlyQdq: isWeightOnlyQdq(m.proto), intraOpThreads: 1 };

  const frontier: CutPoint[] = opts.cuts === false || !batched ? [] : defaultCuts(listCutPoints(m.proto), inputBytesPerRow);
  const steps = backends.length * batches.length + frontier.length * batches.length + (opts.cloud ? batches.length + frontier.length : 0) + (opts.edgeUrl ? 1 : 0);
  opts.progress?.start(`profiling ${m.name}`, steps);
  try {
    let outputBytesPerRow = 0;
    const compute: BackendCompute[] = [];
    for (const backend of backends) {
      const loaded = await backend.load(m.bytes, loadOptions);
      try {
        const stats: ComputeStats[] = [];
        for (const b of batches) {
          const feeds = feedsAt(b);
          if (outputBytesPerRow === 0 && b === batches[0]) outputBytesPerRow = sumBytes(await loaded.run(feeds)) / b;
          stats.push(summarize(b, await timeCalls(() => loaded.run(feeds), timing)));
          opts.progress?.tick(`${backend.name} batch ${b}`);
        }
        compute.push({ backend: backend.name, providers: backend.describe().providers, batches: stats });
      } finally {
        await loaded.dispose();
      }
    }

    let cloud: ModelProfile['cloud'];
    let cloudError: string | undefined;
    if (opts.cloud) {
      try {
        cloud = await measureCloud(opts.cloud, m.name, batches, feedsAt, { ...timing, onBatch: (b) => opts.progress?.tick(`cloud batch ${b}`) });
        if (sized > 0 && opts.cloud.link.snapshot().upSamples === 0) {
          // Too small to time the upload: a few larger requests, as the edge's link estimator needs.
          await sizedRuns(opts.cloud, m.name, takeRows(pool.inputs, sized));
        }
      } catch (e) {
        cloudError = toCleaveError(e).message;
        for (let i = 0; i < batches.length; i++) opts.progress?.tick('cloud (failed)');
      }
    }

    const cuts: CutProfile[] = [];
    for (const p of frontier) {
      cuts.push(await profileCut(m, p, backends[0]!, loadOptions, batches, feedsAt, timing, opts, cloud !== undefined));
    }

    let edgeNode: ModelProfile['edgeNode'];
    let edgeNodeError: string | undefined;
    if (opts.edgeUrl) {
      try {
        edgeNode = { url: opts.edgeUrl, batches: await measureEdgeNode(opts.edgeUrl, m.name, batches, feedsAt, { ...timing, ...(opts.edgeHeaders ? { headers: opts.edgeHeaders } : {}) }) };
      } catch (e) {
        edgeNodeError = toCleaveError(e).message;
      }
      opts.progress?.tick('edge node');
    }

    return {
      model: m.name, file: m.file, fileBytes: m.bytes.length, inputs: pool.source,
      inputBytesPerRow, outputBytesPerRow, edgeBackend: backends[0]!.name, compute, cuts,
      ...(cloud ? { cloud } : {}), ...(cloudError !== undefined ? { cloudError } : {}),
      ...(edgeNode ? { edgeNode } : {}), ...(edgeNodeError !== undefined ? { edgeNodeError } : {}),
    };
  } finally {
    opts.progress?.stop();
  }
}

/** One frontier cut: sizes, head and tail compute here, and the tail's compute in the cloud when it serves it. */
async function profileCut(
  m: ResolvedModel, p: CutPoint, backend: InferenceBackend, loadOptions: LoadOptions, batches: readonly number[],
  feedsAt: (b: number) => Record<string, HostTensor>, timing: { runs: number; warmup: number; now?: () => number },
  opts: ProfileModelOptions, cloudUp: boolean,
): Promise<CutProfile> {
  const tensor = p.tensors[0]!.name;
  const split = splitModel(m.proto, [tensor]);
  let head: LoadedModel | undefined;
  let tail: LoadedModel | undefined;
  try {
    head = await backend.load(encodeModel(split.head), loadOptions);
    tail = await backend.load(encodeModel(split.tail), loadOptions);
    const headStats: ComputeStats[] = [];
    const tailStats: ComputeStats[] = [];
    const tailFeeds = new Map<number, Record<string, HostTensor>>();
    for (const b of batches) {
      const feeds = feedsAt(b);
      const h = head;
      const t = tail;
      headStats.push(summarize(b, await timeCalls(() => h.run(feeds), timing)));
      const act = await h.run(feeds);
      const tf: Record<string, HostTensor> = {};
      for (const c of split.crossing) tf[c.name] = act[c.name]!;
      for (const name of split.passthroughInputs) tf[name] = feeds[name]!;
      tailFeeds.set(b, tf);
      tailStats.push(summarize(b, await timeCalls(() => t.run(tf), timing)));
      opts.progress?.tick(`cut ${tensor} batch ${b}`);
    }
    let cloudTail: ComputeStats[] | undefined;
    if (opts.cloud && cloudUp) {
      try {
        cloudTail = [...(await measureCloud(opts.cloud, splitPartName(m.name, 'tail', [tensor]), batches, (b) => tailFeeds.get(b)!, timing)).batches];
      } catch {
        // The cloud does not serve this tail (split tails off, another repository): the local
        // figure stands in, marked prior in the recommendation.
        cloudTail = undefined;
      }
    }
    if (opts.cloud) opts.progress?.tick(`cloud tail ${tensor}`);
    const bytes = p.bytesPerSample ?? 0;
    const transfer = p.transferBytesPerSample ?? bytes;
    return {
      tensor, position: p.position, afterNode: p.afterNode,
      activationBytesPerRow: bytes, transferBytesPerRow: transfer,
      // One byte per float32 element; the request adds 16 bytes of scale and zero point.
      int8BytesPerRow: Math.ceil(transfer / 4),
      headNodes: p.headNodes, tailNodes: p.tailNodes, headParamBytes: p.headParamBytes, tailParamBytes: p.tailParamBytes,
      head: headStats, tail: tailStats, ...(cloudTail ? { cloudTail } : {}),
    };
  } finally {
    await head?.dispose();
    await tail?.dispose();
  }
}
