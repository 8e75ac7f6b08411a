// The edge's security settings: read from CLEAVE_* variables, validated, secrets never quoted.
import { describe, expect, it } from 'vitest';
import { edgeSettingsFromEnv, resolveEdgeConfig } from '../../../edge/config.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const SECRET = 'edge-cloud-secret-0123456789';

describe('edge security settings', () => {
  it('reads them from the environment', () => {
    const c = resolveEdgeConfig(edgeSettingsFromEnv({
      CLEAVE_CLOUD_SECRET: SECRET, CLEAVE_EDGE_ID: 'gw-7', CLEAVE_API_KEYS_FILE: '/etc/cleave/keys.yaml', CLEAVE_LOG_MASK: 'authorization, apiKey,input,',
    }));
    expect(c).toMatchObject({ cloudSecret: SECRET, edgeId: 'gw-7', apiKeysFile: '/etc/cleave/keys.yaml', logMask: ['authorization', 'apiKey', 'input'] });
    expect(resolveEdgeConfig(edgeSettingsFromEnv({ CLEAVE_API_KEYS: '{"tenants":[]}' })).apiKeys).toBe('{"tenants":[]}');
    const none = resolveEdgeConfig({});
    for (const k of ['cloudSecret', 'edgeId', 'apiKeysFile', 'apiKeys', 'logMask']) expect(k in none, k).toBe(false);
  });

  it('refuses a short secret, a secret beside a static token, and a bad edge id, naming the setting', () => {
    const short = cleaveErrorOf(() => resolveEdgeConfig({ cloudSecret: 'hunter2' }));
    expect(short.detail).toEqual({ setting: 'cloudSecret' });
    expect(short.message).toContain('7 characters');
    expect(short.message).not.toContain('hunter2');
    const both = cleaveErrorOf(() => resolveEdgeConfig({ cloudSecret: SECRET, cloudToken: 'static' }));
    expect(both.message).toContain('either cloudSecret');
    expect(both.message).not.toContain(SECRET);
    expect(cleaveErrorOf(() => resolveEdgeConfig({ edgeId: 'gw.7' })).detail).toEqual({ setting: 'edgeId' });
    expect(cleaveErrorOf(() => resolveEdgeConfig({ apiKeysFile: '/k.json', apiKeys: '{}' })).detail).toEqual({ setting: 'apiKeys' });
    expect(cleaveErrorOf(() => resolveEdgeConfig({ logMask: 'ok,not ok' })).message).toContain('"not ok" is not one');
  });
});
