/**
 * Runs a validated workflow: a dataflow scheduler over its nodes, placing each model call with
 * the router (WorkflowRuntime.placeModel / placeSplit) at the moment it becomes ready, so the
 * decision sees the live link and queue.
 *
 * Semantics (docs/workflows.md has the user's version):
 *
 * - An edge is *live* when its source ran and its `when` holds (no `when`: holds), *dead* when
 *   its source ran and `when` is false, and *void* when its source was skipped. A branch makes
 *   exactly one of its out-edges live: the first (in document order) whose `when` holds, else the
 *   one to `default`.
 * - A node runs when all its in-edges are decided, none is dead and at least one is live; it is
 *   skipped otherwise. So in a cascade `input -> big`, `small -> big [when max(..) < 0.9]`, a
 *   confident `small` kills `big`; after a branch, the join node runs on whichever side ran.
 * - Nodes run as soon as they are ready: independent branches in parallel.
 * - A model node placed in the cloud takes its unconditional model successors with it while
 *   they are placed in the cloud too and their other inputs are already known: one subgraph
 *   request, intermediates stay in the cloud (no ping-pong). Each stage's outputs stream back as
 *   it completes.
 * - Early exit: a node whose `exit.when` holds (over its outputs, or its exit head's for a split
 *   model cut where the head reads) answers the request: everything still running is cancelled
 *   and the outputs take their `or` values where `from` did not run.
 * - A loop runs its body in order until `until` holds or `maxIterations`; `carry` feeds an
 *   iteration's outputs to the next; `iteration` is the number of iterations done.
 * - When the cloud is out (UNAVAILABLE, OVERLOADED), a cloud stage re-runs on the edge with its
 *   stand-in (the model itself or its fallback) and the result is marked degraded.
 * - Deadlines: before anything runs, the critical path's expected time (the router's best tier
 *   per model, unmeasured terms optimistic) must fit the budget, else CLEAVE_E_DEADLINE at once;
 *   each call is then placed with the time left, and a call that cannot make it fails the run
 *   with CLEAVE_E_DEADLINE instead of starting.
 *
 * Conditions and templates read a request's tensors whole (the batch as one): per-row decisions
 * want one row per request.
 */
import { CleaveError, isCleaveError, toCleaveError } from '../errors.js';
import { dtypeSize } from '../onnx/dtype.js';
import type { TensorMap, TensorSpec } from '../protocol/frames.js';
import type { HostTensor } from '../tensor.js';
import { tensorBytes } from '../tensor.js';
import { requestRows } from '../tensor-batch.js';
import { INPUT_NODE, type WorkflowDefinition, type WorkflowEdge, type WorkflowNode } from './definition.js';
import { evaluatePredicate, parsePredicate, type Predicate, type PredicateValue } from './predicate.js';
import { FALLBACK_CODES, type CloudStage, type WorkflowRuntime } from './runtime.js';
import { compileTemplate, isTextTensor, runTransform, type CompiledTemplate, type WorkflowValue } from './transforms.js';
import { splitRef, type ModelLookup } from './validate.js';

/** What happened to one node, for the response, the plan header and the dashboard. */
export interface NodeReport {
  readonly node: string;
  readonly status: 'done' | 'skipped' | 'cancelled';
  /** Where it ran: 'edge', 'cloud', `cut:<tensor>` (+ ' int8'), or 'inline' for transforms and branches. */
  readonly placement?: string;
  /** The router's one-line explanation. */
  readonly explanation?: string;
  readonly expectedMs?: number;
  /** From launch to outputs, ms. */
  readonly ms?: number;
  /** The request exited here. */
  readonly exited?: boolean;
  /** Ran on the edge because the cloud failed with this code; `standIn` is the model that ran. */
  readonly degraded?: { readonly reason: string; readonly standIn: string };
  /** Cloud subgraph this node ran in (its first node's id), when more than one node went together. */
  readonly subgraph?: string;
}

/** A streamed event, in the order things happen. */
export type WorkflowEvent =
  | { readonly kind: 'node'; readonly report: NodeReport; readonly outputs: ReadonlyMap<string, WorkflowValue> }
  | { readonly kind: 'skip'; readonly node: string }
  | { readonly kind: 'exit'; readonly node: string };

export interface WorkflowRunOptions {
  /** Budget from `startedAt`, ms. */
  readonly deadlineMs: number;
  /** Default runtime.now(). */
  readonly startedAt?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: WorkflowEvent) => void;
  readonly traceparent?: string;
}

export interface WorkflowResult {
  readonly outputs: ReadonlyMap<string, WorkflowValue>;
  /** The node whose exit condition answered the request. */
  readonly exitedAt?: string;
  /** Every node, in the order it finished or was skipped. */
  readonly nodes: readonly NodeReport[];
  readonly degraded: boolean;
  readonly totalMs: number;
}

type Status = 'pending' | 'running' | 'done' | 'skipped';
type Report = Omit<NodeReport, 'node' | 'status'>;
/** `exitValues`: what the exit condition reads instead of the outputs (an exit head's); `noExit`: do not test it. */
interface Extra { readonly exitValues?: Values; readonly noExit?: boolean }
type ModelNode = Extract<WorkflowNode, { type: 'model' }>;
interface ChainLink { readonly node: ModelNode; readonly explanation: string; readonly expectedMs: number }
type Values = Map<string, WorkflowValue>;

/** A workflow compiled once at deploy: parsed conditions, templates, adjacency. */
export interface CompiledWorkflow {
  readonly def: WorkflowDefinition;
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  readonly inEdges: ReadonlyMap<string, readonly number[]>;
  readonly outEdges: ReadonlyMap<string, readonly number[]>;
  readonly conditions: ReadonlyMap<number, Predicate>;
  readonly exits: ReadonlyMap<string, Predicate>;
  readonly untils: ReadonlyMap<string, Predicate>;
  readonly templates: ReadonlyMap<string, CompiledTemplate>;
  /** Body node -> its loop. */
  readonly loopOf: ReadonlyMap<string, string>;
  readonly models: ModelLookup;
  /** True when something outside `chain` reads `node`'s outputs: an edge, a workflow output, a condition or template naming it. */
  readonly readOutside: (node: string, chain: ReadonlySet<string>) => boolean;
}

/** Compiles a definition that validateWorkflow accepted. */
export function compileWorkflow(def: WorkflowDefinition, models: ModelLookup): CompiledWorkflow {
  const nodes = new Map(def.nodes.map((n) => [n.id, n]));
  const inEdges = new Map<string, number[]>();
  const outEdges = new Map<string, number[]>();
  const conditions = new Map<number, Predicate>();
  def.edges.forEach((e, i) => {
    (inEdges.get(e.target) ?? inEdges.set(e.target, []).get(e.target)!).push(i);
    (outEdges.get(e.source) ?? outEdges.set(e.source, []).get(e.source)!).push(i);
    if (e.when !== undefined) conditions.set(i, parsePredicate(e.when));
  });
  const exits = new Map<string, Predicate>();
  const untils = new Map<string, Predicate>();
  const templates = new Map<string, CompiledTemplate>();
  const loopOf = new Map<string, string>();
  for (const n of def.nodes) {
    if ((n.type === 'model' || n.type === 'split-model') && n.params.exit) exits.set(n.id, parsePredicate(n.params.exit.when));
    if (n.type === 'loop') {
      untils.set(n.id, parsePredicate(n.params.until));
      for (const b of n.params.body) loopOf.set(b, n.id);
    }
    if (n.type === 'transform' && n.params.op === 'template') templates.set(n.id, compileTemplate(n.params.template));
  }
  // Nodes named in a dotted reference anywhere (conditions, exits, loops, templates, outputs).
  const named = new Set<string>();
  const note = (ref: string): void => { const dot = ref.indexOf('.'); if (dot > 0) named.add(ref.slice(0, dot)); };
  for (const p of [...conditions.values(), ...exits.values(), ...untils.values()]) p.references.forEach(note);
  for (const t of templates.values()) for (const part of t.parts) if (typeof part !== 'string') part.expr.references.forEach(note);
  for (const o of def.outputs) { note(o.from); if (o.or !== undefined) note(o.or); }
  const readOutside = (node: string, chain: ReadonlySet<string>): boolean =>
    named.has(node) || (outEdges.get(node) ?? []).some((i) => !chain.has(def.edges[i]!.target));
  return { def, nodes, inEdges, outEdges, conditions, exits, untils, templates, loopOf, models, readOutside };
}

/** Bytes of tensors with these specs for `batch` rows (other dynamic dims count as 1). */
export function specBytes(specs: readonly TensorSpec[], batch: number): number {
  let n = 0;
  for (const s of specs) {
    let e = 1;
    s.shape.forEach((d, i) => { e *= d >= 0 ? d : i === 0 ? batch : 1; });
    n += e * (s.dtype === 'string' ? 1 : dtypeSize(s.dtype));
  }
  return n;
}

function numericMap(values: ReadonlyMap<string, WorkflowValue>, node: string): TensorMap {
  const out: Record<string, HostTensor> = {};
  for (const [k, v] of values) {
    if (isTextTensor(v)) throw new CleaveError('CLEAVE_E_DTYPE', `node "${node}" received text tensor "${k}"; models take numeric tensors`, { node, tensor: k });
    out[k] = v;
  }
  return out;
}

/**
 * The critical path's expected time: for each model node, the router's best placement with no
 * deadline; transforms and branches count 0. Used to refuse a request that cannot make its deadline.
 */
export function criticalPathMs(w: CompiledWorkflow, runtime: WorkflowRuntime, batch: number): { ms: number; path: string[] } {
  const memo = new Map<string, { ms: number; path: string[] }>();
  const cost = (n: WorkflowNode): number => {
    try {
      return placedCost(n);
    } catch (e) {
      // Not placeable now (no tier up): the run itself falls back or fails with the real reason.
      if (isCleaveError(e) && e.code !== 'CLEAVE_E_DEADLINE') return 0;
      throw e;
    }
  };
  const placedCost = (n: WorkflowNode): number => {
    if (n.type === 'model') {
      const info = w.models(n.params.model, n.params.version);
      return runtime.placeModel({ node: n.id, model: n.params.model, ...(n.params.version !== undefined ? { version: n.params.version } : {}), policy: n.params.placement ?? 'auto', batch, bytesIn: info ? specBytes(info.inputs, batch) : 0 }).expectedMs;
    }
    if (n.type === 'split-model') {
      return runtime.placeSplit({ node: n.id, model: n.params.model, ...(n.params.version !== undefined ? { version: n.params.version } : {}), ...(n.params.cuts ? { cuts: n.params.cuts } : {}), ...(n.params.int8MinAgreement !== undefined ? { int8MinAgreement: n.params.int8MinAgreement } : {}), ...(n.params.cut !== undefined ? { pinned: n.params.cut } : {}), batch }).expectedMs;
    }
    if (n.type === 'loop') {
      // The body at least once.
      return n.params.body.reduce((s, b) => s + cost(w.nodes.get(b)!), 0);
    }
    return 0;
  };
  const longest = (id: string): { ms: number; path: string[] } => {
    const hit = memo.get(id);
    if (hit) return hit;
    const n = w.nodes.get(id)!;
    let best = { ms: 0, path: [] as string[] };
    for (const i of w.inEdges.get(id) ?? []) {
      const src = w.def.edges[i]!.source;
      if (src === INPUT_NODE || w.loopOf.has(src)) continue;
      const r = longest(src);
      if (r.ms > best.ms) best = r;
    }
    const r = { ms: best.ms + cost(n), path: [...best.path, id] };
    memo.set(id, r);
    return r;
  };
  let worst = { ms: 0, path: [] as string[] };
  for (const n of w.def.nodes) {
    if (w.loopOf.has(n.id)) continue;
    const r = longest(n.id);
    if (r.ms > worst.ms) worst = r;
  }
  return worst;
}

/** One run of a compiled workflow. */
export async function runWorkflow(w: CompiledWorkflow, runtime: WorkflowRuntime, inputs: TensorMap, opts: WorkflowRunOptions): Promise<WorkflowResult> {
  return new Run(w, runtime, inputs, opts).start();
}

class Run {
  private readonly status = new Map<string, Status>();
  private readonly values = new Map<string, Values>();
  /** Edge index -> live (true) or dead (false); absent: undecided or void. */
  private readonly edgeLive = new Map<number, boolean>();
  private readonly reports: NodeReport[] = [];
  private readonly abort = new AbortController();
  private readonly startedAt: number;
  private readonly deadlineAt: number;
  private readonly batch: number;
  private running = 0;
  private exitedAt: string | undefined;
  private failed: CleaveError | undefined;
  private finish!: () => void;
  private fail!: (e: CleaveError) => void;
  private degraded = false;

  constructor(
    private readonly w: CompiledWorkflow,
    private readonly rt: WorkflowRuntime,
    inputs: TensorMap,
    private readonly opts: WorkflowRunOptions,
  ) {
    this.startedAt = opts.startedAt ?? rt.now();
    this.deadlineAt = this.startedAt + opts.deadlineMs;
    this.batch = requestRows(inputs);
    this.values.set(INPUT_NODE, new Map(Object.entries(inputs)));
    this.status.set(INPUT_NODE, 'done');
    for (const n of w.def.nodes) this.status.set(n.id, 'pending');
  }

  async start(): Promise<WorkflowResult> {
    const external = this.opts.signal;
    const onAbort = (): void => this.stop(new CleaveError('CLEAVE_E_CANCELLED', `workflow "${this.w.def.name}" was cancelled by the client`, { workflow: this.w.def.name }));
    if (external?.aborted) throw new CleaveError('CLEAVE_E_CANCELLED', `workflow "${this.w.def.name}" was cancelled before it started`, { workflow: this.w.def.name });
    external?.addEventListener('abort', onAbort, { once: true });
    try {
      const path = criticalPathMs(this.w, this.rt, this.batch);
      // Against what is left of the budget: `startedAt` may be when the request arrived, and
      // the time since (body, store, compile) is already spent.
      const left = this.left();
      if (path.ms > left) {
        const spent = left < this.opts.deadlineMs ? ` (${Math.max(0, Math.round(left * 10) / 10)} ms of it left)` : '';
        throw new CleaveError('CLEAVE_E_DEADLINE',
          `workflow "${this.w.def.name}" cannot finish within its ${this.opts.deadlineMs} ms deadline${spent}: its critical path ${path.path.join(' -> ')} is expected to take ${path.ms.toFixed(1)} ms at best`,
          { workflow: this.w.def.name, deadlineMs: this.opts.deadlineMs, leftMs: Math.round(left * 10) / 10, expectedMs: Math.round(path.ms * 10) / 10, path: path.path });
      }
      const done = new Promise<void>((resolve, reject) => {
        this.finish = resolve;
        this.fail = reject;
      });
      this.settle(INPUT_NODE);
      this.checkDone();
      await done;
      return this.result();
    } finally {
      external?.removeEventListener('abort', onAbort);
      if (!this.abort.signal.aborted) this.abort.abort();
    }
  }

  private stop(e: CleaveError): void {
    if (this.failed || this.exitedAt !== undefined) return;
    this.failed = e;
    this.abort.abort();
    this.fail(e);
  }

  private left(): number {
    return this.deadlineAt - this.rt.now();
  }

  private checkDone(): void {
    if (this.failed || this.exitedAt !== undefined) return;
    if (this.running > 0) return;
    for (const n of this.w.def.nodes) {
      if (this.w.loopOf.has(n.id)) continue;
      if (this.status.get(n.id) === 'pending') return;
    }
    this.finish();
  }

  private result(): WorkflowResult {
    const outputs = new Map<string, WorkflowValue>();
    for (const o of this.w.def.outputs) {
      const v = this.ref(o.from) ?? (o.or !== undefined ? this.ref(o.or) : undefined);
      if (v === undefined) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT',
          `workflow "${this.w.def.name}" output "${o.name}" has no value: "${o.from}"${o.or ? ` and "${o.or}"` : ''} did not run for this request; give it an "or" for the paths that skip it`,
          { workflow: this.w.def.name, output: o.name });
      }
      outputs.set(o.name, v);
    }
    for (const n of this.w.def.nodes) {
      if (this.status.get(n.id) === 'running') this.reports.push({ node: n.id, status: 'cancelled' });
    }
    return {
      outputs,
      ...(this.exitedAt !== undefined ? { exitedAt: this.exitedAt } : {}),
      nodes: this.reports,
      degraded: this.degraded,
      totalMs: this.rt.now() - this.startedAt,
    };
  }

  /** `node.output` (or `input.name`) of what has run. */
  private ref(r: string): WorkflowValue | undefined {
    const dot = r.indexOf('.');
    if (dot < 0) return undefined;
    return this.values.get(r.slice(0, dot))?.get(r.slice(dot + 1));
  }

  private lookup(local: ReadonlyMap<string, WorkflowValue>, extra?: Record<string, number>) {
    return (name: string): PredicateValue | undefined => {
      if (extra && name in extra) return extra[name];
      const v = local.get(name) ?? this.ref(name);
      return v === undefined || isTextTensor(v) ? undefined : v;
    };
  }

  /** A node finished (done or skipped): decide its out-edges and wake what they reach. */
  private settle(id: string): void {
    const out = this.w.outEdges.get(id) ?? [];
    const node = this.w.nodes.get(id);
    if (this.status.get(id) === 'done') {
      const values = this.values.get(id)!;
      if (node?.type === 'branch') {
        let chosen: number | undefined;
        for (const i of out) {
          const c = this.w.conditions.get(i);
          if (c && evaluatePredicate(c, this.lookup(values))) { chosen = i; break; }
        }
        if (chosen === undefined) chosen = out.find((i) => this.w.def.edges[i]!.target === node.params.default);
        for (const i of out) this.edgeLive.set(i, i === chosen);
      } else {
        for (const i of out) {
          const c = this.w.conditions.get(i);
          this.edgeLive.set(i, c === undefined || evaluatePredicate(c, this.lookup(values)));
        }
      }
    }
    const targets = new Set(out.map((i) => this.w.def.edges[i]!.target));
    for (const t of targets) {
      if (this.w.loopOf.has(t)) continue; // body nodes run inside their loop
      this.wake(t);
    }
  }

  private wake(id: string): void {
    if (this.status.get(id) !== 'pending' || this.failed || this.exitedAt !== undefined) return;
    const ins = this.w.inEdges.get(id) ?? [];
    let live = false;
    for (const i of ins) {
      const src = this.w.def.edges[i]!.source;
      const s = this.status.get(src);
      if (s === 'pending' || s === 'running') return; // not decided yet
      if (s === 'done') {
        const l = this.edgeLive.get(i);
        if (l === false) return this.skip(id);
        if (l === true) live = true;
      }
    }
    if (!live) return this.skip(id);
    this.launch(id);
  }

  private skip(id: string): void {
    this.status.set(id, 'skipped');
    this.reports.push({ node: id, status: 'skipped' });
    this.opts.onEvent?.({ kind: 'skip', node: id });
    this.settle(id);
    this.checkDone();
  }

  /** The tensors arriving at a node over its live edges, renamed by `map`. */
  private arrivals(id: string, scope?: ReadonlyMap<string, Values>): Values {
    const got: Values = new Map();
    for (const i of this.w.inEdges.get(id) ?? []) {
      const e = this.w.def.edges[i]!;
      const src = scope?.get(e.source) ?? this.values.get(e.source);
      if (!src) continue;
      if (!scope && this.edgeLive.get(i) !== true && e.source !== INPUT_NODE) continue;
      if (scope && e.when !== undefined && !evaluatePredicate(this.w.conditions.get(i)!, this.lookup(src))) continue;
      for (const [name, v] of this.mapped(e, src)) got.set(name, v);
    }
    return got;
  }

  private mapped(e: WorkflowEdge, src: Values): [string, WorkflowValue][] {
    const out: [string, WorkflowValue][] = [];
    for (const [to, from] of Object.entries(e.map ?? {})) {
      const v = src.get(from);
      if (v !== undefined) out.push([to, v]);
    }
    for (const [name, v] of src) if (!e.map || !(name in e.map)) out.push([name, v]);
    return out;
  }

  private launch(id: string): void {
    this.status.set(id, 'running');
    this.running++;
    const node = this.w.nodes.get(id)!;
    this.runNode(node).then(
      () => {
        this.running--;
        this.checkDone();
      },
      (e: unknown) => {
        this.running--;
        this.stop(toCleaveError(e));
      },
    );
  }

  private complete(id: string, outputs: Values, report: Report, extra: Extra = {}): void {
    if (this.failed || this.exitedAt !== undefined) return;
    this.values.set(id, outputs);
    this.status.set(id, 'done');
    const exit = this.w.exits.get(id);
    const exited = exit !== undefined && extra.noExit !== true && evaluatePredicate(exit, this.lookup(extra.exitValues ?? outputs));
    const full: NodeReport = { node: id, status: 'done', ...report, ...(exited ? { exited: true } : {}) };
    this.reports.push(full);
    this.opts.onEvent?.({ kind: 'node', report: full, outputs });
    if (exited) {
      this.opts.onEvent?.({ kind: 'exit', node: id });
      this.exitedAt = id;
      this.abort.abort();
      this.finish();
      return;
    }
    this.settle(id);
  }

  private async runNode(n: WorkflowNode, scope?: Map<string, Values>): Promise<void> {
    const t0 = this.rt.now();
    switch (n.type) {
      case 'transform': {
        const arrived = this.arrivals(n.id, scope);
        const out = runTransform(n.id, n.params, arrived, (r) => this.ref(r), this.w.templates.get(n.id));
        return this.record(n.id, out, { placement: 'inline', ms: this.rt.now() - t0 }, scope);
      }
      case 'branch':
        return this.record(n.id, this.arrivals(n.id, scope), { placement: 'inline', ms: 0 }, scope);
      case 'loop':
        return this.runLoop(n, t0);
      case 'model':
        return this.runModel(n, scope);
      case 'split-model':
        return this.runSplit(n, scope);
    }
  }

  private record(id: string, out: Values, report: Report, scope?: Map<string, Values>, extra: Extra = {}): void {
    if (scope) {
      scope.set(id, out);
      this.values.set(id, out);
      return;
    }
    this.complete(id, out, report, extra);
  }

  private checkTime(what: string): number {
    const left = this.left();
    if (left <= 0) {
      throw new CleaveError('CLEAVE_E_DEADLINE', `workflow "${this.w.def.name}" ran out of its ${this.opts.deadlineMs} ms deadline before ${what}`, { workflow: this.w.def.name, deadlineMs: this.opts.deadlineMs });
    }
    return left;
  }

  private modelInputs(n: Extract<WorkflowNode, { type: 'model' | 'split-model' }>, arrived: Values): TensorMap {
    const info = this.w.models(n.params.model, n.params.version);
    const feeds: Record<string, HostTensor> = {};
    for (const spec of info?.inputs ?? []) {
      const v = arrived.get(spec.name);
      if (v === undefined) {
        throw new CleaveError('CLEAVE_E_NOT_FOUND', `node "${n.id}" (model "${n.params.model}") needs input "${spec.name}", which did not arrive (arrived: ${[...arrived.keys()].join(', ') || 'nothing'})`, { node: n.id, input: spec.name });
      }
      feeds[spec.name] = numericMap(new Map([[spec.name, v]]), n.id)[spec.name]!;
    }
    return feeds;
  }

  private keep(n: ModelNode, outputs: TensorMap): Values {
    const keep = n.params.outputs;
    const m: Values = new Map();
    for (const [k, v] of Object.entries(outputs)) if (!keep || keep.includes(k)) m.set(k, v);
    return m;
  }

  private async runModel(n: ModelNode, scope?: Map<string, Values>): Promise<void> {
    const arrived = this.arrivals(n.id, scope);
    const feeds = this.modelInputs(n, arrived);
    const left = this.checkTime(`node "${n.id}"`);
    const place = this.rt.placeModel({
      node: n.id, model: n.params.model, ...(n.params.version !== undefined ? { version: n.params.version } : {}),
      policy: n.params.placement ?? 'auto', batch: this.batch, bytesIn: Object.values(feeds).reduce((s, t) => s + tensorBytes(t), 0), deadlineMs: left,
    });
    const t0 = this.rt.now();
    if (place.tier === 'edge') {
      const r = await this.rt.runEdge({ model: n.params.model, ...(n.params.version !== undefined ? { version: n.params.version } : {}), inputs: feeds, deadlineMs: left, signal: this.abort.signal });
      return this.record(n.id, this.keep(n, r.outputs), { placement: 'edge', explanation: place.explanation, expectedMs: place.expectedMs, ms: this.rt.now() - t0 }, scope);
    }
    // Cloud: take consecutive cloud successors along (not inside a loop, where each call stands alone).
    const chain = scope ? [{ node: n, explanation: place.explanation, expectedMs: place.expectedMs }] : this.cloudChain(n, place.explanation, place.expectedMs);
    // The first node's launch holds the run open until the whole chain is back.
    for (const c of chain.slice(1)) this.status.set(c.node.id, 'running');
    await this.runCloudChain(chain, feeds, t0, scope);
  }

  /**
   * `first` and the model successors that can go with it in one subgraph: each next node is the
   * only target of the previous node's out-edges, reached without a condition, has all its other
   * inputs already known, no exit of the previous node stands in the way, and the router puts it
   * in the cloud too (its inputs being there already).
   */
  private cloudChain(first: ModelNode, explanation: string, expectedMs: number): ChainLink[] {
    const chain: ChainLink[] = [{ node: first, explanation, expectedMs }];
    let cur = first;
    for (;;) {
      if (this.w.exits.has(cur.id)) break;
      const out = this.w.outEdges.get(cur.id) ?? [];
      const targets = new Set(out.map((i) => this.w.def.edges[i]!.target));
      if (targets.size !== 1 || out.some((i) => this.w.def.edges[i]!.when !== undefined)) break;
      const next = this.w.nodes.get([...targets][0]!);
      if (!next || next.type !== 'model' || this.w.loopOf.has(next.id) || this.status.get(next.id) !== 'pending') break;
      const others = (this.w.inEdges.get(next.id) ?? []).map((i) => this.w.def.edges[i]!).filter((e) => e.source !== cur.id);
      if (others.some((e) => e.when !== undefined || (e.source !== INPUT_NODE && this.status.get(e.source) !== 'done'))) break;
      const info = this.w.models(next.params.model, next.params.version);
      let bytesIn = 0;
      for (const e of others) for (const [, v] of this.mapped(e, this.values.get(e.source) ?? new Map())) if (!isTextTensor(v)) bytesIn += tensorBytes(v);
      let p;
      try {
        p = this.rt.placeModel({ node: next.id, model: next.params.model, ...(next.params.version !== undefined ? { version: next.params.version } : {}), policy: next.params.placement ?? 'auto', batch: this.batch, bytesIn, deadlineMs: this.left() });
      } catch {
        break; // let it be placed (and fail, if it must) on its own
      }
      if (p.tier !== 'cloud' || !info) break;
      chain.push({ node: next, explanation: p.explanation, expectedMs: p.expectedMs });
      cur = next;
    }
    return chain;
  }

  private async runCloudChain(chain: readonly ChainLink[], firstFeeds: TensorMap, t0: number, scope?: Map<string, Values>): Promise<void> {
    const inChain = new Set(chain.map((c) => c.node.id));
    // What is sent up is keyed `<node>:<input>`; what the stages make stays in the cloud's pool as `<node>.<output>`.
    const send: Record<string, HostTensor> = {};
    const stages: CloudStage[] = chain.map((c, i) => {
      const mapping: Record<string, string> = {};
      const sendAs = (name: string, v: WorkflowValue): void => {
        if (isTextTensor(v)) throw new CleaveError('CLEAVE_E_DTYPE', `node "${c.node.id}" received text tensor "${name}"; models take numeric tensors`, { node: c.node.id, tensor: name });
        send[`${c.node.id}:${name}`] = v;
        mapping[name] = `${c.node.id}:${name}`;
      };
      if (i === 0) {
        for (const [k, v] of Object.entries(firstFeeds)) sendAs(k, v);
      } else {
        const need = new Set(this.w.models(c.node.params.model, c.node.params.version)?.inputs.map((s) => s.name));
        for (const ei of this.w.inEdges.get(c.node.id) ?? []) {
          const e = this.w.def.edges[ei]!;
          if (inChain.has(e.source)) {
            const src = this.w.nodes.get(e.source) as ModelNode;
            const outs = this.w.models(src.params.model, src.params.version)?.outputs ?? [];
            // The same renaming as mapped(), on names: the values stay in the cloud.
            for (const [to, from] of Object.entries(e.map ?? {})) if (need.has(to)) mapping[to] = `${e.source}.${from}`;
            for (const o of outs) if (!(e.map && o.name in e.map) && need.has(o.name)) mapping[o.name] = `${e.source}.${o.name}`;
          } else {
            for (const [to, v] of this.mapped(e, this.values.get(e.source) ?? new Map())) if (need.has(to)) sendAs(to, v);
          }
        }
      }
      return { id: c.node.id, model: c.node.params.model, ...(c.node.params.version !== undefined ? { version: c.node.params.version } : {}), inputs: mapping };
    });
    // Intermediates stay in the cloud: only the last stage's outputs, and those of stages read
    // from outside the chain, come back. Per-stage streaming would send every stage's outputs
    // down, so it is used only when every stage's are wanted anyway.
    const wanted: string[] = [];
    let allWanted = true;
    chain.forEach((c, i) => {
      if (i < chain.length - 1 && !this.w.readOutside(c.node.id, inChain)) {
        allWanted = false;
        return;
      }
      const info = this.w.models(c.node.params.model, c.node.params.version)!;
      for (const o of info.outputs) if (!c.node.params.outputs || c.node.params.outputs.includes(o.name)) wanted.push(`${c.node.id}.${o.name}`);
    });
    const subgraph = chain.length > 1 ? chain[0]!.node.id : undefined;
    const streamed = new Set<number>();
    let last = t0;
    const emit = (i: number, outputs: TensorMap): void => {
      if (streamed.has(i) || this.abort.signal.aborted) return;
      streamed.add(i);
      const c = chain[i]!;
      const now = this.rt.now();
      this.record(c.node.id, this.keep(c.node, outputs), { placement: 'cloud', explanation: c.explanation, expectedMs: c.expectedMs, ms: now - (i === 0 ? t0 : last), ...(subgraph ? { subgraph } : {}) }, scope);
      last = now;
    };
    try {
      const left = this.checkTime(`node "${chain[0]!.node.id}"`);
      const r = await this.rt.runCloud({
        name: `${this.w.def.name}/${chain[0]!.node.id}`, stages, inputs: send, outputs: wanted, deadlineMs: left, signal: this.abort.signal,
        ...(this.opts.traceparent ? { traceparent: this.opts.traceparent } : {}),
        ...(allWanted ? { onStage: (i: number, outputs: TensorMap) => emit(i, outputs) } : {}),
      });
      chain.forEach((c, i) => {
        if (streamed.has(i)) return;
        const outs: Record<string, HostTensor> = {};
        for (const [k, v] of Object.entries(r.outputs)) if (k.startsWith(`${c.node.id}.`)) outs[k.slice(c.node.id.length + 1)] = v;
        emit(i, outs);
      });
    } catch (e) {
      const err = toCleaveError(e);
      if (!FALLBACK_CODES.has(err.code) || this.abort.signal.aborted) throw err;
      // The cloud is out: what has not come back runs on the edge, one stage after another.
      for (let i = 0; i < chain.length; i++) {
        if (streamed.has(i)) continue;
        const c = chain[i]!;
        const standIn = this.rt.edgeStandIn(c.node.params.model);
        if (standIn === undefined) throw err;
        const feeds = i === 0 ? firstFeeds : this.modelInputs(c.node, this.arrivals(c.node.id, scope));
        const s = this.rt.now();
        const r = await this.rt.runEdge({ model: standIn, inputs: feeds, deadlineMs: this.checkTime(`node "${c.node.id}" (fallback)`), signal: this.abort.signal });
        this.degraded = true;
        streamed.add(i);
        this.record(c.node.id, this.keep(c.node, r.outputs), { placement: 'edge', explanation: `${c.explanation}; cloud failed (${err.code}), ran ${standIn} on the edge`, ms: this.rt.now() - s, degraded: { reason: err.code, standIn } }, scope);
        if (this.failed || this.exitedAt !== undefined) break;
      }
    }
  }

  private async runSplit(n: Extract<WorkflowNode, { type: 'split-model' }>, scope?: Map<string, Values>): Promise<void> {
    const arrived = this.arrivals(n.id, scope);
    const feeds = this.modelInputs(n, arrived);
    const left = this.checkTime(`node "${n.id}"`);
    const version = n.params.version !== undefined ? { version: n.params.version } : {};
    const place = this.rt.placeSplit({
      node: n.id, model: n.params.model, ...version, ...(n.params.cuts ? { cuts: n.params.cuts } : {}),
      ...(n.params.int8MinAgreement !== undefined ? { int8MinAgreement: n.params.int8MinAgreement } : {}),
      ...(n.params.cut !== undefined ? { pinned: n.params.cut } : {}), batch: this.batch, deadlineMs: left,
    });
    const t0 = this.rt.now();
    const label = place.cut === 'edge' || place.cut === 'cloud' ? place.cut : `cut:${place.cut}${place.int8 ? ' int8' : ''}`;
    const base = { placement: label, explanation: place.explanation, expectedMs: place.expectedMs };
    const toValues = (o: TensorMap): Values => new Map(Object.entries(o));
    const noExit = { noExit: n.params.exit?.head !== undefined };
    if (place.cut === 'edge') {
      const r = await this.rt.runEdge({ model: n.params.model, ...version, inputs: feeds, deadlineMs: left, signal: this.abort.signal });
      return this.record(n.id, toValues(r.outputs), { ...base, ms: this.rt.now() - t0 }, scope, noExit);
    }
    const cloudWhole = async (): Promise<TensorMap> => {
      const stage: CloudStage = { id: n.id, model: n.params.model, ...version, inputs: Object.fromEntries(Object.keys(feeds).map((k) => [k, k])) };
      const r = await this.rt.runCloud({ name: `${this.w.def.name}/${n.id}`, stages: [stage], inputs: feeds, outputs: (this.w.models(n.params.model, n.params.version)?.outputs ?? []).map((o) => `${n.id}.${o.name}`), deadlineMs: this.checkTime(`node "${n.id}"`), signal: this.abort.signal, ...(this.opts.traceparent ? { traceparent: this.opts.traceparent } : {}) });
      return strip(n.id, r.outputs);
    };
    try {
      if (place.cut === 'cloud') return this.record(n.id, toValues(await cloudWhole()), { ...base, ms: this.rt.now() - t0 }, scope, noExit);
      const parts = this.rt.splitParts(n.params.model, n.params.version, place.cut);
      const head = await this.rt.runEdge({ model: parts.head, inputs: feeds, deadlineMs: left, signal: this.abort.signal });
      // Early exit at the cut: the exit head reads the activation the edge already has.
      const exitHead = n.params.exit?.head;
      if (exitHead !== undefined) {
        const headInputs = this.w.models(exitHead)?.inputs ?? [];
        if (headInputs.length > 0 && headInputs.every((s) => head.outputs[s.name] !== undefined)) {
          const ex = await this.rt.runEdge({ model: exitHead, inputs: Object.fromEntries(headInputs.map((s) => [s.name, head.outputs[s.name]!])), deadlineMs: this.checkTime(`the exit head of "${n.id}"`), signal: this.abort.signal });
          const exitValues = toValues(ex.outputs);
          if (evaluatePredicate(this.w.exits.get(n.id)!, this.lookup(exitValues))) {
            return this.record(n.id, exitValues, { ...base, ms: this.rt.now() - t0 }, scope, { exitValues });
          }
        }
      }
      const send: Record<string, HostTensor> = {};
      for (const c of parts.crossing) send[c] = head.outputs[c]!;
      for (const p of parts.passthroughInputs) send[p] = feeds[p]!;
      const tail: CloudStage = { id: n.id, model: parts.tail, ...version, inputs: Object.fromEntries(Object.keys(send).map((k) => [k, k])) };
      const r = await this.rt.runCloud({
        name: `${this.w.def.name}/${n.id}`, stages: [tail], inputs: send, int8Inputs: place.int8,
        outputs: (this.w.models(n.params.model, n.params.version)?.outputs ?? []).map((o) => `${n.id}.${o.name}`),
        deadlineMs: this.checkTime(`the tail of "${n.id}"`), signal: this.abort.signal, ...(this.opts.traceparent ? { traceparent: this.opts.traceparent } : {}),
      });
      // With an exit head, the exit is taken at the cut or not at all.
      return this.record(n.id, toValues(strip(n.id, r.outputs)), { ...base, ms: this.rt.now() - t0 }, scope, { noExit: exitHead !== undefined });
    } catch (e) {
      const err = toCleaveError(e);
      if (!FALLBACK_CODES.has(err.code) || this.abort.signal.aborted) throw err;
      const standIn = this.rt.edgeStandIn(n.params.model);
      if (standIn === undefined) throw err;
      const s = this.rt.now();
      const r = await this.rt.runEdge({ model: standIn, inputs: feeds, deadlineMs: this.checkTime(`node "${n.id}" (fallback)`), signal: this.abort.signal });
      this.degraded = true;
      return this.record(n.id, toValues(r.outputs), { ...base, placement: 'edge', explanation: `${place.explanation}; cloud failed (${err.code}), ran ${standIn} on the edge`, ms: this.rt.now() - s, degraded: { reason: err.code, standIn } }, scope, noExit);
    }
  }

  private async runLoop(n: Extract<WorkflowNode, { type: 'loop' }>, t0: number): Promise<void> {
    const state = this.arrivals(n.id);
    const until = this.w.untils.get(n.id)!;
    const lastId = n.params.body[n.params.body.length - 1]!;
    let iterations = 0;
    let last: Values = new Map();
    while (iterations < n.params.maxIterations) {
      if (this.abort.signal.aborted) return;
      const scope = new Map<string, Values>([[n.id, new Map(state)], [INPUT_NODE, this.values.get(INPUT_NODE)!]]);
      for (const b of n.params.body) await this.runNode(this.w.nodes.get(b)!, scope);
      iterations++;
      last = scope.get(lastId) ?? new Map();
      if (evaluatePredicate(until, this.lookup(last, { iteration: iterations }))) break;
      for (const [k, r] of Object.entries(n.params.carry ?? {})) {
        const { node, out } = splitRef(r);
        const v = scope.get(node)?.get(out);
        if (v !== undefined) state.set(k, v);
      }
    }
    for (const b of n.params.body) {
      this.status.set(b, 'done');
      this.reports.push({ node: b, status: 'done', placement: 'loop' });
    }
    this.complete(n.id, last, { placement: 'inline', ms: this.rt.now() - t0, explanation: `${iterations} iteration(s)` });
  }
}

function strip(id: string, outputs: TensorMap): TensorMap {
  const out: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(outputs)) out[k.startsWith(`${id}.`) ? k.slice(id.length + 1) : k] = v;
  return out;
}
