// `ambit node revoke NODE [--credential ID]`: cuts a node off the control plane (a compromised or
// retired node), or only one of its credentials (a leaked token). `ambit node credentials [NODE]`
// lists the unexpired credentials the control plane issued, to find the one to revoke.
import type { Command } from 'commander';
import { adminClient } from './context.js';
import { outputFormat, printData, table } from './output.js';

const plural = (n: number): string => `${n} config-stream session${n === 1 ? '' : 's'} ended`;

export function registerNode(program: Command): void {
  const node = program.command('node').description('Act on a node\'s standing with the control plane');
  node
    .command('revoke')
    .argument('<node>', 'the node name, as its credentials carry it')
    .description(
      [
        'Revoke every node and workload credential of NODE issued up to now, for good (kept across restarts).',
        'Its config-stream sessions end at once, and it gets no more configuration or SVIDs.',
        'The SVIDs it already holds are refused from then on: every node proxy refuses them at both ends of a tunnel, the egress gateway refuses them as a source, and both close the tunnels that use them, as soon as their config stream delivers the revocation.',
        'An SVID signed by a control plane from before this check carries no issued-to extension and lives out its TTL (spec.certificateTTLSeconds of MeshConfig).',
        'Upgrade every proxy before the first revocation: an older one rejects every version from then on.',
        'Credentials issued a second later work, to re-provision the node.',
        'With --credential, revoke only that one credential (its ID is the "credential" of the control plane\'s audit lines node_token.issued, workload_token.issued and stream.accepted): the sessions it opened end and the SVIDs asked for with it are refused; the node\'s other credentials keep working.',
        'An ID the control plane did not issue to NODE, or that has expired, is refused and nothing is revoked.',
      ].join(' '),
    )
    .option('--credential <id>', 'revoke only the credential with this ID')
    .option('-o, --output <format>', 'json | yaml (default: text)')
    .action(async (name: string, o: { output?: string; credential?: string }) => {
      const format = outputFormat(o.output);
      if (o.credential !== undefined) {
        const r = await adminClient(program).revokeCredential(name, o.credential);
        if (format !== 'table') return printData(r, format);
        process.stdout.write(`node ${r.node}: credential ${r.credential} revoked (kept until ${r.keptUntil}); ${plural(r.sessionsEnded)}\n`);
        return;
      }
      const r = await adminClient(program).revokeNode(name);
      if (format !== 'table') return printData(r, format);
      process.stdout.write(`node ${r.node}: credentials issued up to ${r.issuedUpTo} revoked; ${plural(r.sessionsEnded)}\n`);
    });
  node
    .command('credentials')
    .argument('[node]', 'only this node\'s (default: every node\'s)')
    .description(
      'List the unexpired node and workload credentials the control plane issued, oldest first: ID (what node revoke --credential takes), node, kind, identity (workload credentials), when issued and when it expires, and whether it is revoked (alone, or with its node). A control plane upgraded from before its credential registry lists only what it issued since (the note says from when).',
    )
    .option('-o, --output <format>', 'json | yaml (default: table)')
    .action(async (name: string | undefined, o: { output?: string }) => {
      const format = outputFormat(o.output);
      const r = await adminClient(program).listCredentials(name);
      if (format !== 'table') return printData(r, format);
      const rows = r.credentials.map((c) => [c.credential, c.node, c.kind, c.identity ?? '-', c.issuedAt, c.expiresAt, c.revoked === false ? 'active' : `revoked (${c.revoked})`]);
      process.stdout.write(rows.length === 0 ? `no unexpired credentials${name === undefined ? '' : ` of node ${name}`}\n` : table(['CREDENTIAL', 'NODE', 'KIND', 'IDENTITY', 'ISSUED', 'EXPIRES', 'STATE'], rows));
      if (!r.registry.complete) process.stdout.write(`note: the registry started at ${r.registry.since}, after this control plane's first credentials; older ones are not listed\n`);
    });
}
