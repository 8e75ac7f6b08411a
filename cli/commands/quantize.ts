import type { Command } from 'commander';

/** Placeholder: replaced by the real `cleave quantize`. */
export function registerQuantize(program: Command): void {
  program.command('quantize').description('(not yet built)').action(() => {
    throw new Error('cleave quantize is not built yet');
  });
}
