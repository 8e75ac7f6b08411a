import type { Command } from 'commander';

/** Placeholder: replaced by the real `cleave demo`. */
export function registerDemo(program: Command): void {
  program.command('demo').description('(not yet built)').action(() => {
    throw new Error('cleave demo is not built yet');
  });
}
