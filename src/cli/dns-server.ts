// `ambit dns-server --listen IP:PORT --config FILE.json`: the lab's DNS server for "internet"
// names (static records), cluster Service names (via the control plane's admin watch) and an
// optional upstream. argv -> validated config -> start; nothing else.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { exitOnSignal } from '../apps/lifecycle.js';
import type { AdminApi } from '../controlplane/admin-api.js';
import { ClusterZone, DnsServer, StaticZone, type Zone, parseDnsServerConfig, parseEndpoint } from '../dns/index.js';
import { AmbitError } from '../errors.js';
import { createLogger } from '../log.js';

// Imported by path at run time: the admin HTTP client is built by another module owner and this
// command only needs its `watch`, so it depends on the interface, not on the file at build time.
const ADMIN_CLIENT_MODULE = '../controlplane/admin-client.js';

async function adminWatchClient(socketPath: string): Promise<Pick<AdminApi, 'watch'>> {
  const mod = (await import(ADMIN_CLIENT_MODULE)) as { AdminHttpClient: new (socketPath: string) => AdminApi };
  return new mod.AdminHttpClient(socketPath);
}

export async function runDnsServer(opts: { listen: string; config: string }): Promise<DnsServer> {
  const log = createLogger('dns-server');
  const listen = parseEndpoint(opts.listen, '--listen');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(opts.config, 'utf8'));
  } catch (err) {
    throw new AmbitError('DNS_CONFIG_INVALID', `Cannot load DNS server config ${opts.config}: ${(err as Error).message}`, { path: '--config', value: opts.config, cause: err });
  }
  const config = parseDnsServerConfig(raw);
  const zones: Zone[] = [];
  let cluster: ClusterZone | undefined;
  if (config.adminSocket) {
    cluster = new ClusterZone(await adminWatchClient(config.adminSocket), { clusterDomain: config.clusterDomain, logger: log });
    cluster.start();
    zones.push(cluster);
  }
  zones.push(new StaticZone(config.records));
  const server = new DnsServer({ zones, upstream: config.upstream, logger: log });
  await server.listen(listen.host, listen.port);
  exitOnSignal(async () => {
    cluster?.stop();
    await server.close();
  }, log);
  return server;
}

export function registerDnsServer(program: Command): void {
  program
    .command('dns-server')
    .description('serve DNS over UDP and TCP from static records, cluster Services and an upstream')
    .requiredOption('--listen <ip:port>', 'address to serve on, e.g. 10.0.0.53:53')
    .requiredOption('--config <file>', 'JSON: { records, upstream?, clusterDomain?, adminSocket? }')
    .action(async (opts: { listen: string; config: string }) => {
      await runDnsServer(opts);
    });
}
