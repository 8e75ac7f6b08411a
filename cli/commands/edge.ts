/**
 * `cleave edge`: the Node edge node (an ARM gateway, a laptop) with the zoo's edge models, and
 * the cloud link when --cloud is given. The same app runs in a Worker (wrangler.toml).
 */
import type { Command } from 'commander';
import type { RawEdgeSettings } from '../../edge/config.js';
import { CONFIG_OPTION_HELP, loadConfigOption } from '../config-file.js';
import { resolveEdgeLayers } from '../config-layers.js';

interface EdgeFlags {
  port?: string;
  host?: string;
  cloud?: string;
  cloudToken?: string;
  models?: string;
  workflowsDir?: string;
  backend?: string;
  cacheBytes?: string;
  cacheTtlMs?: string;
  maxBodyBytes?: string;
  defaultDeadlineMs?: string;
  maxDeadlineMs?: string;
  warm?: boolean;
  log?: boolean;
  emulateSlowdown?: string;
  apiKeysFile?: string;
  edgeId?: string;
  logMask?: string;
  corsOrigins?: string;
  config?: string;
}

export function registerEdge(program: Command): void {
  program
    .command('edge')
    .description('run an edge node on Node: the zoo\'s edge models, a result cache, and the link to a cloud tier')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('-p, --port <n>', 'TCP port; 0 picks a free one (env CLEAVE_PORT, default 8787)')
    .option('--host <addr>', 'interface to bind; 0.0.0.0 serves other hosts (env CLEAVE_HOST)')
    .option('--cloud <url>', 'cloud protocol URL, e.g. ws://127.0.0.1:9000/v1/ws; none = edge models only (env CLEAVE_CLOUD_URL)')
    .option('--cloud-token <t>', 'bearer token for the cloud (env CLEAVE_CLOUD_TOKEN)')
    .option('--api-keys-file <file>', 'tenant key file (JSON or YAML); set, every request needs a key (env CLEAVE_API_KEYS_FILE; docs/security.md)')
    .option('--edge-id <id>', 'this edge\'s name in the link tokens it mints from CLEAVE_CLOUD_SECRET (env CLEAVE_EDGE_ID); the secret itself is env or config file only, never a flag, so it stays out of `ps`')
    .option('--log-mask <fields>', 'comma-separated field names masked in log lines, e.g. authorization,apiKey (env CLEAVE_LOG_MASK)')
    .option('--cors-origins <list>', 'origins browser pages may call from: * or https://app.example.com,... (env CLEAVE_CORS_ORIGINS; default none)')
    .option('--models <dir>', 'model folder with a zoo manifest.json; default: the generated zoo (env CLEAVE_MODELS)')
    .option('--workflows-dir <dir>', 'folder deployed workflows persist in; none = in memory (env CLEAVE_WORKFLOWS_DIR)')
    .option('--backend <name>', 'auto | onnxruntime-node | onnxruntime-web (env CLEAVE_BACKEND, default auto)')
    .option('--cache-bytes <bytes>', 'result cache size, e.g. 64MiB (env CLEAVE_CACHE_BYTES)')
    .option('--cache-ttl-ms <ms>', 'time a cached answer lives; 0 = until evicted (env CLEAVE_CACHE_TTL_MS, default 60000)')
    .option('--max-body-bytes <bytes>', 'largest request body (env CLEAVE_MAX_BODY_BYTES, default 16MiB)')
    .option('--default-deadline-ms <ms>', 'budget of a request that states none (env CLEAVE_DEFAULT_DEADLINE_MS, default 30000)')
    .option('--max-deadline-ms <ms>', 'largest budget a request may state (env CLEAVE_MAX_DEADLINE_MS, default 300000)')
    .option('--emulate-slowdown <factor>', 'benchmarks only: every edge model run takes this many times as long, to emulate a weaker device (env CLEAVE_EMULATE_SLOWDOWN, default 1)')
    .option('--no-warm', 'do not load the edge models before reporting ready (env CLEAVE_WARM=off)')
    .option('--no-log', 'no JSON log lines on stderr (env CLEAVE_LOG=off)')
    .addHelpText('after', `
Endpoints (docs/edge.md):
  GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/<name>   KServe v2 health and metadata
  POST /v2/models/<name>/infer      KServe v2 infer (JSON, or binary-data extension)
  POST /v1/models/<name>/infer      native infer: msgpack or JSON (Content-Type / Accept)
  POST /v1/workflows                deploy a workflow (docs/workflows.md); GET/DELETE /v1/workflows[/<name>]
  POST /v1/workflows/<name>/infer   run it (Accept: application/x-ndjson streams per node)
  GET  /v1/workflows/<name>/plan    where each node would run now, and why
  WS   /v1/ws                       the Cleave protocol (docs/protocol.md)
  GET  /v1/status, /metrics         link, cache and models; Prometheus
Request headers: x-cleave-cache (default|bypass|refresh), x-cleave-tenant, x-cleave-deadline-ms, traceparent, x-request-id

Settings: defaults < config file (--config, section edge:) < CLEAVE_* env < flags (docs/cli.md).

Examples:
  cleave edge --port 8787 --cloud ws://127.0.0.1:9000/v1/ws
  cleave edge --config cleave.yaml --workflows-dir ./.cleave/workflows
  CLEAVE_CACHE_BYTES=256MiB cleave edge --no-warm`)
    .action(async (flags: EdgeFlags) => {
      const raw: RawEdgeSettings = {
        port: flags.port, host: flags.host, cloudUrl: flags.cloud, cloudToken: flags.cloudToken, models: flags.models, workflowsDir: flags.workflowsDir, backend: flags.backend,
        cacheBytes: flags.cacheBytes, cacheTtlMs: flags.cacheTtlMs, maxBodyBytes: flags.maxBodyBytes,
        defaultDeadlineMs: flags.defaultDeadlineMs, maxDeadlineMs: flags.maxDeadlineMs, emulateSlowdown: flags.emulateSlowdown,
        apiKeysFile: flags.apiKeysFile, edgeId: flags.edgeId, logMask: flags.logMask, corsOrigins: flags.corsOrigins,
        // commander sets these to true by default; only an explicit --no-* should override the env.
        warm: flags.warm === false ? false : undefined, log: flags.log === false ? false : undefined,
      };
      const file = await loadConfigOption(flags.config, process.env);
      const config = resolveEdgeLayers({ file, env: process.env, flags: raw });
      const log = config.log ? (e: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ...e })}\n`) : undefined;
      // Loaded here, not at the top: `cleave --help` and the other commands need none of the server.
      const { startEdgeServer } = await import('../../edge/node.js');
      const server = await startEdgeServer(config, { ...(log ? { log } : {}) });
      process.stdout.write(`cleave edge listening on ${server.url} (${server.node.catalog.list().length} models, cloud ${config.cloudUrl ?? 'none'})\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`${signal}: closing\n`);
        void server.close().then(() => process.exit(0));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      await server.ready;
      process.stdout.write(`ready: ${server.url}\n`);
    });
}
