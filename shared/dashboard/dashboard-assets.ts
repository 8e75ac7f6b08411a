/**
 * Where a server reads the built dashboard from (dist/dashboard/, written by
 * bin/build-dashboard.mjs). Runtime-neutral contract; the Node reader is node-dashboard-assets.ts.
 * A runtime without files (the Worker) passes none, and the routes say the dashboard is not
 * served there.
 */

/** The files of a build, and who may fetch them without a key (the login page needs its own). */
export const DASHBOARD_FILES = {
  'index.html': { type: 'text/html; charset=utf-8', open: false },
  'app.js': { type: 'text/javascript; charset=utf-8', open: false },
  'app.css': { type: 'text/css; charset=utf-8', open: false },
  'login.html': { type: 'text/html; charset=utf-8', open: true },
  'login.js': { type: 'text/javascript; charset=utf-8', open: true },
  'login.css': { type: 'text/css; charset=utf-8', open: true },
} as const;

export type DashboardFile = keyof typeof DASHBOARD_FILES;

export interface DashboardAssets {
  /** The bytes of a built file; undefined when the build is missing or incomplete. */
  read(file: DashboardFile): Promise<Uint8Array | undefined>;
  /** Where the files are read from, for error messages (e.g. `dist/dashboard`). */
  readonly location: string;
}
