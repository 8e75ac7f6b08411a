/**
 * The generated model zoo for tests: `models/` at the repository root, made current once per
 * test process (cheap when the files are intact; the first process builds, others wait on the
 * zoo's lock and reuse its files).
 *
 *   const dir = await zooDir();
 *   const bytes = await zooModelBytes('mlp-small');
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_ZOO_DIR, ensureZoo, zooFile } from '../../cli/zoo-files.js';
import type { Manifest } from '../../shared/zoo/index.js';

let ready: Promise<Manifest> | undefined;

/** The manifest of the current zoo, building it on first use. */
export function zooManifest(): Promise<Manifest> {
  ready ??= ensureZoo(DEFAULT_ZOO_DIR);
  return ready;
}

/** Directory holding the current zoo (`models/`), building it on first use. */
export async function zooDir(): Promise<string> {
  await zooManifest();
  return DEFAULT_ZOO_DIR;
}

/** Bytes of one zoo model's file. */
export async function zooModelBytes(name: string): Promise<Uint8Array> {
  const manifest = await zooManifest();
  return new Uint8Array(await readFile(zooFile(manifest, DEFAULT_ZOO_DIR, name)));
}
