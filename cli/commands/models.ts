import type { Command } from 'commander';

/** Placeholder: replaced by the real `cleave models`. */
export function registerModels(program: Command): void {
  program.command('models').description('(not yet built)').action(() => {
    throw new Error('cleave models is not built yet');
  });
}
