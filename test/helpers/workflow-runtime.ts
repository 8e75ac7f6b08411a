/**
 * A WorkflowRuntime for executor tests over real onnxruntime-node sessions of the zoo models:
 * placements are scripted per node (a Map the test fills; default: the node's fixed placement,
 * else 'edge'), edge calls run the model's session, and cloud calls emulate the cloud's
 * subgraph semantics (cloud/inference-service.ts runStages) over the same sessions. Every call
 * is recorded with its start and end time, so tests can count calls per tier and model and see
 * what ran in parallel.
 *
 *   const zoo = await loadWorkflowZoo();
 *   const rt = new TestWorkflowRuntime(zoo);
 *   rt.tiers.set('big', 'cloud');
 *   const r = await runWorkflow(compileWorkflow(def, zoo.lookup), rt, inputs, { deadlineMs: 10_000 });
 *
 * Delays are real timers (the parallelism test measures wall time) and honour the call's
 * signal; the deadline tests use the manual clock instead (`useManualClock`), where each edge
 * call advances time by `edgeCostMs` and nothing sleeps.
 */
import { nodeBackends } from '../../cli/backends.js';
import type { LoadedModel } from '../../shared/backend/backend.js';
import { CleaveError } from '../../shared/errors.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { dtypeFromCode } from '../../shared/onnx/dtype.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { splitModel, splitPartName } from '../../shared/onnx/split/index.js';
import type { ValueInfo } from '../../shared/onnx/types.js';
import type { TensorMap, TensorSpec } from '../../shared/protocol/frames.js';
import type { HostTensor } from '../../shared/tensor.js';
import type {
  CloudCall, CloudCallResult, EdgeCall, ModelPlacement, ModelQuestion, SplitParts, SplitPlacement, SplitQuestion, WorkflowRuntime,
} from '../../shared/workflow/runtime.js';
import type { ModelInfo, ModelLookup } from '../../shared/workflow/validate.js';
import { zooManifest, zooModelBytes } from './zoo.js';

/** The zoo's models as the executor and validator see them, with sessions loaded on first use. */
export interface WorkflowZoo {
  /** Every zoo model (and every registered split part) on both tiers; symbolic dims are -1. */
  readonly lookup: ModelLookup;
  labels(model: string): readonly string[];
  /** One direct run of `model`'s session (the reference the tests compare with). */
  run(model: string, feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>;
  /** Cuts `model` at `cut` once (splitModel) and registers the head and tail as models. */
  split(model: string, cut: string): SplitParts;
  dispose(): Promise<void>;
}

function specOf(v: ValueInfo): TensorSpec {
  const t = v.type?.tensorType;
  if (!t) throw new Error(`value "${v.name}" has no tensor type`);
  return { name: v.name, dtype: dtypeFromCode(t.elemType), shape: (t.shape ?? []).map((d) => d.value ?? -1) };
}

/**
 * Loads the manifest; sessions open lazily, one per model, in onnxruntime-node. `splittable`
 * models' bytes are read up front so split() can stay synchronous, like the runtime's splitParts.
 */
export async function loadWorkflowZoo(splittable: readonly string[] = ['cnn-large']): Promise<WorkflowZoo> {
  const manifest = await zooManifest();
  const fullBytes = new Map<string, Uint8Array>();
  for (const m of splittable) fullBytes.set(m, await zooModelBytes(m));
  const infos = new Map<string, ModelInfo>();
  const labels = new Map<string, readonly string[]>();
  for (const m of manifest.models) {
    const spec = (s: { name: string; dtype: string; shape: readonly (string | number)[] }): TensorSpec =>
      ({ name: s.name, dtype: s.dtype as TensorSpec['dtype'], shape: s.shape.map((d) => (typeof d === 'number' ? d : -1)) });
    infos.set(m.name, { inputs: m.inputs.map(spec), outputs: m.outputs.map(spec), tiers: ['edge', 'cloud'] });
    labels.set(m.name, m.labels ?? []);
  }
  const extraBytes = new Map<string, Uint8Array>();
  const splits = new Map<string, SplitParts>();
  const sessions = new Map<string, Promise<LoadedModel>>();
  const backend = (await nodeBackends()).get('onnxruntime-node');

  const session = (model: string): Promise<LoadedModel> => {
    let s = sessions.get(model);
    if (!s) {
      const extra = extraBytes.get(model);
      s = (extra ? Promise.resolve(extra) : zooModelBytes(model)).then((b) => backend.load(b, { intraOpThreads: 1 }));
      sessions.set(model, s);
    }
    return s;
  };

  return {
    lookup: (model) => infos.get(model),
    labels: (model) => labels.get(model) ?? [],
    run: async (model, feeds) => (await session(model)).run(feeds),
    split(model, cut) {
      const key = `${model}@${cut}`;
      const hit = splits.get(key);
      if (hit) return hit;
      const bytes = fullBytes.get(model);
      if (!bytes) throw new CleaveError('CLEAVE_E_NOT_FOUND', `model "${model}" was not loaded as splittable (loadWorkflowZoo's splittable list)`);
      const r = splitModel(decodeModel(bytes), [cut]);
      const head = splitPartName(model, 'head', [cut]);
      const tail = splitPartName(model, 'tail', [cut]);
      extraBytes.set(head, encodeModel(r.head));
      extraBytes.set(tail, encodeModel(r.tail));
      infos.set(head, { inputs: r.head.graph.input.map(specOf), outputs: r.head.graph.output.map(specOf), tiers: ['edge', 'cloud'] });
      infos.set(tail, { inputs: r.tail.graph.input.map(specOf), outputs: r.tail.graph.output.map(specOf), tiers: ['edge', 'cloud'] });
      const parts: SplitParts = { head, tail, crossing: r.crossing.map((c) => c.name), passthroughInputs: r.passthroughInputs };
      splits.set(key, parts);
      return parts;
    },
    async dispose() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map(async (s) => (await s).dispose()));
    },
  };
}

/** One runtime call as the test runtime saw it. Times are performance.now(), ms. */
export type RecordedCall =
  | { readonly kind: 'edge'; readonly call: EdgeCall; readonly startedAt: number; endedAt?: number }
  | { readonly kind: 'cloud'; readonly call: CloudCall; readonly startedAt: number; endedAt?: number };

function cancelled(what: string): CleaveError {
  return new CleaveError('CLEAVE_E_CANCELLED', `${what} was cancelled`);
}

/** Resolves after `ms` of real time, or rejects CLEAVE_E_CANCELLED as soon as `signal` aborts. */
function delay(ms: number, signal: AbortSignal, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelled(what));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled(what));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The scripted, recording runtime; see the file comment. */
export class TestWorkflowRuntime implements WorkflowRuntime {
  /** Node id -> tier placeModel answers; default the node's fixed policy, else 'edge'. */
  readonly tiers = new Map<string, 'edge' | 'cloud'>();
  /** Node id -> expectedMs placeModel / placeSplit answer; default 1. */
  readonly expectedMs = new Map<string, number>();
  /** Node id -> error placeModel throws for it (no tier can run it now). */
  readonly placeErrors = new Map<string, CleaveError>();
  /** What placeSplit answers: 'edge', 'cloud' or a cut tensor. */
  cut = 'edge';
  /** Model -> edge stand-in (edgeStandIn); none by default. */
  readonly standIns = new Map<string, string>();
  /** Model -> real delay before an edge call runs, ms. */
  readonly edgeDelayMs = new Map<string, number>();
  /** Real delay before a cloud call runs its stages, ms. */
  cloudDelayMs = 0;
  /** When set, cloud calls fail with `error` after running `afterStages` stages (default 0). */
  cloudFailure: { readonly error: CleaveError; readonly afterStages?: number } | undefined;
  /** Report each stage through onStage as it completes (the cloud does); false: only the final result. */
  streamStages = true;
  /** Model -> manual-clock ms an edge call of it takes (only with useManualClock). */
  readonly edgeCostMs = new Map<string, number>();
  /** Called as each runtime call starts (after it is recorded). */
  onCall: ((c: RecordedCall) => void) | undefined;

  readonly calls: RecordedCall[] = [];
  /** Every placeModel question, in order (the critical-path check's included). */
  readonly questions: ModelQuestion[] = [];
  private manualNow: number | undefined;

  constructor(private readonly zoo: WorkflowZoo) {}

  /** Freezes time at `at` ms; from now on only edge calls (edgeCostMs) move it. */
  useManualClock(at = 0): void {
    this.manualNow = at;
  }

  now(): number {
    return this.manualNow ?? performance.now();
  }

  edgeCalls(model?: string): EdgeCall[] {
    return this.calls.flatMap((c) => (c.kind === 'edge' && (model === undefined || c.call.model === model) ? [c.call] : []));
  }

  cloudCalls(): CloudCall[] {
    return this.calls.flatMap((c) => (c.kind === 'cloud' ? [c.call] : []));
  }

  placeModel(q: ModelQuestion): ModelPlacement {
    this.questions.push(q);
    const refused = this.placeErrors.get(q.node);
    if (refused) throw refused;
    const tier = this.tiers.get(q.node) ?? (q.policy === 'auto' ? 'edge' : q.policy);
    return { tier, explanation: `tier=${tier} (scripted)`, expectedMs: this.expectedMs.get(q.node) ?? 1 };
  }

  placeSplit(q: SplitQuestion): SplitPlacement {
    return { cut: this.cut, int8: false, explanation: `cut=${this.cut} (scripted)`, expectedMs: this.expectedMs.get(q.node) ?? 1 };
  }

  splitParts(model: string, _version: number | undefined, cut: string): SplitParts {
    return this.zoo.split(model, cut);
  }

  edgeStandIn(model: string): string | undefined {
    return this.standIns.get(model);
  }

  async runEdge(call: EdgeCall): Promise<{ outputs: TensorMap; ms: number }> {
    const rec: RecordedCall = { kind: 'edge', call, startedAt: performance.now() };
    this.calls.push(rec);
    this.onCall?.(rec);
    const wait = this.edgeDelayMs.get(call.model) ?? 0;
    if (wait > 0) await delay(wait, call.signal, `edge call of ${call.model}`);
    if (call.signal.aborted) throw cancelled(`edge call of ${call.model}`);
    const outputs = await this.zoo.run(call.model, call.inputs);
    if (this.manualNow !== undefined) this.manualNow += this.edgeCostMs.get(call.model) ?? 0;
    rec.endedAt = performance.now();
    return { outputs, ms: rec.endedAt - rec.startedAt };
  }

  /**
   * The cloud's subgraph semantics (runStages): the pool starts as the call's inputs; each stage
   * reads every model input from `stage.inputs[name]` (or its own name) in the pool, adds its
   * outputs as `<id>.<output>` and reports them through onStage; the call returns the pool keys
   * it asked for, and refuses a missing one as the cloud does.
   */
  async runCloud(call: CloudCall): Promise<CloudCallResult> {
    const rec: RecordedCall = { kind: 'cloud', call, startedAt: performance.now() };
    this.calls.push(rec);
    this.onCall?.(rec);
    if (this.cloudDelayMs > 0) await delay(this.cloudDelayMs, call.signal, `subgraph "${call.name}"`);
    const pool = new Map<string, HostTensor>(Object.entries(call.inputs));
    for (let i = 0; i < call.stages.length; i++) {
      if (this.cloudFailure && i >= (this.cloudFailure.afterStages ?? 0)) throw this.cloudFailure.error;
      if (call.signal.aborted) throw cancelled(`subgraph "${call.name}"`);
      const stage = call.stages[i]!;
      const info = this.zoo.lookup(stage.model);
      if (!info) throw new CleaveError('CLEAVE_E_NOT_FOUND', `stage ${i} runs unknown model "${stage.model}"`);
      for (const k of Object.keys(stage.inputs)) {
        if (!info.inputs.some((s) => s.name === k)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `stage ${i} maps input "${k}", which "${stage.model}" does not have`);
      }
      const feeds: Record<string, HostTensor> = {};
      for (const spec of info.inputs) {
        const key = stage.inputs[spec.name] ?? spec.name;
        const t = pool.get(key);
        if (!t) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `stage ${i} ("${stage.model}") reads "${spec.name}" from pool key "${key}", which is not there; pool keys: ${[...pool.keys()].join(', ')}`);
        feeds[spec.name] = t;
      }
      const outputs = await this.zoo.run(stage.model, feeds);
      for (const [k, v] of Object.entries(outputs)) pool.set(`${stage.id}.${k}`, v);
      if (this.streamStages) call.onStage?.(i, outputs);
    }
    if (this.cloudFailure) throw this.cloudFailure.error;
    const out: Record<string, HostTensor> = {};
    for (const k of call.outputs) {
      const t = pool.get(k);
      if (!t) throw new CleaveError('CLEAVE_E_NOT_FOUND', `subgraph "${call.name}" produced no tensor "${k}"; have: ${[...pool.keys()].join(', ')}`);
      out[k] = t;
    }
    rec.endedAt = performance.now();
    return { outputs: out, ms: rec.endedAt - rec.startedAt, queueMs: 0, computeMs: rec.endedAt - rec.startedAt };
  }
}
