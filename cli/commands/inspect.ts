import type { Command } from 'commander';
import { inspectModel } from '../../shared/onnx/inspect.js';
import { readModelFile } from '../model-file.js';
import { formatBytes, formatTable } from '../table.js';

/** `cleave inspect <model.onnx>`: inputs, outputs, ops, parameters, opsets. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a model\'s inputs and outputs, operator histogram, parameters and opsets')
    .argument('<model>', 'path to an .onnx file')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nExample:\n  cleave inspect models/cnn-small.onnx')
    .action(async (path: string, opts: { json?: boolean }) => {
      const { bytes, model } = await readModelFile(path);
      const s = inspectModel(model);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ file: path, bytes: bytes.length, ...s }, null, 2)}\n`);
        return;
      }
      const out: string[] = [];
      out.push(`${path}: graph "${s.graphName}", ${formatBytes(bytes.length)}, IR ${s.irVersion}, opsets ${s.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}${s.producer ? `, by ${s.producer}` : ''}`);
      out.push('', formatTable(['input', 'type'], s.inputs.map((i) => [i.name, i.display])));
      out.push('', formatTable(['output', 'type'], s.outputs.map((o) => [o.name, o.display])));
      out.push('', `parameters: ${s.parameters.toLocaleString('en-US')} (${formatBytes(s.parameterBytes)}: ${Object.entries(s.parameterBytesByDType).map(([d, b]) => `${d} ${formatBytes(b)}`).join(', ')})`);
      out.push(`nodes: ${s.nodes}`, '', formatTable(['op', 'count'], s.ops.map((o) => [o.op, o.count])));
      if (s.unknownOps.length) out.push('', `unknown operators (no runtime Cleave targets has them): ${s.unknownOps.join(', ')}`);
      const meta = Object.entries(s.metadata);
      if (meta.length) out.push('', formatTable(['metadata', 'value'], meta.map(([k, v]) => [k, v])));
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
