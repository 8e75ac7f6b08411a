/**
 * The dashboard's workflow templates: the zoo pipelines (shared/workflow/examples.ts), each with
 * sample inputs in the JSON form `POST /v1/workflows/:name/infer` takes, one row per input, so the
 * page can fill its editor and dry-run a template without the user finding data. Runtime-neutral.
 */
import type { WorkflowDefinition } from '../../shared/workflow/definition.js';
import { IMAGE_CASCADE, TEXT_CASCADE, VOICE_ASSISTANT } from '../../shared/workflow/examples.js';
import { valueJson } from '../workflow-run-routes.js';
import { workflowSampleInputs } from './sample-inputs.js';

/** One template as GET /v1/dashboard/templates lists it. */
export interface WorkflowTemplate {
  /** The document's name. */
  readonly name: string;
  /** One line for the page's picker. */
  readonly title: string;
  readonly doc: WorkflowDefinition;
  /** `{ <input>: { dtype, dims, data } }`, one sample row per declared input. */
  readonly sampleInputs: Readonly<Record<string, ReturnType<typeof valueJson>>>;
}

const SOURCES: readonly { readonly title: string; readonly doc: WorkflowDefinition }[] = [
  { title: 'Voice assistant: speech on the edge, CTC, topic classifier placed per request', doc: VOICE_ASSISTANT },
  { title: 'Image cascade: cnn-small exits early, cnn-large split per request', doc: IMAGE_CASCADE },
  { title: 'Text cascade: text-tiny exits early, text-base placed per request', doc: TEXT_CASCADE },
];

let cached: readonly WorkflowTemplate[] | undefined;

/** The templates; built once (the audio sample costs about a millisecond), then shared. */
export function workflowTemplates(): readonly WorkflowTemplate[] {
  cached ??= SOURCES.map(({ title, doc }) => {
    const samples = workflowSampleInputs(doc, 1);
    return { name: doc.name, title, doc, sampleInputs: Object.fromEntries(Object.entries(samples).map(([k, t]) => [k, valueJson(t)])) };
  });
  return cached;
}
