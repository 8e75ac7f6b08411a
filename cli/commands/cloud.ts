/**
 * `cleave cloud`: the cloud tier on this machine, with the zoo models and no other
 * configuration. Flags override `CLEAVE_*` environment variables, which override the config
 * file (--config), which overrides defaults.
 * SIGTERM and SIGINT drain gracefully: GOAWAY to protocol clients, in-flight work finishes.
 */
import type { Command } from 'commander';
import type { RawCloudSettings } from '../../cloud/config.js';
import { CONFIG_OPTION_HELP, loadConfigOption } from '../config-file.js';
import { resolveCloudLayers } from '../config-layers.js';

interface CloudFlags {
  port?: string; host?: string; repository?: string; device?: string; token?: string[];
  maxBatchSize?: string; maxQueueDelayMs?: string; batching?: boolean; memoryBudget?: string;
  maxFrameBytes?: string; maxStreams?: string; maxBodyBytes?: string; loadIntervalMs?: string;
  drainTimeoutMs?: string; intraOpThreads?: string; log?: boolean; inferenceWorkers?: boolean; splitTails?: boolean;
  config?: string; modelStore?: string; pluginDir?: string[];
}

export function registerCloud(program: Command): void {
  program
    .command('cloud')
    .description('start the cloud tier: KServe v2 REST, /metrics and the protocol WebSocket on one port')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('-p, --port <n>', 'TCP port; 0 picks a free one (env CLEAVE_PORT)', undefined)
    .option('--host <addr>', 'interface to bind; 0.0.0.0 serves other hosts (env CLEAVE_HOST)', undefined)
    .option('--repository <dir>', 'Triton-style model repository folder; default: the generated zoo (env CLEAVE_REPOSITORY)')
    .option('--device <d>', 'auto | cuda | cpu; auto picks CUDA when the installed onnxruntime-node has it (env CLEAVE_DEVICE)')
    .option('--token <t...>', 'accepted bearer tokens (a shared one, or one per edge); none = no auth (env CLEAVE_TOKENS, comma-separated)')
    .option('--max-batch-size <n>', 'default max batch size for models whose config sets none (env CLEAVE_MAX_BATCH_SIZE, default 32)')
    .option('--max-queue-delay-ms <ms>', 'override every model\'s max queue delay (env CLEAVE_MAX_QUEUE_DELAY_MS)')
    .option('--no-batching', 'turn the dynamic batcher off: every request runs alone (env CLEAVE_BATCHING=off)')
    .option('--memory-budget <bytes>', 'memory for loaded models, e.g. 2GiB; least recently used models are unloaded to fit; 0 = unlimited (env CLEAVE_MEMORY_BUDGET)')
    .option('--max-frame-bytes <bytes>', 'largest protocol frame (env CLEAVE_MAX_FRAME_BYTES, default 64MiB)')
    .option('--max-streams <n>', 'runs in flight per connection (env CLEAVE_MAX_STREAMS, default 256)')
    .option('--max-body-bytes <bytes>', 'largest HTTP request body (env CLEAVE_MAX_BODY_BYTES, default 64MiB)')
    .option('--load-interval-ms <ms>', 'interval of LOAD reports to protocol clients (env CLEAVE_LOAD_INTERVAL_MS, default 1000)')
    .option('--drain-timeout-ms <ms>', 'longest graceful drain on SIGTERM (env CLEAVE_DRAIN_TIMEOUT_MS, default 30000)')
    .option('--intra-op-threads <n>', 'threads per onnxruntime operator, 0 = runtime default (env CLEAVE_INTRA_OP_THREADS)')
    .option('--no-inference-workers', 'run models on the main thread instead of one worker thread per model (env CLEAVE_INFERENCE_WORKERS=off)')
    .option('--model-store <url>', 'serve the models of a model store, synced into --repository (default a temp folder): a folder, s3://bucket/prefix[?endpoint=<url>&region=<r>] with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a plugin protocol (env CLEAVE_MODEL_STORE; docs/plugins.md)')
    .option('--plugin-dir <dir...>', 'load plugins (cleave-plugin.json) from these folders (env CLEAVE_PLUGIN_DIRS, comma-separated)')
    .option('--no-split-tails', 'do not serve split tails (<model>.tail.<tensor>, loaded on first use) of the repository models (env CLEAVE_SPLIT_TAILS=off)')
    .option('--no-log', 'no JSON log lines on stderr (env CLEAVE_LOG=off)')
    .addHelpText('after', `
Endpoints (docs/cloud.md):
  GET  /v2/health/live, /v2/health/ready     liveness; readiness turns 200 after warmup
  GET  /v2, /v2/models/<name>[/versions/<v>] KServe v2 server and model metadata
  POST /v2/models/<name>/infer               KServe v2 infer (JSON, or binary-data extension)
  POST /v2/repository/index, /models/<name>/load|unload   Triton repository extension
  GET  /metrics                              Prometheus
  WS   /v1/ws                              the Cleave msgpack protocol (docs/protocol.md)

Settings: defaults < config file (--config, section cloud:) < CLEAVE_* env < flags (docs/cli.md).

Examples:
  cleave cloud --port 9000
  cleave cloud --config cleave.yaml --token edge-a --token edge-b
  CLEAVE_MEMORY_BUDGET=2GiB cleave cloud --device cuda`)
    .action(async (flags: CloudFlags) => {
      const raw: RawCloudSettings = {
        port: flags.port, host: flags.host, repository: flags.repository, device: flags.device,
        tokens: flags.token?.join(','), maxBatchSize: flags.maxBatchSize, maxQueueDelayMs: flags.maxQueueDelayMs,
        // commander sets these to true by default; only an explicit --no-* should override the env.
        batching: flags.batching === false ? false : undefined, log: flags.log === false ? false : undefined,
        memoryBudgetBytes: flags.memoryBudget, maxFrameBytes: flags.maxFrameBytes, maxStreams: flags.maxStreams,
        maxBodyBytes: flags.maxBodyBytes, loadIntervalMs: flags.loadIntervalMs, drainTimeoutMs: flags.drainTimeoutMs,
        intraOpThreads: flags.intraOpThreads,
        inferenceWorkers: flags.inferenceWorkers === false ? false : undefined,
        splitTails: flags.splitTails === false ? false : undefined,
        modelStore: flags.modelStore, pluginDirs: flags.pluginDir?.join(','),
      };
      const file = await loadConfigOption(flags.config, process.env);
      const config = resolveCloudLayers({ file, env: process.env, flags: raw });
      // Loaded here, not at the top: `cleave --help` and the other commands need none of the server.
      const { PROTOCOL_PATH, startCloudServer } = await import('../../cloud/server.js');
      const server = await startCloudServer(config);
      process.stdout.write(`cleave cloud listening on ${server.url} (ws ${server.url.replace('http', 'ws')}${PROTOCOL_PATH}), device ${server.device.device}: ${server.device.reason}\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`${signal}: draining\n`);
        void server.close().then(() => process.exit(0));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      await server.ready;
      process.stdout.write(`ready: ${server.repository.offers().map((o) => `${o.name}@${o.version}`).join(', ')}\n`);
    });
}
