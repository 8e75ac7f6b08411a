/**
 * Settings of `cleave edge` and `cleave cloud` from four layers, later ones winning:
 *
 *   defaults < config file (--config / CLEAVE_CONFIG) < environment (CLEAVE_*) < flags
 *
 * edge/config.ts and cloud/config.ts already resolve defaults < env < flags and judge every value;
 * the file goes in under the environment here, so those stay the one place values are checked.
 * When the value they reject came from the file, the message gains the file's path and the key
 * (`config file "cleave.yaml": edge.port: setting port = "http" is not valid; ...`): the user has
 * to know which of the three places to fix.
 */
import { cloudSettingsFromEnv, resolveCloudConfig, type CloudConfig, type RawCloudSettings } from '../cloud/config.js';
import { edgeSettingsFromEnv, resolveEdgeConfig, type EdgeConfig, type RawEdgeSettings } from '../edge/config.js';
import { CleaveError, isCleaveError } from '../shared/errors.js';
import type { ConfigFile, ConfigSection } from './config-file.js';

/** The layers of one command's settings. */
export interface SettingLayers<Raw> {
  /** The config file, when one was given. */
  readonly file?: ConfigFile | undefined;
  /** The process environment (CLEAVE_* variables are read from it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Flags as parsed; undefined values are "not given". */
  readonly flags: Raw;
}

/** Where a setting's winning value came from. */
export type SettingSource = 'default' | 'file' | 'env' | 'flag';

/** The edge's settings from the four layers; CLEAVE_E_BAD_ARGUMENT naming the file when a file value is wrong. */
export function resolveEdgeLayers(l: SettingLayers<RawEdgeSettings>): EdgeConfig {
  const file = l.file?.edge ?? {};
  const env = edgeSettingsFromEnv(l.env);
  return attributed('edge', l.file, file, env, l.flags, () => resolveEdgeConfig({ ...file, ...env }, l.flags));
}

/** The cloud's settings from the four layers; CLEAVE_E_BAD_ARGUMENT naming the file when a file value is wrong. */
export function resolveCloudLayers(l: SettingLayers<RawCloudSettings>): CloudConfig {
  const file = l.file?.cloud ?? {};
  const env = cloudSettingsFromEnv(l.env);
  return attributed('cloud', l.file, file, env, l.flags, () => resolveCloudConfig({ ...file, ...env }, l.flags));
}

/** Which layer's value of `key` wins. */
export function settingSource(key: string, file: Readonly<Record<string, unknown>>, env: Readonly<Record<string, unknown>>, flags: Readonly<Record<string, unknown>>): SettingSource {
  if (flags[key] !== undefined) return 'flag';
  if (env[key] !== undefined) return 'env';
  if (file[key] !== undefined) return 'file';
  return 'default';
}

function attributed<T>(
  section: ConfigSection,
  cfg: ConfigFile | undefined,
  file: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, unknown>>,
  flags: Readonly<Record<string, unknown>>,
  resolve: () => T,
): T {
  try {
    return resolve();
  } catch (e) {
    const key = isCleaveError(e, 'CLEAVE_E_BAD_ARGUMENT') ? e.detail.setting : undefined;
    if (!cfg || typeof key !== 'string' || settingSource(key, file, env, flags) !== 'file') throw e;
    const err = e as CleaveError;
    throw new CleaveError(err.code, `config file "${cfg.path}": ${section}.${key}: ${err.message}`, { ...err.detail, file: cfg.path, key: `${section}.${key}` }, { cause: e });
  }
}
