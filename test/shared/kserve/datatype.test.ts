import { describe, expect, it } from 'vitest';
import { SUPPORTED_KSERVE_DATATYPES, dtypeFromKServe, kserveFromDType } from '../../../shared/kserve/datatype.js';
import { expectCleave } from './body-helpers.js';

describe('KServe datatypes', () => {
  it.each([
    ['BOOL', 'bool'], ['UINT8', 'uint8'], ['UINT16', 'uint16'], ['UINT32', 'uint32'], ['UINT64', 'uint64'],
    ['INT8', 'int8'], ['INT16', 'int16'], ['INT32', 'int32'], ['INT64', 'int64'],
    ['FP16', 'float16'], ['FP32', 'float32'], ['FP64', 'float64'], ['BF16', 'bfloat16'],
  ] as const)('maps %s to %s and back', (k, d) => {
    expect(dtypeFromKServe(k, 'input "x"')).toBe(d);
    expect(kserveFromDType(d, 'output "y"')).toBe(k);
  });

  it('lists every supported datatype and not BYTES', () => {
    expect(SUPPORTED_KSERVE_DATATYPES).toHaveLength(13);
    expect(SUPPORTED_KSERVE_DATATYPES).not.toContain('BYTES');
  });

  it('refuses BYTES naming the input and the supported list', () => {
    expectCleave(
      () => dtypeFromKServe('BYTES', 'input "text"'),
      'CLEAVE_E_DTYPE',
      'input "text": BYTES (string) tensors are not supported; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16',
    );
  });

  it('refuses unknown and lower-case names, and inherited keys', () => {
    expectCleave(() => dtypeFromKServe('fp32', 'input "x"'), 'CLEAVE_E_DTYPE', /^input "x": datatype "fp32" is not supported; expected one of BOOL/);
    expectCleave(() => dtypeFromKServe('constructor', 'input "x"'), 'CLEAVE_E_DTYPE');
    expectCleave(() => dtypeFromKServe('__proto__', 'input "x"'), 'CLEAVE_E_DTYPE');
  });

  it('cannot write string tensors', () => {
    expectCleave(() => kserveFromDType('string', 'output "s"'), 'CLEAVE_E_DTYPE', /^output "s": dtype string has no KServe v2 form/);
  });
});
