import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CleaveError, ERROR_CODES, toCleaveError } from '../../shared/errors.js';

describe('error codes', () => {
  it('every code is documented in docs/errors.md with its HTTP status and close code', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
      expect(row, `docs/errors.md lacks ${code}`).toBeDefined();
      expect(row).toContain(`| ${info.http} | ${info.wsClose} |`);
    }
  });

  it('maps a code to its transports and serialises without the stack', () => {
    const e = new CleaveError('CLEAVE_E_SHAPE', 'input "x" has shape [1,2], model expects [N,3]', { input: 'x' });
    expect(e.httpStatus).toBe(400);
    expect(e.wsCloseCode).toBe(1007);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'CLEAVE_E_SHAPE', message: 'input "x" has shape [1,2], model expects [N,3]', detail: { input: 'x' } });
  });

  it('wraps foreign errors as internal and keeps coded ones', () => {
    expect(toCleaveError(new TypeError('boom')).code).toBe('CLEAVE_E_INTERNAL');
    const coded = new CleaveError('CLEAVE_E_SPLIT', 'x');
    expect(toCleaveError(coded)).toBe(coded);
  });
});
