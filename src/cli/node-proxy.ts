// `ambit node-proxy`: runs the node proxy of one node until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { DEFAULT_ADMIN_PORTS } from '../nodeproxy/admin.js';
import { controlPlaneIdentity } from '../stream/index.js';
import { parseEndpoint } from '../dns/index.js';
import { createLogger } from '../log.js';
import { AmbitError } from '../errors.js';
import { parseHostPort } from './control-plane.js';
import { stopOnSignals } from './shutdown.js';
import { RELAY_FLAGS_ADVICE, tuneRelayingDaemon } from '../runtime/index.js';

function readFlagFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new AmbitError('FLAG_INVALID', `Cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { value: path });
  }
}

export function registerNodeProxy(program: Command): void {
  program
    .command('node-proxy')
    .description('Run the node proxy of one node: capture, HBONE mTLS, L4 policy, DNS proxy, telemetry')
    .requiredOption('--node <name>', 'this node\'s name (must match the node credential)')
    .requiredOption('--control-plane <host:port>', 'the control plane\'s config stream (port 15012)')
    .requiredOption('--token-file <file>', 'the node credential issued by the control plane')
    .requiredOption('--trust-bundle <file>', 'PEM roots of the mesh (to verify the control plane)')
    .option('--enroll-socket <path>', 'Unix socket on which the lab/CNI enrolls pods', '/run/ambit/node-proxy.sock')
    .option('--admin-host <ip>', 'address for the admin ports 15000/15020/15021', '0.0.0.0')
    .option('--dns-upstream <ip:port>', 'where the in-pod DNS proxy forwards names it does not own')
    .option('--trust-domain <td>', 'trust domain (to check the control plane identity)', 'cluster.local')
    .addHelpText('after', `\nRuntime: ${RELAY_FLAGS_ADVICE} (the lab does).`)
    .action(async (o: { node: string; controlPlane: string; tokenFile: string; trustBundle: string; enrollSocket: string; adminHost: string; dnsUpstream?: string; trustDomain: string }) => {
      const log = createLogger('node-proxy');
      tuneRelayingDaemon(log);
      // Loaded here, not at the top: `ambit get` should not pay for (or depend on) the data plane.
      const { NodeProxy } = await import('../nodeproxy/node-proxy.js');
      parseHostPort(o.controlPlane, '--control-plane');
      const proxy = new NodeProxy({
        node: o.node,
        controlPlane: o.controlPlane,
        token: readFlagFile(o.tokenFile, '--token-file'),
        trustBundle: readFlagFile(o.trustBundle, '--trust-bundle'),
        controlPlaneIdentity: controlPlaneIdentity(o.trustDomain),
        enrollSocket: o.enrollSocket,
        admin: { host: o.adminHost, ...DEFAULT_ADMIN_PORTS },
        ...(o.dnsUpstream ? { dnsUpstream: parseEndpoint(o.dnsUpstream, '--dns-upstream') } : {}),
        log,
        accessLog: createLogger('access'),
      });
      await proxy.start();
      stopOnSignals(log, 'node proxy (releasing pods)', () => proxy.stop());
    });
}
