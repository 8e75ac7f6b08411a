import { describe, expect, it } from 'vitest';
import { cloudSettingsFromEnv, DEFAULT_CLOUD_CONFIG, resolveCloudConfig } from '../../cloud/config.js';
import { cleaveErrorOf } from '../helpers/errors.js';

describe('cloud settings', () => {
  it('defaults < CLEAVE_* env < flags', () => {
    const env = cloudSettingsFromEnv({ CLEAVE_PORT: '9100', CLEAVE_MAX_BATCH_SIZE: '16', CLEAVE_TOKENS: 'a, b', CLEAVE_MEMORY_BUDGET: '2GiB', CLEAVE_BATCHING: 'off' });
    const c = resolveCloudConfig(env, { port: '9200' });
    expect(c.port).toBe(9200);
    expect(c.maxBatchSize).toBe(16);
    expect(c.tokens).toEqual(['a', 'b']);
    expect(c.memoryBudgetBytes).toBe(2 * 1024 ** 3);
    expect(c.batching).toBe(false);
    expect(c.device).toBe('auto');
    expect(resolveCloudConfig({}, {})).toEqual(DEFAULT_CLOUD_CONFIG);
  });

  it('names the setting, the value and what was expected', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ device: 'tpu' }, /device = "tpu".*auto, cuda or cpu/],
      [{ port: '70000' }, /port = "70000".*0 to 65535/],
      [{ memoryBudgetBytes: '2 parsecs' }, /memoryBudgetBytes.*64MiB/],
      [{ batching: 'maybe' }, /batching.*on or off/],
    ];
    for (const [flags, msg] of cases) {
      const err = cleaveErrorOf(() => resolveCloudConfig({}, flags));
      expect(err.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(err.message).toMatch(msg);
    }
  });
});
