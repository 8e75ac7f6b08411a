/**
 * `cleave deploy workflow <file>`: checks a workflow document here, listing every problem with
 * its JSON path, and only then sends it to an edge node's `POST /v1/workflows`.
 *
 * Exit status: 0 deployed (or valid, with --dry-run); 2 the document, a flag or the key is wrong
 * (found here or by the edge: nothing was stored); 1 the edge could not be reached or failed.
 */
import type { Command } from 'commander';
import { CONFIG_OPTION_HELP } from '../config-file.js';
import { intOption } from '../options.js';

/** Environment variable with the edge's base URL. */
export const EDGE_URL_ENV = 'CLEAVE_EDGE_URL';
/** Environment variable with the key sent as `Authorization: Bearer`. */
export const API_KEY_ENV = 'CLEAVE_API_KEY';

/** The flags of `cleave deploy workflow`. */
export interface DeployFlags {
  edge?: string;
  apiKey?: string;
  dryRun?: boolean;
  replicas?: number;
  json?: boolean;
  config?: string;
}

const HELP = `
The document is checked here first, with the validator the edge's API runs: every problem is
listed with its JSON path, and nothing is sent while there is one. The local check knows the
zoo's models and, when an edge is named, the models that edge serves; which tier holds a model
right now is checked by the edge when the document arrives.

Edge URL: --edge, else env ${EDGE_URL_ENV}, else http://<host>:<port> of the edge settings
(config file section edge:, CLEAVE_HOST / CLEAVE_PORT; default http://127.0.0.1:8787).

Exit status: 0 deployed (or valid with --dry-run); 2 the document, a flag or the key is wrong
(nothing was stored); 1 the edge could not be reached or failed.

Examples:
  cleave deploy workflow image-cascade.json --edge http://127.0.0.1:8787
  cleave deploy workflow pipeline.yaml --edge https://edge.example.com --api-key "$KEY" --replicas 4
  cleave deploy workflow pipeline.yaml --dry-run`;

/** Adds `cleave deploy workflow` to the program. */
export function registerDeploy(program: Command): void {
  const deploy = program
    .command('deploy')
    .description('deploy to a running edge node (see: cleave deploy workflow --help)')
    .addHelpText('after', '\nExample:\n  cleave deploy workflow image-cascade.json --edge http://127.0.0.1:8787');
  deploy
    .command('workflow')
    .description('check a workflow document (JSON or YAML) here, then deploy it to an edge node')
    .argument('<file>', 'workflow document: .json, .yaml or .yml')
    .option('--edge <url>', `edge base URL, e.g. http://127.0.0.1:8787 (env ${EDGE_URL_ENV})`)
    .option('--api-key <key>', `sent as Authorization: Bearer <key> (env ${API_KEY_ENV})`)
    .option('--replicas <n>', 'replicas to ask the edge for, 1 to 64', intOption('--replicas', 1))
    .option('--dry-run', 'only check the document; send nothing')
    .option('--json', 'print the edge\'s answer as JSON')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .addHelpText('after', HELP)
    .action(async (file: string, flags: DeployFlags) => {
      // Loaded here: the validator and the zoo catalogue are not needed for --help.
      const { deployWorkflow } = await import('../deploy-workflow.js');
      await deployWorkflow(file, flags);
    });
}
