// `ambit demo`: the guided tour (src/demo). Needs root: it builds a lab.
import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('A guided tour in a real lab: the control plane and CA, mTLS on the wire, a policy denial, an identity-confusion attempt, egress control and its attacks')
    .option('--name <lab>', 'lab name for the demo', 'demo')
    .option('--keep', 'leave the lab up afterwards to explore', false)
    .action(async (o: { name: string; keep: boolean }) => {
      const { runDemo } = await import('../demo/demo.js');
      await runDemo({ lab: o.name, keep: o.keep, out: (l) => process.stdout.write(`${l}\n`) });
    });
}
