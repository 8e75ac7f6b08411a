import { describe, expect, it } from 'vitest';
import { DEFAULT_QUEUE_POLICY, maxBatchSizeFromEnv, parseBatchingConfig, queuePolicyFor } from '../../../cloud/scheduler/batcher-config.js';
import { CleaveError } from '../../../shared/errors.js';

function badArgument(input: unknown, defaults = {}): CleaveError {
  try {
    parseBatchingConfig(input, defaults);
  } catch (e) {
    expect(e).toBeInstanceOf(CleaveError);
    expect((e as CleaveError).code).toBe('CLEAVE_E_BAD_ARGUMENT');
    return e as CleaveError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('parseBatchingConfig', () => {
  it('fills the documented defaults', () => {
    expect(parseBatchingConfig(undefined)).toEqual({
      maxBatchSize: 32,
      maxQueueDelayMs: 2,
      preferredBatchSizes: [],
      priorityLevels: 1,
      defaultPriority: 1,
      defaultQueuePolicy: { timeoutMs: 0, timeoutAction: 'reject', allowTimeoutOverride: false, maxQueueSize: 0 },
      priorityQueuePolicy: {},
      maxConcurrentBatches: 1,
    });
  });

  it('takes maxBatchSize from the defaults argument unless the config sets it', () => {
    expect(parseBatchingConfig({}, { maxBatchSize: 64 }).maxBatchSize).toBe(64);
    expect(parseBatchingConfig({ maxBatchSize: 4 }, { maxBatchSize: 64 }).maxBatchSize).toBe(4);
    expect(parseBatchingConfig({ maxBatchSize: undefined }, { maxBatchSize: 64 }).maxBatchSize).toBe(64);
  });

  it('sorts preferred sizes and drops repeats', () => {
    expect(parseBatchingConfig({ preferredBatchSizes: [8, 4, 8] }).preferredBatchSizes).toEqual([4, 8]);
  });

  it('defaults the priority to the lowest level', () => {
    const c = parseBatchingConfig({ priorityLevels: 3 });
    expect(c.defaultPriority).toBe(3);
  });

  it('merges per-level policies over the default policy', () => {
    const c = parseBatchingConfig({
      priorityLevels: 2,
      defaultQueuePolicy: { timeoutMs: 100, maxQueueSize: 10 },
      priorityQueuePolicy: { '2': { timeoutAction: 'delay', timeoutMs: undefined } },
    });
    expect(queuePolicyFor(c, 1)).toEqual({ ...DEFAULT_QUEUE_POLICY, timeoutMs: 100, maxQueueSize: 10 });
    expect(queuePolicyFor(c, 2)).toEqual({ timeoutMs: 100, timeoutAction: 'delay', allowTimeoutOverride: false, maxQueueSize: 10 });
  });

  it('names the field, the value and the rule broken', () => {
    expect(badArgument({ maxBatchSize: 32, preferredBatchSizes: [8, 64] }).message).toBe('dynamicBatching.preferredBatchSizes[1] = 64 exceeds maxBatchSize 32');
    expect(badArgument({ preferredBatchSizes: [64] }, { maxBatchSize: 16 }).message).toBe('dynamicBatching.preferredBatchSizes[0] = 64 exceeds maxBatchSize 16');
    expect(badArgument({ maxQueueDelayMs: -1 }).message).toBe('dynamicBatching.maxQueueDelayMs = -1: expected a number of ms >= 0');
    expect(badArgument({ maxBatchSize: 2.5 }).message).toBe('dynamicBatching.maxBatchSize = 2.5: expected an integer >= 0');
    expect(badArgument({ maxConcurrentBatches: 0 }).message).toBe('dynamicBatching.maxConcurrentBatches = 0: expected an integer >= 1');
    expect(badArgument({ maxQueueDelayMs: Infinity }).message).toBe('dynamicBatching.maxQueueDelayMs = Infinity: expected a number of ms >= 0');
    expect(badArgument({ preferredBatchSizes: [4, 'x'] }).message).toBe('dynamicBatching.preferredBatchSizes[1] = "x": expected an integer >= 1');
    expect(badArgument({ defaultQueuePolicy: { timeoutAction: 'drop' } }).message).toBe('dynamicBatching.defaultQueuePolicy.timeoutAction = "drop": expected "reject" or "delay"');
    expect(badArgument({ priorityLevels: 2, defaultPriority: 3 }).message).toBe('dynamicBatching.defaultPriority = 3: expected a level 1..2 (priorityLevels)');
    expect(badArgument({ priorityQueuePolicy: { '2': {} } }).message).toContain('dynamicBatching.priorityQueuePolicy[2]: level 2 does not exist; expected a level 1..1');
    expect(badArgument({ priorityQueuePolicy: { high: {} } }).message).toContain('"high" is not a priority level');
    expect(badArgument({ maxBatchSze: 8 }).message).toBe('dynamicBatching: unknown field "maxBatchSze"');
    expect(badArgument(7).message).toBe('dynamicBatching = 7: expected an object');
    expect(badArgument({ maxQueueDelayMs: -1 }).detail).toEqual({ field: 'dynamicBatching.maxQueueDelayMs' });
  });

  it('checks the defaults it is given', () => {
    expect(badArgument({}, { maxBatchSize: -1 }).message).toBe('batching defaults.maxBatchSize = -1: expected an integer >= 0');
  });
});

describe('maxBatchSizeFromEnv', () => {
  it('reads CLEAVE_MAX_BATCH_SIZE, defaulting to 32', () => {
    expect(maxBatchSizeFromEnv({})).toBe(32);
    expect(maxBatchSizeFromEnv({ CLEAVE_MAX_BATCH_SIZE: '' })).toBe(32);
    expect(maxBatchSizeFromEnv({ CLEAVE_MAX_BATCH_SIZE: ' 8 ' })).toBe(8);
    expect(maxBatchSizeFromEnv({ CLEAVE_MAX_BATCH_SIZE: '0' })).toBe(0);
    expect(() => maxBatchSizeFromEnv({ CLEAVE_MAX_BATCH_SIZE: 'big' })).toThrow('CLEAVE_MAX_BATCH_SIZE = "big": expected an integer >= 0');
    expect(() => maxBatchSizeFromEnv({ CLEAVE_MAX_BATCH_SIZE: '-2' })).toThrow(CleaveError);
  });
});
