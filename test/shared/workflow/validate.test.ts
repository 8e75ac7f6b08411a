import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { ZOO_MODELS } from '../../../shared/zoo/catalogue.js';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import { findWorkflowProblems, topologicalOrder, validateWorkflow, type ModelInfo, type ModelLookup, type WorkflowProblem } from '../../../shared/workflow/validate.js';

/** The zoo as the validator sees it: 'N' dims dynamic; the cloud serves every model, the edge its own. */
const zoo: ModelLookup = (model) => {
  const m = ZOO_MODELS.find((z) => z.name === model);
  if (m === undefined) return undefined;
  const spec = (s: (typeof m.inputs)[number]) => ({ name: s.name, dtype: s.dtype, shape: s.shape.map((d) => (typeof d === 'number' ? d : -1)) });
  const info: ModelInfo = { inputs: m.inputs.map(spec), outputs: m.outputs.map(spec), tiers: m.tier === 'edge' ? ['edge', 'cloud'] : ['cloud'] };
  return info;
};

const textCascade = {
  name: 'text-cascade',
  inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }],
  nodes: [
    { id: 'tiny', type: 'model', params: { model: 'text-tiny', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0.9' } } },
    { id: 'base', type: 'model', params: { model: 'text-base', placement: 'cloud' } },
  ],
  edges: [
    { source: 'input', target: 'tiny' },
    { source: 'input', target: 'base' },
    { source: 'tiny', target: 'base', when: 'max(softmax(logits)) < 0.9' },
  ],
  outputs: [{ name: 'logits', from: 'base.logits', or: 'tiny.logits' }],
};

const imageCascade = {
  name: 'image-cascade',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  nodes: [
    { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0.9' } } },
    { id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
    { id: 'probs', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'probs' } },
    { id: 'top', type: 'transform', params: { op: 'topk', input: 'probs', k: 3, output: 'top' } },
  ],
  edges: [
    { source: 'input', target: 'small' },
    { source: 'input', target: 'big' },
    { source: 'small', target: 'big', when: 'max(softmax(logits)) < 0.9' },
    { source: 'big', target: 'probs' },
    { source: 'probs', target: 'top' },
  ],
  outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }, { name: 'top', from: 'top.top' }, { name: 'scores', from: 'top.top_scores' }],
};

/** A deep copy to edit: tests change one thing and expect exactly the problems that causes. */
function edit<T>(doc: T, change: (d: any) => void): T {
  const copy = JSON.parse(JSON.stringify(doc)) as T;
  change(copy);
  return copy;
}

function problems(doc: unknown): WorkflowProblem[] {
  return findWorkflowProblems(doc, zoo);
}

describe('findWorkflowProblems: valid documents', () => {
  it('accepts the text cascade (text-tiny on the edge with an exit, text-base in the cloud)', () => {
    expect(problems(textCascade)).toEqual([]);
  });

  it('accepts the image cascade with softmax and topk transforms', () => {
    expect(problems(imageCascade)).toEqual([]);
  });

  it('accepts a loop whose until uses iteration and whose carry feeds its input back', () => {
    const doc = {
      name: 'refine',
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 10] }],
      nodes: [
        { id: 'again', type: 'loop', params: { body: ['step'], until: 'max(x) > 0.99 or iteration >= 3', maxIterations: 5, carry: { x: 'step.x' } } },
        { id: 'step', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
        { id: 'pick', type: 'transform', params: { op: 'argmax', input: 'x', output: 'label' } },
      ],
      edges: [{ source: 'input', target: 'again' }, { source: 'again', target: 'step' }, { source: 'again', target: 'pick' }],
      outputs: [{ name: 'label', from: 'pick.label' }, { name: 'x', from: 'again.x' }],
    };
    expect(problems(doc)).toEqual([]);
    expect(topologicalOrder(validateWorkflow(doc, zoo))).toEqual(['again', 'pick']);
  });

  it('accepts a branch with conditional edges and a default, and map renames', () => {
    const doc = {
      name: 'branchy',
      inputs: [{ name: 'ids', dtype: 'int64', shape: [-1, 32] }],
      nodes: [
        { id: 'route', type: 'branch', params: { default: 'base' } },
        { id: 'tiny', type: 'model', params: { model: 'text-tiny' } },
        { id: 'base', type: 'model', params: { model: 'text-base' } },
      ],
      edges: [
        { source: 'input', target: 'route' },
        { source: 'route', target: 'tiny', when: 'len(ids) < 64', map: { input_ids: 'ids' } },
        { source: 'route', target: 'base', map: { input_ids: 'ids' } },
      ],
      outputs: [{ name: 'logits', from: 'base.logits', or: 'tiny.logits' }],
    };
    expect(problems(doc)).toEqual([]);
  });
});

describe('findWorkflowProblems: schema', () => {
  it('reports zod issues with their JSON path', () => {
    const doc = edit(textCascade, (d) => { delete d.nodes[1].params.model; });
    const found = problems(doc);
    expect(found).toHaveLength(1);
    expect(found[0]?.at).toBe('nodes[1].params.model');
    expect(found[0]?.message).toMatch(/expected string, received undefined/);
  });

  it('reports every shape problem, not the first', () => {
    const doc = edit(textCascade, (d) => { d.name = 'Bad Name'; d.inputs[0].dtype = 'float128'; d.extra = 1; });
    const ats = problems(doc).map((p) => p.at);
    expect(ats).toEqual(expect.arrayContaining(['name', 'inputs[0].dtype', '(document)']));
  });
});

describe('findWorkflowProblems: ids and edges', () => {
  it('reports a duplicate node id at the second node', () => {
    const doc = edit(textCascade, (d) => { d.nodes[1].id = 'tiny'; });
    expect(problems(doc)).toContainEqual({ at: 'nodes[1].id', message: expect.stringContaining('duplicate node id "tiny" (first used by nodes[0])') });
  });

  it('reports unknown edge endpoints, an edge into input, self-edges and duplicate edges', () => {
    const doc = edit(textCascade, (d) => {
      d.edges.push({ source: 'nobody', target: 'base' });
      d.edges.push({ source: 'tiny', target: 'input' });
      d.edges.push({ source: 'base', target: 'base' });
      d.edges.push({ source: 'input', target: 'tiny' });
      d.edges.push({ source: 'tiny', target: 'base', when: 'max(logits) > 3' }); // differs by when: fine
    });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['edges[3].source', 'edges[4].target', 'edges[5]', 'edges[6]']);
    expect(found[0]?.message).toContain('"nobody" is not a node id');
    expect(found[1]?.message).toContain('cannot target "input"');
    expect(found[2]?.message).toContain('self-edge on "base"');
    expect(found[3]?.message).toContain('duplicates edges[0]');
  });

  it('reports a cycle once, with its path', () => {
    const doc = {
      name: 'loopy',
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 10] }],
      nodes: [
        { id: 'a', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
        { id: 'b', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
        { id: 'c', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
      ],
      edges: [{ source: 'input', target: 'a' }, { source: 'a', target: 'b' }, { source: 'b', target: 'c' }, { source: 'c', target: 'a' }],
      outputs: [{ name: 'x', from: 'c.x' }],
    };
    const cycles = problems(doc).filter((p) => p.message.includes('cycle'));
    expect(cycles).toEqual([{ at: 'node "a"', message: "cycle a -> b -> c -> a: only a loop node may iterate: put the repeated nodes in a loop's body" }]);
    expect(() => topologicalOrder(doc as WorkflowDefinition)).toThrow(CleaveError);
  });
});

describe('findWorkflowProblems: models and placement', () => {
  it('reports a model no tier serves', () => {
    const doc = edit(textCascade, (d) => { d.nodes[1].params.model = 'text-huge'; });
    expect(problems(doc)).toEqual([{ at: 'nodes[1].params.model', message: 'model "text-huge" is not served by the edge or any cloud' }]);
  });

  it('reports an edge placement for a cloud-only model, naming its tiers', () => {
    const doc = edit(textCascade, (d) => { d.nodes[1].params.placement = 'edge'; });
    expect(problems(doc)).toEqual([{ at: 'nodes[1].params.placement', message: "placement 'edge' but model \"text-base\" runs on only 'cloud'; use a placement it has or 'auto'" }]);
  });

  it('reports auto placement for a model no tier can run now', () => {
    const none: ModelLookup = (m, v) => { const i = zoo(m, v); return i && { ...i, tiers: [] }; };
    const doc = edit(textCascade, (d) => { delete d.nodes[1].params.placement; });
    expect(findWorkflowProblems(doc, none).map((p) => p.at)).toContain('nodes[1].params.model');
  });

  it('reports an unknown exit head and an unknown kept output', () => {
    const doc = edit(textCascade, (d) => { d.nodes[0].params.exit.head = 'nope'; d.nodes[1].params.outputs = ['logits', 'probs']; });
    const ats = problems(doc).map((p) => p.at);
    expect(ats).toEqual(['nodes[0].params.exit.head', 'nodes[1].params.outputs[1]']);
  });
});

describe('findWorkflowProblems: tensors', () => {
  it('reports a model input that arrives on no edge', () => {
    const doc = edit(textCascade, (d) => { d.edges.splice(1, 1); });
    expect(problems(doc)).toEqual([{ at: 'node "base"', message: expect.stringContaining('input "input_ids" (int64 [N,32]) of model "text-base" arrives on no incoming edge') }]);
  });

  it('reports a dtype or shape mismatch on the edge that carries it', () => {
    const doc = edit(imageCascade, (d) => { d.inputs[0].shape = [-1, 3, 32, 32]; });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['edges[0]', 'edges[1]']);
    expect(found[0]?.message).toBe('tensor "image" from "input" is float32 [N,3,32,32], model "cnn-small" of node "small" expects float32 [N,3,64,64]');
  });

  it('reports a mapped output the source lacks and a mapped name the model does not take', () => {
    const doc = edit(textCascade, (d) => { d.edges[1].map = { input_ids: 'token_ids', mask: 'input_ids' }; });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['edges[1].map.input_ids', 'edges[1].map.mask']);
    expect(found[0]?.message).toContain('"input" has no output "token_ids"');
    expect(found[1]?.message).toContain('"mask" is not an input of model "text-base"');
  });

  it('infers transform outputs: argmax drops the last dim, topk k beyond the dim is a problem', () => {
    const doc = edit(imageCascade, (d) => {
      d.nodes[3].params.k = 11;
      d.nodes.push({ id: 'cls', type: 'transform', params: { op: 'argmax', input: 'probs', output: 'cls' } });
      d.edges.push({ source: 'probs', target: 'cls' });
      d.nodes.push({ id: 'again', type: 'model', params: { model: 'text-base' } });
      d.edges.push({ source: 'cls', target: 'again', map: { input_ids: 'cls' } });
    });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['nodes[3].params.k', 'edges[6]']);
    expect(found[1]?.message).toContain('tensor "input_ids" from "cls" is int64 [N], model "text-base" of node "again" expects int64 [N,32]');
  });

  it('reports a transform input that does not arrive', () => {
    const doc = edit(imageCascade, (d) => { d.nodes[2].params.input = 'scores'; });
    expect(problems(doc)).toContainEqual({ at: 'nodes[2].params.input', message: expect.stringContaining('tensor "scores" does not arrive at transform "probs" (arriving: "logits")') });
  });
});

describe('findWorkflowProblems: conditions', () => {
  it('reports a parse error with its column', () => {
    const doc = edit(textCascade, (d) => { d.edges[2].when = 'max(softmax(logits) < 0.9'; });
    const found = problems(doc);
    expect(found).toHaveLength(1);
    expect(found[0]?.at).toBe('edges[2].when');
    expect(found[0]?.message).toMatch(/^condition "max\(softmax\(logits\) < 0\.9" does not parse: expected "\)" at column 21, found "<"$/);
  });

  it('resolves unqualified names against the edge source and dotted names against nodes', () => {
    const doc = edit(textCascade, (d) => {
      d.edges[2].when = 'max(probs) < 0.9 and ghost.logits[0] > 1 and base.scores[0] > 0';
      d.nodes[0].params.exit.when = 'max(tiny.logits) > 0 and top2margin(logit) > 1';
    });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['edges[2].when', 'edges[2].when', 'edges[2].when', 'nodes[0].params.exit.when']);
    expect(found[0]?.message).toContain('"probs" is not an output of node "tiny" (outputs: "logits")');
    expect(found[1]?.message).toContain('names node "ghost", which does not exist');
    expect(found[2]?.message).toContain('node "base" has no output "scores"');
    expect(found[3]?.message).toContain('"logit" is not an output of node "tiny"');
  });

  it('reads an exit condition against its head model when head is set', () => {
    const doc = edit(textCascade, (d) => { d.nodes[0].params.exit = { when: 'max(token_logits) > 1', head: 'audio-small' }; });
    expect(problems(doc)).toEqual([]);
  });

  it('refuses iteration outside a loop until', () => {
    const doc = edit(textCascade, (d) => { d.edges[2].when = 'iteration < 2'; });
    expect(problems(doc)).toEqual([{ at: 'edges[2].when', message: expect.stringContaining('"iteration" is defined only in a loop\'s "until"') }]);
  });
});

describe('findWorkflowProblems: loops', () => {
  const base = {
    name: 'looped',
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 10] }],
    nodes: [
      { id: 'again', type: 'loop', params: { body: ['s1', 's2'], until: 'iteration >= 2', maxIterations: 4 } },
      { id: 's1', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
      { id: 's2', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
      { id: 'after', type: 'transform', params: { op: 'argmax', input: 'x', output: 'label' } },
    ],
    edges: [
      { source: 'input', target: 'again' },
      { source: 'again', target: 's1' },
      { source: 's1', target: 's2' },
      { source: 'again', target: 'after' },
    ],
    outputs: [{ name: 'label', from: 'after.label' }],
  };

  it('accepts the base loop', () => {
    expect(problems(base)).toEqual([]);
    expect(topologicalOrder(base as WorkflowDefinition)).toEqual(['again', 'after']);
  });

  it('reports body ids that are unknown, repeated, nested loops or in two bodies', () => {
    const doc = edit(base, (d) => {
      d.nodes[0].params.body = ['s1', 'ghost', 's1', 's2'];
      d.nodes.push({ id: 'other', type: 'loop', params: { body: ['s2', 'again'], until: 'true', maxIterations: 1 } });
    });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['nodes[0].params.body[1]', 'nodes[0].params.body[2]', 'nodes[4].params.body[0]', 'nodes[4].params.body[1]']);
    expect(found[2]?.message).toContain('already in the body of loop "again"');
    expect(found[3]?.message).toContain('loops do not nest');
  });

  it('reports edges into a body from outside, out of a body, and backwards in a body', () => {
    const doc = edit(base, (d) => {
      d.edges.push({ source: 'input', target: 's2' });
      d.edges.push({ source: 's2', target: 'after' });
      d.edges.push({ source: 's2', target: 's1', when: 'true' });
    });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['edges[4]', 'edges[5]', 'edges[6]']);
    expect(found[0]?.message).toContain('takes edges only from "again" or an earlier node of its body');
    expect(found[1]?.message).toContain('leave the loop through "again"');
    expect(found[2]?.message).toContain('goes backwards');
  });

  it('checks until references and carry entries', () => {
    const doc = edit(base, (d) => {
      d.nodes[0].params.until = 'max(y) > 0.5';
      d.nodes[0].params.carry = { x: 's2.x', z: 's2.x', w: 'after.label', v: 's2.nope' };
    });
    const found = problems(doc);
    // z, w and v do not arrive at the loop; w and v also read what a carry cannot.
    expect(found.map((p) => p.at)).toEqual([
      'nodes[0].params.carry.z', 'nodes[0].params.carry.w', 'nodes[0].params.carry.w',
      'nodes[0].params.carry.v', 'nodes[0].params.carry.v', 'nodes[0].params.until',
    ]);
    expect(found[0]?.message).toContain('carry "z" is not a tensor arriving at loop "again" (arriving: "x"); the first iteration would have no value');
    expect(found[2]?.message).toContain('"after" is not in the body of loop "again"');
    expect(found[4]?.message).toContain('"s2" has no output "nope"');
    expect(found[5]?.message).toContain('"y" is not an output of loop "again"');
  });
});

describe('findWorkflowProblems: branches and outputs', () => {
  it('reports a branch edge without when and a default that is not a target', () => {
    const doc = {
      name: 'br',
      inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }],
      nodes: [
        { id: 'route', type: 'branch', params: { default: 'nowhere' } },
        { id: 'tiny', type: 'model', params: { model: 'text-tiny' } },
      ],
      edges: [{ source: 'input', target: 'route' }, { source: 'route', target: 'tiny' }],
      outputs: [{ name: 'logits', from: 'tiny.logits' }],
    };
    expect(problems(doc).map((p) => p.at)).toEqual(['edges[1]', 'nodes[0].params.default']);
  });

  it('reports outputs that name missing nodes or outputs, mismatched or, and duplicates', () => {
    const doc = edit(textCascade, (d) => {
      d.outputs.push({ name: 'logits', from: 'ghost.logits' });
      d.outputs.push({ name: 'p', from: 'base.probs' });
      d.outputs.push({ name: 'q', from: 'baselogits' });
      d.outputs.push({ name: 'r', from: 'base.logits', or: 'input.input_ids' });
    });
    const found = problems(doc);
    expect(found.map((p) => p.at)).toEqual(['outputs[1].name', 'outputs[1].from', 'outputs[2].from', 'outputs[3].from', 'outputs[4].or']);
  });
});

describe('findWorkflowProblems: many problems at once', () => {
  it('reports all five different problems in one document', () => {
    const doc = edit(textCascade, (d) => {
      d.nodes[1].params.placement = 'edge'; // 1: cloud-only model on the edge
      d.edges.push({ source: 'tiny', target: 'ghost' }); // 2: unknown target
      d.edges[2].when = 'max(softmax(logits)) < '; // 3: parse error
      d.nodes.push({ id: 'mystery', type: 'model', params: { model: 'gpt-9' } }); // 4: unknown model
      d.outputs[0].from = 'base.probs'; // 5: unknown output
    });
    const found = problems(doc);
    expect(found).toHaveLength(5);
    expect(found.map((p) => p.at).sort()).toEqual(['edges[2].when', 'edges[3].target', 'nodes[1].params.placement', 'nodes[2].params.model', 'outputs[0].from']);
    expect(() => validateWorkflow(doc, zoo)).toThrow(/^workflow "text-cascade" has 5 problems: 1\) nodes\[1\]\.params\.placement: .* 5\) outputs\[0\]\.from: /);
  });

  it('validateWorkflow lists each problem in detail.problems and returns the definition when valid', () => {
    const doc = edit(textCascade, (d) => { d.nodes[1].params.model = 'nope'; });
    try {
      validateWorkflow(doc, zoo);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CleaveError);
      const err = e as CleaveError;
      expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(err.message).toBe('workflow "text-cascade" has 1 problem: 1) nodes[1].params.model: model "nope" is not served by the edge or any cloud');
      expect(err.detail['problems']).toEqual(['nodes[1].params.model: model "nope" is not served by the edge or any cloud']);
    }
    expect(validateWorkflow(textCascade, zoo)).toEqual(textCascade);
    expect(topologicalOrder(validateWorkflow(textCascade, zoo))).toEqual(['tiny', 'base']);
  });
});

describe('findWorkflowProblems: pinned split cuts', () => {
  const split = (params: Record<string, unknown>) => ({
    name: 'pinned', inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
    nodes: [{ id: 'big', type: 'split-model', params: { model: 'cnn-large', ...params } }],
    edges: [{ source: 'input', target: 'big' }], outputs: [{ name: 'logits', from: 'big.logits' }],
  });

  it('accepts a pin on edge, cloud or a listed cut', () => {
    expect(problems(split({ cut: 'edge' }))).toEqual([]);
    expect(problems(split({ cut: 'cloud' }))).toEqual([]);
    expect(problems(split({ cut: 'block3.pool_out', cuts: [['block3.pool_out']] }))).toEqual([]);
  });

  it('refuses a pin that is not listed in cuts, naming it', () => {
    const p = problems(split({ cut: 'block3.pool_out' }));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ at: 'nodes[0].params.cut', message: expect.stringContaining('"block3.pool_out"') });
  });
});
