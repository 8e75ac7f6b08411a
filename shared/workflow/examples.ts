/**
 * The zoo pipelines as workflow documents: what the demo deploys, the tests run and the docs
 * show. Both use only zoo models, so they work on a fresh checkout.
 *
 * voice-assistant: audio -> text -> reply. The speech model runs on the edge (frames never leave
 *   the device's region), greedy CTC turns its frames into token ids, the topic classifier is
 *   placed per request (text-base in the cloud, text-tiny standing in when the cloud is out),
 *   and a template renders the answer.
 *
 * image-cascade: a cheap edge classifier answers confident images at once (early exit); the rest
 *   go to cnn-large, cut per request between edge and cloud by the router, with a fitted exit
 *   head at block3 that can answer from the edge half, and the activation sent int8 when that is
 *   faster and keeps 98% top-1 agreement.
 *
 * text-cascade: text-tiny on the edge answers the sentences it is very sure of (early exit); the
 *   rest go to text-base, placed per request (text-tiny standing in when the cloud is out).
 */
import { TEXT_LABELS } from '../zoo/labels.js';
import type { WorkflowDefinition } from './definition.js';

export const VOICE_ASSISTANT: WorkflowDefinition = {
  name: 'voice-assistant',
  description: 'speech (edge) -> greedy CTC -> topic classifier (auto) -> templated reply',
  inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 40, 100] }],
  nodes: [
    { id: 'asr', type: 'model', params: { model: 'audio-small', placement: 'edge' } },
    { id: 'tokens', type: 'transform', params: { op: 'ctc-decode', input: 'token_logits', output: 'input_ids', length: 32 } },
    { id: 'nlu', type: 'model', params: { model: 'text-base', placement: 'auto' } },
    { id: 'reply', type: 'transform', params: { op: 'template', template: 'topic: {{label(argmax(logits))}} (confidence {{max(softmax(logits))}})', output: 'text', labels: [...TEXT_LABELS] } },
  ],
  edges: [
    { source: 'input', target: 'asr' },
    { source: 'asr', target: 'tokens' },
    { source: 'tokens', target: 'nlu' },
    { source: 'nlu', target: 'reply' },
  ],
  outputs: [{ name: 'reply', from: 'reply.text' }, { name: 'logits', from: 'nlu.logits' }],
};

export const IMAGE_CASCADE: WorkflowDefinition = {
  name: 'image-cascade',
  description: 'cnn-small on the edge exits when confident; otherwise cnn-large, split per request with an exit head at the cut',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  nodes: [
    { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0.95' } } },
    { id: 'big', type: 'split-model', params: { model: 'cnn-large', int8MinAgreement: 0.98, exit: { when: 'max(softmax(logits)) >= 0.9', head: 'cnn-large-exit' } } },
  ],
  edges: [
    { source: 'input', target: 'small' },
    { source: 'input', target: 'big' },
    // A control edge: big starts only once small has run and not exited.
    { source: 'small', target: 'big' },
  ],
  outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
};

/**
 * text-tiny answers alone at this confidence. Its mean top-1 probability is 0.86 and most zoo
 * sentences pass 0.9, which would leave text-base idle; at 0.99 about a third exit.
 */
const TEXT_CASCADE_EXIT = 'max(softmax(logits)) >= 0.99';

export const TEXT_CASCADE: WorkflowDefinition = {
  name: 'text-cascade',
  description: 'text-tiny on the edge exits when very sure; otherwise text-base, placed per request',
  inputs: [{ name: 'input_ids', dtype: 'int64', shape: [-1, 32] }],
  nodes: [
    { id: 'small', type: 'model', params: { model: 'text-tiny', placement: 'edge', exit: { when: TEXT_CASCADE_EXIT } } },
    { id: 'big', type: 'model', params: { model: 'text-base', placement: 'auto' } },
  ],
  // The control edge: big starts only once small has run and not exited.
  edges: [{ source: 'input', target: 'small' }, { source: 'input', target: 'big' }, { source: 'small', target: 'big' }],
  outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
};

/** Every example the demo deploys, by name (TEXT_CASCADE is a dashboard template, not deployed by the demo). */
export const EXAMPLE_WORKFLOWS: readonly WorkflowDefinition[] = [VOICE_ASSISTANT, IMAGE_CASCADE];
