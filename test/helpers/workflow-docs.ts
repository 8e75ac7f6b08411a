/** Small workflow documents and model contracts shared by the workflow store and route tests. */
import { CleaveError } from '../../shared/errors.js';
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import type { ModelInfo, ModelLookup } from '../../shared/workflow/validate.js';

/** A one-node document of valid shape; `tag` changes its description so versions differ. */
export function sampleWorkflow(name: string, tag = 'a'): WorkflowDefinition {
  return {
    name,
    description: `doc ${tag}`,
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
    nodes: [{ id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge' } }],
    edges: [{ source: 'input', target: 'small' }],
    outputs: [{ name: 'logits', from: 'small.logits' }],
  };
}

const IMAGE_CLASSIFIER = {
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
} as const;

/** Two fake models: cnn-small on the edge, cnn-large in the cloud, both image [-1,3,64,64] -> logits [-1,10]. */
export const FAKE_MODELS: ReadonlyMap<string, ModelInfo> = new Map<string, ModelInfo>([
  ['cnn-small', { ...IMAGE_CLASSIFIER, tiers: ['edge'] }],
  ['cnn-large', { ...IMAGE_CLASSIFIER, tiers: ['cloud'] }],
]);

/** The lookup the validator takes, over FAKE_MODELS. */
export const fakeModels: ModelLookup = (model) => FAKE_MODELS.get(model);

/** The CleaveError `p` rejects with; fails the test if it resolves or rejects with something else. */
export async function rejectionOf(p: Promise<unknown>): Promise<CleaveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CleaveError) return e;
    throw e;
  }
  throw new Error('expected a CleaveError, the promise resolved');
}
