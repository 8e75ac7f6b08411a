import { describe, expect, it } from 'vitest';
import { cloudSettingsFromEnv, resolveCloudConfig } from '../../../cloud/config.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

describe('cloud settings modelStore and pluginDirs', () => {
  it('default to no store and no plugins, so the cloud serves the repository or the zoo as before', () => {
    const c = resolveCloudConfig({}, {});
    expect(c.modelStore).toBeUndefined();
    expect(c.pluginDirs).toEqual([]);
  });

  it('come from CLEAVE_MODEL_STORE and CLEAVE_PLUGIN_DIRS, flags winning', () => {
    const env = cloudSettingsFromEnv({ CLEAVE_MODEL_STORE: 's3://models/prod', CLEAVE_PLUGIN_DIRS: ' ./plugins, /opt/cleave-plugins ,' });
    expect(resolveCloudConfig(env, {})).toMatchObject({ modelStore: 's3://models/prod', pluginDirs: ['./plugins', '/opt/cleave-plugins'] });
    expect(resolveCloudConfig(env, { modelStore: '/srv/models', pluginDirs: 'p' })).toMatchObject({ modelStore: '/srv/models', pluginDirs: ['p'] });
  });

  it('a blank store is refused naming the setting and what is allowed', () => {
    const e = cleaveErrorOf(() => resolveCloudConfig({}, { modelStore: '  ' }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
    expect(e.message).toBe('setting modelStore = "  " is not valid; expected a folder path or a URL such as s3://bucket/prefix');
    expect(cleaveErrorOf(() => resolveCloudConfig({}, { pluginDirs: true })).message).toMatch(/setting pluginDirs = true is not valid; expected a comma-separated list of folders/);
  });
});
