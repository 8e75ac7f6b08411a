/**
 * Every CLEAVE_* variable named in the deployment files and their docs is one the code reads: a
 * misspelt setting in a manifest is silently ignored at run time, so it is caught here.
 */
import { describe, expect, it } from 'vitest';
import { cleaveNames, cloudReads, edgeReads, filesUnder, readText } from './deploy-files.js';

const FILES = [...filesUnder('deploy'), 'wrangler.toml', 'docs/deploy.md'];

describe('CLEAVE_* names in deploy files', () => {
  it('finds names to check (the sweep is not vacuous)', () => {
    const all = FILES.flatMap((f) => cleaveNames(readText(f)));
    expect(all).toEqual(expect.arrayContaining(['CLEAVE_PORT', 'CLEAVE_HOST', 'CLEAVE_CLOUD_URL', 'CLEAVE_CLOUD_TOKEN', 'CLEAVE_DRAIN_TIMEOUT_MS']));
  });

  it('the checks tell a setting from a misspelling', () => {
    expect(edgeReads('CLEAVE_CLOUD_URL')).toBe(true);
    expect(cloudReads('CLEAVE_CLOUD_URL')).toBe(false);
    expect(cloudReads('CLEAVE_TOKENS')).toBe(true);
    expect(edgeReads('CLEAVE_CLOUD_TOKENS')).toBe(false);
  });

  for (const file of FILES) {
    it(`${file}: every CLEAVE_* name is read by the edge or the cloud configuration`, () => {
      for (const name of cleaveNames(readText(file))) {
        expect(edgeReads(name) || cloudReads(name), `${name} in ${file}`).toBe(true);
      }
    });
  }
});
