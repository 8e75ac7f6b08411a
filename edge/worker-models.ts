/**
 * The models bundled into the Worker: the zoo's edge tier, imported as `Data` modules (their
 * bytes) by wrangler's bundler, plus the manifest that describes them. The files come from
 * `npm run models` (the tests and `wrangler deploy` run it first); test/edge/catalog.test.ts
 * checks this list matches the catalogue's edge tier, so a new edge model cannot be forgotten.
 */
import type { Manifest } from '../shared/zoo/manifest.js';
import manifest from '../models/manifest.json' with { type: 'json' };
import textTiny from '../models/text-tiny.onnx';
import textTinyInt8 from '../models/text-tiny-int8.onnx';
import cnnSmall from '../models/cnn-small.onnx';
import cnnSmallInt8 from '../models/cnn-small-int8.onnx';
import audioSmall from '../models/audio-small.onnx';
import mlpSmall from '../models/mlp-small.onnx';
import cnnLargeExit from '../models/cnn-large-exit.onnx';

/** Bundled model files by file name. */
export const WORKER_MODEL_FILES: Readonly<Record<string, ArrayBuffer>> = {
  'text-tiny.onnx': textTiny,
  'text-tiny-int8.onnx': textTinyInt8,
  'cnn-small.onnx': cnnSmall,
  'cnn-small-int8.onnx': cnnSmallInt8,
  'audio-small.onnx': audioSmall,
  'mlp-small.onnx': mlpSmall,
  'cnn-large-exit.onnx': cnnLargeExit,
};

export const WORKER_MANIFEST = manifest as unknown as Manifest;
