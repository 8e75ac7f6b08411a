/**
 * The model name a split part is served under, computed the same way on both tiers: the cloud
 * lists a model's tails under these names, and the edge, having cut the head itself, asks for
 * the tail by the same name without looking it up.
 *
 *   splitPartName('cnn-large', 'tail', ['block3.pool_out'])  -> 'cnn-large.tail.block3.pool_out'
 *   splitPartName('text-tiny', 'tail', ['/l0/Add_output_0']) -> 'text-tiny.tail.925e787d' (hash)
 *
 * Names obey the cloud's model name rule (cloud/repository/model-config.ts MODEL_NAME_PATTERN,
 * restated here because shared/ does not import the cloud): 1 to 64 of a-z 0-9 . _ -, starting
 * with a letter or digit.
 */
import { CleaveError } from '../../errors.js';
import { fnv1a32String } from '../../zoo/fnv1a.js';

/**
 * Joins the parts of a split part name: `<model>.<part>.<tensor or hash>`. A dot, because model
 * names may hold dashes and underscores but zoo and repository names rarely hold dots, and
 * because readable cut tensor names (`block3.pool_out`) already use them.
 */
export const SPLIT_PART_SEPARATOR = '.';

/** The cloud's model name rule (MODEL_NAME_PATTERN), which every split part name matches. */
export const SPLIT_PART_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Longest model name, characters (from the rule above). */
const MAX_NAME = 64;

/** Which side of a split a part is. */
export type SplitPart = 'head' | 'tail';

/** 8 lowercase hex digits of FNV-1a over `s`. */
function hex8(s: string): string {
  return fnv1a32String(s).toString(16).padStart(8, '0');
}

/**
 * The served name of one part of `model` cut at `cut` (the tensor names, in the order given to
 * splitModel). Deterministic and always valid under SPLIT_PART_NAME_PATTERN:
 *
 * - `<model>.<part>.<tensor>` for a single cut tensor whose name is itself valid (lowercase,
 *   no `/`), fits in 64 characters, and is not 8 hex digits (which would read as a hash);
 * - otherwise `<model>.<part>.<8 hex digits of FNV-1a of the cut joined by ','>`;
 * - a model name too long for even that (over 50 characters) is cut short and the hash covers
 *   `<model>:<cut joined by ','>`, so two long names with a common prefix still differ.
 *
 * Throws CLEAVE_E_BAD_ARGUMENT for an invalid model name, an unknown part or an empty cut.
 */
export function splitPartName(model: string, part: SplitPart, cut: readonly string[]): string {
  if (!SPLIT_PART_NAME_PATTERN.test(model)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `model name ${JSON.stringify(model)} is not valid: expected 1 to 64 of a-z 0-9 . _ - starting with a letter or digit`, { model });
  }
  if (part !== 'head' && part !== 'tail') {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `split part ${JSON.stringify(part)} is not "head" or "tail"`, { part: String(part) });
  }
  if (cut.length === 0 || cut.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `a split part needs one or more non-empty cut tensor names, got [${cut.map((t) => JSON.stringify(t)).join(', ')}]`, { model });
  }
  const sep = SPLIT_PART_SEPARATOR;
  const base = `${model}${sep}${part}${sep}`;
  if (cut.length === 1) {
    const readable = base + cut[0]!;
    if (SPLIT_PART_NAME_PATTERN.test(readable) && !/^[0-9a-f]{8}$/.test(cut[0]!)) return readable;
  }
  const joined = cut.join(',');
  if (base.length + 8 <= MAX_NAME) return base + hex8(joined);
  const suffix = `${sep}${part}${sep}${hex8(`${model}:${joined}`)}`;
  // The cut-short model may end in punctuation; that is fine after the first character.
  return model.slice(0, MAX_NAME - suffix.length) + suffix;
}
