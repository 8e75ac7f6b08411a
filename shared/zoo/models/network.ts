/**
 * One zoo network as an ONNX model: the family's body, then either a `features` output (the
 * body alone, run to fit the head) or the fitted classifier head. Both variants draw the body's
 * weights from the same seeded stream, so the body inside the final model is exactly the body
 * that was calibrated.
 */
import { CleaveError } from '../../errors.js';
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import type { ModelProto } from '../../onnx/types.js';
import type { ZooModelSpec } from '../catalogue.js';
import type { FittedHead } from '../fit-head.js';
import { seedOf } from '../fnv1a.js';
import { xavierNormal } from '../init.js';
import { createZooRng } from '../prng.js';
import { audioBody } from './audio.js';
import { cnnBody } from './cnn.js';
import { gemmWith, lastDim, linearWith } from './layers.js';
import { mlpBody } from './mlp.js';
import { textBody } from './text.js';

/** Name of the body-only model's output. */
export const FEATURES_OUTPUT = 'zoo_body_features';

/** The metadata every zoo model carries. */
export function zooMetadata(spec: ZooModelSpec): Record<string, string> {
  return {
    'cleave.zoo.model': spec.name,
    'cleave.zoo.version': String(spec.version),
    'cleave.zoo.task': spec.task,
    'cleave.zoo.preprocess': spec.preprocess,
  };
}

function body(b: GraphBuilder, spec: ZooModelSpec): Value {
  const rng = createZooRng(seedOf(`${spec.name}/body`));
  const arch = spec.arch;
  switch (arch.family) {
    case 'text': return textBody(b, arch, rng);
    case 'cnn': return cnnBody(b, arch, rng);
    case 'audio': return audioBody(b, arch, rng);
    case 'mlp': return mlpBody(b, arch, rng);
    // Exit heads read another model's activation; models/exit.ts builds them.
    case 'exit': throw new CleaveError('CLEAVE_E_INTERNAL', `zoo model "${spec.name}" is an exit head and has no body of its own`);
  }
}

/** Number of classes (last dim of the first output). */
export function classCount(spec: ZooModelSpec): number {
  const shape = spec.outputs[0]!.shape;
  return shape[shape.length - 1] as number;
}

/** The random projection the head is fitted from, [featureDim, classes]; Xavier, seeded by name. */
export function headProjection(spec: ZooModelSpec, featureDim: number): Float32Array {
  const c = classCount(spec);
  return xavierNormal(createZooRng(seedOf(`${spec.name}/head`)), featureDim * c, featureDim, c);
}

/** Builds the body alone, output `features` ([N, F], or [N, T, F] for audio), plus its width. */
export function buildBody(spec: ZooModelSpec): { model: ModelProto; featureDim: number } {
  const b = new GraphBuilder(spec.name);
  const features = body(b, spec);
  b.output(features, FEATURES_OUTPUT);
  return { model: b.build({ metadata: zooMetadata(spec), docString: `${spec.description} (body only, for head fitting)` }), featureDim: lastDim(b, features) };
}

/** Builds the whole model with a fitted head. */
export function buildNetwork(spec: ZooModelSpec, head: FittedHead): ModelProto {
  const b = new GraphBuilder(spec.name);
  const features = body(b, spec);
  const f = lastDim(b, features);
  const c = classCount(spec);
  let logits: Value;
  if (spec.arch.family === 'cnn' || spec.arch.family === 'mlp') {
    // Gemm wants the weight as [out, in] (transB = 1), as exporters write nn.Linear.
    const t = new Float32Array(f * c);
    for (let k = 0; k < f; k++) for (let j = 0; j < c; j++) t[j * f + k] = head.weight[k * c + j]!;
    logits = gemmWith(b, features, t, head.bias, f, c, 'classifier');
  } else {
    logits = linearWith(b, features, head.weight, head.bias, f, c, 'classifier');
  }
  b.output(logits, spec.outputs[0]!.name);
  return b.build({ metadata: zooMetadata(spec), docString: spec.description, producerName: 'cleave-zoo' });
}
