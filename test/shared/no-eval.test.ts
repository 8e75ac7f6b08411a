/**
 * No `eval` and no `new Function` in Cleave's own code: Workers refuse them at request time, and
 * they are an injection risk wherever a condition or expression is read from a request.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIRS = ['shared', 'edge', 'cloud', 'wasm', 'cli', 'bench', 'bin', 'dashboard'];

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (/\.(ts|mjs|js)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('code hygiene', () => {
  it('no eval( or new Function in the project sources', async () => {
    const offenders: string[] = [];
    for (const d of DIRS) {
      for (const f of await sources(join(ROOT, d))) {
        const text = await readFile(f, 'utf8');
        // Strip comments so that docs explaining the rule do not trip it.
        const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
        if (/\beval\s*\(|new\s+Function\s*\(/.test(code)) offenders.push(f.slice(ROOT.length));
      }
    }
    expect(offenders).toEqual([]);
  });
});
