import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSplit } from '../../../../cli/commands/split.js';
import { decodeModel } from '../../../../shared/onnx/decode.js';
import { encodeModel } from '../../../../shared/onnx/encode.js';
import { cnnModel, textModel } from './fixtures.js';

/** Runs `cleave split ...` in-process and returns what it printed (or threw). */
async function cli(args: string[]): Promise<{ out: string; error: unknown }> {
  const program = new Command('cleave').exitOverride();
  registerSplit(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  let error: unknown;
  try {
    await program.parseAsync(['node', 'cleave', 'split', ...args]);
  } catch (e) {
    error = e;
  } finally {
    spy.mockRestore();
  }
  return { out, error };
}

describe('cleave split', () => {
  let dir = '';
  let cnn = '';
  let text = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-split-'));
    cnn = join(dir, 'cnn.onnx');
    text = join(dir, 'text.onnx');
    await writeFile(cnn, encodeModel(cnnModel()));
    await writeFile(text, encodeModel(textModel()));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--list prints the cut points with types and sizes, and the input for comparison', async () => {
    const { out, error } = await cli([cnn, '--list']);
    expect(error).toBeUndefined();
    expect(out).toContain('12 cut points');
    expect(out).toContain('input image: float32[N,3,64,64], 48.0 KiB/sample');
    expect(out).toMatch(/^\s+3 {2}pool0_out\s+float32\[N,16,32,32\]\s+64\.0 KiB\s+64\.0 KiB\s+pool0\s+3\s+1\.8 KiB/m);
  });

  it('--list shows pass-through inputs a transformer tail still reads', async () => {
    const { out } = await cli([text]);
    expect(out).toMatch(/x0\s+float32\[N,16,32\]\s+2\.0 KiB\s+2\.1 KiB \(\+input_ids\)/);
  });

  it('--json prints the cut points as data', async () => {
    const { out } = await cli([cnn, '--list', '--json']);
    const data = JSON.parse(out) as { inputs: { bytesPerSample: number }[]; cutPoints: { position: number; bytesPerSample: number; tensors: { name: string }[] }[] };
    expect(data.inputs[0]!.bytesPerSample).toBe(3 * 64 * 64 * 4);
    expect(data.cutPoints).toHaveLength(12);
    expect(data.cutPoints[2]).toMatchObject({ position: 3, bytesPerSample: 65536, tensors: [{ name: 'pool0_out' }] });
  });

  it('--at -o writes head.onnx and tail.onnx, and --verify compares them with the full model', async () => {
    const outDir = join(dir, 'cut');
    const { out, error } = await cli([cnn, '--at', 'pool0_out', '-o', outDir, '--verify', '--samples', '2']);
    expect(error).toBeUndefined();
    const head = decodeModel(new Uint8Array(await readFile(join(outDir, 'head.onnx'))));
    const tail = decodeModel(new Uint8Array(await readFile(join(outDir, 'tail.onnx'))));
    expect(head.graph.output.map((o) => o.name)).toEqual(['pool0_out']);
    expect(tail.graph.input.map((i) => i.name)).toEqual(['pool0_out']);
    expect(out).toContain('wrote ');
    expect(out).toMatch(/verified in onnxruntime-node on 2 seeded random samples \(seed 1\): max abs diff 0\.00e\+0/);
  });

  it('--list --verify checks every listed cut', async () => {
    const { out } = await cli([text, '--verify', '--samples', '2', '--json']);
    const data = JSON.parse(out) as { cutPoints: { maxAbsDiff: number }[] };
    expect(data.cutPoints.length).toBe(10);
    expect(data.cutPoints.every((cp) => cp.maxAbsDiff <= 1e-5)).toBe(true);
  });

  it('fails with coded errors for bad options, missing files and malformed bytes', async () => {
    expect((await cli([cnn, '-o', dir])).error).toMatchObject({ code: 'CLEAVE_E_BAD_ARGUMENT' });
    expect((await cli([cnn, '--at', 'nope'])).error).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
    expect((await cli([cnn, '--at', 'conv2_out,image'])).error).toMatchObject({ code: 'CLEAVE_E_SPLIT' });
    expect((await cli([join(dir, 'missing.onnx')])).error).toMatchObject({ code: 'CLEAVE_E_NOT_FOUND' });
    const junk = join(dir, 'junk.onnx');
    await writeFile(junk, new Uint8Array([0x0a, 0xff, 0xff, 0x01]));
    expect((await cli([junk, '--list'])).error).toMatchObject({ code: 'CLEAVE_E_ONNX_DECODE' });
  });
});
