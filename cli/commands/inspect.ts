import type { Command } from 'commander';

/** Placeholder: replaced by the real `cleave inspect`. */
export function registerInspect(program: Command): void {
  program.command('inspect').description('(not yet built)').action(() => {
    throw new Error('cleave inspect is not built yet');
  });
}
