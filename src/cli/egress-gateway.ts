// `ambit egress-gateway`: runs the mesh's egress gateway as a workload with its own SVID until
// SIGTERM/SIGINT. Flags → validated options → start; the assembly is src/egress/workload.ts.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { EGRESS_GATEWAY } from '../config/egress-gateway.js';
import { isDnsLabel } from '../config/names.js';
import { parseEndpoint } from '../dns/index.js';
import { AmbitError, showValue } from '../errors.js';
import { createLogger } from '../log.js';
import { controlPlaneIdentity } from '../stream/index.js';
import { parseHostPort } from './control-plane.js';
import { stopOnSignals } from './shutdown.js';
import { RELAY_FLAGS_ADVICE, tuneRelayingDaemon } from '../runtime/index.js';

export interface EgressGatewayFlags {
  node: string;
  controlPlane: string;
  tokenFile: string;
  trustBundle: string;
  pod: string;
  listen: string;
  dns: string;
  adminHost: string;
  trustDomain: string;
  allowLoopbackUpstreams?: boolean;
}

function flagError(flag: string, value: string, why: string): never {
  throw new AmbitError('FLAG_INVALID', `Cannot use ${flag} ${showValue(value)}: ${why}`, { path: flag, value });
}

function readFlagFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    return flagError(flag, path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (text === '') flagError(flag, path, 'the file is empty');
  return text;
}

function ipPort(text: string, flag: string): { host: string; port: number } {
  const hp = parseHostPort(text, flag);
  if (isIP(hp.host) === 0) flagError(flag, text, 'the host must be an IP address');
  return hp;
}

/** Checks every flag (naming the flag and value on error) and reads the credential files. */
export function egressGatewayOptionsFromFlags(o: EgressGatewayFlags) {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(o.node)) flagError('--node', o.node, 'not a valid node name (a DNS subdomain)');
  const controlPlane = ipPort(o.controlPlane, '--control-plane');
  const [namespace, name, ...rest] = o.pod.split('/');
  if (rest.length > 0 || !namespace || !name || !isDnsLabel(namespace) || !isDnsLabel(name)) {
    flagError('--pod', o.pod, 'expected <namespace>/<name>, both DNS labels (e.g. ambit-system/egress-gateway)');
  }
  const listen = ipPort(o.listen, '--listen');
  if (isIP(o.adminHost) === 0) flagError('--admin-host', o.adminHost, 'must be an IP address');
  if (!/^[a-z0-9._-]{1,255}$/.test(o.trustDomain)) flagError('--trust-domain', o.trustDomain, 'a trust domain is 1-255 of a-z 0-9 . _ - (no scheme)');
  let dns;
  try {
    dns = parseEndpoint(o.dns, '--dns');
  } catch (err) {
    return flagError('--dns', o.dns, 'expected IP:PORT of the resolver for external names (e.g. 10.0.0.53:53)');
  }
  return {
    node: o.node,
    controlPlane,
    token: readFlagFile(o.tokenFile, '--token-file'),
    trustBundle: readFlagFile(o.trustBundle, '--trust-bundle'),
    controlPlaneIdentity: controlPlaneIdentity(o.trustDomain),
    pod: { namespace, name },
    listen,
    dns,
    adminHost: o.adminHost,
    allowLoopbackUpstreams: o.allowLoopbackUpstreams === true,
  };
}

export function registerEgressGateway(program: Command): void {
  program
    .command('egress-gateway')
    .description(
      'Run the egress gateway: the mesh\'s only way out. It terminates HBONE with its own SVID (obtained with a workload ' +
        'credential bound to its identity), checks SNI/Host, ServiceEntries and per-source AuthorizationPolicy, resolves ' +
        'external names itself, originates TLS per DestinationRule, and logs every connection.',
    )
    .requiredOption('--node <name>', 'node the gateway pod runs on (must match the token)')
    .requiredOption('--control-plane <ip:port>', 'the control plane\'s config stream (port 15012)')
    .requiredOption('--token-file <file>', 'workload credential bound to the gateway identity (`issueWorkloadToken`)')
    .requiredOption('--trust-bundle <file>', 'PEM roots of the mesh (to verify the control plane)')
    .option('--pod <namespace/name>', 'its own workload in the registry (its namespace and labels select policies)', `${EGRESS_GATEWAY.namespace}/${EGRESS_GATEWAY.name}`)
    .option('--listen <ip:port>', 'HBONE listener (mTLS 1.3 + HTTP/2 CONNECT)', `0.0.0.0:${EGRESS_GATEWAY.hbonePort}`)
    .requiredOption('--dns <ip:port>', 'DNS server that resolves external names (the gateway never trusts the address a client dialed)')
    .option('--admin-host <ip>', 'address for 15000 config dump, 15020 Prometheus metrics, 15021 readiness', '0.0.0.0')
    .option('--trust-domain <td>', 'trust domain (to check the control plane identity)', 'cluster.local')
    .option('--allow-loopback-upstreams', 'let upstreams on 127.0.0.0/8 be dialled (tests whose "internet" is loopback; never in a cluster)', false)
    .addHelpText('after', `
Logs are JSON lines on stdout; each tunnel writes one "egress connection" line with the verified
source, authority, SNI/Host, bytes, duration and verdict. Readiness (15021) answers 200 once the
gateway holds configuration and its SVID. SIGTERM drains open tunnels, then exits.
Runtime: ${RELAY_FLAGS_ADVICE} (the lab does).`)
    .action(async (o: EgressGatewayFlags) => {
      const opts = egressGatewayOptionsFromFlags(o);
      const log = createLogger('egress-gateway', { destination: 1 });
      tuneRelayingDaemon(log);
      // Loaded here, not at the top: `ambit get` should not pay for the data plane.
      const { EgressGatewayWorkload } = await import('../egress/workload.js');
      const gw = new EgressGatewayWorkload({ ...opts, log });
      await gw.start();
      stopOnSignals(log, 'egress gateway (draining tunnels)', () => gw.stop());
    });
}
