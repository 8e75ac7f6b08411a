/**
 * Early-exit heads (SPINN-style): a small classifier that reads a base model's activation at a
 * split point, so the edge can answer on its own when the head is confident and send the
 * activation to the cloud tail otherwise. The head is GlobalAveragePool -> Flatten -> MatMul
 * -> Add, fitted by fit-exit-head.ts; here the graph, plus the probe that exposes the cut
 * tensor of the base so the fit and the measurements can read it.
 */
import { CleaveError } from '../../errors.js';
import { GraphBuilder } from '../../onnx/builder.js';
import type { ModelProto } from '../../onnx/types.js';
import type { ZooModelSpec } from '../catalogue.js';
import type { FittedExitHead } from '../fit-exit-head.js';
import { classCount, zooMetadata } from './network.js';
import { linearWith } from './layers.js';

/** Metadata key naming the model an exit head reads. */
export const EXIT_BASE_KEY = 'cleave.exit.base';
/** Metadata key naming the cut tensors it reads, joined by commas (as SPLIT_CUT_KEY does). */
export const EXIT_CUT_KEY = 'cleave.exit.cut';

/** The zoo metadata of an exit head, with its base and cut. */
export function exitMetadata(spec: ZooModelSpec): Record<string, string> {
  if (!spec.exitOf) throw new CleaveError('CLEAVE_E_INTERNAL', `zoo model "${spec.name}" is not an exit head`);
  return { ...zooMetadata(spec), [EXIT_BASE_KEY]: spec.exitOf.model, [EXIT_CUT_KEY]: spec.exitOf.cut.join(',') };
}

/** Builds the exit head: input = the cut activation [N, C, H, W], output = the class logits. */
export function buildExitHead(spec: ZooModelSpec, head: FittedExitHead): ModelProto {
  const input = spec.inputs[0]!;
  if (spec.arch.family !== 'exit' || input.shape.length !== 4) {
    throw new CleaveError('CLEAVE_E_INTERNAL', `zoo model "${spec.name}": an exit head reads one NCHW activation, catalogue gives ${spec.arch.family} over [${input.shape.join(',')}]`);
  }
  const c = spec.arch.channels;
  const k = classCount(spec);
  const b = new GraphBuilder(spec.name);
  const x = b.input(input.name, input.dtype, input.shape);
  const gap = b.op('GlobalAveragePool', [x], {}, { name: 'exit.gap' });
  const flat = b.op('Flatten', [gap], { axis: 1 }, { name: 'exit.flatten' });
  const logits = linearWith(b, flat, head.weight, head.bias, c, k, 'exit.classifier');
  b.output(logits, spec.outputs[0]!.name);
  return b.build({ metadata: exitMetadata(spec), docString: spec.description, producerName: 'cleave-zoo' });
}

/**
 * The model with extra graph outputs for intermediate tensors (typed from its value_info), so
 * one run yields both the cut activation and the usual outputs. The model's nodes are shared.
 */
export function withProbeOutputs(model: ModelProto, names: readonly string[]): ModelProto {
  if (names.length === 0) return model;
  const infos = names.map((n) => {
    const vi = model.graph.valueInfo.find((v) => v.name === n);
    if (!vi) throw new CleaveError('CLEAVE_E_NOT_FOUND', `zoo probe: model "${model.graph.name}" has no typed intermediate "${n}"`, { tensor: n });
    return vi;
  });
  return {
    ...model,
    graph: { ...model.graph, output: [...model.graph.output, ...infos], valueInfo: model.graph.valueInfo.filter((v) => !names.includes(v.name)) },
  };
}
