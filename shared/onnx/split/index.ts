/**
 * Split computing: cutting a model into an edge head and a cloud tail (splitModel) and listing
 * where it can be cut (listCutPoints), for the router to choose per request, and the name a
 * part is served under (splitPartName).
 */
export { listCutPoints, cutPointsOf, type CutPoint, type CrossingTensor, type ListCutPointsOptions } from './cut-points.js';
export { splitModel, SPLIT_CUT_KEY, SPLIT_PART_KEY, type SplitResult } from './split-model.js';
export { splitFacts, SMALL_CONST_ELEMENTS, type SplitFacts } from './graph-facts.js';
export { partitionGraph, type SplitPartition } from './partition.js';
export { createSplitVerifier, runSplit, type SplitCheck, type SplitVerifier } from './verify.js';
export { splitPartName, SPLIT_PART_SEPARATOR, SPLIT_PART_NAME_PATTERN, type SplitPart } from './part-name.js';
