/**
 * A workflow as users write it: JSON of the shape `{ name, inputs, outputs, nodes, edges }`, the
 * same document `POST /v1/workflows` takes, `WorkflowBuilder` produces and the dashboard edits.
 * This file is the contract (types and the zod schema for the document's shape); graph checks
 * that need more than the shape (unknown ids, cycles, tensor mismatches, models missing on every
 * tier) are in validate.ts.
 *
 * Data flows along edges: a node's inputs are its incoming edges' tensors, renamed by `map`
 * (target input name -> source output name; default: same name). The pseudo-node `input` is the
 * workflow's inputs. Node ids are identifiers, so conditions can name them (`cnn.logits`).
 *
 *   { "name": "image-cascade",
 *     "inputs": [{ "name": "image", "dtype": "float32", "shape": [-1, 3, 64, 64] }],
 *     "nodes": [
 *       { "id": "small", "type": "model", "params": { "model": "cnn-small", "placement": "edge",
 *         "exit": { "when": "max(softmax(logits)) >= 0.9" } } },
 *       { "id": "big", "type": "model", "params": { "model": "cnn-large", "placement": "cloud" } } ],
 *     "edges": [ { "source": "input", "target": "small" }, { "source": "input", "target": "big" },
 *                { "source": "small", "target": "big", "when": "max(softmax(logits)) < 0.9" } ],
 *     "outputs": [ { "name": "logits", "from": "big.logits", "or": "small.logits" } ] }
 */
import { z } from 'zod';
import { DTYPES, type DType } from '../onnx/dtype.js';

/** Where a stage runs: fixed, or chosen per request by the router. */
export type Placement = 'edge' | 'cloud' | 'auto';
export const PLACEMENTS: readonly Placement[] = ['edge', 'cloud', 'auto'];

/** Node ids: identifiers (conditions name them), not `input` (the workflow's inputs). */
export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** The pseudo-node whose outputs are the workflow's inputs. */
export const INPUT_NODE = 'input';
/** Workflow names: lower-case, digits and dashes, as in URLs (`/v1/workflows/:name`). */
export const WORKFLOW_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Limits on a definition, so a hostile document costs little to refuse. */
export const WORKFLOW_LIMITS = Object.freeze({ maxNodes: 256, maxEdges: 1024, maxInputs: 64, maxOutputs: 64, maxLoopIterations: 1000 });

const tensorName = z.string().min(1).max(256);
const modelName = z.string().min(1).max(256);
const condition = z.string().min(1).max(1024);

const tensorSpec = z.strictObject({
  name: tensorName,
  dtype: z.enum(DTYPES as unknown as [DType, ...DType[]]),
  /** -1 for a dynamic dim (dim 0 is the batch). */
  shape: z.array(z.number().int().min(-1)).max(8),
});

/**
 * Early exit: when `when` (a condition over this node's outputs, shared/workflow/predicate.ts)
 * holds, the request is answered from this node and nothing downstream runs. For a split model,
 * `head` names an exit head (a model run on the cut activation, e.g. fitted by least squares
 * on the final logits) whose outputs the condition reads instead.
 */
const exitSpec = z.strictObject({
  when: condition,
  head: modelName.optional(),
});

const modelParams = z.strictObject({
  model: modelName,
  version: z.number().int().min(1).optional(),
  /** Default 'auto'. */
  placement: z.enum(['edge', 'cloud', 'auto']).optional(),
  /** Outputs to keep; default all. */
  outputs: z.array(tensorName).max(64).optional(),
  exit: exitSpec.optional(),
});

const splitModelParams = z.strictObject({
  model: modelName,
  version: z.number().int().min(1).optional(),
  /** Cuts the router may choose from (tensor names from `cleave split --list`), besides all-edge and all-cloud; default every listed cut. */
  cuts: z.array(z.array(tensorName).min(1).max(16)).max(64).optional(),
  /** Allow the activation to travel int8-encoded when it is faster, down to this top-1 agreement (0..1); default: never. */
  int8MinAgreement: z.number().min(0).max(1).optional(),
  /**
   * Pins the cut: 'edge', 'cloud' or a tensor listed in `cuts`. The router still prices it (the
   * plan and the deadline check see its cost) but never picks another; default: the router chooses.
   */
  cut: tensorName.optional(),
  exit: exitSpec.optional(),
});

/** Small tensor programs that run wherever the data is (no model): postprocessing and glue. */
const transformParams = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('softmax'), input: tensorName, output: tensorName }),
  z.strictObject({ op: z.literal('argmax'), input: tensorName, output: tensorName }),
  z.strictObject({ op: z.literal('topk'), input: tensorName, k: z.number().int().min(1).max(1000), output: tensorName, labels: z.array(z.string().max(256)).max(100_000).optional() }),
  /**
   * Greedy CTC decoding: argmax over the last dim of [N, T, C] frame logits, repeats collapsed,
   * `blank` (default 0) dropped, then padded with `pad` (default 0) or cut to `length` ids:
   * int64 [N, length]. Glue from a speech model's frames to a text model's token ids.
   */
  z.strictObject({ op: z.literal('ctc-decode'), input: tensorName, output: tensorName, length: z.number().int().min(1).max(65_536), blank: z.number().int().min(0).optional(), pad: z.number().int().min(0).optional() }),
  /** Text from a template: `{{argmax(logits)}}`, `{{max(softmax(logits))}}`, each `{{...}}` an expression of the condition language; `{{label(expr)}}` renders `labels[expr]`. */
  z.strictObject({ op: z.literal('template'), template: z.string().max(4096), output: tensorName, labels: z.array(z.string().max(256)).max(100_000).optional() }),
]);

/** A branch routes by its outgoing edges' `when`: the first edge whose condition holds is taken (`default` when none does). */
const branchParams = z.strictObject({ default: z.string().regex(NODE_ID_PATTERN).optional() });

/** Runs `body` (node ids, in order) repeatedly, feeding each iteration's outputs back by `carry`, until `until` holds or `maxIterations`. */
const loopParams = z.strictObject({
  body: z.array(z.string().regex(NODE_ID_PATTERN)).min(1).max(64),
  until: condition,
  maxIterations: z.number().int().min(1).max(WORKFLOW_LIMITS.maxLoopIterations),
  /** Next iteration's input name -> this iteration's output reference (`node.output`). */
  carry: z.record(tensorName, z.string().max(256)).optional(),
});

const nodeId = z.string().regex(NODE_ID_PATTERN, 'must be an identifier: a letter or _, then letters, digits or _ (at most 64)')
  .refine((s) => s !== INPUT_NODE, `"${INPUT_NODE}" is reserved for the workflow's inputs`);

const node = z.discriminatedUnion('type', [
  z.strictObject({ id: nodeId, type: z.literal('model'), params: modelParams }),
  z.strictObject({ id: nodeId, type: z.literal('split-model'), params: splitModelParams }),
  z.strictObject({ id: nodeId, type: z.literal('transform'), params: transformParams }),
  z.strictObject({ id: nodeId, type: z.literal('branch'), params: branchParams }),
  z.strictObject({ id: nodeId, type: z.literal('loop'), params: loopParams }),
]);

const edge = z.strictObject({
  source: z.string().max(64),
  target: z.string().max(64),
  /** Condition over the source's outputs; the edge carries data only when it holds. */
  when: condition.optional(),
  /** Target input name -> source output name; default: the same names. */
  map: z.record(tensorName, tensorName).optional(),
});

const output = z.strictObject({
  name: tensorName,
  /** `node.output` */
  from: z.string().max(256),
  /** Where the value comes from when `from`'s node did not run (an early exit, an untaken branch). */
  or: z.string().max(256).optional(),
});

/** The zod schema of a workflow document's shape. */
export const WorkflowSchema = z.strictObject({
  name: z.string().regex(WORKFLOW_NAME_PATTERN, 'must be lower-case letters, digits and dashes (at most 63), starting with a letter or digit'),
  description: z.string().max(4096).optional(),
  inputs: z.array(tensorSpec).min(1).max(WORKFLOW_LIMITS.maxInputs),
  outputs: z.array(output).min(1).max(WORKFLOW_LIMITS.maxOutputs),
  nodes: z.array(node).min(1).max(WORKFLOW_LIMITS.maxNodes),
  edges: z.array(edge).max(WORKFLOW_LIMITS.maxEdges),
  /** Budget of a request that states none, ms. */
  deadlineMs: z.number().positive().max(3_600_000).optional(),
});

export type WorkflowDefinition = z.infer<typeof WorkflowSchema>;
export type WorkflowNode = WorkflowDefinition['nodes'][number];
export type WorkflowEdge = WorkflowDefinition['edges'][number];
export type WorkflowOutput = WorkflowDefinition['outputs'][number];
export type NodeType = WorkflowNode['type'];
export type ExitSpec = z.infer<typeof exitSpec>;
