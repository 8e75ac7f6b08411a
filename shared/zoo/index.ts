/**
 * Cleave's model zoo: deterministic generated ONNX models (text, image, audio, tabular; edge and
 * cloud sizes; int8 variants; early-exit heads), their preprocessing and postprocessing
 * contracts, realistic sample inputs, and the manifest that describes the generated files. Runtime-neutral: running models
 * is left to an injected `ZooRunner`.
 */
export {
  ZOO_MODELS, ZOO_VERSION, zooModel,
  type ZooModelSpec, type ZooTier, type ZooQuantization, type ZooTask, type ZooPreprocess, type ZooPostprocess,
  type ZooTensorSpec, type ZooArch, type ZooFamily, type TextArch, type CnnArch, type AudioArch, type MlpArch,
  type ExitArch, type ZooExitOf,
} from './catalogue.js';
export {
  buildZoo, selectZooModels, countParams, maxClassShare,
  CALIBRATION_SEED, EVALUATION_SEED, DEFAULT_CALIBRATION_SAMPLES, DEFAULT_EVALUATION_SAMPLES,
  type ZooRunner, type BuildZooOptions, type BuiltZooModel,
} from './build.js';
export { canonicalEntry, formatManifest, manifestEntry, sha256Hex, type Manifest, type ManifestEntry } from './manifest.js';
export { fitExitHead, ridgeSolve, globalAveragePool, EXIT_RIDGE_GRID, EXIT_CV_FOLDS, type ExitFitInput, type FittedExitHead } from './fit-exit-head.js';
export { exitCurve, EXIT_THRESHOLDS, type ExitCurvePoint } from './exit-curve.js';
export { buildExitHead, withProbeOutputs, EXIT_BASE_KEY, EXIT_CUT_KEY } from './models/exit.js';
export { fitHead, roundSignificant, DEFAULT_TARGET_TOP1, type FittedHead, type HeadFitInput } from './fit-head.js';
export { AUDIO_TOKENS, IMAGE_LABELS, TABULAR_LABELS, TEXT_LABELS } from './labels.js';
export { zooSampleInputs, sampleInputsFor } from './samples/index.js';
export * from './preprocess/index.js';
