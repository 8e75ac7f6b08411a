/**
 * `cleave split <model.onnx>`: lists where a model can be cut into an edge head and a cloud tail,
 * cuts it, and checks that head then tail gives the full model's outputs. The planner itself is
 * shared/onnx/split; this file only does files, options and printing.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { CleaveError } from '../../shared/errors.js';
import { randomInputs } from '../../shared/onnx/eval-inputs.js';
import { bytesPerSample, formatType, valueTypeOf } from '../../shared/onnx/shape/value-type.js';
import { createSplitVerifier, listCutPoints, splitModel, type CutPoint, type SplitCheck, type SplitVerifier } from '../../shared/onnx/split/index.js';
import type { ModelProto } from '../../shared/onnx/types.js';
import { nodeBackends } from '../backends.js';
import { readModelFile, writeModelFile } from '../model-file.js';
import { formatBytes, formatTable } from '../table.js';
import { intOption } from '../options.js';

interface SplitOptions {
  list?: boolean;
  json?: boolean;
  maxTensors: number;
  at?: string;
  out?: string;
  verify?: boolean;
  samples: number;
  seed: number;
  backend: string;
}


const HELP = `
Cut points:
  A cut point is a place in the graph where few tensors (by default exactly one) cross from the
  nodes before it to the nodes after it. Positions inside a residual span (a skip connection
  still waiting for its Add) are not cut points. Attention masks and other values computed only
  from integer inputs are recomputed by each side instead of crossing; the tail then takes that
  input (e.g. input_ids) as a pass-through input, counted in "sent/sample".

  --list columns: pos (nodes in the head, in topological order), tensor(s) crossing, type,
  bytes/sample of the crossing tensors, sent/sample (plus pass-through inputs), the node after
  which the cut sits, and node counts and weight bytes of each side; "outputs kept at edge"
  names graph outputs the head computes itself (an early auxiliary output, say).

Split files:
  head.onnx: the model's inputs -> the cut tensors (+ any graph output computed before the cut)
  tail.onnx: the cut tensors (+ pass-through inputs) -> the remaining graph outputs
  Both keep the model's metadata plus cleave.split.part and cleave.split.cut.

Examples:
  cleave split models/cnn-small.onnx --list
  cleave split models/cnn-small.onnx --list --json
  cleave split models/cnn-small.onnx --at block3.pool_out -o /tmp/cut --verify --samples 8
  cleave split models/text-tiny.onnx --list --max-tensors 2 --verify`;

/** `cleave split`: list cut points, or cut at named tensors, optionally verifying. */
export function registerSplit(program: Command): void {
  program
    .command('split')
    .description('list where a model can be cut into an edge head and a cloud tail, or cut it there')
    .argument('<model>', 'path to an .onnx file')
    .option('--list', 'list the valid cut points (the default without --at)')
    .option('--json', 'print JSON instead of a table')
    .option('--max-tensors <n>', 'with --list: allow cuts where up to n tensors cross', intOption('--max-tensors', 1), 1)
    .option('--at <tensors>', 'cut at these tensors (comma-separated names, as --list shows them)')
    .option('-o, --out <dir>', 'with --at: write <dir>/head.onnx and <dir>/tail.onnx')
    .option('--verify', 'run the full model and head -> tail on seeded random inputs and print the max abs difference (every listed cut with --list)')
    .option('--samples <n>', 'batch size of the --verify inputs', intOption('--samples', 1), 8)
    .option('--seed <n>', 'seed of the --verify inputs', intOption('--seed', 0), 1)
    .option('--backend <name>', 'backend that runs --verify', 'onnxruntime-node')
    .addHelpText('after', HELP)
    .action(async (path: string, opts: SplitOptions) => {
      const { bytes, model } = await readModelFile(path);
      if (opts.at === undefined) {
        if (opts.out !== undefined) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', '-o/--out needs --at <tensors>: which cut to write', { option: '--out' });
        await listAction(path, bytes, model, opts);
      } else {
        if (opts.list) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'use either --list or --at, not both', { option: '--list' });
        await cutAction(path, bytes, model, opts);
      }
    });
}

function inputsOf(model: ModelProto) {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  return model.graph.input.filter((v) => !inits.has(v.name)).map((v) => {
    const type = valueTypeOf(v);
    return { name: v.name, type, bytesPerSample: type ? bytesPerSample(type) : undefined };
  });
}

async function verifierFor(bytes: Uint8Array, model: ModelProto, opts: SplitOptions): Promise<{ verifier: SplitVerifier; note: string }> {
  // randomInputs stacks n samples along a fixed first dim; a model with a fixed batch takes one.
  const fixedBatch = inputsOf(model).some((i) => typeof i.type?.shape?.[0] === 'number');
  const n = fixedBatch ? 1 : opts.samples;
  const feeds = randomInputs(model, n, opts.seed);
  const backend = (await nodeBackends()).get(opts.backend);
  const verifier = await createSplitVerifier(backend, bytes, feeds);
  return { verifier, note: `verified in ${backend.name} on ${n} seeded random sample${n === 1 ? '' : 's'} (seed ${opts.seed})` };
}

function jsonText(v: unknown): string {
  return `${JSON.stringify(v, (_k, x: unknown) => (x === undefined ? null : x), 2)}\n`;
}

function tensorsText(cp: CutPoint): string {
  return cp.tensors.map((t) => t.name).join(' + ');
}

async function listAction(path: string, bytes: Uint8Array, model: ModelProto, opts: SplitOptions): Promise<void> {
  const cuts = listCutPoints(model, { maxTensors: opts.maxTensors });
  const diffs: (number | undefined)[] = [];
  let note = '';
  if (opts.verify) {
    const v = await verifierFor(bytes, model, opts);
    note = v.note;
    try {
      for (const cp of cuts) diffs.push((await v.verifier.check(splitModel(model, cp.tensors.map((t) => t.name)))).maxAbsDiff);
    } finally {
      await v.verifier.dispose();
    }
  }
  const inputs = inputsOf(model);
  if (opts.json) {
    process.stdout.write(jsonText({
      file: path,
      inputs,
      cutPoints: cuts.map((cp, k) => (opts.verify ? { ...cp, maxAbsDiff: diffs[k] } : cp)),
      ...(opts.verify ? { verify: note } : {}),
    }));
    return;
  }
  const out: string[] = [`${path}: ${cuts.length} cut point${cuts.length === 1 ? '' : 's'} (${model.graph.node.length} nodes, at most ${opts.maxTensors} tensor${opts.maxTensors === 1 ? '' : 's'} crossing)`];
  for (const i of inputs) out.push(`input ${i.name}: ${formatType(i.type)}, ${formatBytes(i.bytesPerSample)}/sample`);
  if (cuts.length) {
    const kept = cuts.some((cp) => cp.passthroughOutputs.length > 0);
    const header = ['pos', 'tensor', 'type', 'bytes/sample', 'sent/sample', 'after node', 'head nodes', 'head params', 'tail nodes', 'tail params'];
    if (kept) header.push('outputs kept at edge');
    if (opts.verify) header.push('max diff');
    const rows = cuts.map((cp, k) => {
      const row: (string | number | undefined)[] = [
        cp.position,
        tensorsText(cp),
        cp.tensors.map((t) => formatType(t.type)).join(' + '),
        formatBytes(cp.bytesPerSample),
        formatBytes(cp.transferBytesPerSample) + (cp.passthroughInputs.length ? ` (+${cp.passthroughInputs.map((t) => t.name).join(',')})` : ''),
        cp.afterNode,
        cp.headNodes,
        formatBytes(cp.headParamBytes),
        cp.tailNodes,
        formatBytes(cp.tailParamBytes),
      ];
      if (kept) row.push(cp.passthroughOutputs.join(',') || '-');
      if (opts.verify) row.push(diffs[k]!.toExponential(2));
      return row;
    });
    out.push('', formatTable(header, rows));
  } else {
    out.push('', `no position has ${opts.maxTensors === 1 ? 'a single crossing tensor' : `at most ${opts.maxTensors} crossing tensors`}; try --max-tensors ${opts.maxTensors + 1}`);
  }
  if (note) out.push('', note);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function cutAction(path: string, bytes: Uint8Array, model: ModelProto, opts: SplitOptions): Promise<void> {
  const cut = opts.at!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const split = splitModel(model, cut);
  const files: string[] = [];
  if (opts.out !== undefined) {
    const headBytes = await writeModelFile(join(opts.out, 'head.onnx'), split.head);
    const tailBytes = await writeModelFile(join(opts.out, 'tail.onnx'), split.tail);
    files.push(`${join(opts.out, 'head.onnx')} (${formatBytes(headBytes.length)})`, `${join(opts.out, 'tail.onnx')} (${formatBytes(tailBytes.length)})`);
  }
  let check: SplitCheck | undefined;
  let note = '';
  if (opts.verify) {
    const v = await verifierFor(bytes, model, opts);
    note = v.note;
    try {
      check = await v.verifier.check(split);
    } finally {
      await v.verifier.dispose();
    }
  }
  const crossing = split.crossing.map((c) => ({ ...c, bytesPerSample: c.type ? bytesPerSample(c.type) : undefined }));
  if (opts.json) {
    process.stdout.write(jsonText({
      file: path,
      cut,
      crossing,
      passthroughInputs: split.passthroughInputs,
      passthroughOutputs: split.passthroughOutputs,
      ...split.stats,
      files: opts.out === undefined ? [] : [join(opts.out, 'head.onnx'), join(opts.out, 'tail.onnx')],
      ...(check ? { verify: note, maxAbsDiff: check.maxAbsDiff, scale: check.scale, perOutput: check.perOutput } : {}),
    }));
    return;
  }
  const out: string[] = [`${path} cut at ${cut.join(', ')}`];
  out.push('', formatTable(['crossing tensor', 'type', 'bytes/sample'], crossing.map((c) => [c.name, formatType(c.type), formatBytes(c.bytesPerSample)])));
  out.push('', `head: ${split.stats.headNodes} nodes, ${formatBytes(split.stats.headParamBytes)} of weights; inputs ${split.head.graph.input.map((i) => i.name).join(', ') || '-'}`);
  out.push(`tail: ${split.stats.tailNodes} nodes, ${formatBytes(split.stats.tailParamBytes)} of weights; outputs ${split.tail.graph.output.map((o) => o.name).join(', ') || '-'}`);
  if (split.passthroughInputs.length) out.push(`pass-through inputs (sent with the cut tensors): ${split.passthroughInputs.join(', ')}`);
  if (split.passthroughOutputs.length) out.push(`graph outputs computed in the head (the edge keeps them): ${split.passthroughOutputs.join(', ')}`);
  if (files.length) out.push('', `wrote ${files.join(', ')}`);
  if (check) {
    out.push('', `${note}: max abs diff ${check.maxAbsDiff.toExponential(2)} (outputs up to ${check.scale.toPrecision(3)})`);
    if (check.perOutput.length > 1) out.push(formatTable(['output', 'max abs diff', 'largest |value|'], check.perOutput.map((o) => [o.name, o.maxAbsDiff.toExponential(2), o.scale.toPrecision(3)])));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
