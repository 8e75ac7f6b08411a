/**
 * The workflow executor over real zoo models: every model call runs an onnxruntime-node session
 * (test/helpers/workflow-runtime.ts), placements are scripted per node, and the cloud is emulated
 * with its subgraph semantics, so each test checks both what the executor decided (which calls,
 * in which order, on which tier) and that the numbers it returns are the models' own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { maxAbsDiff, type HostTensor } from '../../../shared/tensor.js';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import { VOICE_ASSISTANT } from '../../../shared/workflow/examples.js';
import { compileWorkflow, runWorkflow, type WorkflowEvent, type WorkflowResult, type WorkflowRunOptions } from '../../../shared/workflow/executor.js';
import { isTextTensor, runTransform, type WorkflowValue } from '../../../shared/workflow/transforms.js';
import { validateWorkflow } from '../../../shared/workflow/validate.js';
import { zooSampleInputs } from '../../../shared/zoo/index.js';
import { rejectionOf } from '../../helpers/workflow-docs.js';
import { loadWorkflowZoo, TestWorkflowRuntime, type WorkflowZoo } from '../../helpers/workflow-runtime.js';

const CUT = 'block3.pool_out';
const IMAGE: WorkflowDefinition['inputs'][number] = { name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] };

let zoo: WorkflowZoo;
/** cnn-large's parts at CUT, registered as models. */
let head: string;
let tail: string;

beforeAll(async () => {
  zoo = await loadWorkflowZoo(['cnn-large']);
  ({ head, tail } = zoo.split('cnn-large', CUT));
});

afterAll(async () => {
  await zoo.dispose();
});

function sample(model: string, seed = 7, n = 1): Record<string, HostTensor> {
  const s = zooSampleInputs(model, n, seed);
  if (!s) throw new Error(`no sample inputs for ${model}`);
  return s;
}

/** Runs `doc` after the validator accepted it: tests only use documents a user could deploy. */
async function run(doc: WorkflowDefinition, rt: TestWorkflowRuntime, inputs: Record<string, HostTensor>, opts: Partial<WorkflowRunOptions> = {}): Promise<WorkflowResult & { events: WorkflowEvent[] }> {
  const events: WorkflowEvent[] = [];
  const r = await runWorkflow(compileWorkflow(validateWorkflow(doc, zoo.lookup), zoo.lookup), rt, inputs, { deadlineMs: 30_000, onEvent: (e) => events.push(e), ...opts });
  return { ...r, events };
}

function tensor(v: WorkflowValue | undefined): HostTensor {
  if (v === undefined || isTextTensor(v)) throw new Error(`expected a numeric tensor, got ${v === undefined ? 'nothing' : 'text'}`);
  return v;
}

function expectClose(got: WorkflowValue | undefined, want: HostTensor | undefined, tol: number): void {
  const t = tensor(got);
  expect(want).toBeDefined();
  expect(t.dims).toEqual(want!.dims);
  expect(maxAbsDiff(t, want!)).toBeLessThanOrEqual(tol);
}

/** `node:<id>`, `skip:<id>`, `exit:<id>` in the order the events came. */
function trail(events: readonly WorkflowEvent[]): string[] {
  return events.map((e) => (e.kind === 'node' ? `node:${e.report.node}` : `${e.kind}:${e.node}`));
}

function row(t: HostTensor): number[] {
  return Array.from(t.data, Number);
}

function softmaxOf(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function argmax(xs: readonly number[]): number {
  return xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);
}

describe('a linear chain', () => {
  // small (edge) -> head (cloud) -> tail (cloud): head's activation stays in the cloud's pool.
  const chain = (): WorkflowDefinition => ({
    name: 'chain',
    inputs: [IMAGE],
    nodes: [
      { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge' } },
      { id: 'front', type: 'model', params: { model: head, placement: 'cloud' } },
      { id: 'back', type: 'model', params: { model: tail, placement: 'cloud' } },
    ],
    edges: [
      { source: 'input', target: 'small' },
      { source: 'input', target: 'front' },
      { source: 'small', target: 'front' },
      { source: 'front', target: 'back' },
    ],
    outputs: [{ name: 'small', from: 'small.logits' }, { name: 'logits', from: 'back.logits' }],
  });

  it('sends two consecutive cloud nodes as one call with two stages, the activation staying in the pool', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const image = sample('cnn-large');
    const r = await run(chain(), rt, image);

    const clouds = rt.cloudCalls();
    expect(clouds).toHaveLength(1);
    const call = clouds[0]!;
    expect(call.stages).toEqual([
      { id: 'front', model: head, inputs: { image: 'front:image' } },
      { id: 'back', model: tail, inputs: { [CUT]: `front.${CUT}` } },
    ]);
    // Only the image goes up; the activation is read from the pool, not sent.
    expect(Object.keys(call.inputs)).toEqual(['front:image']);
    // Nothing outside the chain reads front: its activation does not come back either.
    expect(call.outputs).toEqual(['back.logits']);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual(['cnn-small']);

    expect(trail(r.events)).toEqual(['node:small', 'node:front', 'node:back']);
    const reports = new Map(r.nodes.map((n) => [n.node, n]));
    expect(reports.get('small')).toMatchObject({ status: 'done', placement: 'edge' });
    expect(reports.get('front')).toMatchObject({ status: 'done', placement: 'cloud', subgraph: 'front' });
    expect(reports.get('back')).toMatchObject({ status: 'done', placement: 'cloud', subgraph: 'front' });

    expectClose(r.outputs.get('small'), (await zoo.run('cnn-small', image)).logits, 1e-5);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-4);
    expect(r.degraded).toBe(false);
    expect(r.exitedAt).toBeUndefined();
  });

  it('takes each stage\'s outputs from the final result when the cloud does not stream them', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.streamStages = false;
    const image = sample('cnn-large', 12);
    const r = await run(chain(), rt, image);
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(trail(r.events)).toEqual(['node:small', 'node:front', 'node:back']);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-4);
  });

  it('splits the chain where the router puts a node on the edge: two calls, the activation comes down', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.tiers.set('back', 'edge');
    const doc = chain();
    const nodes = doc.nodes.map((n) => (n.id === 'back' ? { ...n, params: { model: tail } } : n)) as WorkflowDefinition['nodes'];
    const image = sample('cnn-large');
    const r = await run({ ...doc, nodes }, rt, image);
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(rt.cloudCalls()[0]!.stages.map((s) => s.id)).toEqual(['front']);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual(['cnn-small', tail]);
    expect(r.nodes.find((n) => n.node === 'front')?.subgraph).toBeUndefined();
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-4);
  });

  it('runs the voice assistant: speech on the edge, greedy CTC, the classifier in the cloud, a templated reply', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.tiers.set('nlu', 'cloud');
    const features = sample('audio-small', 3);
    const r = await run(VOICE_ASSISTANT, rt, features);

    expect(trail(r.events)).toEqual(['node:asr', 'node:tokens', 'node:nlu', 'node:reply']);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual(['audio-small']);
    expect(rt.cloudCalls().map((c) => c.stages.map((s) => s.model))).toEqual([['text-base']]);

    // The same pipeline by hand.
    const frames = (await zoo.run('audio-small', features)).token_logits!;
    const ids = tensor(runTransform('tokens', { op: 'ctc-decode', input: 'token_logits', output: 'input_ids', length: 32 }, new Map([['token_logits', frames]]), () => undefined).get('input_ids'));
    expect(row(ids).some((x) => x !== 0)).toBe(true); // the decode found words: a meaningful check
    expect(tensor(rt.cloudCalls()[0]!.inputs['nlu:input_ids'])).toEqual(ids);
    const logits = (await zoo.run('text-base', { input_ids: ids })).logits!;
    expectClose(r.outputs.get('logits'), logits, 1e-5);
    const p = softmaxOf(row(logits));
    const reply = r.outputs.get('reply');
    expect(reply !== undefined && isTextTensor(reply) ? reply.text : undefined)
      .toEqual([`topic: ${zoo.labels('text-base')[argmax(p)]} (confidence ${Math.max(...p).toFixed(4)})`]);
  });
});

describe('parallel branches', () => {
  it('starts independent slow nodes together: the run takes about the longest, not the sum', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const slow = 250;
    rt.edgeDelayMs.set('cnn-small', slow);
    rt.cloudDelayMs = slow;
    rt.tiers.set('right', 'cloud');
    const doc: WorkflowDefinition = {
      name: 'fan-out',
      inputs: [IMAGE],
      nodes: [
        { id: 'left', type: 'model', params: { model: 'cnn-small' } },
        { id: 'right', type: 'model', params: { model: 'cnn-large' } },
        { id: 'both', type: 'transform', params: { op: 'template', template: '{{argmax(left.logits)}}/{{argmax(right.logits)}}', output: 'text' } },
      ],
      edges: [
        { source: 'input', target: 'left' },
        { source: 'input', target: 'right' },
        { source: 'left', target: 'both' },
        { source: 'right', target: 'both' },
      ],
      outputs: [{ name: 'text', from: 'both.text' }],
    };
    const image = sample('cnn-large', 11);
    // The references first: they also open both sessions, so loading is not timed below.
    const small = argmax(row((await zoo.run('cnn-small', image)).logits!));
    const large = argmax(row((await zoo.run('cnn-large', image)).logits!));
    const t0 = performance.now();
    const r = await run(doc, rt, image);
    const took = performance.now() - t0;

    expect(rt.calls).toHaveLength(2);
    const [a, b] = rt.calls;
    // Both started before either ended.
    expect(Math.max(a!.startedAt, b!.startedAt)).toBeLessThan(Math.min(a!.endedAt!, b!.endedAt!));
    expect(took).toBeLessThan(2 * slow);
    expect(r.events.at(-1)).toMatchObject({ kind: 'node', report: { node: 'both' } });
    const text = r.outputs.get('text');
    expect(text !== undefined && isTextTensor(text) ? text.text : undefined).toEqual([`${small}/${large}`]);
  });
});

describe('conditional edges and branches', () => {
  const x = sample('mlp-small', 5);
  let k: number;
  let logits: HostTensor;

  beforeAll(async () => {
    logits = (await zoo.run('mlp-small', x)).logits!;
    k = argmax(row(logits));
  });

  const branchDoc = (want: number): WorkflowDefinition => ({
    name: 'branchy',
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
    nodes: [
      { id: 'cls', type: 'model', params: { model: 'mlp-small', placement: 'edge' } },
      { id: 'route', type: 'branch', params: { default: 'viaEdge' } },
      { id: 'viaCloud', type: 'model', params: { model: 'mlp-small', placement: 'cloud' } },
      { id: 'viaEdge', type: 'model', params: { model: 'mlp-small', placement: 'edge' } },
      { id: 'join', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'probs' } },
    ],
    edges: [
      { source: 'input', target: 'cls' },
      { source: 'input', target: 'route' },
      { source: 'cls', target: 'route' },
      { source: 'route', target: 'viaCloud', when: `argmax(logits) == ${want}` },
      { source: 'route', target: 'viaEdge' },
      { source: 'viaCloud', target: 'join' },
      { source: 'viaEdge', target: 'join' },
    ],
    outputs: [{ name: 'probs', from: 'join.probs' }],
  });

  it('takes the edge whose condition holds over a real model output, skips the other side and runs the join', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const r = await run(branchDoc(k), rt, x);
    expect(trail(r.events)).toEqual(['node:cls', 'node:route', 'skip:viaEdge', 'node:viaCloud', 'node:join']);
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(rt.edgeCalls('mlp-small')).toHaveLength(1);
    expect(r.nodes.find((n) => n.node === 'viaEdge')?.status).toBe('skipped');
    const probs = tensor(r.outputs.get('probs'));
    const want = softmaxOf(row(logits));
    row(probs).forEach((p, i) => expect(Math.abs(p - want[i]!)).toBeLessThan(1e-6));
  });

  it('takes the default when no condition holds', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const r = await run(branchDoc((k + 1) % 10), rt, x);
    expect(trail(r.events)).toEqual(['node:cls', 'node:route', 'skip:viaCloud', 'node:viaEdge', 'node:join']);
    expect(rt.cloudCalls()).toHaveLength(0);
    expect(rt.edgeCalls('mlp-small')).toHaveLength(2);
    expect(tensor(r.outputs.get('probs')).dims).toEqual([1, 10]);
  });

  it('does not let a node no tier can run now fail the run when the branch does not take it', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.placeErrors.set('viaCloud', new CleaveError('CLEAVE_E_UNAVAILABLE', 'no tier holds mlp-small now'));
    const r = await run(branchDoc((k + 1) % 10), rt, x);
    expect(trail(r.events)).toEqual(['node:cls', 'node:route', 'skip:viaCloud', 'node:viaEdge', 'node:join']);

    // Taken, it fails with the placement's own reason.
    const taken = new TestWorkflowRuntime(zoo);
    taken.placeErrors.set('viaCloud', new CleaveError('CLEAVE_E_UNAVAILABLE', 'no tier holds mlp-small now'));
    expect((await rejectionOf(run(branchDoc(k), taken, x))).code).toBe('CLEAVE_E_UNAVAILABLE');
  });

  // The definition's cascade: `small -> big [when max(..) < t]` is a control edge a confident
  // small kills (dead), so big is skipped although its data edge from input is live.
  const gated = (t: number): WorkflowDefinition => ({
    name: 'gated',
    inputs: [IMAGE],
    nodes: [
      { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge' } },
      { id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
    ],
    edges: [
      { source: 'input', target: 'small' },
      { source: 'input', target: 'big' },
      { source: 'small', target: 'big', when: `max(softmax(logits)) < ${t}` },
    ],
    outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
  });

  it('skips a node whose conditional in-edge is dead, and the output falls back to "or"', async () => {
    const image = sample('cnn-small', 2);
    const small = (await zoo.run('cnn-small', image)).logits!;
    const conf = Math.max(...softmaxOf(row(small)));

    const confident = new TestWorkflowRuntime(zoo);
    const r1 = await run(gated(Math.max(0, conf - 0.01)), confident, image);
    expect(trail(r1.events)).toEqual(['node:small', 'skip:big']);
    expect(confident.cloudCalls()).toHaveLength(0);
    expectClose(r1.outputs.get('logits'), small, 1e-5);

    const unsure = new TestWorkflowRuntime(zoo);
    const r2 = await run(gated(conf + 0.01), unsure, image);
    expect(trail(r2.events)).toEqual(['node:small', 'node:big']);
    expect(unsure.cloudCalls()).toHaveLength(1);
    expectClose(r2.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-5);
  });
});

describe('cascade with early exit', () => {
  const cascade = (when: string): WorkflowDefinition => ({
    name: 'cascade',
    inputs: [IMAGE],
    nodes: [
      { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when } } },
      { id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
      { id: 'probs', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'probs' } },
    ],
    edges: [
      { source: 'input', target: 'small' },
      { source: 'input', target: 'big' },
      { source: 'small', target: 'big' },
      { source: 'big', target: 'probs' },
    ],
    outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
  });

  it('answers from the exiting node: nothing downstream is called and outputs take their "or"', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const image = sample('cnn-small', 4);
    const r = await run(cascade('max(softmax(logits)) >= 0'), rt, image);
    expect(r.exitedAt).toBe('small');
    expect(trail(r.events)).toEqual(['node:small', 'exit:small']);
    expect(rt.calls.map((c) => (c.kind === 'edge' ? c.call.model : 'cloud'))).toEqual(['cnn-small']);
    expect(r.nodes).toEqual([expect.objectContaining({ node: 'small', status: 'done', exited: true })]);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-small', image)).logits, 1e-5);
  });

  it('cancels what is still running when a parallel node exits, and reports it cancelled', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cloudDelayMs = 10_000;
    const doc: WorkflowDefinition = {
      name: 'race',
      inputs: [IMAGE],
      nodes: [
        { id: 'quick', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0' } } },
        { id: 'slow', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
      ],
      edges: [{ source: 'input', target: 'quick' }, { source: 'input', target: 'slow' }],
      outputs: [{ name: 'logits', from: 'slow.logits', or: 'quick.logits' }],
    };
    const image = sample('cnn-small', 4);
    const t0 = performance.now();
    const r = await run(doc, rt, image);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(r.exitedAt).toBe('quick');
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(rt.cloudCalls()[0]!.signal.aborted).toBe(true);
    expect(r.nodes).toEqual([
      expect.objectContaining({ node: 'quick', status: 'done', exited: true }),
      { node: 'slow', status: 'cancelled' },
    ]);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-small', image)).logits, 1e-5);
  });

  it('goes on to the big model when the exit never holds', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const image = sample('cnn-small', 4);
    const r = await run(cascade('max(softmax(logits)) > 1'), rt, image);
    expect(r.exitedAt).toBeUndefined();
    expect(trail(r.events)).toEqual(['node:small', 'node:big', 'node:probs']);
    expect(rt.cloudCalls().map((c) => c.stages.map((s) => s.model))).toEqual([['cnn-large']]);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-5);
  });
});

describe('loops', () => {
  // Each iteration runs mlp-small in the cloud (counted) and softmaxes `p`, which `carry` feeds back.
  const loop = (until: string, maxIterations: number): WorkflowDefinition => ({
    name: 'looped',
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }, { name: 'p', dtype: 'float32', shape: [-1, 10] }],
    nodes: [
      { id: 'again', type: 'loop', params: { body: ['m', 's'], until, maxIterations, carry: { p: 's.p' } } },
      { id: 'm', type: 'model', params: { model: 'mlp-small', placement: 'cloud' } },
      { id: 's', type: 'transform', params: { op: 'softmax', input: 'p', output: 'p' } },
    ],
    edges: [
      { source: 'input', target: 'again' },
      { source: 'again', target: 'm' },
      { source: 'again', target: 's' },
    ],
    outputs: [{ name: 'p', from: 'again.p' }, { name: 'logits', from: 'm.logits' }],
  });
  const start = [3, -1, 0.5, 2, 0, 0, 1, -2, 4, 0.25];
  const inputs = (): Record<string, HostTensor> => ({ ...sample('mlp-small', 9), p: { dtype: 'float32', dims: [1, 10], data: Float32Array.from(start) } });

  it('runs its body until `iteration >= 3`: three calls, and carry feeds each output to the next', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const r = await run(loop('iteration >= 3', 10), rt, inputs());
    expect(rt.cloudCalls()).toHaveLength(3);
    for (const c of rt.cloudCalls()) expect(c.stages).toEqual([{ id: 'm', model: 'mlp-small', inputs: { x: 'm:x' } }]);
    let want = start;
    for (let i = 0; i < 3; i++) want = softmaxOf(want);
    const got = row(tensor(r.outputs.get('p')));
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-6));
    // Twice or four times would differ by far more than the tolerance.
    expect(Math.abs(softmaxOf(want)[8]! - want[8]!)).toBeGreaterThan(1e-3);
    expect(r.nodes.find((n) => n.node === 'again')).toMatchObject({ status: 'done', explanation: '3 iteration(s)' });
    expectClose(r.outputs.get('logits'), (await zoo.run('mlp-small', { x: inputs().x! })).logits, 1e-5);
    expect(trail(r.events)).toEqual(['node:again']);
  });

  it('stops at maxIterations when `until` never holds', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const r = await run(loop('iteration >= 100', 2), rt, inputs());
    expect(rt.cloudCalls()).toHaveLength(2);
    const want = softmaxOf(softmaxOf(start));
    row(tensor(r.outputs.get('p'))).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-6));
  });

  it('tests `until` on the last body node\'s outputs', async () => {
    let want = start;
    let n = 0;
    do {
      want = softmaxOf(want);
      n++;
    } while (!(Math.max(...want) - Math.min(...want) < 0.01));
    expect(n).toBeGreaterThan(1);
    const rt = new TestWorkflowRuntime(zoo);
    await run(loop('max(p) - min(p) < 0.01', 50), rt, inputs());
    expect(rt.cloudCalls()).toHaveLength(n);
  });
});

describe('a split model with an exit head at the cut', () => {
  const split = (when: string): WorkflowDefinition => ({
    name: 'split-exit',
    inputs: [IMAGE],
    nodes: [{ id: 'big', type: 'split-model', params: { model: 'cnn-large', exit: { when, head: 'cnn-large-exit' } } }],
    edges: [{ source: 'input', target: 'big' }],
    outputs: [{ name: 'logits', from: 'big.logits' }],
  });
  let image: Record<string, HostTensor>;
  let activation: HostTensor;
  let exitLogits: HostTensor;

  beforeAll(async () => {
    // An image the exit head is confident about (>= 0.5), found by direct runs.
    for (let seed = 1; seed <= 40 && !image; seed++) {
      const img = sample('cnn-large', seed);
      const act = (await zoo.run(head, img))[CUT]!;
      const ex = (await zoo.run('cnn-large-exit', { [CUT]: act })).logits!;
      if (Math.max(...softmaxOf(row(ex))) >= 0.5) {
        image = img;
        activation = act;
        exitLogits = ex;
      }
    }
    expect(image).toBeDefined();
  });

  it('answers from the exit head on the edge when it is confident: the cloud is not called', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cut = CUT;
    const r = await run(split('max(softmax(logits)) >= 0.5'), rt, image);
    expect(rt.cloudCalls()).toHaveLength(0);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual([head, 'cnn-large-exit']);
    expect(r.exitedAt).toBe('big');
    expect(r.nodes[0]).toMatchObject({ node: 'big', placement: `cut:${CUT}`, exited: true });
    expectClose(r.outputs.get('logits'), exitLogits, 1e-5);
  });

  it('sends the crossing tensor to the tail when the exit does not hold, matching the full model', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cut = CUT;
    const r = await run(split('max(softmax(logits)) >= 1.01'), rt, image);
    expect(r.exitedAt).toBeUndefined();
    const calls = rt.cloudCalls();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.stages).toEqual([{ id: 'big', model: tail, inputs: { [CUT]: CUT } }]);
    expect(calls[0]!.outputs).toEqual(['big.logits']);
    expect(Object.keys(calls[0]!.inputs)).toEqual([CUT]);
    expectClose(calls[0]!.inputs[CUT], activation, 1e-5);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-4);
  });

  it('falls back to the edge stand-in when the tail\'s cloud call fails', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cut = CUT;
    rt.cloudFailure = { error: new CleaveError('CLEAVE_E_UNAVAILABLE', 'link down') };
    rt.standIns.set('cnn-large', 'cnn-small');
    const r = await run(split('max(softmax(logits)) >= 1.01'), rt, image);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual([head, 'cnn-large-exit', 'cnn-small']);
    expect(r.degraded).toBe(true);
    expect(r.nodes[0]).toMatchObject({ node: 'big', placement: 'edge', degraded: { reason: 'CLEAVE_E_UNAVAILABLE', standIn: 'cnn-small' } });
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-small', image)).logits, 1e-5);
  });

  it('runs whole on one tier when the router says so, without testing the exit', async () => {
    const edge = new TestWorkflowRuntime(zoo);
    edge.cut = 'edge';
    const r1 = await run(split('max(softmax(logits)) >= 0'), edge, image);
    expect(edge.edgeCalls().map((c) => c.model)).toEqual(['cnn-large']);
    expect(r1.exitedAt).toBeUndefined();
    const full = (await zoo.run('cnn-large', image)).logits!;
    expectClose(r1.outputs.get('logits'), full, 1e-5);

    const cloud = new TestWorkflowRuntime(zoo);
    cloud.cut = 'cloud';
    const r2 = await run(split('max(softmax(logits)) >= 0'), cloud, image);
    expect(cloud.cloudCalls().map((c) => c.stages.map((s) => s.model))).toEqual([['cnn-large']]);
    expectClose(r2.outputs.get('logits'), full, 1e-5);
  });
});

describe('when the cloud is out', () => {
  const unavailable = new CleaveError('CLEAVE_E_UNAVAILABLE', 'cloud link is down');
  const one: WorkflowDefinition = {
    name: 'one',
    inputs: [IMAGE],
    nodes: [{ id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } }],
    edges: [{ source: 'input', target: 'big' }],
    outputs: [{ name: 'logits', from: 'big.logits' }],
  };

  it('reruns the node on its edge stand-in and marks the result degraded', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cloudFailure = { error: unavailable };
    rt.standIns.set('cnn-large', 'cnn-small');
    const image = sample('cnn-small', 6);
    const r = await run(one, rt, image);
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual(['cnn-small']);
    expect(r.degraded).toBe(true);
    expect(r.nodes[0]).toMatchObject({ node: 'big', placement: 'edge', degraded: { reason: 'CLEAVE_E_UNAVAILABLE', standIn: 'cnn-small' } });
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-small', image)).logits, 1e-5);
  });

  it('fails with the cloud\'s error when there is no stand-in, and does not fall back on other errors', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cloudFailure = { error: unavailable };
    expect((await rejectionOf(run(one, rt, sample('cnn-small')))).code).toBe('CLEAVE_E_UNAVAILABLE');

    const bad = new TestWorkflowRuntime(zoo);
    bad.cloudFailure = { error: new CleaveError('CLEAVE_E_INTERNAL', 'stage crashed') };
    bad.standIns.set('cnn-large', 'cnn-small');
    expect((await rejectionOf(run(one, bad, sample('cnn-small')))).code).toBe('CLEAVE_E_INTERNAL');
    expect(bad.edgeCalls()).toHaveLength(0);
  });

  it('keeps the stages a subgraph already streamed back and reruns only the rest on the edge', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cloudFailure = { error: new CleaveError('CLEAVE_E_OVERLOADED', 'busy'), afterStages: 1 };
    rt.standIns.set(tail, tail);
    const doc: WorkflowDefinition = {
      name: 'two-stage',
      inputs: [IMAGE],
      nodes: [
        { id: 'front', type: 'model', params: { model: head, placement: 'cloud' } },
        { id: 'back', type: 'model', params: { model: tail, placement: 'cloud' } },
      ],
      edges: [{ source: 'input', target: 'front' }, { source: 'front', target: 'back' }],
      // The activation is a workflow output, so the chain streams each stage back as it completes.
      outputs: [{ name: 'logits', from: 'back.logits' }, { name: 'activation', from: `front.${CUT}` }],
    };
    const image = sample('cnn-large', 8);
    const r = await run(doc, rt, image);
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(rt.edgeCalls().map((c) => c.model)).toEqual([tail]);
    const reports = new Map(r.nodes.map((n) => [n.node, n]));
    expect(reports.get('front')).toMatchObject({ placement: 'cloud' });
    expect(reports.get('front')?.degraded).toBeUndefined();
    expect(reports.get('back')).toMatchObject({ placement: 'edge', degraded: { reason: 'CLEAVE_E_OVERLOADED', standIn: tail } });
    expect(r.degraded).toBe(true);
    expectClose(r.outputs.get('logits'), (await zoo.run('cnn-large', image)).logits, 1e-4);
  });
});

describe('cancellation', () => {
  const slowCloud: WorkflowDefinition = {
    name: 'slow',
    inputs: [IMAGE],
    nodes: [
      { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge' } },
      { id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
    ],
    edges: [{ source: 'input', target: 'small' }, { source: 'small', target: 'big' }, { source: 'input', target: 'big' }],
    outputs: [{ name: 'logits', from: 'big.logits' }],
  };

  it('rejects CLEAVE_E_CANCELLED when the client aborts mid-run, and the in-flight cloud call sees its signal abort', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.cloudDelayMs = 10_000;
    const client = new AbortController();
    rt.onCall = (c) => {
      if (c.kind === 'cloud') client.abort();
    };
    const t0 = performance.now();
    const err = await rejectionOf(run(slowCloud, rt, sample('cnn-small'), { signal: client.signal }));
    expect(err.code).toBe('CLEAVE_E_CANCELLED');
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(rt.cloudCalls()).toHaveLength(1);
    expect(rt.cloudCalls()[0]!.signal.aborted).toBe(true);
  });

  it('rejects at once, calling nothing, when the signal is already aborted', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const err = await rejectionOf(run(slowCloud, rt, sample('cnn-small'), { signal: AbortSignal.abort() }));
    expect(err.code).toBe('CLEAVE_E_CANCELLED');
    expect(rt.calls).toHaveLength(0);
  });
});

describe('deadlines', () => {
  const pair: WorkflowDefinition = {
    name: 'pair',
    inputs: [IMAGE],
    nodes: [
      { id: 'first', type: 'model', params: { model: 'cnn-small', placement: 'edge' } },
      { id: 'second', type: 'model', params: { model: 'cnn-large', placement: 'edge' } },
    ],
    edges: [{ source: 'input', target: 'first' }, { source: 'input', target: 'second' }, { source: 'first', target: 'second' }],
    outputs: [{ name: 'logits', from: 'second.logits' }],
  };

  it('refuses at once, before any call, when the critical path cannot fit the budget', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.expectedMs.set('second', 500);
    const err = await rejectionOf(run(pair, rt, sample('cnn-small'), { deadlineMs: 100 }));
    expect(err.code).toBe('CLEAVE_E_DEADLINE');
    expect(err.detail).toMatchObject({ deadlineMs: 100, path: ['first', 'second'] });
    expect(err.message).toContain('first -> second');
    expect(rt.calls).toHaveLength(0);
    // The check asked with no deadline (the best tier at any time).
    expect(rt.questions.every((q) => q.deadlineMs === undefined)).toBe(true);
  });

  it('checks the critical path against the time left since startedAt, not the whole budget', async () => {
    // The request arrived 80 ms before the run: 20 ms of its 100 are left, and the path needs 51.
    const rt = new TestWorkflowRuntime(zoo);
    rt.useManualClock(1_000);
    rt.expectedMs.set('second', 50);
    const err = await rejectionOf(run(pair, rt, sample('cnn-small'), { deadlineMs: 100, startedAt: 920 }));
    expect(err.code).toBe('CLEAVE_E_DEADLINE');
    expect(err.detail).toMatchObject({ deadlineMs: 100, leftMs: 20, expectedMs: 51 });
    expect(rt.calls).toHaveLength(0);

    // The same path with the whole budget left runs.
    const fresh = new TestWorkflowRuntime(zoo);
    fresh.useManualClock(1_000);
    fresh.expectedMs.set('second', 50);
    await run(pair, fresh, sample('cnn-small'), { deadlineMs: 100, startedAt: 1_000 });
    expect(fresh.edgeCalls()).toHaveLength(2);
  });

  it('fails a node that would start with no time left after an earlier one ran past the budget', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    rt.useManualClock(1_000);
    rt.edgeCostMs.set('cnn-small', 150);
    const err = await rejectionOf(run(pair, rt, sample('cnn-small'), { deadlineMs: 100 }));
    expect(err.code).toBe('CLEAVE_E_DEADLINE');
    expect(err.message).toContain('"second"');
    expect(rt.edgeCalls().map((c) => c.model)).toEqual(['cnn-small']);
    // The first call was given the whole budget.
    expect(rt.edgeCalls()[0]!.deadlineMs).toBe(100);
  });
});

describe('workflow outputs', () => {
  it('names the output that has no value when its node did not run and it has no "or"', async () => {
    const rt = new TestWorkflowRuntime(zoo);
    const doc: WorkflowDefinition = {
      name: 'no-or',
      inputs: [IMAGE],
      nodes: [
        { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0' } } },
        { id: 'big', type: 'model', params: { model: 'cnn-large', placement: 'cloud' } },
      ],
      edges: [{ source: 'input', target: 'small' }, { source: 'small', target: 'big' }, { source: 'input', target: 'big' }],
      outputs: [{ name: 'answer', from: 'big.logits' }],
    };
    const err = await rejectionOf(run(doc, rt, sample('cnn-small')));
    expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(err.message).toContain('output "answer"');
    expect(err.message).toContain('"big.logits"');
    expect(err.detail).toMatchObject({ workflow: 'no-or', output: 'answer' });
    expect(rt.cloudCalls()).toHaveLength(0);
  });
});
