/**
 * The built dashboard read from disk (Node only): dist/dashboard/ beside the repository, or a
 * folder given. A file is read again only when its size or modification time changed, so
 * `npm run build:dashboard` while a server runs is picked up by the next request without holding
 * stale bytes or reading the disk on every request.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DashboardAssets, DashboardFile } from '../shared/dashboard/dashboard-assets.js';

/** dist/dashboard at the repository root. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../dist/dashboard', import.meta.url));

export function nodeDashboardAssets(dir: string = DEFAULT_DASHBOARD_DIR): DashboardAssets {
  const cache = new Map<DashboardFile, { size: number; mtimeMs: number; bytes: Uint8Array }>();
  const rel = path.relative(process.cwd(), dir);
  return {
    location: rel !== '' && !rel.startsWith('..') ? rel : dir,
    async read(file) {
      const p = path.join(dir, file);
      let s: { size: number; mtimeMs: number };
      try {
        s = await stat(p);
      } catch {
        cache.delete(file);
        return undefined;
      }
      const hit = cache.get(file);
      if (hit && hit.size === s.size && hit.mtimeMs === s.mtimeMs) return hit.bytes;
      const b = await readFile(p).catch(() => undefined);
      if (b === undefined) return undefined;
      const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      cache.set(file, { size: s.size, mtimeMs: s.mtimeMs, bytes });
      return bytes;
    },
  };
}
