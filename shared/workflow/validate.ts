/**
 * Graph checks on a workflow document, beyond the shape WorkflowSchema checks: ids, edges, cycles,
 * loops, conditions, models and the tensors flowing along every edge. `findWorkflowProblems`
 * reports every problem it can find, each with the JSON path (or node) it is about, so an author
 * fixes a document in one round rather than one error at a time.
 *
 * Problems are not cascaded: when something upstream is already wrong (an unknown model, a cycle,
 * a mapped output that does not exist), the checks that would depend on it are skipped rather than
 * reported a second time under another name.
 *
 * Rules enforced, besides the shape:
 *
 * - Node ids are unique. An edge's source is a node or `input`; its target is a node (never
 *   `input`); no self-edges; two edges with the same source and target need different `when`.
 * - The edge graph is acyclic. Each strongly connected component is reported once, as one cycle
 *   path `a -> b -> a`: only a loop node may iterate.
 * - Loops: every `body` id names a node other than the loop, at most once; a node belongs to at
 *   most one body; loops do not nest (a body holds no loop node). A body node takes edges only
 *   from its loop node or from a node earlier in the same body (the order the loop runs them);
 *   a body node's edges go only to later nodes of its body: results leave the loop through the
 *   loop node, whose outputs are the last body node's outputs. An edge from the loop node to one
 *   of its body nodes carries what arrives at the loop; an edge to any other node carries the
 *   loop's outputs. Each `carry` key names a tensor that arrives at the loop (so the first
 *   iteration has a value) and each value is `node.output` of a body node, with the same dtype
 *   and a compatible shape. `until` may use `iteration`; no other condition may.
 * - Conditions parse; an unqualified name is an output of the edge's source (of the node itself
 *   for `exit.when`, of the exit head's model when `head` is set, of the loop for `until`); a
 *   dotted `node.output` names a node (or `input`) and one of its outputs.
 * - Every model, split model and exit head is served somewhere; `placement` 'edge' / 'cloud'
 *   needs that tier, 'auto' (the default) any tier.
 * - Tensors: every model input arrives on some incoming edge with the same dtype and a compatible
 *   shape (equal rank; -1 matches anything). A `map` value must be an output of the edge's source;
 *   a `map` key into a model or split-model node must be one of its inputs. Unmapped outputs of
 *   a source that the target does not read are simply not sent (so a conditional edge such as
 *   `small -> big` in a cascade is a control edge), hence no "extra tensor" problem for them.
 * - Branch: every outgoing edge except the one to `default` has a `when`; `default` is a target
 *   of one of the branch's edges.
 * - Workflow outputs: names are unique; `from` and `or` are `node.output` of existing outputs
 *   with the same dtype. Whether `from` always runs (or `or` covers it) is not checked.
 *
 * Node outputs: model -> the model's outputs (or the `outputs` subset); split-model -> the model's
 * outputs; transform softmax -> `output` with its input's spec; argmax -> `output` int64 with
 * the input's shape less its last dim; topk -> `output` int64 and `<output>_scores` float32, each
 * the input's shape with the last dim replaced by k ([N,k] for [N,C] logits); ctc-decode ->
 * `output` int64, the input's shape less its last two dims, plus `length`; template ->
 * `output` string [N]; branch -> whatever arrives, unchanged; loop -> its last body node's outputs.
 * Template expressions (`{{argmax(logits)}}`) are parsed; the names they read are not checked.
 */
import { CleaveError } from '../errors.js';
import type { DType } from '../onnx/dtype.js';
import type { TensorSpec } from '../protocol/frames.js';
import { INPUT_NODE, WorkflowSchema, type WorkflowDefinition, type WorkflowNode } from './definition.js';
import { parsePredicate } from './predicate.js';
import { compileTemplate } from './transforms.js';

/** What the validator needs to know about a model: its contract and the tiers that can run it now. */
export interface ModelInfo {
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  tiers: readonly ('edge' | 'cloud')[];
}

/** Answers a model name (and version, when the node pins one); undefined when nothing serves it. */
export type ModelLookup = (model: string, version?: number) => ModelInfo | undefined;

/** One thing wrong with a document. */
export interface WorkflowProblem {
  /** JSON path or node id the problem is about, e.g. `nodes[2].params.model` or `node "big"`. */
  at: string;
  message: string;
}

/**
 * `node.output` split at the first dot: node ids have no dots, output names may
 * (`big.block3.pool_out` is node "big", output "block3.pool_out"). Empty parts when malformed.
 */
export function splitRef(ref: string): { node: string; out: string } {
  const dot = ref.indexOf('.');
  return dot < 0 ? { node: '', out: '' } : { node: ref.slice(0, dot), out: ref.slice(dot + 1) };
}

/** Checks a document fully and returns EVERY problem found (not just the first), [] when valid. */
export function findWorkflowProblems(doc: unknown, models: ModelLookup): WorkflowProblem[] {
  const parsed = WorkflowSchema.safeParse(doc);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => ({ at: formatPath(issue.path), message: issue.message }));
  }
  return new GraphChecker(parsed.data, models).run();
}

/**
 * The typed definition, or CleaveError('CLEAVE_E_BAD_ARGUMENT') listing every problem as
 * `<at>: <message>` in its message and in `detail.problems`.
 */
export function validateWorkflow(doc: unknown, models: ModelLookup): WorkflowDefinition {
  const problems = findWorkflowProblems(doc, models);
  if (problems.length > 0) throw problemsError(doc, problems);
  return WorkflowSchema.parse(doc);
}

/** The error validateWorkflow and the builder throw: `workflow "x" has N problems: 1) ... 2) ...`. */
export function problemsError(doc: unknown, problems: readonly WorkflowProblem[]): CleaveError {
  const name = typeof doc === 'object' && doc !== null && typeof (doc as { name?: unknown }).name === 'string'
    ? (doc as { name: string }).name
    : '(unnamed)';
  const lines = problems.map((p) => `${p.at}: ${p.message}`);
  const count = `${lines.length} problem${lines.length === 1 ? '' : 's'}`;
  return new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow "${name}" has ${count}: ${lines.map((l, i) => `${i + 1}) ${l}`).join(' ')}`, { problems: lines });
}

/**
 * Topological order of node ids for the executor, ties broken by document order. Loop bodies
 * are excluded (the loop runs them), and so are edges from a loop to its body. Throws
 * CLEAVE_E_BAD_ARGUMENT on a cycle (validateWorkflow reports those first).
 */
export function topologicalOrder(def: WorkflowDefinition): string[] {
  const inBody = new Set<string>();
  for (const n of def.nodes) if (n.type === 'loop') for (const b of n.params.body) inBody.add(b);
  const ids = def.nodes.map((n) => n.id).filter((id) => !inBody.has(id));
  const known = new Set(ids);
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  const next = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of def.edges) {
    if (!known.has(e.source) || !known.has(e.target)) continue;
    next.get(e.source)?.push(e.target);
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  }
  const order: string[] = [];
  const done = new Set<string>();
  // 256 nodes at most: a scan per step keeps document order for ties without a priority queue.
  while (order.length < ids.length) {
    const id = ids.find((i) => !done.has(i) && indegree.get(i) === 0);
    if (id === undefined) {
      const stuck = ids.filter((i) => !done.has(i));
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow "${def.name}" has a cycle among nodes ${stuck.map((s) => `"${s}"`).join(', ')}`, { nodes: stuck });
    }
    done.add(id);
    order.push(id);
    for (const t of next.get(id) ?? []) indegree.set(t, (indegree.get(t) ?? 0) - 1);
  }
  return order;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && IDENT.test(k)) out += out === '' ? k : `.${k}`;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out === '' ? '(document)' : out;
}

/** `map` keys are arbitrary strings: dotted when they are identifiers, bracketed otherwise. */
function keyPath(base: string, key: string): string {
  return IDENT.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.map((d, i) => (d === -1 ? (i === 0 ? 'N' : '?') : String(d))).join(',')}]`;
}

function fmtSpec(s: TensorSpec): string {
  return `${s.dtype} ${fmtShape(s.shape)}`;
}

function fmtNames(names: Iterable<string>): string {
  const list = [...names];
  return list.length === 0 ? 'none' : list.map((n) => `"${n}"`).join(', ');
}

/** -1 matches anything; ranks must be equal. */
function shapesCompatible(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);
}

const FLOAT_DTYPES = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

// ---------------------------------------------------------------------------------------------
// The checker

type Specs = ReadonlyMap<string, TensorSpec>;

interface Arrival {
  /** Name at the target, after `map`. */
  readonly name: string;
  /** Undefined when the source's outputs are unknown or the mapped output does not exist. */
  readonly spec: TensorSpec | undefined;
  readonly edge: number;
  readonly source: string;
}

interface Arrivals {
  /** False when some incoming edge's source has unknown outputs: a missing input is then not reported. */
  readonly complete: boolean;
  readonly tensors: readonly Arrival[];
}

interface ConditionScope {
  /** Outputs an unqualified name may refer to; undefined when unknown (not checked). */
  readonly local: Specs | undefined;
  /** What `local` is, for messages: `node "small"`. */
  readonly localWhat: string;
  readonly allowIteration: boolean;
}

class GraphChecker {
  private readonly problems: WorkflowProblem[] = [];
  /** id -> index of its first node. */
  private readonly index = new Map<string, number>();
  private readonly modelOf = new Map<string, { name: string; info: ModelInfo }>();
  private readonly headOf = new Map<string, ModelInfo>();
  /** body node id -> its loop's id. */
  private readonly loopOf = new Map<string, string>();
  /** Indexes of edges that passed the endpoint and loop checks: the graph the rest works on. */
  private readonly goodEdges: number[] = [];
  private readonly inputs: Specs;
  private readonly outputsMemo = new Map<string, Specs | undefined>();
  private readonly arrivalsMemo = new Map<string, Arrivals>();
  private readonly visiting = new Set<string>();

  constructor(private readonly def: WorkflowDefinition, private readonly models: ModelLookup) {
    this.inputs = new Map(def.inputs.map((s) => [s.name, s]));
  }

  run(): WorkflowProblem[] {
    this.checkInputs();
    this.checkIds();
    this.checkModels();
    this.checkLoops();
    this.checkEdges();
    this.checkCycles();
    this.checkTensors();
    this.checkConditions();
    this.checkBranches();
    this.checkOutputs();
    return this.problems;
  }

  private add(at: string, message: string): void {
    this.problems.push({ at, message });
  }

  private node(id: string): WorkflowNode | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.def.nodes[i];
  }

  private checkInputs(): void {
    const seen = new Set<string>();
    this.def.inputs.forEach((s, i) => {
      if (seen.has(s.name)) this.add(`inputs[${i}].name`, `duplicate workflow input "${s.name}"; input names must be unique`);
      seen.add(s.name);
    });
  }

  private checkIds(): void {
    this.def.nodes.forEach((n, i) => {
      const first = this.index.get(n.id);
      if (first !== undefined) this.add(`nodes[${i}].id`, `duplicate node id "${n.id}" (first used by nodes[${first}]); node ids must be unique`);
      else this.index.set(n.id, i);
    });
  }

  private checkModels(): void {
    this.def.nodes.forEach((n, i) => {
      if (this.index.get(n.id) !== i) return;
      if (n.type !== 'model' && n.type !== 'split-model') return;
      const p = n.params;
      const info = this.models(p.model, p.version);
      const named = p.version === undefined ? `model "${p.model}"` : `model "${p.model}" version ${p.version}`;
      if (info === undefined) {
        this.add(`nodes[${i}].params.model`, `${named} is not served by the edge or any cloud`);
      } else {
        this.modelOf.set(n.id, { name: p.model, info });
        const placement = n.type === 'model' ? (n.params.placement ?? 'auto') : 'auto';
        const tiers = info.tiers.length === 0 ? 'no tier' : `only ${info.tiers.map((t) => `'${t}'`).join(' and ')}`;
        if (placement === 'auto' && info.tiers.length === 0) {
          this.add(`nodes[${i}].params.model`, `${named} is known but no tier can run it now; it needs 'edge' or 'cloud'`);
        } else if (placement !== 'auto' && !info.tiers.includes(placement)) {
          this.add(`nodes[${i}].params.placement`, `placement '${placement}' but ${named} runs on ${tiers}; use a placement it has or 'auto'`);
        }
        if (n.type === 'model' && n.params.outputs !== undefined) {
          const names = new Set(info.outputs.map((o) => o.name));
          n.params.outputs.forEach((o, j) => {
            if (!names.has(o)) this.add(`nodes[${i}].params.outputs[${j}]`, `${named} has no output "${o}" (outputs: ${fmtNames(names)})`);
          });
        }
      }
      const head = p.exit?.head;
      if (head !== undefined) {
        const h = this.models(head);
        if (h === undefined) this.add(`nodes[${i}].params.exit.head`, `exit head model "${head}" is not served by the edge or any cloud`);
        else this.headOf.set(n.id, h);
      }
      // A pinned cut must be one the deploy prepares: all-edge, all-cloud or a listed single-tensor cut.
      if (n.type === 'split-model' && n.params.cut !== undefined) {
        const pin = n.params.cut;
        const listed = (n.params.cuts ?? []).some((c) => c.length === 1 && c[0] === pin);
        if (pin !== 'edge' && pin !== 'cloud' && !listed) {
          this.add(`nodes[${i}].params.cut`, `cut ${JSON.stringify(pin)} is pinned but not listed in cuts; pin 'edge', 'cloud' or a tensor listed as [${JSON.stringify(pin)}] in cuts`);
        }
      }
    });
  }

  private checkLoops(): void {
    this.def.nodes.forEach((n, i) => {
      if (n.type !== 'loop' || this.index.get(n.id) !== i) return;
      const seen = new Set<string>();
      n.params.body.forEach((b, j) => {
        const at = `nodes[${i}].params.body[${j}]`;
        const bn = this.node(b);
        if (bn === undefined) return this.add(at, `loop "${n.id}" body names "${b}", which is not a node id`);
        if (b === n.id) return this.add(at, `loop "${n.id}" lists itself in its body`);
        if (seen.has(b)) return this.add(at, `loop "${n.id}" lists "${b}" twice in its body`);
        seen.add(b);
        if (bn.type === 'loop') return this.add(at, `loop "${n.id}" has loop "${b}" in its body; loops do not nest`);
        const other = this.loopOf.get(b);
        if (other !== undefined) return this.add(at, `node "${b}" is already in the body of loop "${other}"; a node belongs to at most one loop body`);
        this.loopOf.set(b, n.id);
      });
    });
  }

  private bodyPosition(id: string): number {
    const loop = this.node(this.loopOf.get(id) ?? '');
    return loop?.type === 'loop' ? loop.params.body.indexOf(id) : -1;
  }

  private checkEdges(): void {
    const seen = new Map<string, number>();
    this.def.edges.forEach((e, i) => {
      let ok = true;
      if (e.source !== INPUT_NODE && !this.index.has(e.source)) {
        this.add(`edges[${i}].source`, `"${e.source}" is not a node id (nor "${INPUT_NODE}", the workflow's inputs)`);
        ok = false;
      }
      if (e.target === INPUT_NODE) {
        this.add(`edges[${i}].target`, `an edge cannot target "${INPUT_NODE}" (the workflow's inputs); target a node`);
        ok = false;
      } else if (!this.index.has(e.target)) {
        this.add(`edges[${i}].target`, `"${e.target}" is not a node id`);
        ok = false;
      }
      if (ok && e.source === e.target) {
        this.add(`edges[${i}]`, `self-edge on "${e.source}"; only a loop node may iterate: put the node in a loop's body`);
        ok = false;
      }
      const key = JSON.stringify([e.source, e.target, e.when ?? null]);
      const dup = seen.get(key);
      if (dup !== undefined) {
        this.add(`edges[${i}]`, `duplicates edges[${dup}] (${e.source} -> ${e.target}${e.when === undefined ? '' : ` when ${e.when}`}); two edges between the same nodes need different "when"`);
        ok = false;
      } else seen.set(key, i);
      if (ok && !this.checkLoopEdge(i)) ok = false;
      if (ok) this.goodEdges.push(i);
    });
  }

  /** The loop rules on one edge whose endpoints exist. */
  private checkLoopEdge(i: number): boolean {
    const e = this.def.edges[i];
    if (e === undefined) return false;
    const srcLoop = this.loopOf.get(e.source);
    const dstLoop = this.loopOf.get(e.target);
    if (dstLoop !== undefined) {
      if (e.source === dstLoop) return true;
      if (srcLoop !== dstLoop) {
        this.add(`edges[${i}]`, `"${e.target}" is in the body of loop "${dstLoop}" and takes edges only from "${dstLoop}" or an earlier node of its body, not from "${e.source}"; connect "${e.source}" -> "${dstLoop}" instead`);
        return false;
      }
      if (this.bodyPosition(e.source) >= this.bodyPosition(e.target)) {
        this.add(`edges[${i}]`, `edge "${e.source}" -> "${e.target}" goes backwards in the body of loop "${dstLoop}", which runs its body in order; feed the next iteration with "carry" instead`);
        return false;
      }
      return true;
    }
    if (srcLoop !== undefined) {
      this.add(`edges[${i}]`, `"${e.source}" is in the body of loop "${srcLoop}", so its results leave the loop through "${srcLoop}" (the last body node's outputs); connect "${srcLoop}" -> "${e.target}" instead`);
      return false;
    }
    return true;
  }

  private checkCycles(): void {
    const ids = this.def.nodes.map((n) => n.id).filter((id, i) => this.index.get(id) === i);
    const next = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const i of this.goodEdges) {
      const e = this.def.edges[i];
      if (e !== undefined && e.source !== INPUT_NODE) next.get(e.source)?.push(e.target);
    }
    // Tarjan's strongly connected components; every component with more than one node holds a cycle.
    const order = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const components: string[][] = [];
    const visit = (v: string): void => {
      order.set(v, order.size);
      low.set(v, order.get(v) as number);
      stack.push(v);
      onStack.add(v);
      for (const w of next.get(v) ?? []) {
        if (!order.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, order.get(w) as number));
      }
      if (low.get(v) === order.get(v)) {
        const comp: string[] = [];
        let w: string | undefined;
        do {
          w = stack.pop();
          if (w === undefined) break;
          onStack.delete(w);
          comp.push(w);
        } while (w !== v);
        if (comp.length > 1) components.push(comp);
      }
    };
    for (const id of ids) if (!order.has(id)) visit(id);
    const docOrder = (a: string, b: string): number => (this.index.get(a) ?? 0) - (this.index.get(b) ?? 0);
    components.sort((a, b) => docOrder([...a].sort(docOrder)[0] ?? '', [...b].sort(docOrder)[0] ?? ''));
    for (const comp of components) {
      const inComp = new Set(comp);
      const start = [...comp].sort(docOrder)[0] as string;
      // Shortest way back to `start` inside the component (BFS), so the path printed is one cycle.
      const parent = new Map<string, string>();
      const queue = [start];
      let found = false;
      while (queue.length > 0 && !found) {
        const v = queue.shift() as string;
        for (const w of next.get(v) ?? []) {
          if (!inComp.has(w)) continue;
          if (w === start) {
            parent.set(start, v);
            found = true;
            break;
          }
          if (!parent.has(w)) {
            parent.set(w, v);
            queue.push(w);
          }
        }
      }
      const path = [start];
      for (let v = parent.get(start); v !== undefined && v !== start; v = parent.get(v)) path.unshift(v);
      path.unshift(start);
      this.add(`node "${start}"`, `cycle ${path.join(' -> ')}: only a loop node may iterate: put the repeated nodes in a loop's body`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Tensor flow

  /** The outputs of a node; undefined when unknown (an earlier problem, or a cycle). */
  private outputsOf(id: string): Specs | undefined {
    if (id === INPUT_NODE) return this.inputs;
    if (this.outputsMemo.has(id)) return this.outputsMemo.get(id);
    if (this.visiting.has(id)) return undefined;
    this.visiting.add(id);
    const out = this.computeOutputs(id);
    this.visiting.delete(id);
    this.outputsMemo.set(id, out);
    return out;
  }

  private computeOutputs(id: string): Specs | undefined {
    const n = this.node(id);
    if (n === undefined) return undefined;
    switch (n.type) {
      case 'model': {
        const m = this.modelOf.get(id);
        if (m === undefined) return undefined;
        const keep = n.params.outputs;
        const outs = keep === undefined ? m.info.outputs : m.info.outputs.filter((o) => keep.includes(o.name));
        return new Map(outs.map((o) => [o.name, o]));
      }
      case 'split-model': {
        const m = this.modelOf.get(id);
        return m === undefined ? undefined : new Map(m.info.outputs.map((o) => [o.name, o]));
      }
      case 'transform': {
        const p = n.params;
        if (p.op === 'template') return new Map([[p.output, { name: p.output, dtype: 'string', shape: [-1] }]]);
        const input = this.arrivals(id).tensors.find((t) => t.name === p.input)?.spec;
        if (input === undefined) return undefined;
        const lead = input.shape.slice(0, -1);
        switch (p.op) {
          case 'softmax': return new Map([[p.output, { ...input, name: p.output }]]);
          case 'argmax': return new Map([[p.output, { name: p.output, dtype: 'int64', shape: lead }]]);
          case 'ctc-decode': return new Map([[p.output, { name: p.output, dtype: 'int64', shape: [...input.shape.slice(0, -2), p.length] }]]);
          case 'topk': {
            const scores = `${p.output}_scores`;
            return new Map<string, TensorSpec>([
              [p.output, { name: p.output, dtype: 'int64', shape: [...lead, p.k] }],
              [scores, { name: scores, dtype: 'float32', shape: [...lead, p.k] }],
            ]);
          }
        }
        return undefined;
      }
      case 'branch': {
        const a = this.arrivals(id);
        if (!a.complete) return undefined;
        const out = new Map<string, TensorSpec>();
        for (const t of a.tensors) if (t.spec !== undefined && !out.has(t.name)) out.set(t.name, { ...t.spec, name: t.name });
        return out;
      }
      case 'loop': {
        const last = n.params.body[n.params.body.length - 1];
        return last === undefined || this.loopOf.get(last) !== id ? undefined : this.outputsOf(last);
      }
    }
  }

  /** What an edge's source offers it: the loop's arrivals on an edge into its own body. */
  private sourceSpecs(source: string, target: string): Specs | undefined {
    if (source !== INPUT_NODE && this.loopOf.get(target) === source) {
      const a = this.arrivals(source);
      if (!a.complete) return undefined;
      const out = new Map<string, TensorSpec>();
      for (const t of a.tensors) if (t.spec !== undefined && !out.has(t.name)) out.set(t.name, { ...t.spec, name: t.name });
      return out;
    }
    return this.outputsOf(source);
  }

  /** The tensors arriving at a node over its (good) incoming edges, renamed by `map`. */
  private arrivals(id: string): Arrivals {
    const memo = this.arrivalsMemo.get(id);
    if (memo !== undefined) return memo;
    const key = `arrivals:${id}`;
    if (this.visiting.has(key)) return { complete: false, tensors: [] };
    this.visiting.add(key);
    let complete = true;
    const tensors: Arrival[] = [];
    for (const i of this.goodEdges) {
      const e = this.def.edges[i];
      if (e === undefined || e.target !== id) continue;
      const src = this.sourceSpecs(e.source, e.target);
      if (src === undefined) complete = false;
      const map = e.map ?? {};
      const mapped = Object.keys(map);
      for (const k of mapped) {
        const from = map[k] as string;
        tensors.push({ name: k, spec: src?.get(from), edge: i, source: e.source });
      }
      if (src !== undefined) {
        for (const [name, spec] of src) if (!Object.hasOwn(map, name)) tensors.push({ name, spec, edge: i, source: e.source });
      }
    }
    this.visiting.delete(key);
    const out = { complete, tensors };
    this.arrivalsMemo.set(id, out);
    return out;
  }

  private checkTensors(): void {
    // Mapped source outputs must exist, whatever the target.
    for (const i of this.goodEdges) {
      const e = this.def.edges[i];
      if (e?.map === undefined) continue;
      const src = this.sourceSpecs(e.source, e.target);
      if (src === undefined) continue;
      for (const [k, from] of Object.entries(e.map)) {
        if (!src.has(from)) this.add(keyPath(`edges[${i}].map`, k), `"${e.source}" has no output "${from}" to send as "${k}" (it has: ${fmtNames(src.keys())})`);
      }
    }
    this.def.nodes.forEach((n, i) => {
      if (this.index.get(n.id) !== i) return;
      if (n.type === 'model' || n.type === 'split-model') this.checkModelInputs(n.id);
      else if (n.type === 'transform') this.checkTransformInput(n, i);
      else if (n.type === 'loop') this.checkCarry(n, i);
    });
  }

  private checkModelInputs(id: string): void {
    const m = this.modelOf.get(id);
    if (m === undefined) return;
    const a = this.arrivals(id);
    for (const want of m.info.inputs) {
      const got = a.tensors.filter((t) => t.name === want.name);
      if (got.length === 0 && a.complete) {
        this.add(`node "${id}"`, `input "${want.name}" (${fmtSpec(want)}) of model "${m.name}" arrives on no incoming edge; connect a node that outputs "${want.name}" or rename one with "map"`);
      }
      for (const t of got) {
        if (t.spec === undefined) continue;
        if (t.spec.dtype !== want.dtype || !shapesCompatible(t.spec.shape, want.shape)) {
          this.add(`edges[${t.edge}]`, `tensor "${t.name}" from "${t.source}" is ${fmtSpec(t.spec)}, model "${m.name}" of node "${id}" expects ${fmtSpec(want)}`);
        }
      }
    }
    const inputNames = new Set(m.info.inputs.map((s) => s.name));
    for (const i of this.goodEdges) {
      const e = this.def.edges[i];
      if (e?.target !== id || e.map === undefined) continue;
      for (const k of Object.keys(e.map)) {
        if (!inputNames.has(k)) this.add(keyPath(`edges[${i}].map`, k), `"${k}" is not an input of model "${m.name}" of node "${id}" (inputs: ${fmtNames(inputNames)})`);
      }
    }
  }

  private checkTransformInput(n: Extract<WorkflowNode, { type: 'transform' }>, i: number): void {
    const p = n.params;
    if (p.op === 'template') {
      try {
        compileTemplate(p.template);
      } catch (e) {
        this.add(`nodes[${i}].params.template`, `template of "${n.id}": ${(e as Error).message}`);
      }
      return;
    }
    const a = this.arrivals(n.id);
    const got = a.tensors.filter((t) => t.name === p.input);
    const at = `nodes[${i}].params.input`;
    if (got.length === 0) {
      if (a.complete) this.add(at, `tensor "${p.input}" does not arrive at transform "${n.id}" (arriving: ${fmtNames(new Set(a.tensors.map((t) => t.name)))}); connect a node that outputs it or rename one with "map"`);
      return;
    }
    const specs = got.map((t) => t.spec).filter((s): s is TensorSpec => s !== undefined);
    const first = specs[0];
    if (first === undefined) return;
    if (specs.some((s) => s.dtype !== first.dtype || !shapesCompatible(s.shape, first.shape))) {
      this.add(at, `tensor "${p.input}" arrives at transform "${n.id}" with different specs: ${specs.map(fmtSpec).join(' and ')}`);
    }
    if (p.op === 'softmax' && !FLOAT_DTYPES.has(first.dtype)) {
      this.add(at, `softmax needs a floating-point tensor; "${p.input}" is ${fmtSpec(first)}`);
    } else if (p.op !== 'softmax' && (first.dtype === 'string' || first.dtype === 'bool')) {
      this.add(at, `${p.op} needs a numeric tensor; "${p.input}" is ${fmtSpec(first)}`);
    }
    if (first.shape.length === 0) this.add(at, `${p.op} works over the last dim; "${p.input}" is a scalar (${fmtSpec(first)})`);
    if (p.op === 'ctc-decode' && first.shape.length < 2) this.add(at, `ctc-decode needs frame logits [..., T, C]; "${p.input}" is ${fmtSpec(first)}`);
    if (p.op === 'topk') {
      const last = first.shape[first.shape.length - 1];
      if (last !== undefined && last !== -1 && p.k > last) this.add(`nodes[${i}].params.k`, `k = ${p.k} but "${p.input}" has only ${last} entries in its last dim (${fmtSpec(first)})`);
    }
  }

  private checkCarry(n: Extract<WorkflowNode, { type: 'loop' }>, i: number): void {
    const carry = n.params.carry;
    if (carry === undefined) return;
    const a = this.arrivals(n.id);
    for (const [k, ref] of Object.entries(carry)) {
      const at = keyPath(`nodes[${i}].params.carry`, k);
      const entering = a.tensors.find((t) => t.name === k);
      if (entering === undefined && a.complete) {
        this.add(at, `carry "${k}" is not a tensor arriving at loop "${n.id}" (arriving: ${fmtNames(new Set(a.tensors.map((t) => t.name)))}); the first iteration would have no value for it`);
      }
      const { node, out } = splitRef(ref);
      if (node === '' || out === '') {
        this.add(at, `carry "${k}" must be "node.output" of a body node, got "${ref}"`);
        continue;
      }
      if (this.loopOf.get(node) !== n.id) {
        this.add(at, `carry "${k}" reads "${ref}", but "${node}" is not in the body of loop "${n.id}"`);
        continue;
      }
      const outs = this.outputsOf(node);
      const spec = outs?.get(out);
      if (outs !== undefined && spec === undefined) {
        this.add(at, `carry "${k}" reads "${ref}", but "${node}" has no output "${out}" (outputs: ${fmtNames(outs.keys())})`);
      } else if (spec !== undefined && entering?.spec !== undefined && (spec.dtype !== entering.spec.dtype || !shapesCompatible(spec.shape, entering.spec.shape))) {
        this.add(at, `carry "${k}" feeds ${fmtSpec(spec)} from "${ref}" into "${k}", which enters loop "${n.id}" as ${fmtSpec(entering.spec)}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Conditions

  private checkConditions(): void {
    for (const i of this.goodEdges) {
      const e = this.def.edges[i];
      if (e?.when === undefined) continue;
      const what = e.source === INPUT_NODE ? 'the workflow inputs' : `node "${e.source}"`;
      this.checkCondition(`edges[${i}].when`, e.when, { local: this.sourceSpecs(e.source, e.target), localWhat: what, allowIteration: false });
    }
    this.def.nodes.forEach((n, i) => {
      if (this.index.get(n.id) !== i) return;
      if ((n.type === 'model' || n.type === 'split-model') && n.params.exit !== undefined) {
        const ex = n.params.exit;
        const local = ex.head === undefined
          ? (this.modelOf.get(n.id)?.info.outputs)
          : this.headOf.get(n.id)?.outputs;
        const what = ex.head === undefined ? `node "${n.id}"` : `exit head "${ex.head}"`;
        this.checkCondition(`nodes[${i}].params.exit.when`, ex.when, { local: local === undefined ? undefined : new Map(local.map((s) => [s.name, s])), localWhat: what, allowIteration: false });
      } else if (n.type === 'loop') {
        this.checkCondition(`nodes[${i}].params.until`, n.params.until, { local: this.outputsOf(n.id), localWhat: `loop "${n.id}"`, allowIteration: true });
      }
    });
  }

  private checkCondition(at: string, source: string, scope: ConditionScope): void {
    let references: readonly string[];
    try {
      references = parsePredicate(source).references;
    } catch (e) {
      if (!(e instanceof CleaveError)) throw e;
      const line = e.message.split('\n')[0] ?? e.message;
      const column = e.detail['column'];
      const tail = typeof column === 'number' && !line.includes('column') ? ` (column ${column})` : '';
      this.add(at, `condition "${source}" does not parse: ${line}${tail}`);
      return;
    }
    for (const ref of references) {
      if (ref === 'iteration') {
        if (!scope.allowIteration) this.add(at, `"iteration" is defined only in a loop's "until"; this condition is not one`);
        continue;
      }
      const dot = ref.indexOf('.');
      // A local output whose own name has dots (`block3.pool_out`) is read as it is.
      if (dot < 0 || (scope.local?.has(ref) === true && !this.index.has(ref.slice(0, dot)) && ref.slice(0, dot) !== INPUT_NODE)) {
        if (scope.local !== undefined && !scope.local.has(ref)) {
          this.add(at, `"${ref}" is not an output of ${scope.localWhat} (outputs: ${fmtNames(scope.local.keys())}); name another node's output as "node.output"`);
        }
        continue;
      }
      const { node, out } = splitRef(ref);
      if (node === '' || out === '') {
        this.add(at, `reference "${ref}" must be "output" or "node.output"`);
        continue;
      }
      if (node !== INPUT_NODE && !this.index.has(node)) {
        this.add(at, `reference "${ref}" names node "${node}", which does not exist`);
        continue;
      }
      const outs = this.outputsOf(node);
      if (outs !== undefined && !outs.has(out)) this.add(at, `reference "${ref}": node "${node}" has no output "${out}" (outputs: ${fmtNames(outs.keys())})`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Branches and outputs

  private checkBranches(): void {
    this.def.nodes.forEach((n, i) => {
      if (n.type !== 'branch' || this.index.get(n.id) !== i) return;
      const dflt = n.params.default;
      let hasDefault = false;
      for (const j of this.goodEdges) {
        const e = this.def.edges[j];
        if (e?.source !== n.id) continue;
        if (e.target === dflt) hasDefault = true;
        else if (e.when === undefined) {
          this.add(`edges[${j}]`, `edge "${n.id}" -> "${e.target}" leaves branch "${n.id}" without a "when"; every branch edge but the one to its default${dflt === undefined ? ' (none set)' : ` ("${dflt}")`} needs one`);
        }
      }
      if (dflt !== undefined && !hasDefault) {
        this.add(`nodes[${i}].params.default`, `default "${dflt}" of branch "${n.id}" is not the target of any edge from it; add an edge "${n.id}" -> "${dflt}"`);
      }
    });
  }

  private checkOutputs(): void {
    const seen = new Set<string>();
    this.def.outputs.forEach((o, i) => {
      if (seen.has(o.name)) this.add(`outputs[${i}].name`, `duplicate workflow output "${o.name}"; output names must be unique`);
      seen.add(o.name);
      const from = this.checkOutputRef(`outputs[${i}].from`, o.from);
      const alt = o.or === undefined ? undefined : this.checkOutputRef(`outputs[${i}].or`, o.or);
      if (from !== undefined && alt !== undefined && (from.dtype !== alt.dtype || !shapesCompatible(from.shape, alt.shape))) {
        this.add(`outputs[${i}].or`, `output "${o.name}" is ${fmtSpec(from)} from "${o.from}" but ${fmtSpec(alt)} from "${o.or ?? ''}"; both must match`);
      }
    });
  }

  private checkOutputRef(at: string, ref: string): TensorSpec | undefined {
    const { node, out } = splitRef(ref);
    if (node === '' || out === '') {
      this.add(at, `"${ref}" must be "node.output"`);
      return undefined;
    }
    if (node !== INPUT_NODE && !this.index.has(node)) {
      this.add(at, `"${ref}" names node "${node}", which does not exist`);
      return undefined;
    }
    const outs = this.outputsOf(node);
    if (outs === undefined) return undefined;
    const spec = outs.get(out);
    if (spec === undefined) this.add(at, `"${ref}": node "${node}" has no output "${out}" (outputs: ${fmtNames(outs.keys())})`);
    return spec;
  }
}
