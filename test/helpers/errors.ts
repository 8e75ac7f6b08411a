/** The CleaveError `fn` throws; fails the test if it throws nothing or something else. */
import { CleaveError } from '../../shared/errors.js';

export function cleaveErrorOf(fn: () => unknown): CleaveError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CleaveError) return e;
    throw e;
  }
  throw new Error('expected a CleaveError, nothing was thrown');
}
