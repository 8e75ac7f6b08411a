/**
 * A human's handle on the link emulator (bench/link-proxy.ts):
 *
 *   node --import tsx bench/link-proxy-cli.ts --target 127.0.0.1:9000 --listen 9100 --delay-ms 25 --mbit 10
 *
 * prints `link-proxy listening on 127.0.0.1:PORT -> target`, then reads one command per line on
 * stdin. `shape` merges the keys it is given into the current shape; the others stay.
 * End of stdin, `quit`, SIGINT or SIGTERM close the proxy, and the process exits by itself.
 */
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { startLinkProxy, type LinkShape } from './link-proxy.js';

const HELP = `commands:
  shape delay=MS jitter=MS mbit=N down.delay=MS down.jitter=MS down.mbit=N   (mbit=0: unlimited)
  cut                    reset every open connection
  blackhole on|off       deliver nothing either way (off: connections that lost bytes are reset)
  down on|off            reset new and existing connections
  restore                undo blackhole and down
  stats                  connections, open, bytesUp, bytesDown as JSON
  help | quit`;

function nonNegative(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0, got "${v}"`);
    return n;
  };
}

function parseTarget(v: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || !m[1] || port < 1 || port > 65535) throw new InvalidArgumentError(`target must be host:port, got "${v}"`);
  return { host: m[1], port };
}

function describeShape(s: LinkShape): string {
  const rate = (bps: number | undefined): string => (bps ? `${bps / 1e6} Mbit/s` : 'unlimited');
  const d = s.down ?? {};
  return `delay ${s.delayMs} ms, jitter ${s.jitterMs ?? 0} ms, ${rate(s.bitsPerSec)} up; `
    + `down: delay ${d.delayMs ?? s.delayMs} ms, jitter ${d.jitterMs ?? s.jitterMs ?? 0} ms, ${rate(d.bitsPerSec ?? s.bitsPerSec)}`;
}

/** Applies `key=value` pairs of a `shape` command to a copy of `shape`. */
function applyShapeArgs(shape: LinkShape, args: readonly string[]): LinkShape {
  const next: LinkShape = { ...shape, down: { ...shape.down } };
  for (const arg of args) {
    const m = /^(down\.)?(delay|jitter|mbit)=(.*)$/.exec(arg);
    if (!m) throw new RangeError(`shape takes delay=, jitter=, mbit= (optionally down.-prefixed), got "${arg}"`);
    const value = nonNegative(arg)(m[3] ?? '');
    const target: Partial<LinkShape> = m[1] ? next.down! : next;
    if (m[2] === 'delay') target.delayMs = value;
    else if (m[2] === 'jitter') target.jitterMs = value;
    else target.bitsPerSec = value * 1e6;
  }
  return next;
}

function onOff(v: string | undefined): boolean {
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new RangeError(`expected on or off, got "${v ?? ''}"`);
}

async function main(): Promise<void> {
  const program = new Command('link-proxy')
    .description('TCP link emulator on 127.0.0.1: delay, jitter and bandwidth per direction; cut, blackhole, down on stdin')
    .requiredOption('--target <host:port>', 'where connections are forwarded', parseTarget)
    .option('--listen <port>', 'port to listen on, 0 = any free port', nonNegative('--listen'), 0)
    .option('--delay-ms <ms>', 'one-way delay each direction', nonNegative('--delay-ms'), 0)
    .option('--jitter-ms <ms>', 'uniform jitter per chunk, never reordering', nonNegative('--jitter-ms'), 0)
    .option('--mbit <n>', 'bandwidth each direction, Mbit/s (0: unlimited)', nonNegative('--mbit'), 0)
    .option('--down-delay-ms <ms>', 'one-way delay server -> client (default: --delay-ms)', nonNegative('--down-delay-ms'))
    .option('--down-jitter-ms <ms>', 'jitter server -> client (default: --jitter-ms)', nonNegative('--down-jitter-ms'))
    .option('--down-mbit <n>', 'bandwidth server -> client, Mbit/s (default: --mbit)', nonNegative('--down-mbit'))
    .addHelpText('after', `\n${HELP}\n\nThe TCP handshake is not delayed; only bytes are.`);
  program.parse();
  const o = program.opts<{
    target: { host: string; port: number }; listen: number; delayMs: number; jitterMs: number; mbit: number;
    downDelayMs?: number; downJitterMs?: number; downMbit?: number;
  }>();

  let shape: LinkShape = {
    delayMs: o.delayMs,
    jitterMs: o.jitterMs,
    bitsPerSec: o.mbit * 1e6,
    down: {
      ...(o.downDelayMs !== undefined ? { delayMs: o.downDelayMs } : {}),
      ...(o.downJitterMs !== undefined ? { jitterMs: o.downJitterMs } : {}),
      ...(o.downMbit !== undefined ? { bitsPerSec: o.downMbit * 1e6 } : {}),
    },
  };
  const proxy = await startLinkProxy({ target: o.target, listenPort: o.listen, shape });
  console.log(`link-proxy listening on 127.0.0.1:${proxy.port} -> ${o.target.host}:${o.target.port}`);
  console.log(`shape: ${describeShape(shape)}`);

  const rl = createInterface({ input: process.stdin, terminal: false });
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closing ??= proxy.close().then(() => rl.close());
    return closing;
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  rl.on('close', () => void shutdown());

  for await (const line of rl) {
    const [cmd, ...args] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case '':
        case undefined:
          break;
        case 'shape':
          shape = applyShapeArgs(shape, args);
          proxy.shape(shape);
          console.log(`shape: ${describeShape(shape)}`);
          break;
        case 'cut':
          proxy.cut();
          console.log('cut');
          break;
        case 'blackhole':
          proxy.blackhole(onOff(args[0]));
          console.log(`blackhole ${args[0]}`);
          break;
        case 'down':
          proxy.down(onOff(args[0]));
          console.log(`down ${args[0]}`);
          break;
        case 'restore':
          proxy.restore();
          console.log('restored');
          break;
        case 'stats':
          console.log(JSON.stringify(proxy.stats()));
          break;
        case 'help':
          console.log(HELP);
          break;
        case 'quit':
        case 'exit':
          await shutdown();
          break;
        default:
          console.log(`unknown command "${cmd}" (try: help)`);
      }
    } catch (e) {
      console.log(`error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  await shutdown();
}

await main();
