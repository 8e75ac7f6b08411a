/**
 * Reading a workflow document for `cleave deploy workflow` and `cleave profile`: JSON for a
 * `.json` file, YAML for `.yaml` / `.yml` (the same document written in YAML), with coded errors
 * that name the file and, for a syntax error, where in it.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CleaveError } from '../shared/errors.js';

/** Largest workflow file read, bytes (the edge's API takes at most 1 MiB by default). */
export const MAX_WORKFLOW_FILE_BYTES = 4 * 1024 * 1024;

/** True for a path that names a workflow document rather than a model (by its extension). */
export function isWorkflowPath(path: string): boolean {
  return ['.json', '.yaml', '.yml'].includes(extname(path).toLowerCase());
}

/** The parsed document (not yet validated); CLEAVE_E_NOT_FOUND / CLEAVE_E_BAD_ARGUMENT naming the file otherwise. */
export async function readWorkflowFile(path: string): Promise<unknown> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_WORKFLOW_FILE_BYTES) {
      throw new CleaveError('CLEAVE_E_TOO_LARGE', `workflow file "${path}" is ${bytes.length} bytes; at most ${MAX_WORKFLOW_FILE_BYTES} are read`, { file: path, limit: MAX_WORKFLOW_FILE_BYTES });
    }
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof CleaveError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CleaveError(code === 'ENOENT' ? 'CLEAVE_E_NOT_FOUND' : 'CLEAVE_E_BAD_ARGUMENT', `cannot read workflow file "${path}": ${code ?? (e as Error).message}`, { file: path });
  }
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `workflow file "${path}" is not valid ${yaml ? 'YAML' : 'JSON'}: ${(e as Error).message.trim()}`, { file: path });
  }
}
