/**
 * Option parsers shared by CLI commands: they turn a bad flag value into a coded
 * CLEAVE_E_BAD_ARGUMENT naming the flag and what it expects.
 */
import { CleaveError } from '../shared/errors.js';

/** Commander argument parser for an integer flag with a lower bound. */
export function intOption(flag: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${flag} "${v}" is not an integer >= ${min}`, { option: flag, value: v });
    }
    return n;
  };
}
