/**
 * Output vocabularies of the zoo models. Index i of a model's logits is label i here; the
 * manifest carries the same lists so clients need not import this file.
 */

/** Topics of the text classifiers (8 classes). */
export const TEXT_LABELS = ['world', 'sports', 'business', 'science', 'health', 'entertainment', 'travel', 'food'] as const;

/** Classes of the image classifiers (the CIFAR-10 names, 10 classes). */
export const IMAGE_LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** Per-frame tokens of the audio models (32): CTC blank, space, apostrophe, a-z, and . , ? */
export const AUDIO_TOKENS = ['<blank>', ' ', "'", ...'abcdefghijklmnopqrstuvwxyz', '.', ',', '?'] as const;

/** Classes of the tabular MLPs (10, unnamed). */
export const TABULAR_LABELS = Array.from({ length: 10 }, (_, i) => `class-${i}`);
