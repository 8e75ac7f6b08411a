/**
 * `cleave quantize` end to end, in process: files in, table out, coded errors for bad input.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { defaultOutputPath, registerQuantize } from '../../../../cli/commands/quantize.js';
import { isCleaveError } from '../../../../shared/errors.js';
import { decodeModel } from '../../../../shared/onnx/decode.js';
import { encodeModel } from '../../../../shared/onnx/encode.js';
import { isWeightOnlyQdq } from '../../../../shared/onnx/quantize/index.js';
import { mlp } from './models.js';

const dir = mkdtempSync(join(tmpdir(), 'cleave-quantize-'));
const src = join(dir, 'mlp.onnx');
const model = mlp([256, 512, 10]);
// A zoo name the zoo does not know: the command must fall back to random inputs, zoo or not.
model.metadataProps.push({ key: 'cleave.zoo.model', value: 'no-such-zoo-model' });
writeFileSync(src, encodeModel(model));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Only this command, so other commands' state does not leak into these tests. */
function buildProgram(): Command {
  const program = new Command('cleave').exitOverride();
  registerQuantize(program);
  return program;
}

async function cli(...args: string[]): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  await buildProgram().parseAsync(['node', 'cleave', ...args]);
  return out;
}

async function errorCode(...args: string[]): Promise<string | undefined> {
  try {
    await cli(...args);
  } catch (e) {
    return isCleaveError(e) ? e.code : `uncoded: ${String(e)}`;
  }
  return undefined;
}

describe('cleave quantize', () => {
  it('writes the int8 model next to the input and prints sizes, agreement and counts', async () => {
    const out = await cli('quantize', src, '--mode', 'qdq-weight', '--samples', '200');
    const written = join(dir, 'mlp.qdq-weight.onnx');
    expect(defaultOutputPath(src, 'qdq-weight')).toBe(written);
    const int8 = decodeModel(new Uint8Array(readFileSync(written)));
    expect(isWeightOnlyQdq(int8)).toBe(true);
    expect(out).toMatch(/fp32 bytes\s+[\d,]+/);
    expect(out).toMatch(/size ratio\s+0\.2\d\d/);
    expect(out).toMatch(/top-1 agreement\s+(99|100)\.\d\d%/);
    expect(out).toMatch(/weights quantized\s+2/);
    expect(out).toMatch(/weights skipped\s+0/);
    expect(out).toContain('200 random inputs');
  });

  it('takes -o, --per-tensor, --exclude and --samples 0, and lists weights with --verbose', async () => {
    const dest = join(dir, 'custom.onnx');
    const out = await cli('quantize', src, '-m', 'dynamic-int8', '-o', dest, '--per-tensor', '--exclude', 'fc1', '--samples', '0', '--verbose');
    expect(decodeModel(new Uint8Array(readFileSync(dest))).metadataProps.find((e) => e.key === 'cleave.quantization')?.value).toBe('dynamic-int8');
    expect(out).not.toContain('top-1 agreement');
    expect(out).toContain('quantized MatMul fc0: fc0.weight (131,072 elements, MatMulInteger)');
    expect(out).toContain('skipped   MatMul fc1: excluded by options');
  });

  it('explains both modes in --help', async () => {
    let help = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      help += String(chunk);
      return true;
    });
    await buildProgram().parseAsync(['node', 'cleave', 'quantize', '--help']).catch(() => undefined);
    expect(help).toContain('qdq-weight    int8 weights');
    expect(help).toContain('dynamic-int8  MatMul and Gemm run in integers');
  });

  it.each([
    ['a missing file', [join(dir, 'nope.onnx'), '-m', 'qdq-weight'], 'CLEAVE_E_NOT_FOUND'],
    ['an unknown mode', [src, '-m', 'int4'], 'CLEAVE_E_BAD_ARGUMENT'],
    ['a bad sample count', [src, '-m', 'qdq-weight', '--samples', 'many'], 'CLEAVE_E_BAD_ARGUMENT'],
    ['an unknown backend', [src, '-m', 'qdq-weight', '-o', join(dir, 'x.onnx'), '--backend', 'tpu'], 'CLEAVE_E_BACKEND'],
    ['a file that is not ONNX', [join(dir, '..'), '-m', 'qdq-weight'], 'CLEAVE_E_BAD_ARGUMENT'],
  ])('rejects %s with a coded error', async (_name, args, code) => {
    expect(await errorCode('quantize', ...args)).toBe(code);
  });

  it('names the allowed modes when the mode is wrong', async () => {
    await expect(cli('quantize', src, '-m', 'int4')).rejects.toThrow('expected one of qdq-weight, dynamic-int8');
  });
});
