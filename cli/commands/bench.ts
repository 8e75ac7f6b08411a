import type { Command } from 'commander';

/** Placeholder: replaced by the real `cleave bench`. */
export function registerBench(program: Command): void {
  program.command('bench').description('(not yet built)').action(() => {
    throw new Error('cleave bench is not built yet');
  });
}
