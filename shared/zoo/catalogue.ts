/**
 * The zoo's catalogue: every model Cleave generates, what it computes, for which tier, and its
 * input/output contract. Building is elsewhere (build.ts); this file is data, cheap to import
 * (the CLI's `--list` reads it without building anything).
 */
import type { DType } from '../onnx/dtype.js';
import { AUDIO_TOKENS, IMAGE_LABELS, TABULAR_LABELS, TEXT_LABELS } from './labels.js';

/**
 * Version of the generator code as a whole. Bump it whenever any model's bytes change (a new
 * init, a different fit, a new op), so cached `models/` directories are rebuilt.
 */
export const ZOO_VERSION = 2;

/** Where a model is meant to run. */
export type ZooTier = 'edge' | 'cloud';
/** How a model's weights are stored: fp32, int8 weights behind DequantizeLinear, or int8 compute. */
export type ZooQuantization = 'none' | 'qdq-weight' | 'dynamic-int8';
/** What a model computes; picks the sample generator and the postprocessing. */
export type ZooTask = 'text-classification' | 'image-classification' | 'audio-tokens' | 'tabular-classification';
/** Names of the preprocessing contracts in shared/zoo/preprocess. */
export type ZooPreprocess = 'text-hash-tokenizer' | 'image-rgb-64' | 'audio-logmel-40x100' | 'none';
/** How outputs become answers: softmax + top-k per row, or greedy CTC over frames. */
export type ZooPostprocess = 'softmax-topk' | 'ctc-greedy';

/** One input or output tensor: element type and shape ('N' is the symbolic batch). */
export interface ZooTensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly (number | string)[];
}

/** BERT-style encoder over 32 hashed word ids (models/text.ts). */
export interface TextArch {
  readonly family: 'text';
  readonly layers: number;
  /** Hidden width. */
  readonly dModel: number;
  readonly heads: number;
  /** MLP inner width. */
  readonly ffn: number;
}

/** Conv/ReLU/max-pool blocks over 64x64 RGB (models/cnn.ts). */
export interface CnnArch {
  readonly family: 'cnn';
  /** Output channels of each block; each block ends in a 2x2 max pool. */
  readonly blocks: readonly number[];
  /** 3x3 convolutions per block. */
  readonly convsPerBlock: number;
}

/** 1-D conv encoder, optional GRU, over 40 x 100 log-mel frames (models/audio.ts). */
export interface AudioArch {
  readonly family: 'audio';
  /** 1-D convolutions in order; the one with stride 2 halves 100 frames to 50. */
  readonly convs: readonly { readonly channels: number; readonly kernel: number; readonly stride: number }[];
  /** Hidden size of one GRU layer over time; 0 for none. */
  readonly gruHidden: number;
}

/** Gemm + ReLU stack over a feature vector (models/mlp.ts). */
export interface MlpArch {
  readonly family: 'mlp';
  /** Input width, hidden widths..., classes. */
  readonly widths: readonly number[];
}

/**
 * An early-exit head (models/exit.ts): global average pool of an NCHW activation at a cut of its
 * base model, then one linear layer to the base's classes.
 */
export interface ExitArch {
  readonly family: 'exit';
  /** Channels of the activation it reads. */
  readonly channels: number;
}

/** Architecture of a zoo model, by family. */
export type ZooArch = TextArch | CnnArch | AudioArch | MlpArch | ExitArch;
/** Model family: shares architecture code, sample inputs and preprocessing. */
export type ZooFamily = ZooArch['family'];

/** One catalogue entry: everything about a model except its weights. */
export interface ZooModelSpec {
  /** Stable name: the file is `<name>.onnx`, metadata `cleave.zoo.model`. */
  readonly name: string;
  /** This model's version; bump when its bytes change. Starts at 1. */
  readonly version: number;
  readonly tier: ZooTier;
  readonly task: ZooTask;
  readonly description: string;
  readonly inputs: readonly ZooTensorSpec[];
  readonly outputs: readonly ZooTensorSpec[];
  /** Meaning of each index of the last output dimension. */
  readonly labels: readonly string[];
  readonly preprocess: ZooPreprocess;
  readonly postprocess: ZooPostprocess;
  readonly quantization: ZooQuantization;
  /** fp32 architecture; for quantized variants, the base model's. */
  readonly arch: ZooArch;
  /** For quantized variants: the fp32 model they are made from. */
  readonly baseModel?: string;
  /** For early-exit heads: the model whose activation they read, and where. */
  readonly exitOf?: ZooExitOf;
}

/** Where an early-exit head reads its base model (SPINN-style early exit at a split point). */
export interface ZooExitOf {
  /** The base model; the head is fitted to its final logits. */
  readonly model: string;
  /** The cut tensors (as `cleave split --at` names them); the head's inputs, in order. */
  readonly cut: readonly string[];
}

const TEXT_IO = {
  inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['N', 32] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', 8] }],
  labels: TEXT_LABELS,
  task: 'text-classification',
  preprocess: 'text-hash-tokenizer',
  postprocess: 'softmax-topk',
} as const;

const IMAGE_IO = {
  inputs: [{ name: 'image', dtype: 'float32', shape: ['N', 3, 64, 64] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', 10] }],
  labels: IMAGE_LABELS,
  task: 'image-classification',
  preprocess: 'image-rgb-64',
  postprocess: 'softmax-topk',
} as const;

const AUDIO_IO = {
  inputs: [{ name: 'features', dtype: 'float32', shape: ['N', 40, 100] }],
  outputs: [{ name: 'token_logits', dtype: 'float32', shape: ['N', 50, 32] }],
  labels: AUDIO_TOKENS,
  task: 'audio-tokens',
  preprocess: 'audio-logmel-40x100',
  postprocess: 'ctc-greedy',
} as const;

function mlpIO(inputWidth: number) {
  return {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', inputWidth] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', 10] }],
    labels: TABULAR_LABELS,
    task: 'tabular-classification',
    preprocess: 'none',
    postprocess: 'softmax-topk',
  } as const;
}

const TEXT_TINY: TextArch = { family: 'text', layers: 2, dModel: 64, heads: 2, ffn: 128 };
const CNN_SMALL: CnnArch = { family: 'cnn', blocks: [16, 32, 64], convsPerBlock: 1 };

/** Every model of the zoo, fp32 bases before their quantized variants and their exit heads. */
export const ZOO_MODELS: readonly ZooModelSpec[] = [
  {
    name: 'text-tiny', version: 2, tier: 'edge', quantization: 'none', ...TEXT_IO, arch: TEXT_TINY,
    description: 'tiny BERT-style topic classifier: 2 layers, d=64, 2 heads; hashed word ids in, 8 topic logits out',
  },
  {
    name: 'text-base', version: 2, tier: 'cloud', quantization: 'none', ...TEXT_IO,
    arch: { family: 'text', layers: 4, dModel: 192, heads: 4, ffn: 384 },
    description: 'wider, deeper BERT-style topic classifier: 4 layers, d=192, 4 heads; same tokens and labels as text-tiny',
  },
  {
    name: 'cnn-small', version: 1, tier: 'edge', quantization: 'none', ...IMAGE_IO, arch: CNN_SMALL,
    description: '3-block CNN (16, 32, 64 channels) for 64x64 RGB images, 10 classes',
  },
  {
    name: 'cnn-large', version: 1, tier: 'cloud', quantization: 'none', ...IMAGE_IO,
    arch: { family: 'cnn', blocks: [32, 64, 128, 256], convsPerBlock: 2 },
    description: '4-block CNN (32 to 256 channels, two 3x3 convs per block) for 64x64 RGB images, 10 classes',
  },
  {
    name: 'audio-small', version: 1, tier: 'edge', quantization: 'none', ...AUDIO_IO,
    arch: { family: 'audio', convs: [{ channels: 64, kernel: 5, stride: 1 }, { channels: 64, kernel: 3, stride: 2 }, { channels: 96, kernel: 3, stride: 1 }], gruHidden: 0 },
    description: '1-D conv encoder over 40 log-mel bands x 100 frames; per-frame CTC token logits for 50 frames',
  },
  {
    name: 'audio-large', version: 1, tier: 'cloud', quantization: 'none', ...AUDIO_IO,
    arch: { family: 'audio', convs: [{ channels: 128, kernel: 5, stride: 1 }, { channels: 128, kernel: 3, stride: 2 }, { channels: 128, kernel: 3, stride: 1 }], gruHidden: 128 },
    description: '1-D conv encoder plus one GRU layer (hidden 128) over time; per-frame CTC token logits for 50 frames',
  },
  {
    name: 'mlp-small', version: 1, tier: 'edge', quantization: 'none', ...mlpIO(64), arch: { family: 'mlp', widths: [64, 128, 10] },
    description: 'MLP 64-128-10 over tabular feature vectors',
  },
  {
    name: 'mlp-large', version: 1, tier: 'cloud', quantization: 'none', ...mlpIO(512), arch: { family: 'mlp', widths: [512, 2048, 2048, 10] },
    description: 'MLP 512-2048-2048-10, the batching benchmark shape',
  },
  {
    name: 'text-tiny-int8', version: 2, tier: 'edge', quantization: 'dynamic-int8', baseModel: 'text-tiny', ...TEXT_IO, arch: TEXT_TINY,
    description: 'text-tiny with int8 weights and int8 MatMuls (activations quantized per call)',
  },
  {
    name: 'cnn-small-int8', version: 2, tier: 'edge', quantization: 'qdq-weight', baseModel: 'cnn-small', ...IMAGE_IO, arch: CNN_SMALL,
    description: 'cnn-small with int8 weights behind DequantizeLinear (4x smaller file, fp32 compute)',
  },
  {
    name: 'cnn-large-exit', version: 1, tier: 'edge', quantization: 'none', ...IMAGE_IO,
    inputs: [{ name: 'block3.pool_out', dtype: 'float32', shape: ['N', 128, 8, 8] }],
    preprocess: 'none',
    arch: { family: 'exit', channels: 128 },
    exitOf: { model: 'cnn-large', cut: ['block3.pool_out'] },
    description: 'early-exit head of cnn-large at block3.pool_out: global average pool + linear, fitted to cnn-large\'s final logits',
  },
];

/** The spec of a model, or undefined. */
export function zooModel(name: string): ZooModelSpec | undefined {
  return ZOO_MODELS.find((m) => m.name === name);
}
