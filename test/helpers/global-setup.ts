// Runs once in the main vitest process before any test file: builds (or validates) the model
// zoo in models/, so test workers start from current files instead of racing to build them.
import { ensureZoo } from '../../cli/zoo-files.js';

export default async function setup(): Promise<void> {
  await ensureZoo();
}
