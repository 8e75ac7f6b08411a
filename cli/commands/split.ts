import type { Command } from 'commander';

/** Placeholder: replaced by the real `cleave split`. */
export function registerSplit(program: Command): void {
  program.command('split').description('(not yet built)').action(() => {
    throw new Error('cleave split is not built yet');
  });
}
