// `ambit node revoke NODE`: cuts a node off the control plane (a compromised or retired node).
import type { Command } from 'commander';
import { adminClient } from './context.js';
import { outputFormat, printData } from './output.js';

export function registerNode(program: Command): void {
  const node = program.command('node').description('Act on a node\'s standing with the control plane');
  node
    .command('revoke')
    .argument('<node>', 'the node name, as its credentials carry it')
    .description(
      'Revoke every node and workload credential of NODE issued up to now, for good (kept across restarts): its config-stream sessions end at once and it gets no more configuration or SVIDs. SVIDs it already holds live out their TTL (spec.certificateTTLSeconds of MeshConfig). Credentials issued a second later work, to re-provision the node.',
    )
    .option('-o, --output <format>', 'json | yaml (default: text)')
    .action(async (name: string, o: { output?: string }) => {
      const format = outputFormat(o.output);
      const r = await adminClient(program).revokeNode(name);
      if (format !== 'table') return printData(r, format);
      process.stdout.write(`node ${r.node}: credentials issued up to ${r.issuedUpTo} revoked; ${r.sessionsEnded} config-stream session${r.sessionsEnded === 1 ? '' : 's'} ended\n`);
    });
}
