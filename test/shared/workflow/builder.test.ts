import { describe, expect, it, vi } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { ZOO_MODELS } from '../../../shared/zoo/catalogue.js';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import { WorkflowBuilder } from '../../../shared/workflow/builder.js';
import type { ModelLookup } from '../../../shared/workflow/validate.js';

/** The zoo as the validator sees it: 'N' dims dynamic; the cloud serves every model, the edge its own. */
const zoo: ModelLookup = (model) => {
  const m = ZOO_MODELS.find((z) => z.name === model);
  if (m === undefined) return undefined;
  const spec = (s: (typeof m.inputs)[number]) => ({ name: s.name, dtype: s.dtype, shape: s.shape.map((d) => (typeof d === 'number' ? d : -1)) });
  return { inputs: m.inputs.map(spec), outputs: m.outputs.map(spec), tiers: m.tier === 'edge' ? ['edge', 'cloud'] : ['cloud'] };
};

function voiceAssistant(): WorkflowBuilder {
  return new WorkflowBuilder('voice-assistant')
    .input('features', 'float32', [-1, 40, 100])
    .addNode('asr', { model: 'audio-small', placement: 'edge' })
    .addNode('nlu', { model: 'text-base' })
    .addNode('reply', { transform: { op: 'template', template: 'You said {{argmax(logits)}}', output: 'text' } })
    .connect('input', 'asr')
    .connect('asr', 'nlu', { map: { input_ids: 'token_ids' } })
    .connect('nlu', 'reply')
    .output('text', 'reply.text');
}

function textCascade(): WorkflowBuilder {
  return new WorkflowBuilder('text-cascade', { deadlineMs: 250 })
    .input('input_ids', 'int64', [-1, 32])
    .addNode('tiny', { model: 'text-tiny', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0.9' } })
    .addNode('base', { model: 'text-base', placement: 'cloud' })
    .connect('input', 'tiny')
    .connect('input', 'base')
    .connect('tiny', 'base', { when: 'max(softmax(logits)) < 0.9' })
    .output('logits', 'base.logits', 'tiny.logits');
}

describe('WorkflowBuilder', () => {
  it('builds the same document as the hand-written JSON', () => {
    expect(voiceAssistant().build()).toEqual({
      name: 'voice-assistant',
      inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 40, 100] }],
      outputs: [{ name: 'text', from: 'reply.text' }],
      nodes: [
        { id: 'asr', type: 'model', params: { model: 'audio-small', placement: 'edge' } },
        { id: 'nlu', type: 'model', params: { model: 'text-base' } },
        { id: 'reply', type: 'transform', params: { op: 'template', template: 'You said {{argmax(logits)}}', output: 'text' } },
      ],
      edges: [
        { source: 'input', target: 'asr' },
        { source: 'asr', target: 'nlu', map: { input_ids: 'token_ids' } },
        { source: 'nlu', target: 'reply' },
      ],
    });
  });

  it('builds every node shorthand with only the keys given', () => {
    const def = new WorkflowBuilder('shapes')
      .input('x', 'float32', [-1, 10])
      .addNode('m', { model: 'cnn-small', version: 1, outputs: ['logits'] })
      .addNode('s', { splitModel: 'cnn-large', cuts: [['act1']], int8MinAgreement: 0.99, exit: { when: 'max(logits) > 1', head: 'cnn-small' } })
      .addNode('b', { branch: { default: 'm' } })
      .addNode('l', { loop: { body: ['t'], until: 'iteration >= 2', maxIterations: 3, carry: { x: 't.x' } } })
      .addNode('t', { transform: { op: 'softmax', input: 'x', output: 'x' } })
      .output('y', 'm.logits')
      .build();
    expect(def.nodes).toEqual([
      { id: 'm', type: 'model', params: { model: 'cnn-small', version: 1, outputs: ['logits'] } },
      { id: 's', type: 'split-model', params: { model: 'cnn-large', cuts: [['act1']], int8MinAgreement: 0.99, exit: { when: 'max(logits) > 1', head: 'cnn-small' } } },
      { id: 'b', type: 'branch', params: { default: 'm' } },
      { id: 'l', type: 'loop', params: { body: ['t'], until: 'iteration >= 2', maxIterations: 3, carry: { x: 't.x' } } },
      { id: 't', type: 'transform', params: { op: 'softmax', input: 'x', output: 'x' } },
    ]);
    expect(def.edges).toEqual([]);
  });

  it('throws at once for a duplicate node id', () => {
    const wf = new WorkflowBuilder('dup').addNode('a', { model: 'text-tiny' });
    expect(() => wf.addNode('a', { model: 'text-base' })).toThrow(/node id "a" is already used in workflow "dup"/);
  });

  it('build() throws CLEAVE_E_BAD_ARGUMENT listing every schema problem', () => {
    const wf = new WorkflowBuilder('Bad Name').addNode('1x', { model: 'text-tiny' });
    try {
      wf.build();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CleaveError);
      const err = e as CleaveError;
      expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(err.message).toMatch(/^workflow "Bad Name" has \d+ problems: 1\) name: /);
      expect(err.detail['problems']).toEqual(expect.arrayContaining([
        expect.stringMatching(/^name: /), expect.stringMatching(/^inputs: /), expect.stringMatching(/^outputs: /), expect.stringMatching(/^nodes\[0\]\.id: /),
      ]));
    }
  });

  it('validate() runs the graph checks against the models', () => {
    expect(textCascade().validate(zoo)).toEqual(textCascade().build());
    // audio-small has no "token_ids" output, and its tokens are not text-base's int64 [N,32] ids.
    expect(() => voiceAssistant().validate(zoo)).toThrow(/edges\[1\]\.map\.input_ids: "asr" has no output "token_ids"/);
  });

  it('returns documents that later builder calls do not change', () => {
    const wf = textCascade();
    const before = wf.build();
    wf.addNode('extra', { model: 'text-tiny' });
    expect(before.nodes).toHaveLength(2);
  });

  it('deploy() sends the validated definition and the replicas to the target', async () => {
    const deployWorkflow = vi.fn(async (def: WorkflowDefinition) => ({ name: def.name, version: 3 }));
    const result = await textCascade().deploy({ name: 'cascade-prod', replicas: 2, models: zoo }, { deployWorkflow });
    expect(result).toEqual({ name: 'cascade-prod', version: 3 });
    expect(deployWorkflow).toHaveBeenCalledTimes(1);
    expect(deployWorkflow).toHaveBeenCalledWith({ ...textCascade().build(), name: 'cascade-prod' }, { replicas: 2 });
  });

  it('deploy() without models checks the shape only, and sends nothing when the document is invalid', async () => {
    const deployWorkflow = vi.fn(async () => ({ name: 'x', version: 1 }));
    await textCascade().deploy({}, { deployWorkflow });
    expect(deployWorkflow).toHaveBeenCalledWith(textCascade().build(), {});
    deployWorkflow.mockClear();
    await expect(voiceAssistant().deploy({ models: zoo }, { deployWorkflow })).rejects.toThrow(CleaveError);
    await expect(new WorkflowBuilder('empty').deploy({}, { deployWorkflow })).rejects.toThrow(/has \d+ problems/);
    expect(deployWorkflow).not.toHaveBeenCalled();
  });
});
