import { describe, expect, it } from 'vitest';
import {
  checkModelName, formatFieldPath, MODEL_NAME_PATTERN, parseModelConfig, parseModelConfigFile,
} from '../../../cloud/repository/model-config.js';
import { CleaveError } from '../../../shared/errors.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const mlp = {
  name: 'mlp',
  versions: [2, 1],
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
  maxBatchSize: 8,
};

const errorOf = cleaveErrorOf;

describe('parseModelConfig', () => {
  it('fills warmup defaults and sorts versions ascending', () => {
    const c = parseModelConfig(mlp, 'test');
    expect(c.versions).toEqual([1, 2]);
    expect(c.warmup).toEqual({ enabled: true, batchSizes: [1] });
    expect('dynamicBatching' in c).toBe(false);
    expect('priority' in c).toBe(false);
  });

  it('carries dynamicBatching through unvalidated', () => {
    const c = parseModelConfig({ ...mlp, dynamicBatching: { maxQueueDelayMs: 2, anything: true } }, 'test');
    expect(c.dynamicBatching).toEqual({ maxQueueDelayMs: 2, anything: true });
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['a name with a slash', { ...mlp, name: '../etc' }, 'name:'],
    ['an upper-case name', { ...mlp, name: 'MLP' }, 'name:'],
    ['a zero dim', { ...mlp, inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 0] }] }, 'inputs[0].shape[1]: expected -1 (dynamic) or a positive size'],
    ['an unknown dtype', { ...mlp, outputs: [{ name: 'logits', dtype: 'float8', shape: [-1, 10] }] }, 'outputs[0].dtype'],
    ['a fixed batch dim while batched', { ...mlp, inputs: [{ name: 'x', dtype: 'float32', shape: [4, 64] }] }, 'inputs[0].shape: maxBatchSize 8 means dim 0 is the batch and must be -1'],
    ['duplicate input names', { ...mlp, inputs: [mlp.inputs[0], mlp.inputs[0]] }, 'inputs[1].name: duplicate input name "x"'],
    ['a warmup batch above maxBatchSize', { ...mlp, warmup: { batchSizes: [1, 16] } }, 'warmup.batchSizes[1]: batch size 16 exceeds maxBatchSize 8'],
    ['a warmup batch for an unbatched model', { ...mlp, maxBatchSize: 0, warmup: { batchSizes: [2] } }, 'warmup.batchSizes[0]: batch size 2 for a model that is not batched'],
    ['duplicate versions', { ...mlp, versions: [1, 1] }, 'versions: duplicate versions'],
    ['version 0', { ...mlp, versions: [0] }, 'versions[0]'],
    ['a snake_case key', { ...mlp, max_batch_size: 4 }, 'max_batch_size'],
    ['priority 0', { ...mlp, priority: 0 }, 'priority:'],
  ];
  for (const [what, json, message] of bad) {
    it(`rejects ${what} with CLEAVE_E_BAD_ARGUMENT naming the field`, () => {
      const e = errorOf(() => parseModelConfig(json, '/repo/mlp/config.json'));
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.message).toContain('/repo/mlp/config.json: ');
      expect(e.message).toContain(message);
    });
  }

  it('accepts an unbatched model with fixed dims', () => {
    const c = parseModelConfig({ ...mlp, maxBatchSize: 0, inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64] }] }, 'test');
    expect(c.maxBatchSize).toBe(0);
  });
});

describe('parseModelConfigFile', () => {
  it('takes a config with only some fields', () => {
    expect(parseModelConfigFile({ maxBatchSize: 4, priority: 2 }, 'f')).toEqual({ maxBatchSize: 4, priority: 2, warmup: { enabled: true, batchSizes: [1] } });
  });

  it('rejects versions (the folders say which exist)', () => {
    expect(errorOf(() => parseModelConfigFile({ versions: [1] }, 'f')).message).toContain('versions');
  });

  it('rejects what is not an object', () => {
    expect(errorOf(() => parseModelConfigFile([1], 'f')).message).toMatch(/^f: \(root\): /);
  });
});

describe('model names', () => {
  it('follow [a-z0-9][a-z0-9._-]{0,63}', () => {
    for (const ok of ['a', 'mlp-small', 'text.tiny_2', '0', 'a'.repeat(64)]) expect(MODEL_NAME_PATTERN.test(ok)).toBe(true);
    for (const no of ['', '.hidden', '-x', '..', 'a/b', 'A', 'a'.repeat(65), 'é']) expect(MODEL_NAME_PATTERN.test(no)).toBe(false);
    expect(() => checkModelName('../x')).toThrow(/model name "..\/x" is not valid/);
  });

  it('field paths read like code', () => {
    expect(formatFieldPath(['inputs', 0, 'shape', 1])).toBe('inputs[0].shape[1]');
    expect(formatFieldPath([])).toBe('(root)');
  });
});
