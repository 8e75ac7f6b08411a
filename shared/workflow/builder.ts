/**
 * WorkflowBuilder: a workflow document written as TypeScript, the same JSON `POST /v1/workflows`
 * takes.
 *
 *   const wf = new WorkflowBuilder('voice-assistant')
 *     .input('features', 'float32', [-1, 40, 100])
 *     .addNode('asr', { model: 'audio-small', placement: 'edge' })
 *     .addNode('nlu', { model: 'text-base' })
 *     .addNode('reply', { transform: { op: 'template', template: 'You said {{argmax(logits)}}', output: 'text' } })
 *     .connect('input', 'asr')
 *     .connect('asr', 'nlu', { map: { input_ids: 'token_ids' } })
 *     .connect('nlu', 'reply')
 *     .output('text', 'reply.text');
 *
 * Methods chain and throw at once only for what they can see alone (a duplicate node id); the
 * rest waits for build() (the document's shape) or validate() (the whole graph against models).
 */
import { CleaveError } from '../errors.js';
import type { DType } from '../onnx/dtype.js';
import { WorkflowSchema, type ExitSpec, type Placement, type WorkflowDefinition, type WorkflowEdge, type WorkflowNode, type WorkflowOutput } from './definition.js';
import { findWorkflowProblems, problemsError, validateWorkflow, type ModelLookup } from './validate.js';

type ParamsOf<T extends WorkflowNode['type']> = Extract<WorkflowNode, { type: T }>['params'];

/** A `model` node: one model, run on `placement` (default 'auto'). */
export interface ModelNodeSpec {
  model: string;
  version?: number;
  placement?: Placement;
  /** Outputs to keep; default all. */
  outputs?: string[];
  exit?: ExitSpec;
}

/** A `split-model` node: one model the router may cut between edge and cloud. */
export interface SplitModelNodeSpec {
  splitModel: string;
  version?: number;
  cuts?: string[][];
  int8MinAgreement?: number;
  exit?: ExitSpec;
}

/** A `transform` node: softmax, argmax, topk or template. */
export interface TransformNodeSpec {
  transform: ParamsOf<'transform'>;
}

/** A `branch` node: routes by its outgoing edges' `when`. */
export interface BranchNodeSpec {
  branch: ParamsOf<'branch'>;
}

/** A `loop` node: runs `body` until `until` or `maxIterations`. */
export interface LoopNodeSpec {
  loop: ParamsOf<'loop'>;
}

/** What addNode takes: the key present (`model`, `splitModel`, `transform`, `branch`, `loop`) picks the node type. */
export type NodeSpec = ModelNodeSpec | SplitModelNodeSpec | TransformNodeSpec | BranchNodeSpec | LoopNodeSpec;

/** Options of connect(). */
export interface ConnectOptions {
  /** Condition over the source's outputs; the edge carries data only when it holds. */
  when?: string;
  /** Target input name -> source output name; default: the same names. */
  map?: Record<string, string>;
}

/** Where deploy() sends the definition: the cloud's workflow API or a client of it. */
export interface WorkflowDeployTarget {
  deployWorkflow(def: WorkflowDefinition, opts: { replicas?: number }): Promise<{ name: string; version: number }>;
}

/** Options of deploy(). */
export interface DeployOptions {
  /** Deploy under this name instead of the builder's. */
  name?: string;
  /** Replicas to run; default: the target's. */
  replicas?: number;
  /** When given, the whole graph is validated before sending; otherwise only the shape (the server validates the rest). */
  models?: ModelLookup;
}

/** Drops undefined members, so documents compare equal to hand-written JSON (exactOptionalPropertyTypes). */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function toNode(id: string, spec: NodeSpec): WorkflowNode {
  if ('model' in spec) {
    return { id, type: 'model', params: compact({ model: spec.model, version: spec.version, placement: spec.placement, outputs: spec.outputs, exit: spec.exit }) };
  }
  if ('splitModel' in spec) {
    return { id, type: 'split-model', params: compact({ model: spec.splitModel, version: spec.version, cuts: spec.cuts, int8MinAgreement: spec.int8MinAgreement, exit: spec.exit }) };
  }
  if ('transform' in spec) return { id, type: 'transform', params: spec.transform };
  if ('branch' in spec) return { id, type: 'branch', params: spec.branch };
  if ('loop' in spec) return { id, type: 'loop', params: spec.loop };
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `node "${id}": expected one of model, splitModel, transform, branch or loop`, { node: id });
}

/** Builds a workflow document step by step. */
export class WorkflowBuilder {
  private readonly inputs: WorkflowDefinition['inputs'] = [];
  private readonly nodes: WorkflowNode[] = [];
  private readonly edges: WorkflowEdge[] = [];
  private readonly outputs: WorkflowOutput[] = [];
  private readonly ids = new Set<string>();

  constructor(private readonly name: string, private readonly options: { description?: string; deadlineMs?: number } = {}) {}

  /** A workflow input; -1 for a dynamic dim (dim 0 is the batch). */
  input(name: string, dtype: DType, shape: readonly number[]): this {
    this.inputs.push({ name, dtype, shape: [...shape] });
    return this;
  }

  /** A node; throws CLEAVE_E_BAD_ARGUMENT at once when `id` is already used. */
  addNode(id: string, spec: NodeSpec): this {
    if (this.ids.has(id)) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `node id "${id}" is already used in workflow "${this.name}"; node ids must be unique`, { node: id });
    this.nodes.push(toNode(id, spec));
    this.ids.add(id);
    return this;
  }

  /** An edge from `source` (a node id or 'input') to `target`. */
  connect(source: string, target: string, opts: ConnectOptions = {}): this {
    this.edges.push(compact({ source, target, when: opts.when, map: opts.map === undefined ? undefined : { ...opts.map } }));
    return this;
  }

  /** A workflow output read from `from` (`node.output`), or from `or` when that node did not run. */
  output(name: string, from: string, or?: string): this {
    this.outputs.push(compact({ name, from, or }));
    return this;
  }

  /** The document as built, unchecked. */
  toJSON(): unknown {
    return compact({
      name: this.name,
      description: this.options.description,
      // JSON copies (the parts are plain JSON): later builder calls do not change a returned document.
      inputs: copy(this.inputs),
      outputs: copy(this.outputs),
      nodes: copy(this.nodes),
      edges: copy(this.edges),
      deadlineMs: this.options.deadlineMs,
    });
  }

  /** The document, checked against the schema only; CLEAVE_E_BAD_ARGUMENT lists every shape problem. */
  build(): WorkflowDefinition {
    return this.buildFrom(this.toJSON());
  }

  /** The document, fully validated against `models` (validateWorkflow). */
  validate(models: ModelLookup): WorkflowDefinition {
    return validateWorkflow(this.toJSON(), models);
  }

  /** Checks the document (see DeployOptions.models) and sends it to `target`. */
  async deploy(opts: DeployOptions, target: WorkflowDeployTarget): Promise<{ name: string; version: number }> {
    const doc = opts.name === undefined ? this.toJSON() : { ...(this.toJSON() as object), name: opts.name };
    const def = opts.models === undefined ? this.buildFrom(doc) : validateWorkflow(doc, opts.models);
    return target.deployWorkflow(def, opts.replicas === undefined ? {} : { replicas: opts.replicas });
  }

  private buildFrom(doc: unknown): WorkflowDefinition {
    const parsed = WorkflowSchema.safeParse(doc);
    if (!parsed.success) throw problemsError(doc, findWorkflowProblems(doc, () => undefined));
    return parsed.data;
  }
}
