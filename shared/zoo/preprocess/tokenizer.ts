/**
 * The text models' tokenizer: no vocabulary file, so the edge and the cloud can never disagree
 * about one. Words are hashed (FNV-1a) into the embedding table; collisions are the price of
 * that and, at 4,092 buckets for the zoo's vocabularies, rare.
 *
 *   tokenize(['Hello, world!']) -> int64 [1, 32]: [1, h('hello'), h('world'), 2, 0, 0, ...]
 */
import { CleaveError } from '../../errors.js';
import { hostTensor, type HostTensor } from '../../tensor.js';
import { fnv1a32String } from '../fnv1a.js';

/** Padding id; the models mask attention to it. */
export const PAD_ID = 0;
/** Start-of-sequence id (the text models pool over the word tokens, not at this one). */
export const CLS_ID = 1;
/** End-of-sequence id. */
export const SEP_ID = 2;
/** Unknown word: words longer than `maxWordLength` (URLs, hashes) that would only add noise. */
export const UNK_ID = 3;
/** First id a hashed word can take. */
export const FIRST_WORD_ID = 4;
/** Embedding rows of the text models; word ids lie in [FIRST_WORD_ID, VOCAB_SIZE). */
export const VOCAB_SIZE = 4096;
/** Tokens per sequence the text models take (CLS and SEP included). */
export const SEQUENCE_LENGTH = 32;

/** Tokenizer settings; the defaults are the text models' contract. */
export interface TokenizerOptions {
  /** Tokens per sequence, CLS and SEP included. Default SEQUENCE_LENGTH (32). */
  sequenceLength?: number;
  /** Embedding rows. Default VOCAB_SIZE (4096). */
  vocabSize?: number;
  /** Longer words become UNK_ID. Default 24 characters. */
  maxWordLength?: number;
}

/** Lowercased words: runs of letters or digits (any script); everything else separates. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}

/** The id of one (already lowercased) word. */
export function wordId(word: string, opts: TokenizerOptions = {}): number {
  const vocab = opts.vocabSize ?? VOCAB_SIZE;
  if ([...word].length > (opts.maxWordLength ?? 24)) return UNK_ID;
  return FIRST_WORD_ID + (fnv1a32String(word) % (vocab - FIRST_WORD_ID));
}

/** Ids of one text: [CLS] words... [SEP], truncated and padded to the sequence length. */
export function encodeText(text: string, opts: TokenizerOptions = {}): number[] {
  const len = opts.sequenceLength ?? SEQUENCE_LENGTH;
  if (!Number.isInteger(len) || len < 2) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `sequenceLength is ${len}, expected an integer >= 2`, { sequenceLength: len });
  }
  const words = splitWords(text).slice(0, len - 2);
  const ids = [CLS_ID, ...words.map((w) => wordId(w, opts)), SEP_ID];
  while (ids.length < len) ids.push(PAD_ID);
  return ids;
}

/** Token ids of a batch of texts as the int64 [N, sequenceLength] tensor `input_ids`. */
export function tokenize(texts: readonly string[], opts: TokenizerOptions = {}): HostTensor {
  const len = opts.sequenceLength ?? SEQUENCE_LENGTH;
  const data = new BigInt64Array(texts.length * len);
  texts.forEach((t, i) => {
    encodeText(t, opts).forEach((id, j) => { data[i * len + j] = BigInt(id); });
  });
  return hostTensor('int64', [texts.length, len], data);
}
