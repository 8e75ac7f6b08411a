import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { parsePluginManifest, parsePluginManifestText, type PluginProblem } from '../../../shared/plugins/manifest.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const good = {
  name: 'cleave-store-gcs',
  version: '1.2.3',
  description: 'Google Cloud Storage',
  entry: './dist/index.mjs',
  implements: [{ interface: 'model-store', protocols: ['gs', 'gcs'] }],
};

function problemsOf(json: unknown): PluginProblem[] {
  const e = cleaveErrorOf(() => parsePluginManifest(json, 'plugins/x/cleave-plugin.json'));
  expect(e.code).toBe('CLEAVE_E_PLUGIN_INVALID');
  expect(e.httpStatus).toBe(400);
  expect(e.message).toContain('plugins/x/cleave-plugin.json');
  return e.detail.problems as unknown as PluginProblem[];
}

describe('plugin manifest', () => {
  it('accepts a good manifest, strips ./ from the entry and fills in the factory export', () => {
    const m = parsePluginManifest(good, 'm.json');
    expect(m).toEqual({
      name: 'cleave-store-gcs', version: '1.2.3', description: 'Google Cloud Storage', entry: 'dist/index.mjs',
      implements: [{ interface: 'model-store', protocols: ['gs', 'gcs'], export: 'createModelStore' }],
    });
    expect(parsePluginManifest({ ...good, name: '@acme/store', version: '2.0.0-rc.1+build.5', implements: [{ interface: 'model-store', protocols: ['x'], export: 'make' }] }, 'm.json').implements[0]!.export).toBe('make');
  });

  // Each row: a field path, a hostile or wrong value put there, and a phrase of what is allowed.
  const cases: { at: string; patch: (m: Record<string, unknown>) => void; value: string; expect: RegExp }[] = [
    { at: 'name', patch: (m) => { m.name = 'Cleave Store'; }, value: '"Cleave Store"', expect: /npm-style name/ },
    { at: 'name', patch: (m) => { m.name = '../../etc'; }, value: '"../../etc"', expect: /npm-style name/ },
    { at: 'name', patch: (m) => { m.name = 'a'.repeat(300); }, value: `"${'a'.repeat(76)}...`, expect: /at most 214/ },
    { at: 'name', patch: (m) => { m.name = 42; }, value: '42', expect: /expected a package name/ },
    { at: 'name', patch: (m) => { delete m.name; }, value: '(missing)', expect: /expected a package name/ },
    { at: 'version', patch: (m) => { m.version = '1.0'; }, value: '"1.0"', expect: /semantic version/ },
    { at: 'version', patch: (m) => { m.version = '01.0.0'; }, value: '"01.0.0"', expect: /semantic version/ },
    { at: 'entry', patch: (m) => { m.entry = '../outside.mjs'; }, value: '"../outside.mjs"', expect: /inside the plugin folder/ },
    { at: 'entry', patch: (m) => { m.entry = '/etc/passwd.js'; }, value: '"/etc/passwd.js"', expect: /absolute/ },
    { at: 'entry', patch: (m) => { m.entry = 'lib\\index.mjs'; }, value: '"lib\\\\index.mjs"', expect: /inside the plugin folder/ },
    { at: 'entry', patch: (m) => { m.entry = 'index.ts'; }, value: '"index.ts"', expect: /\.mjs, \.js or \.cjs/ },
    { at: 'entry', patch: (m) => { m.entry = 'data:text/javascript,1.mjs'; }, value: '"data:text/javascript,1.mjs"', expect: /inside the plugin folder/ },
    { at: 'implements', patch: (m) => { m.implements = []; }, value: '[]', expect: /at least one/ },
    { at: 'implements', patch: (m) => { m.implements = 'model-store'; }, value: '"model-store"', expect: /list of \{ interface, protocols \}/ },
    { at: 'implements[0].interface', patch: (m) => { m.implements = [{ interface: 'tokenizer', protocols: ['x'] }]; }, value: '"tokenizer"', expect: /one of: model-store/ },
    { at: 'implements[0].protocols[1]', patch: (m) => { m.implements = [{ interface: 'model-store', protocols: ['gs', 'GS://'] }]; }, value: '"GS://"', expect: /lowercase URL scheme/ },
    { at: 'implements[0].protocols[1]', patch: (m) => { m.implements = [{ interface: 'model-store', protocols: ['gs', 'gs'] }]; }, value: '"gs"', expect: /each protocol once/ },
    { at: 'implements[0].protocols', patch: (m) => { m.implements = [{ interface: 'model-store', protocols: Array.from({ length: 17 }, (_, i) => `p${i}`) }]; }, value: '["p0"', expect: /at most 16/ },
    { at: 'implements[0].export', patch: (m) => { m.implements = [{ interface: 'model-store', protocols: ['gs'], export: 'x; process.exit()' }]; }, value: '"x; process.exit()"', expect: /JavaScript identifier/ },
    { at: 'implements[1].interface', patch: (m) => { m.implements = [{ interface: 'model-store', protocols: ['a'] }, { interface: 'model-store', protocols: ['b'] }]; }, value: '"model-store"', expect: /at most once/ },
    { at: 'implements[0].protcols', patch: (m) => { m.implements = [{ interface: 'model-store', protocols: ['gs'], protcols: ['x'] }]; }, value: '["x"]', expect: /unknown key; expected one of: interface, protocols, export/ },
    { at: 'main', patch: (m) => { m.main = 'index.js'; }, value: '"index.js"', expect: /unknown key; expected one of: name, version, description, entry, implements/ },
    { at: 'description', patch: (m) => { m.description = 'x'.repeat(1001); }, value: '"xxxx', expect: /at most 1000/ },
  ];

  it.each(cases)('refuses $at = $value naming the key, the value and what is allowed', ({ at, patch, value, expect: allowed }) => {
    const m = structuredClone(good) as Record<string, unknown>;
    patch(m);
    const problems = problemsOf(m);
    const p = problems.find((x) => x.at === at);
    expect(p, JSON.stringify(problems)).toBeDefined();
    expect(p!.value.startsWith(value), p!.value).toBe(true);
    expect(p!.message).toMatch(allowed);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ name: 'X', version: 'v1', entry: '../a.mjs', implements: [{ interface: 'nope', protocols: [] }], extra: 1 });
    expect(problems.map((p) => p.at).sort()).toEqual(['entry', 'extra', 'implements[0].interface', 'implements[0].protocols', 'name', 'version']);
  });

  it('refuses non-objects and a __proto__ key without touching Object.prototype', () => {
    for (const v of [null, [], 'manifest', 7]) expect(problemsOf(v)[0]!.at).toBe('(root)');
    const hostile = JSON.parse('{"name":"a","version":"1.0.0","entry":"a.mjs","implements":[{"interface":"model-store","protocols":["x"]}],"__proto__":{"polluted":true}}');
    const problems = problemsOf(hostile);
    expect(problems).toEqual([{ at: '__proto__', value: '{"polluted":true}', message: expect.stringMatching(/unknown key/) }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('parses text: bad JSON and oversize text are refused naming the source', () => {
    expect(parsePluginManifestText(JSON.stringify(good), 'm.json').name).toBe('cleave-store-gcs');
    const bad = cleaveErrorOf(() => parsePluginManifestText('{"name": ', 'dir/cleave-plugin.json'));
    expect(bad).toBeInstanceOf(CleaveError);
    expect(bad.code).toBe('CLEAVE_E_PLUGIN_INVALID');
    expect(bad.message).toMatch(/dir\/cleave-plugin\.json: 1 problem: \(root\) = .*expected JSON/);
    const huge = cleaveErrorOf(() => parsePluginManifestText(`{"description":"${'x'.repeat(70_000)}"}`, 'm.json'));
    expect(huge.message).toMatch(/at most 65536 characters/);
  });
});
