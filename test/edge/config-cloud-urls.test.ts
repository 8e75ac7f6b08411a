// The cloud URL setting as a list: `--cloud ws://a/v1/ws,ws://b/v1/ws` (or CLEAVE_CLOUD_URL) names
// several cloud endpoints for one pool; each entry is checked, and a bad one is named.
import { describe, expect, it } from 'vitest';
import { cloudUrlList, edgeSettingsFromEnv, resolveEdgeConfig } from '../../edge/config.js';
import { cleaveErrorOf } from '../helpers/errors.js';

describe('cloudUrl as a comma-separated list', () => {
  it('takes one URL as before', () => {
    const c = resolveEdgeConfig({ cloudUrl: 'ws://127.0.0.1:9000/v1/ws' });
    expect(c.cloudUrl).toBe('ws://127.0.0.1:9000/v1/ws');
    expect(cloudUrlList(c.cloudUrl!)).toEqual(['ws://127.0.0.1:9000/v1/ws']);
  });

  it('takes several, from a flag or the environment, without blanks around the commas', () => {
    const c = resolveEdgeConfig(edgeSettingsFromEnv({ CLEAVE_CLOUD_URL: 'ws://10.0.0.5:9000/v1/ws' }), { cloudUrl: ' ws://10.0.0.5:9000/v1/ws , wss://cloud.example/v1/ws?token=t ' });
    expect(c.cloudUrl).toBe('ws://10.0.0.5:9000/v1/ws,wss://cloud.example/v1/ws?token=t');
    expect(cloudUrlList(c.cloudUrl!)).toEqual(['ws://10.0.0.5:9000/v1/ws', 'wss://cloud.example/v1/ws?token=t']);
  });

  const invalid: { name: string; value: string; says: string }[] = [
    { name: 'an http:// entry', value: 'ws://a:1/v1/ws,http://b:1/v1/ws', says: 'entry 2 "http://b:1/v1/ws" is not one' },
    { name: 'an entry with no host', value: 'ws://,ws://b:1/v1/ws', says: 'entry 1 "ws://" is not one' },
    { name: 'an empty entry', value: 'ws://a:1/v1/ws,,ws://b:1/v1/ws', says: 'entry 2 is empty' },
    { name: 'a trailing comma', value: 'ws://a:1/v1/ws,', says: 'entry 2 is empty' },
    { name: 'an entry with a blank inside', value: 'ws://a:1/v1/ws,ws://b:1/v1 ws', says: 'entry 2 "ws://b:1/v1 ws" is not one' },
    { name: 'a repeated entry', value: 'ws://a:1/v1/ws,ws://b:1/v1/ws, ws://a:1/v1/ws', says: 'entry 3 "ws://a:1/v1/ws" repeats entry 1' },
  ];
  for (const c of invalid) {
    it(`${c.name} is CLEAVE_E_BAD_ARGUMENT naming the bad entry`, () => {
      const e = cleaveErrorOf(() => resolveEdgeConfig({ cloudUrl: c.value }));
      expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
      expect(e.message).toContain(`setting cloudUrl = ${JSON.stringify(c.value)} is not valid`);
      expect(e.message).toContain(c.says);
      expect(e.detail).toEqual({ setting: 'cloudUrl' });
    });
  }

  it('a single bad URL keeps the single-URL message', () => {
    const e = cleaveErrorOf(() => resolveEdgeConfig({ cloudUrl: 'http://x' }));
    expect(e.message).toBe('setting cloudUrl = "http://x" is not valid; expected a ws:// or wss:// URL such as ws://127.0.0.1:9000/v1/ws');
  });
});
