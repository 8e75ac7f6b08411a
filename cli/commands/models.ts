/**
 * `cleave models`: generate the model zoo into a directory (default `models/`), or list the
 * catalogue. Current files are reused (see cli/zoo-files.ts), so running it again is cheap.
 *
 *   cleave models                      build what is missing or stale, print the table
 *   cleave models --only mlp-small     just that one (the manifest keeps the others)
 *   cleave models --force              rebuild everything
 *   cleave models --list               the catalogue, nothing built
 *
 * Early-exit heads also get their exit curve: exit rate and agreement with the base model per
 * confidence threshold, as measured into the manifest.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { ZOO_MODELS, type ManifestEntry } from '../../shared/zoo/index.js';
import { createProgress } from '../progress.js';
import { DEFAULT_ZOO_DIR, syncZoo } from '../zoo-files.js';

interface ModelsOptions {
  out?: string;
  only?: string;
  force?: boolean;
  list?: boolean;
}

/** Left-aligned text columns, right-aligned numbers; two spaces between columns. */
function table(header: readonly string[], rows: readonly (readonly string[])[], numeric: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function formatBytes(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)} MB`;
  if (n >= 1_000) return `${(n / 1_000).toFixed(1)} kB`;
  return `${n} B`;
}

function listCatalogue(): string {
  const shape = (s: readonly (number | string)[]): string => `[${s.join(',')}]`;
  return table(
    ['name', 'tier', 'task', 'quantization', 'input', 'output', 'description'],
    ZOO_MODELS.map((m) => [
      m.name, m.tier, m.task, m.quantization,
      m.inputs.map((t) => `${t.name} ${t.dtype}${shape(t.shape)}`).join(', '),
      m.outputs.map((t) => `${t.name} ${t.dtype}${shape(t.shape)}`).join(', '),
      m.description,
    ]),
    new Set(),
  );
}

function resultTable(entries: readonly ManifestEntry[], ms: ReadonlyMap<string, number>): string {
  return table(
    ['name', 'tier', 'params', 'bytes', 'quantization', 'mean top1', 'max class', 'agree base', 'build ms'],
    entries.map((e) => [
      e.name,
      e.tier,
      e.params.toLocaleString('en-US'),
      formatBytes(e.bytes),
      e.quantization,
      e.meanTop1Prob.toFixed(3),
      e.maxClassShare.toFixed(3),
      e.top1AgreementWithBase !== undefined ? e.top1AgreementWithBase.toFixed(3) : '-',
      ms.has(e.name) ? String(Math.round(ms.get(e.name)!)) : 'cached',
    ]),
    new Set([2, 3, 5, 6, 7, 8]),
  );
}

/** Per exit head: at each confidence threshold, how many exit and how often they agree with the base. */
function exitCurveTables(entries: readonly ManifestEntry[]): string[] {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  return entries.filter((e) => e.exitCurve && e.exitOf).map((e) => [
    `${e.name}: exit at ${e.exitOf!.cut.join(',')} of ${e.exitOf!.model}; top-1 agreement on every sample ${e.top1AgreementWithBase?.toFixed(3) ?? '-'}`,
    table(
      ['threshold', 'exit rate', 'agree (exited)', 'agree (overall)'],
      e.exitCurve!.map((p) => [p.threshold.toFixed(2), pct(p.exitRate), p.agreement === null ? '-' : p.agreement.toFixed(3), p.overallAgreement.toFixed(3)]),
      new Set([0, 1, 2, 3]),
    ),
  ].join('\n'));
}

/** Adds `cleave models` to the program. */
export function registerModels(program: Command): void {
  program
    .command('models')
    .description('generate the model zoo (ONNX files + manifest.json), or list it')
    .option('--out <dir>', `directory to write (default ${path.relative(process.cwd(), DEFAULT_ZOO_DIR) || '.'})`)
    .option('--only <names>', 'comma-separated model names to build')
    .option('--force', 'rebuild even when the files are current')
    .option('--list', 'print the catalogue without building')
    .addHelpText('after', `
Examples:
  cleave models                       build what is missing or stale, print the table
  cleave models --only mlp-small,cnn-small
  cleave models --force --out /tmp/zoo
  cleave models --list`)
    .action(async (opts: ModelsOptions) => {
      if (opts.list) {
        process.stdout.write(`${listCatalogue()}\n`);
        return;
      }
      const only = opts.only?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      const started = performance.now();
      // A bar on a terminal, a line per model otherwise (CI logs, pipes).
      const progress = createProgress();
      const res = await syncZoo({
        ...(opts.out !== undefined ? { dir: opts.out } : {}),
        ...(only ? { only } : {}),
        force: opts.force === true,
        onPlan: (names) => progress.start('building model zoo', names.length),
        onBuilt: (b) => progress.tick(`${b.name} ${Math.round(b.buildMs)} ms`),
      }).finally(() => progress.stop());
      const ms = new Map(res.built.map((b) => [b.name, b.buildMs]));
      const shown = new Set(only ?? ZOO_MODELS.map((m) => m.name));
      const entries = res.manifest.models.filter((e) => shown.has(e.name));
      process.stdout.write(`${resultTable(entries, ms)}\n`);
      for (const t of exitCurveTables(entries)) process.stdout.write(`\n${t}\n\n`);
      const total = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(`${res.built.length} built, ${res.reused.length} current, in ${total} s -> ${path.join(res.dir, 'manifest.json')}\n`);
    });
}
