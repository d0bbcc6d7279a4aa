// `ambit status`: the control plane, its CA, and every proxy's config version and ACK state.
import type { Command } from 'commander';
import { adminClient } from './context.js';
import { age, outputFormat, printData, table } from './output.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show the control plane, connected proxies, their config version and ACK/NACK state')
    .option('-o, --output <format>', 'json | yaml (default: text)')
    .action(async (o: { output?: string }) => {
      const format = outputFormat(o.output);
      const s = await adminClient(program).status();
      if (format !== 'table') return printData(s, format);
      const counts = Object.entries(s.resources).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
      process.stdout.write(
        [
          `control plane   ambit ${s.version}, up ${age(s.startedAt)}`,
          `  stream        ${s.listen.stream}    metrics ${s.listen.metrics || '-'}    admin ${s.listen.admin}`,
          `  store         revision ${s.storeRevision}; resources: ${counts}`,
          `  config        version ${s.configVersion}`,
          `  CA            roots ${s.ca.rootSerials.join(', ')}; SVIDs signed ${s.ca.signed}, refused ${s.ca.refused}`,
          '',
        ].join('\n'),
      );
      if (s.proxies.length === 0) return void process.stdout.write('proxies         none connected\n');
      process.stdout.write(
        table(
          ['PROXY (NODE)', 'CONNECTED', 'SINCE', 'SENT', 'ACKED', 'STATE'],
          s.proxies.map((p) => [
            // A workload session (egress gateway) shows the identity its credential is bound to.
            p.identity === undefined ? p.node : `${p.node} (${p.identity})`,
            p.connected ? 'yes' : 'no',
            age(p.connectedSince),
            String(p.sentVersion),
            String(p.ackedVersion),
            p.nack ? `NACK v${p.nack.version}: ${p.nack.error}` : p.ackedVersion >= s.configVersion ? 'in sync' : p.sentVersion > p.ackedVersion ? 'awaiting ACK' : 'behind',
          ]),
        ),
      );
    });
}
