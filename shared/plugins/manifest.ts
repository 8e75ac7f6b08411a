/**
 * The plugin manifest (`cleave-plugin.json`): who the plugin is, which Cleave interfaces it
 * implements for which protocols, and which module to import. Validated with zod, strictly: an
 * unknown key is a typo until proven otherwise, and every problem is reported at once with its
 * path, the value found and what is allowed, so an author fixes a manifest in one round.
 *
 *   {
 *     "name": "cleave-store-gcs",
 *     "version": "1.0.0",
 *     "description": "Google Cloud Storage model store",
 *     "entry": "dist/index.mjs",
 *     "implements": [{ "interface": "model-store", "protocols": ["gs"] }]
 *   }
 *
 * Runtime-neutral: loading (files, import) is cloud/plugins/plugin-loader.ts.
 */
import { z } from 'zod';
import { CleaveError } from '../errors.js';
import { objectNameProblem } from './model-store.js';

/** File name of a plugin's manifest inside its folder. */
export const PLUGIN_MANIFEST_FILE = 'cleave-plugin.json';

/**
 * The interfaces a plugin can implement, with the export its entry module must provide by
 * default (a factory) and the methods the object that factory returns must have.
 */
export const PLUGIN_INTERFACES = {
  'model-store': { factory: 'createModelStore', methods: ['list', 'get', 'put', 'describe'] },
} as const;

/** One of the interface names in PLUGIN_INTERFACES. */
export type PluginInterface = keyof typeof PLUGIN_INTERFACES;

/** One `implements` entry, with defaults applied. */
export interface PluginImplementation {
  readonly interface: PluginInterface;
  /** URL schemes (lowercase) this implementation serves, e.g. `gs`; unique across the entry. */
  readonly protocols: readonly string[];
  /** Name of the factory the entry module exports. Default from PLUGIN_INTERFACES (`createModelStore`). */
  readonly export: string;
}

/** A validated manifest. */
export interface PluginManifest {
  /** npm-style package name, 1 to 214 characters: `cleave-store-gcs`, `@acme/store`. */
  readonly name: string;
  /** Semantic version, e.g. `1.2.3` or `2.0.0-rc.1`. */
  readonly version: string;
  readonly description?: string;
  /** Module to import, relative to the plugin folder (`./` allowed), ending in .mjs, .js or .cjs. */
  readonly entry: string;
  /** 1 to 8 entries, each interface at most once. */
  readonly implements: readonly PluginImplementation[];
}

/** One problem: where (`implements[0].protocols[1]`), the value there as JSON, and what is wrong. */
export interface PluginProblem {
  readonly at: string;
  readonly value: string;
  readonly message: string;
}

/** Longest manifest accepted, bytes: a manifest is a few hundred bytes. */
export const MAX_MANIFEST_BYTES = 64 * 1024;

const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const SEMVER = /^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
/** RFC 3986 scheme syntax, lowercase, bounded. */
const PROTOCOL = /^[a-z][a-z0-9+.-]{0,31}$/;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
const ENTRY_EXT = /\.(?:mjs|js|cjs)$/;

const TOP_KEYS = ['name', 'version', 'description', 'entry', 'implements'];
const IMPL_KEYS = ['interface', 'protocols', 'export'];
const INTERFACE_NAMES = Object.keys(PLUGIN_INTERFACES) as PluginInterface[];

const str = (expected: string) => z.string({ message: `expected ${expected}` });

const implementationSchema = z.strictObject({
  interface: z.enum(INTERFACE_NAMES as [PluginInterface, ...PluginInterface[]], { message: `expected one of: ${INTERFACE_NAMES.join(', ')}` }),
  protocols: z
    .array(str('a protocol such as "s3"').regex(PROTOCOL, { message: 'expected a lowercase URL scheme: a letter, then up to 31 of a-z 0-9 + . -' }), { message: 'expected a list of protocols' })
    .min(1, { message: 'expected at least one protocol' })
    .max(16, { message: 'expected at most 16 protocols' }),
  export: str('the name of an exported function').regex(IDENTIFIER, { message: 'expected a JavaScript identifier of at most 64 characters' }).optional(),
}, { message: 'expected an object { interface, protocols, export? }' });

const manifestSchema = z
  .strictObject({
    name: str('a package name').max(214, { message: 'expected at most 214 characters' }).regex(NAME, { message: 'expected an npm-style name: lowercase a-z 0-9 . _ ~ -, optionally @scope/' }),
    version: str('a semantic version').max(64, { message: 'expected at most 64 characters' }).regex(SEMVER, { message: 'expected a semantic version such as 1.2.3 or 2.0.0-rc.1' }),
    description: str('a string').max(1000, { message: 'expected at most 1000 characters' }).optional(),
    entry: str('a relative module path').superRefine((v, ctx) => {
      const problem = entryProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    implements: z.array(implementationSchema, { message: 'expected a list of { interface, protocols }' })
      .min(1, { message: 'expected at least one entry' })
      .max(8, { message: 'expected at most 8 entries' }),
  }, { message: 'expected a JSON object { name, version, entry, implements, description? }' })
  .superRefine((m, ctx) => {
    const seenInterfaces = new Set<string>();
    m.implements.forEach((impl, i) => {
      if (seenInterfaces.has(impl.interface)) {
        ctx.addIssue({ code: 'custom', path: ['implements', i, 'interface'], message: 'expected each interface at most once; list all its protocols in one entry' });
      }
      seenInterfaces.add(impl.interface);
      const seen = new Set<string>();
      impl.protocols.forEach((p, j) => {
        if (seen.has(p)) ctx.addIssue({ code: 'custom', path: ['implements', i, 'protocols', j], message: 'expected each protocol once' });
        seen.add(p);
      });
    });
  });

/** Why `entry` is not an acceptable module path, or undefined. */
function entryProblem(entry: string): string | undefined {
  const rel = entry.startsWith('./') ? entry.slice(2) : entry;
  const problem = objectNameProblem(rel);
  if (problem !== undefined) return `expected a path inside the plugin folder ("/"-separated A-Z a-z 0-9 . _ -, no ".." nor absolute path): ${problem}`;
  if (!ENTRY_EXT.test(rel)) return 'expected a module file ending in .mjs, .js or .cjs';
  return undefined;
}

/** `implements[0].protocols[1]` from a path array. */
export function formatPluginPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(root)';
}

/** The value at `path` inside `json` as short JSON, `(missing)` when absent. */
function valueAt(json: unknown, path: readonly PropertyKey[]): string {
  let v: unknown = json;
  for (const p of path) {
    // Own properties only: a hostile `__proto__` key must not lead into Object.prototype.
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, p)) return '(missing)';
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return shortJson(v);
}

/** JSON of `v` cut to 80 characters, for messages. */
export function shortJson(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? '(missing)' : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * The CLEAVE_E_PLUGIN_INVALID error for `problems` found in `source` (a manifest file, a plugin
 * name): the message lists up to 8 as `at = value: message`, detail.problems lists all.
 */
export function pluginInvalid(source: string, problems: readonly PluginProblem[]): CleaveError {
  const shown = problems.slice(0, 8).map((p) => `${p.at} = ${p.value}: ${p.message}`);
  const more = problems.length > 8 ? `; and ${problems.length - 8} more` : '';
  const n = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new CleaveError('CLEAVE_E_PLUGIN_INVALID', `plugin ${source}: ${n}: ${shown.join('; ')}${more}`, {
    source,
    problems: problems.map((p) => ({ at: p.at, value: p.value, message: p.message })),
  });
}

/**
 * Validates a parsed `cleave-plugin.json`. `source` names it in messages (the file path).
 * Throws CLEAVE_E_PLUGIN_INVALID listing every problem: an unknown key is reported under its own
 * path with the keys allowed there.
 */
export function parsePluginManifest(json: unknown, source: string): PluginManifest {
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const problems: PluginProblem[] = [];
    for (const issue of r.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const allowed = issue.path.length === 0 ? TOP_KEYS : IMPL_KEYS;
        for (const key of issue.keys) {
          const path = [...issue.path, key];
          problems.push({ at: formatPluginPath(path), value: valueAt(json, path), message: `unknown key; expected one of: ${allowed.join(', ')}` });
        }
        continue;
      }
      problems.push({ at: formatPluginPath(issue.path), value: valueAt(json, issue.path), message: issue.message });
    }
    throw pluginInvalid(source, problems);
  }
  const m = r.data;
  return {
    name: m.name,
    version: m.version,
    ...(m.description !== undefined ? { description: m.description } : {}),
    entry: m.entry.startsWith('./') ? m.entry.slice(2) : m.entry,
    implements: m.implements.map((i) => ({ interface: i.interface, protocols: [...i.protocols], export: i.export ?? PLUGIN_INTERFACES[i.interface].factory })),
  };
}

/**
 * Parses manifest text (JSON) and validates it; bounded to MAX_MANIFEST_BYTES characters.
 * Throws CLEAVE_E_PLUGIN_INVALID naming `source` for bad JSON, oversize text or bad fields.
 */
export function parsePluginManifestText(text: string, source: string): PluginManifest {
  if (text.length > MAX_MANIFEST_BYTES) {
    throw pluginInvalid(source, [{ at: '(root)', value: `(${text.length} characters)`, message: `expected at most ${MAX_MANIFEST_BYTES} characters` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw pluginInvalid(source, [{ at: '(root)', value: shortJson(text), message: `expected JSON: ${(e as Error).message}` }]);
  }
  return parsePluginManifest(json, source);
}
