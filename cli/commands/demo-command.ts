import type { Command } from 'commander';

/**
 * `cleave demo`: the main job. It grows with the project; today it builds the model zoo, runs
 * real inputs through the zoo's preprocessing on both inference backends (native and wasm),
 * splits a CNN into an edge head and a cloud tail that together give the full answer, and
 * serves that tail from the cloud tier on loopback over the WebSocket protocol and KServe v2,
 * then puts an edge node in front of the cloud (demo-edge.ts), deploys and runs workflows on it
 * (demo-workflows.ts), and stops the cloud to show degraded answers.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('build the model zoo and run it: both runtimes, int8 variants, a split model, cloud and edge on loopback, workflows')
    .option('--dir <dir>', 'model zoo directory (default: models/ in the repository)')
    .addHelpText('after', '\nEverything runs on this machine, on the CPU, with generated models: nothing is downloaded.\n\nExamples:\n  cleave demo\n  cleave demo --dir /tmp/zoo')
    .action(async (opts: { dir?: string }) => {
      // Loaded here: the demo pulls in the cloud and edge servers, which other commands never need.
      const { runDemo } = await import('./demo.js');
      await runDemo(opts.dir);
    });
}
