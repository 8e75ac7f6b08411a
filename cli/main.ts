/**
 * The `cleave` command line: one subcommand per file under cli/commands, parsed by commander.
 * Errors that carry a Cleave code are printed as `error CODE: message` with exit status 2
 * (bad input) or 1 (everything else), so scripts can tell them apart.
 */
import { Command, CommanderError } from 'commander';
import { isCleaveError } from '../shared/errors.js';
import { registerBench } from './commands/bench.js';
import { registerCloud } from './commands/cloud.js';
import { registerDemo } from './commands/demo.js';
import { registerEdge } from './commands/edge.js';
import { registerInspect } from './commands/inspect.js';
import { registerModels } from './commands/models.js';
import { registerQuantize } from './commands/quantize.js';
import { registerSplit } from './commands/split.js';

export function buildProgram(): Command {
  const program = new Command('cleave')
    .description('Cleave: edge-cloud split inference runtime')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerModels(program);
  registerInspect(program);
  registerQuantize(program);
  registerSplit(program);
  registerCloud(program);
  registerEdge(program);
  registerBench(program);
  registerDemo(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (isCleaveError(e)) {
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      process.exitCode = e.httpStatus < 500 ? 2 : 1;
      return;
    }
    throw e;
  }
}
