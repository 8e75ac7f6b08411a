/**
 * The model stores available to a Node process: the built-in `fs` and `s3` stores plus whatever
 * the plugins in `pluginDirs` add. The one place that reads the AWS environment variables, so
 * shared/ never touches the environment:
 *
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   credentials (both or neither)
 *   AWS_REGION, else AWS_DEFAULT_REGION                           signing region (default us-east-1)
 *   AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL                    endpoint (default AWS)
 *
 * An `s3://` location's own `?endpoint=&region=&addressing=` win over these.
 */
import { CleaveError } from '../../shared/errors.js';
import type { ModelStore } from '../../shared/plugins/model-store.js';
import { PluginRegistry } from '../../shared/plugins/registry.js';
import { s3ModelStoreFactory, type S3StoreDefaults } from '../../shared/plugins/s3-model-store.js';
import { fsModelStoreFactory } from './fs-model-store.js';
import { loadPlugins, type LoadedPlugin } from './plugin-loader.js';

type Env = Readonly<Record<string, string | undefined>>;

/** S3 defaults from the AWS environment variables above. Throws CLEAVE_E_BAD_ARGUMENT for half a key pair. */
export function s3DefaultsFromEnv(env: Env): S3StoreDefaults {
  const id = env.AWS_ACCESS_KEY_ID || undefined;
  const secret = env.AWS_SECRET_ACCESS_KEY || undefined;
  if ((id === undefined) !== (secret === undefined)) {
    const [set, unset] = id !== undefined ? ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] : ['AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID'];
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${set} is set but ${unset} is not; expected both (signed requests) or neither (a public bucket)`, { setting: unset });
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const token = env.AWS_SESSION_TOKEN || undefined;
  return {
    ...(id !== undefined && secret !== undefined ? { credentials: { accessKeyId: id, secretAccessKey: secret, ...(token !== undefined ? { sessionToken: token } : {}) } } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
  };
}

export interface NodeStoresOptions {
  /** Environment to read AWS settings from. Default process.env. */
  readonly env?: Env;
  /** Plugin folders to load (setting pluginDirs). Default none. */
  readonly pluginDirs?: readonly string[];
}

/** A registry with fs, s3 and the plugins in `pluginDirs`. */
export async function nodePluginRegistry(opts: NodeStoresOptions = {}): Promise<{ registry: PluginRegistry; plugins: LoadedPlugin[] }> {
  const env = opts.env ?? process.env;
  const registry = new PluginRegistry();
  registry.registerModelStore('fs', fsModelStoreFactory());
  // S3 settings are read lazily: a process without an s3:// store must not fail on odd AWS_* values.
  registry.registerModelStore('s3', (location, context) => s3ModelStoreFactory(s3DefaultsFromEnv(env))(location, context));
  const plugins = await loadPlugins(opts.pluginDirs ?? [], registry);
  return { registry, plugins };
}

/** Opens the store at `location` (setting modelStore) with the built-in stores and the plugins in `pluginDirs`. */
export async function openModelStore(location: string, opts: NodeStoresOptions = {}): Promise<{ store: ModelStore; plugins: LoadedPlugin[] }> {
  const env = opts.env ?? process.env;
  const { registry, plugins } = await nodePluginRegistry(opts);
  return { store: await registry.modelStoreFor(location, { env }), plugins };
}
