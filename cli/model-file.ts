/**
 * Reading and writing .onnx files for CLI commands, with coded errors instead of raw ENOENT.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CleaveError } from '../shared/errors.js';
import { decodeModel } from '../shared/onnx/decode.js';
import { encodeModel } from '../shared/onnx/encode.js';
import type { ModelProto } from '../shared/onnx/types.js';

export async function readModelFile(path: string): Promise<{ bytes: Uint8Array; model: ModelProto }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CleaveError(code === 'ENOENT' ? 'CLEAVE_E_NOT_FOUND' : 'CLEAVE_E_BAD_ARGUMENT', `cannot read model file "${path}": ${code ?? (e as Error).message}`, { path });
  }
  return { bytes, model: decodeModel(bytes) };
}

export async function writeModelFile(path: string, model: ModelProto): Promise<Uint8Array> {
  const bytes = encodeModel(model);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return bytes;
}
