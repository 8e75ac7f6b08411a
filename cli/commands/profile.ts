/**
 * `cleave profile <model|workflow>`: measures a model (a zoo name or an .onnx file) or every
 * model of a workflow document on this machine's backends, and on a cloud and an edge node when
 * given; prints compute, the cut table, the links and the placement the router's cost model
 * recommends on each, and writes the same as JSON (cli/profile/report.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { cloudUrlList } from '../../edge/config.js';
import { CleaveError } from '../../shared/errors.js';
import { CONFIG_OPTION_HELP, loadConfigOption } from '../config-file.js';
import { resolveEdgeLayers } from '../config-layers.js';
import { intOption } from '../options.js';
import { DEFAULT_BATCHES } from '../profile/measure.js';
import { createProgress } from '../progress.js';
import { API_KEY_ENV } from './deploy.js';

interface ProfileFlags {
  cloud?: string;
  cloudToken?: string;
  edge?: string;
  apiKey?: string;
  out?: string;
  json?: boolean;
  batches?: number[];
  runs: number;
  warmup: number;
  backends?: string;
  config?: string;
}

const HELP = `
What it measures:
  compute    p50/p90 ms per call of the whole model at each batch size, on every local backend
             (onnxruntime-node, onnxruntime-web wasm); with --cloud, the cloud's own compute
             (as it reports it) and the round trip; with --edge, the edge node's own compute
             (its Server-Timing, cache bypassed)
  cuts       the frontier of cut points (single-tensor cuts that send less than the input and
             than every earlier cut), each with activation bytes per row, bytes sent, int8 size,
             and head / tail compute (the tail in the cloud when it serves it)
  link       with --cloud: PING round trips and the upload bandwidth from the runs, learned by
             the router's LinkEstimator
  placement  per link (lan, broadband, 4g, 3g, and "measured" with --cloud) and batch size: all on
             the edge, all in the cloud, or a cut, priced by the router's cost model
  workflow   for a .json/.yaml workflow: the above per model (cuts for split-model nodes) and the
             critical path per link and batch

Without --cloud the cloud's compute is this machine's (marked prior in the report).
The cloud URL also comes from the edge settings (config file edge.cloudUrl, env CLEAVE_CLOUD_URL;
the first of a list), its token from edge.cloudToken / CLEAVE_CLOUD_TOKEN.

Examples:
  cleave profile mlp-small
  cleave profile cnn-small --cloud ws://127.0.0.1:9000/v1/ws --out cnn-small.profile.json
  cleave profile models/text-tiny.onnx --batches 1,4,16 --runs 50 --backends onnxruntime-node
  cleave profile image-cascade.json --cloud ws://10.0.0.5:9000/v1/ws --edge http://gateway:8787`;

/** `--batches 1,8,32` as integers >= 1; CLEAVE_E_BAD_ARGUMENT naming the flag otherwise. */
function batchList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^[1-9][0-9]{0,5}$/.test(p))) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--batches "${v}" is not valid; expected comma-separated integers from 1 to 999999, such as 1,8,32`, { option: '--batches', value: v });
  }
  return parts.map(Number);
}

/** Adds `cleave profile` to the program. */
export function registerProfile(program: Command): void {
  program
    .command('profile')
    .description('measure a model or workflow on the available tiers: compute, activation sizes per cut, the link, and the recommended placement')
    .argument('<target>', 'a zoo model name, an .onnx file, or a workflow document (.json, .yaml)')
    .option('--cloud <url>', 'cloud to measure: ws://host:port/v1/ws or http://host:port (env CLEAVE_CLOUD_URL)')
    .option('--cloud-token <t>', 'bearer token for the cloud (env CLEAVE_CLOUD_TOKEN)')
    .option('--edge <url>', 'edge node to measure, e.g. http://127.0.0.1:8787')
    .option('--api-key <key>', `sent to the edge as Authorization: Bearer <key> (env ${API_KEY_ENV})`)
    .option('-o, --out <file>', 'JSON report (default: cleave-profile-<name>.json)')
    .option('--json', 'print the JSON report instead of the tables')
    .option('--batches <list>', `batch sizes, comma-separated (default ${DEFAULT_BATCHES.join(',')})`, batchList)
    .option('--runs <n>', 'measured calls per part and batch size', intOption('--runs', 1), 20)
    .option('--warmup <n>', 'uncounted calls before measuring', intOption('--warmup', 0), 2)
    .option('--backends <list>', 'local backends, comma-separated (default: every one that loads: onnxruntime-node,onnxruntime-web)')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .addHelpText('after', HELP)
    .action(async (target: string, flags: ProfileFlags) => {
      const env = process.env;
      const edgeSettings = resolveEdgeLayers({ file: await loadConfigOption(flags.config, env), env, flags: {} });
      const cloudUrl = flags.cloud ?? (edgeSettings.cloudUrl !== undefined ? cloudUrlList(edgeSettings.cloudUrl)[0] : undefined);
      const cloudToken = flags.cloudToken ?? edgeSettings.cloudToken;
      const apiKey = flags.apiKey ?? (env[API_KEY_ENV] || undefined);
      const progress = createProgress();
      // Loaded here: the backends, the split toolkit and the protocol client are not needed for --help.
      const { runProfile } = await import('../profile/run-profile.js');
      const { formatReport } = await import('../profile/print.js');
      const report = await runProfile(target, {
        runs: flags.runs, warmup: flags.warmup, progress,
        ...(flags.batches ? { batches: flags.batches } : {}),
        ...(flags.backends ? { backends: flags.backends.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        ...(cloudUrl !== undefined ? { cloudUrl } : {}),
        ...(cloudToken !== undefined ? { cloudToken } : {}),
        ...(flags.edge !== undefined ? { edgeUrl: flags.edge } : {}),
        ...(apiKey !== undefined ? { apiKey } : {}),
      });
      const name = report.model?.model ?? report.workflow?.name ?? basename(target);
      const out = flags.out ?? `cleave-profile-${name}.json`;
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
      if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(`${formatReport(report)}\n\nreport: ${out}\n`);
    });
}
