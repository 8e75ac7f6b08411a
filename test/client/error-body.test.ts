// The code a bare HTTP status stands for when a proxy, not the edge, answered (no Cleave body).
import { describe, expect, it } from 'vitest';
import { codeForStatus } from '../../shared/client/error-body.js';
import { ERROR_CODES } from '../../shared/errors.js';

describe('codeForStatus', () => {
  it.each([
    [401, 'CLEAVE_E_UNAUTHORIZED'], [403, 'CLEAVE_E_FORBIDDEN'], [429, 'CLEAVE_E_RATE_LIMITED'],
    [404, 'CLEAVE_E_NOT_FOUND'], [413, 'CLEAVE_E_TOO_LARGE'], [503, 'CLEAVE_E_UNAVAILABLE'],
  ] as const)('%i is %s, a code whose own status is the same', (status, code) => {
    expect(codeForStatus(status)).toBe(code);
    expect(ERROR_CODES[code].http).toBe(status);
  });
});
