/**
 * The workflows `cleave bench split` measures, one deployed document per strategy so that every
 * strategy of a family runs in the same cell, on the same link, on the same inputs:
 *
 *   cnn    cnn-large as a split-model node: edge-only, cloud-only, each fixed cut pinned
 *          (`cut: "<tensor>"`), and auto (router's choice among the same cuts, int8 down to 98%
 *          top-1 agreement).
 *   text   text-tiny on the edge with an early exit, then text-base placed edge / cloud / auto.
 *   audio  the voice assistant (audio-small on the edge, CTC, text-base) with nlu edge / cloud / auto.
 *
 * Each family also has a reference document (the fp32 model alone in the cloud, no exit, no
 * int8) whose top-1 the accuracy column compares against.
 */
import type { WorkflowDefinition } from '../shared/workflow/definition.js';
import { VOICE_ASSISTANT } from '../shared/workflow/examples.js';
import { zooSampleInputs } from '../shared/zoo/samples/index.js';
import type { HostTensor } from '../shared/tensor.js';

/** A strategy: its label in the table and its workflow document. */
export interface SplitStrategy {
  /** `edge`, `cloud`, `auto` or `cut:<tensor>`. */
  readonly label: string;
  readonly kind: 'edge' | 'cloud' | 'cut' | 'auto';
  readonly doc: WorkflowDefinition;
}

export interface SplitFamily {
  readonly name: 'cnn' | 'text' | 'audio';
  readonly title: string;
  readonly strategies: readonly SplitStrategy[];
  /** fp32, cloud, no exit: the answers the accuracy column compares with. */
  readonly reference: WorkflowDefinition;
  /** The workflow output whose top-1 is compared. */
  readonly output: string;
  /** JSON request bodies, one per sample row. */
  bodies(n: number, seed: number): string[];
}

/** Cuts of cnn-large pinned as fixed strategies: early (64 KiB), middle (32 KiB), late (16 KiB per row). */
export const CNN_CUTS = ['block2.pool_out', 'block3.pool_out', 'block4.pool_out'] as const;

const IMAGE_INPUT = [{ name: 'image', dtype: 'float32' as const, shape: [-1, 3, 64, 64] }];
const IDS_INPUT = [{ name: 'input_ids', dtype: 'int64' as const, shape: [-1, 32] }];
/**
 * text-tiny answers alone when it is this sure. Its mean top-1 probability is 0.86 and most zoo
 * sentences pass 0.9, which left text-base (the stage being placed) idle; at 0.99 about a third exit.
 */
const TEXT_EXIT = 'max(softmax(logits)) >= 0.99';

function cnnModel(name: string, placement: 'edge' | 'cloud'): WorkflowDefinition {
  return {
    name,
    inputs: IMAGE_INPUT,
    nodes: [{ id: 'big', type: 'model', params: { model: 'cnn-large', placement } }],
    edges: [{ source: 'input', target: 'big' }],
    outputs: [{ name: 'logits', from: 'big.logits' }],
  };
}

function cnnSplit(name: string, params: { cut?: string; cuts: readonly string[]; int8MinAgreement?: number }): WorkflowDefinition {
  return {
    name,
    inputs: IMAGE_INPUT,
    nodes: [{
      id: 'big', type: 'split-model', params: {
        model: 'cnn-large', cuts: params.cuts.map((c) => [c]),
        ...(params.cut !== undefined ? { cut: params.cut } : {}),
        ...(params.int8MinAgreement !== undefined ? { int8MinAgreement: params.int8MinAgreement } : {}),
      },
    }],
    edges: [{ source: 'input', target: 'big' }],
    outputs: [{ name: 'logits', from: 'big.logits' }],
  };
}

function textCascade(name: string, placement: 'edge' | 'cloud' | 'auto'): WorkflowDefinition {
  return {
    name,
    inputs: IDS_INPUT,
    nodes: [
      { id: 'small', type: 'model', params: { model: 'text-tiny', placement: 'edge', exit: { when: TEXT_EXIT } } },
      { id: 'big', type: 'model', params: { model: 'text-base', placement } },
    ],
    // The control edge: big starts only once small has run and not exited.
    edges: [{ source: 'input', target: 'small' }, { source: 'input', target: 'big' }, { source: 'small', target: 'big' }],
    outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
  };
}

function voice(name: string, placement: 'edge' | 'cloud' | 'auto'): WorkflowDefinition {
  return {
    ...VOICE_ASSISTANT,
    name,
    nodes: VOICE_ASSISTANT.nodes.map((n) => (n.id === 'nlu' && n.type === 'model' ? { ...n, params: { ...n.params, placement } } : n)),
  };
}

/** One JSON body per row of `t` (int64 as numbers: the ids are small). */
function rowBodies(input: string, t: HostTensor): string[] {
  const rows = t.dims[0] ?? 1;
  const per = t.data.length / Math.max(1, rows);
  return Array.from({ length: rows }, (_, i) => {
    const data = Array.from(t.data.slice(i * per, (i + 1) * per) as ArrayLike<number | bigint>, Number);
    return JSON.stringify({ inputs: { [input]: { dtype: t.dtype, dims: [1, ...t.dims.slice(1)], data } } });
  });
}

function samples(model: string, input: string, n: number, seed: number): string[] {
  const s = zooSampleInputs(model, n, seed)?.[input];
  if (!s) throw new Error(`no zoo samples for ${model} input ${input}`);
  return rowBodies(input, s);
}

/** The three families; workflow names are prefixed `split-`. `cuts`: cnn-large's fixed cuts (default CNN_CUTS). */
export function splitFamilies(opts: { cuts?: readonly string[] } = {}): SplitFamily[] {
  const cuts = [...(opts.cuts ?? CNN_CUTS)];
  return [
    {
      name: 'cnn', title: 'split CNN (cnn-large, split-model node)', output: 'logits',
      strategies: [
        { label: 'edge', kind: 'edge', doc: cnnModel('split-cnn-edge', 'edge') },
        { label: 'cloud', kind: 'cloud', doc: cnnModel('split-cnn-cloud', 'cloud') },
        ...cuts.map((c, i): SplitStrategy => ({ label: `cut:${c}`, kind: 'cut', doc: cnnSplit(`split-cnn-cut${i + 1}`, { cut: c, cuts: [c] }) })),
        { label: 'auto', kind: 'auto', doc: cnnSplit('split-cnn-auto', { cuts, int8MinAgreement: 0.98 }) },
      ],
      reference: cnnModel('split-cnn-ref', 'cloud'),
      bodies: (n, seed) => samples('cnn-large', 'image', n, seed),
    },
    {
      name: 'text', title: 'text cascade (text-tiny edge, exit at p >= 0.99, then text-base)', output: 'logits',
      strategies: [
        { label: 'edge', kind: 'edge', doc: textCascade('split-text-edge', 'edge') },
        { label: 'cloud', kind: 'cloud', doc: textCascade('split-text-cloud', 'cloud') },
        { label: 'auto', kind: 'auto', doc: textCascade('split-text-auto', 'auto') },
      ],
      reference: {
        name: 'split-text-ref', inputs: IDS_INPUT,
        nodes: [{ id: 'big', type: 'model', params: { model: 'text-base', placement: 'cloud' } }],
        edges: [{ source: 'input', target: 'big' }],
        outputs: [{ name: 'logits', from: 'big.logits' }],
      },
      bodies: (n, seed) => samples('text-base', 'input_ids', n, seed),
    },
    {
      name: 'audio', title: 'audio pipeline (voice assistant: audio-small edge, CTC, text-base)', output: 'logits',
      strategies: [
        { label: 'edge', kind: 'edge', doc: voice('split-audio-edge', 'edge') },
        { label: 'cloud', kind: 'cloud', doc: voice('split-audio-cloud', 'cloud') },
        { label: 'auto', kind: 'auto', doc: voice('split-audio-auto', 'auto') },
      ],
      reference: voice('split-audio-ref', 'cloud'),
      bodies: (n, seed) => samples('audio-small', 'features', n, seed),
    },
  ];
}
