/**
 * `cleave quantize <model.onnx>`: writes an int8 copy of a model and measures what it cost, by
 * running both on the same evaluation inputs in one backend. The quantizer itself is
 * shared/onnx/quantize; this file only does files, options and printing.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CleaveError } from '../../shared/errors.js';
import { decodeModel } from '../../shared/onnx/decode.js';
import { encodeModel } from '../../shared/onnx/encode.js';
import { randomInputs } from '../../shared/onnx/eval-inputs.js';
import {
  DEFAULT_MIN_ELEMENTS, QUANTIZE_MODES, evaluateQuantization, isQuantizeMode, quantizeModel,
  type QuantizationEvaluation, type QuantizeReport,
} from '../../shared/onnx/quantize/index.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import type { HostTensor } from '../../shared/tensor.js';
import { nodeBackends } from '../backends.js';
import { intOption } from '../options.js';

/** Metadata key the model zoo stamps on its models, naming the zoo entry. */
const ZOO_MODEL_KEY = 'cleave.zoo.model';

/** What `zooSampleInputs` looks like in shared/zoo/index.ts. */
type ZooSampleInputs = (modelName: string, n: number, seed: number) => Record<string, HostTensor> | undefined;

/**
 * Evaluation inputs for a model: realistic ones through the zoo's preprocessing when the model
 * is a zoo model and the zoo offers them, generic seeded ones otherwise. The zoo is imported
 * lazily and optionally, so this works in checkouts (and bundles) without it.
 */
export async function evaluationInputs(model: ModelProto, n: number, seed: number): Promise<{ inputs: Record<string, HostTensor>; source: string }> {
  const zooName = model.metadataProps.find((e) => e.key === ZOO_MODEL_KEY)?.value;
  if (zooName) {
    let sample: ZooSampleInputs | undefined;
    try {
      // A computed specifier keeps the type checker from requiring the module to exist.
      const spec = new URL('../../shared/zoo/index.js', import.meta.url).href;
      const zoo = (await import(spec)) as { zooSampleInputs?: unknown };
      if (typeof zoo.zooSampleInputs === 'function') sample = zoo.zooSampleInputs as ZooSampleInputs;
    } catch (e) {
      // Only a missing zoo is expected; a zoo that fails to load is a bug worth seeing.
      if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    }
    const inputs = sample?.(zooName, n, seed);
    if (inputs) return { inputs, source: `zoo samples of "${zooName}"` };
  }
  return { inputs: randomInputs(model, n, seed), source: 'random inputs' };
}


/** `models/mlp.onnx` -> `models/mlp.qdq-weight.onnx`. */
export function defaultOutputPath(input: string, mode: string): string {
  return input.replace(/(\.onnx)?$/i, `.${mode}.onnx`);
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CleaveError('CLEAVE_E_NOT_FOUND', `model file "${path}" does not exist`, { path });
    if (code === 'EISDIR') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `"${path}" is a directory, not an .onnx file`, { path });
    throw e;
  }
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(18)}${value.padStart(14)}`;
}

/** The summary `cleave quantize` prints. */
export function formatQuantizeSummary(r: { input: string; output: string; fp32Bytes: number; int8Bytes: number; report: QuantizeReport; evaluation?: QuantizationEvaluation; evalNote?: string; verbose?: boolean }): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `${r.input} -> ${r.output} (${r.report.mode})`,
    row('fp32 bytes', n(r.fp32Bytes)),
    row('int8 bytes', n(r.int8Bytes)),
    row('size ratio', (r.int8Bytes / r.fp32Bytes).toFixed(3)),
  ];
  const ev = r.evaluation;
  if (ev) {
    lines.push(
      row('top-1 agreement', Number.isNaN(ev.top1Agreement) ? 'n/a' : `${(ev.top1Agreement * 100).toFixed(2)}%`),
      row('max abs diff', ev.maxAbsDiff.toPrecision(4)),
      row('mean abs diff', ev.meanAbsDiff.toPrecision(4)),
    );
  }
  lines.push(row('weights quantized', String(r.report.quantized.length)), row('weights skipped', String(r.report.skipped.length)));
  if (r.evalNote) lines.push(`  (${r.evalNote})`);
  if (r.verbose) {
    for (const q of r.report.quantized) lines.push(`  quantized ${q.op} ${q.node}: ${q.weight} (${n(q.elements)} elements, ${q.kernel})`);
    for (const s of r.report.skipped) lines.push(`  skipped   ${s.op} ${s.node}: ${s.reason}`);
  } else if (r.report.skipped.length) {
    lines.push('  (--verbose lists why each skipped weight stayed fp32)');
  }
  return `${lines.join('\n')}\n`;
}

interface QuantizeFlags {
  output?: string;
  mode: string;
  samples: number;
  seed: number;
  backend: string;
  perTensor?: boolean;
  minElements: number;
  exclude?: string[];
  compare?: string;
  verbose?: boolean;
}

const MODES_HELP = `
Modes:
  qdq-weight    int8 weights (symmetric, one scale per output channel) behind DequantizeLinear;
                the arithmetic stays fp32. About 4x smaller file at fp32 accuracy. Runtimes must
                fold the dequantization at load (Cleave's backends do: LoadOptions.weightOnlyQdq);
                unfolded, onnxruntime re-runs it on every call and is ~10x slower.
  dynamic-int8  MatMul and Gemm run in integers: activations are quantized per call
                (DynamicQuantizeLinear), multiplied with int8-range weights (MatMulInteger) and
                rescaled to fp32. Faster matrix products on CPUs; Conv and Gather weights fall
                back to qdq-weight. Same file size.

Weights smaller than --min-elements, shared by several nodes, or not fp32 stay fp32; biases and
normalization parameters always do. The evaluation runs the fp32 and int8 models on the same
--samples inputs (the zoo's own samples for zoo models, seeded random ones otherwise).

Examples:
  cleave quantize models/text-tiny.onnx --mode dynamic-int8 -o /tmp/text-int8.onnx
  cleave quantize models/mlp-large.onnx --mode qdq-weight`;

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('write an int8 copy of an ONNX model and report its size and accuracy against the original')
    .argument('<model>', 'fp32 .onnx file')
    .requiredOption('-m, --mode <mode>', `quantization mode: ${QUANTIZE_MODES.join(' | ')}`)
    .option('-o, --output <file>', 'where to write the int8 model (default: <model>.<mode>.onnx)')
    .option('--samples <n>', 'evaluation samples; 0 skips the evaluation', intOption('--samples', 0), 1000)
    .option('--seed <n>', 'seed of the evaluation inputs', intOption('--seed', 0), 1)
    .option('--backend <name>', 'inference backend for the evaluation', 'onnxruntime-node')
    .option('--per-tensor', 'one scale per weight tensor instead of one per output channel')
    .option('--min-elements <n>', 'weights with fewer elements stay fp32', intOption('--min-elements', 0), DEFAULT_MIN_ELEMENTS)
    .option('--exclude <nodes...>', 'nodes whose weights stay fp32, named as --verbose lists them')
    .option('--compare <output>', 'model output to compare (default: the first)')
    .option('-v, --verbose', 'list every quantized and skipped weight')
    .addHelpText('after', MODES_HELP)
    .action(async (input: string, flags: QuantizeFlags) => {
      if (!isQuantizeMode(flags.mode)) {
        throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `--mode "${flags.mode}" is not known; expected one of ${QUANTIZE_MODES.join(', ')}`, { mode: flags.mode, allowed: [...QUANTIZE_MODES] });
      }
      const bytes = await readModelFile(input);
      const fp32 = decodeModel(bytes);
      const { model, report } = quantizeModel(fp32, {
        mode: flags.mode,
        perChannel: !flags.perTensor,
        minElements: flags.minElements,
        exclude: (flags.exclude ?? []).flatMap((s) => s.split(',')).filter((s) => s !== ''),
      });
      const out = encodeModel(model);
      const output = flags.output ?? defaultOutputPath(input, flags.mode);
      await writeFile(output, out);

      let evaluation: QuantizationEvaluation | undefined;
      let evalNote: string | undefined;
      if (flags.samples > 0) {
        const backend = (await nodeBackends()).get(flags.backend);
        const { inputs, source } = await evaluationInputs(fp32, flags.samples, flags.seed);
        evaluation = await evaluateQuantization(bytes, out, {
          backend,
          inputs,
          ...(flags.compare !== undefined ? { output: flags.compare } : {}),
        });
        evalNote = `${evaluation.samples} ${source}, seed ${flags.seed}, output "${evaluation.output}", ${backend.name}`;
      }
      process.stdout.write(formatQuantizeSummary({
        input, output, fp32Bytes: bytes.length, int8Bytes: out.length, report,
        ...(evaluation ? { evaluation } : {}),
        ...(evalNote ? { evalNote } : {}),
        verbose: flags.verbose ?? false,
      }));
    });
}
