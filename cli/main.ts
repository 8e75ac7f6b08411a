/**
 * The `cleave` command line: one subcommand per file under cli/commands, parsed by commander.
 * Errors that carry a Cleave code are printed as `error CODE: message` with exit status 2
 * (bad input) or 1 (everything else), so scripts can tell them apart.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isCleaveError } from '../shared/errors.js';
import { registerBench } from './commands/bench.js';
import { registerCloud } from './commands/cloud.js';
import { registerDemo } from './commands/demo-command.js';
import { registerDeploy } from './commands/deploy.js';
import { registerEdge } from './commands/edge.js';
import { registerInspect } from './commands/inspect.js';
import { registerKeys } from './commands/keys.js';
import { registerModels } from './commands/models.js';
import { registerProfile } from './commands/profile.js';
import { registerQuantize } from './commands/quantize.js';
import { registerSplit } from './commands/split.js';

/** The package's version, from package.json (one place to bump). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

const HELP = `
Settings of edge and cloud: defaults < config file (--config / CLEAVE_CONFIG) < CLEAVE_* env < flags.
Errors print "error CODE: message"; exit status 2 for bad input, 1 for anything else (docs/cli.md).

Examples:
  cleave models                                   build the model zoo into models/
  cleave cloud --port 9000                        the cloud tier with the zoo
  cleave edge --port 8787 --cloud ws://127.0.0.1:9000/v1/ws
  cleave deploy workflow image-cascade.json --edge http://127.0.0.1:8787
  cleave profile cnn-small --cloud ws://127.0.0.1:9000/v1/ws
  cleave <command> --help                         flags, env names and examples of one command`;

export function buildProgram(): Command {
  const program = new Command('cleave')
    .description('Cleave: edge-cloud split inference runtime')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    // Unknown commands and options name the closest known one ("Did you mean ...?").
    .showSuggestionAfterError(true)
    .addHelpText('after', HELP)
    .exitOverride();
  registerModels(program);
  registerInspect(program);
  registerQuantize(program);
  registerSplit(program);
  registerCloud(program);
  registerEdge(program);
  registerDeploy(program);
  registerProfile(program);
  registerKeys(program);
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
      // --help and --version exit 0; a wrong command line is bad input like any other (2).
      process.exitCode = e.exitCode === 0 ? 0 : 2;
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
