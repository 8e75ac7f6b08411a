/**
 * Synthetic sentences for the text models: topic words mixed with function words, random
 * capitalisation and punctuation, lengths from 3 to 40 words (so some are truncated at 32
 * tokens). Realistic enough to exercise padding, masking and truncation, and to give the fitted
 * head a calibration set that looks like what the edge will send.
 */
import type { ZooRng } from '../prng.js';

const FUNCTION_WORDS = ['the', 'a', 'of', 'and', 'to', 'in', 'is', 'for', 'on', 'with', 'as', 'was', 'at', 'by', 'it', 'from', 'this', 'that', 'new', 'after'];

/**
 * Words of each topic, in TEXT_LABELS order (world, sports, business, ...). The text models'
 * embedding tables give each list a shared direction, as training would (models/text.ts).
 */
export const TOPIC_WORDS: readonly (readonly string[])[] = [
  ['government', 'election', 'minister', 'talks', 'border', 'treaty', 'protest', 'president', 'united', 'nations', 'capital', 'vote'],
  ['match', 'team', 'season', 'goal', 'coach', 'league', 'final', 'score', 'player', 'cup', 'race', 'win'],
  ['market', 'shares', 'profit', 'bank', 'company', 'quarter', 'deal', 'stocks', 'investors', 'growth', 'trade', 'prices'],
  ['study', 'researchers', 'space', 'data', 'physics', 'climate', 'genome', 'telescope', 'energy', 'quantum', 'robot', 'model'],
  ['doctors', 'patients', 'vaccine', 'hospital', 'diet', 'sleep', 'heart', 'trial', 'virus', 'exercise', 'care', 'cancer'],
  ['film', 'music', 'album', 'actor', 'festival', 'series', 'show', 'award', 'concert', 'director', 'star', 'premiere'],
  ['flight', 'hotel', 'beach', 'island', 'visa', 'tour', 'airline', 'trip', 'museum', 'cruise', 'mountains', 'passport'],
  ['recipe', 'bread', 'cheese', 'restaurant', 'chef', 'wine', 'soup', 'spicy', 'dessert', 'coffee', 'market', 'kitchen'],
];

const PUNCTUATION = ['.', ',', '!', '?', ';', ' -', ''];

/** One random sentence. */
export function randomSentence(rng: ZooRng): string {
  const topic = TOPIC_WORDS[rng.int(0, TOPIC_WORDS.length)]!;
  // A second topic now and then: real text is rarely about one thing only.
  const other = TOPIC_WORDS[rng.int(0, TOPIC_WORDS.length)]!;
  const words = rng.int(3, 41);
  const parts: string[] = [];
  for (let i = 0; i < words; i++) {
    const u = rng.next();
    let w = u < 0.4 ? rng.pick(FUNCTION_WORDS) : u < 0.85 ? rng.pick(topic) : u < 0.95 ? rng.pick(other) : String(rng.int(1, 2100));
    if (i === 0 || rng.next() < 0.05) w = w.charAt(0).toUpperCase() + w.slice(1);
    parts.push(rng.next() < 0.1 ? w + rng.pick(PUNCTUATION) : w);
  }
  return parts.join(' ') + rng.pick(['.', '!', '?', '']);
}

/** `n` random sentences. */
export function randomSentences(rng: ZooRng, n: number): string[] {
  return Array.from({ length: n }, () => randomSentence(rng));
}
