/**
 * Reusable split checks for any model (the split tests' fixtures, the zoo): every listed cut
 * point (or the cuts given) must split into a head and a tail that
 *  - are standalone models (they survive an encode/decode round trip and load in the backend),
 *  - carry the split metadata and the sizes listCutPoints promised,
 *  - and, run head then tail, reproduce the full model's outputs within `tolerance`.
 */
import { expect } from 'vitest';
import { nodeBackends } from '../../cli/backends.js';
import type { LoadOptions } from '../../shared/backend/backend.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { createSplitVerifier, listCutPoints, splitModel, SPLIT_CUT_KEY, SPLIT_PART_KEY, type CutPoint, type SplitCheck, type SplitResult } from '../../shared/onnx/split/index.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import type { HostTensor } from '../../shared/tensor.js';

export interface SplitEquivalenceOptions {
  /** Cuts to check; default every cut listCutPoints gives. */
  cuts?: readonly (readonly string[])[];
  /** Passed to listCutPoints when `cuts` is not given. Default 1. */
  maxTensors?: number;
  /**
   * Largest allowed |full - head->tail| per element, times max(1, largest |output|): outputs in
   * the tens differ by a few float32 ulps where a cut splits an operator fusion onnxruntime
   * would make (verify.ts). Default 1e-5.
   */
  tolerance?: number;
  /** Backend to run on. Default 'onnxruntime-node'. */
  backend?: 'onnxruntime-node' | 'onnxruntime-web';
  /**
   * Load options for full, head and tail. `{ graphOptimization: 'basic' }` makes all three do
   * the same arithmetic, so the tolerance can be an absolute 1e-5 (see `absolute`).
   */
  load?: LoadOptions;
  /** Judge |diff| against `tolerance` alone, not scaled by the output's magnitude. */
  absolute?: boolean;
}

export interface SplitEquivalenceReport {
  cutPoints: CutPoint[];
  checks: { cut: readonly string[]; check: SplitCheck }[];
}

/** Structural promises of one split, without running it. */
export function expectWellFormedSplit(model: ModelProto, cut: readonly string[], split: SplitResult, listed?: CutPoint): void {
  for (const [part, side] of [[split.head, 'head'], [split.tail, 'tail']] as const) {
    const meta = Object.fromEntries(part.metadataProps.map((e) => [e.key, e.value]));
    expect(meta[SPLIT_PART_KEY]).toBe(side);
    expect(meta[SPLIT_CUT_KEY]).toBe(cut.join(','));
    expect(part.irVersion).toBe(model.irVersion);
    expect(part.opsetImport).toEqual(model.opsetImport);
    // A standalone model: the bytes decode back to the same graph.
    expect(decodeModel(encodeModel(part)).graph.node.length).toBe(part.graph.node.length);
  }
  expect(split.crossing.map((c) => c.name)).toEqual([...cut]);
  expect(split.head.graph.output.slice(0, cut.length).map((o) => o.name)).toEqual([...cut]);
  expect(split.tail.graph.input.slice(0, cut.length).map((i) => i.name)).toEqual([...cut]);
  expect(split.tail.graph.input.slice(cut.length).map((i) => i.name)).toEqual(split.passthroughInputs);
  expect(split.head.graph.output.slice(cut.length).map((o) => o.name)).toEqual(split.passthroughOutputs);
  const outputs = [...split.passthroughOutputs, ...split.tail.graph.output.map((o) => o.name)].sort();
  expect(outputs).toEqual(model.graph.output.map((o) => o.name).sort());
  expect(split.stats.headNodes).toBe(split.head.graph.node.length);
  expect(split.stats.tailNodes).toBe(split.tail.graph.node.length);
  if (listed) {
    expect({ ...split.stats, passthroughInputs: split.passthroughInputs, passthroughOutputs: split.passthroughOutputs }).toEqual({
      headNodes: listed.headNodes,
      headParamBytes: listed.headParamBytes,
      tailNodes: listed.tailNodes,
      tailParamBytes: listed.tailParamBytes,
      passthroughInputs: listed.passthroughInputs.map((t) => t.name),
      passthroughOutputs: listed.passthroughOutputs,
    });
  }
}

/**
 * Splits `modelBytes` at every listed cut point (or `opts.cuts`) and expects head->tail to equal
 * the full model on `feeds`. Returns the cut points and the measured differences.
 */
export async function expectSplitEquivalent(modelBytes: Uint8Array, feeds: Readonly<Record<string, HostTensor>>, opts: SplitEquivalenceOptions = {}): Promise<SplitEquivalenceReport> {
  const model = decodeModel(modelBytes);
  const cutPoints = listCutPoints(model, { maxTensors: opts.maxTensors ?? 1 });
  const listed = new Map(cutPoints.map((cp) => [cp.tensors.map((t) => t.name).join(','), cp]));
  const cuts = opts.cuts ?? cutPoints.map((cp) => cp.tensors.map((t) => t.name));
  const backend = (await nodeBackends()).get(opts.backend ?? 'onnxruntime-node');
  const verifier = await createSplitVerifier(backend, modelBytes, feeds, opts.load ?? {});
  const tolerance = opts.tolerance ?? 1e-5;
  const checks: SplitEquivalenceReport['checks'] = [];
  try {
    for (const cut of cuts) {
      const split = splitModel(model, cut);
      expectWellFormedSplit(model, cut, split, listed.get(cut.join(',')));
      const check = await verifier.check(split);
      expect(check.maxAbsDiff, `cut at ${cut.join(',')}: ${JSON.stringify(check.perOutput)}`).toBeLessThanOrEqual(opts.absolute ? tolerance : tolerance * Math.max(1, check.scale));
      checks.push({ cut, check });
    }
  } finally {
    await verifier.dispose();
  }
  return { cutPoints, checks };
}
