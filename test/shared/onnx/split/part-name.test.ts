// Split part names: the cloud lists tails under them and the edge computes them on its own, so
// they must be deterministic, valid model names, and readable where the cut allows.
import { describe, expect, it } from 'vitest';
import { MODEL_NAME_PATTERN } from '../../../../cloud/repository/model-config.js';
import { SPLIT_PART_NAME_PATTERN, SPLIT_PART_SEPARATOR, splitPartName } from '../../../../shared/onnx/split/index.js';
import { fnv1a32String } from '../../../../shared/zoo/fnv1a.js';
import { cleaveErrorOf } from '../../../helpers/errors.js';

const hex = (s: string): string => fnv1a32String(s).toString(16).padStart(8, '0');

describe('splitPartName', () => {
  it('restates the cloud model name rule exactly', () => {
    expect(SPLIT_PART_NAME_PATTERN.source).toBe(MODEL_NAME_PATTERN.source);
    expect(SPLIT_PART_NAME_PATTERN.flags).toBe(MODEL_NAME_PATTERN.flags);
    expect(SPLIT_PART_SEPARATOR).toBe('.');
  });

  it('is readable for one valid cut tensor: <model>.<part>.<tensor>', () => {
    expect(splitPartName('cnn-large', 'tail', ['block3.pool_out'])).toBe('cnn-large.tail.block3.pool_out');
    expect(splitPartName('cnn-large', 'head', ['block3.pool_out'])).toBe('cnn-large.head.block3.pool_out');
    expect(splitPartName('text-tiny', 'tail', ['layer0.attn.ln_out'])).toBe('text-tiny.tail.layer0.attn.ln_out');
  });

  it.each([
    ['an exporter name with / and capitals', ['/encoder/layer.0/Add_output_0']],
    ['two cut tensors', ['block3.pool_out', 'block3.skip']],
    ['a name that would pass the length limit', ['x'.repeat(60)]],
    ['a name that reads as a hash', ['deadbeef']],
    ['a name with a space', ['pool out']],
  ])('hashes the cut joined by "," for %s', (_, cut) => {
    const name = splitPartName('cnn-large', 'tail', cut);
    expect(name).toBe(`cnn-large.tail.${hex(cut.join(','))}`);
    expect(name).toMatch(SPLIT_PART_NAME_PATTERN);
  });

  it('is deterministic and tells head from tail and one cut from another', () => {
    const cut = ['/a/B_output_0'];
    expect(splitPartName('m', 'tail', cut)).toBe(splitPartName('m', 'tail', [...cut]));
    expect(splitPartName('m', 'head', cut)).not.toBe(splitPartName('m', 'tail', cut));
    expect(splitPartName('m', 'tail', ['/a/B_output_0'])).not.toBe(splitPartName('m', 'tail', ['/a/C_output_0']));
    // Order is part of the cut: splitModel declares the crossing tensors in the order given.
    expect(splitPartName('m', 'tail', ['A', 'B'])).not.toBe(splitPartName('m', 'tail', ['B', 'A']));
  });

  it('stays valid and distinct for model names too long for the suffix', () => {
    const a = `${'a'.repeat(60)}-one`;
    const b = `${'a'.repeat(60)}-two`;
    const na = splitPartName(a, 'tail', ['block3.pool_out']);
    const nb = splitPartName(b, 'tail', ['block3.pool_out']);
    for (const n of [na, nb]) {
      expect(n).toMatch(SPLIT_PART_NAME_PATTERN);
      expect(n.length).toBeLessThanOrEqual(64);
      expect(n).toMatch(/\.tail\.[0-9a-f]{8}$/);
    }
    expect(na).not.toBe(nb);
    // 50 characters is the longest model name that still gets `<model>.<part>.<8 hex>` whole.
    const fifty = 'm'.repeat(50);
    expect(splitPartName(fifty, 'head', ['/x'])).toBe(`${fifty}.head.${hex('/x')}`);
  });

  it('refuses an invalid model name, part or cut with CLEAVE_E_BAD_ARGUMENT', () => {
    const e = cleaveErrorOf(() => splitPartName('CNN', 'tail', ['x']));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toContain('"CNN"');
    expect(cleaveErrorOf(() => splitPartName('cnn', 'middle' as 'head', ['x'])).message).toContain('"middle"');
    expect(cleaveErrorOf(() => splitPartName('cnn', 'tail', [])).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(cleaveErrorOf(() => splitPartName('cnn', 'tail', [''])).code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });
});
