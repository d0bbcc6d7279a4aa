// `ambit proxy-config NODE`: a node proxy's config dump (15000), read through a socket opened
// inside the node's network namespace (the root namespace has no route into the lab).
import http from 'node:http';
import type { Command } from 'commander';
import { AmbitError } from '../errors.js';
import { currentLab } from '../paths.js';
import { outputFormat, printData, table } from './output.js';

interface Dump {
  node: string;
  controlPlane: { address: string; connected: boolean };
  config: { version: number };
  pods: { namespace: string; name: string; ip: string; identity: string | null }[];
  certificates: { identity: string; serial?: string; notAfter?: string; state: string; lastError?: string }[];
  /** Absent in the dump of a node proxy from before revocations reached the data plane. */
  revoked?: { nodes: { node: string; issuedUpTo: string }[]; credentials: string[] };
  workloads: { namespace: string; name: string; node: string; ips: string[]; identity: string }[];
  policies: { namespace: string; name: string; action: string; rules: number }[];
}

export async function fetchNodeProxyDump(lab: string, node: string, path = '/config_dump', port = 15000): Promise<{ status: number; body: string }> {
  const { connectFromNetns, netnsPath } = await import('../sys/index.js');
  const { nodeNetns } = await import('../lab/names.js');
  const ns = netnsPath(nodeNetns(lab, node));
  return new Promise((resolve, reject) => {
    const req = http.request({ path, createConnection: () => connectFromNetns(ns, { host: '127.0.0.1', port }) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(new AmbitError('NODE_PROXY_UNREACHABLE', `Cannot read the node proxy of ${node} in lab ${lab}: ${err.code ?? err.message} (is the lab up with the mesh enabled? see \`ambit lab status\`)`, { cause: err })),
    );
    req.end();
  });
}

export function registerProxyConfig(program: Command): void {
  program
    .command('proxy-config')
    .description("Show a node proxy's configuration: pods captured, SVIDs (serial, expiry), revoked nodes and credentials, workloads, policies")
    .argument('<node>', 'node name')
    .option('-o, --output <format>', 'json | yaml (default: text)')
    .action(async (node: string, o: { output?: string }) => {
      const lab = program.opts<{ lab?: string }>().lab ?? currentLab();
      const format = outputFormat(o.output);
      const r = await fetchNodeProxyDump(lab, node);
      const dump = JSON.parse(r.body) as Dump;
      if (format !== 'table') return printData(dump, format);
      const out: string[] = [
        `node proxy ${dump.node}: config version ${dump.config.version}; control plane ${dump.controlPlane.address} (${dump.controlPlane.connected ? 'connected' : 'DISCONNECTED: serving the last configuration'})`,
        '',
        'CAPTURED PODS',
        table(['NAMESPACE', 'NAME', 'IP', 'IDENTITY'], dump.pods.map((p) => [p.namespace, p.name, p.ip, p.identity ?? '(not in config yet)'])).trimEnd() || '(none)',
        '',
        'CERTIFICATES',
        table(['IDENTITY', 'STATE', 'SERIAL', 'EXPIRES'], dump.certificates.map((c) => [c.identity, c.state + (c.lastError ? ` (${c.lastError})` : ''), c.serial ?? '-', c.notAfter ?? '-'])).trimEnd() || '(none)',
        '',
        'REVOKED (peers proving an SVID of these are refused)',
        revokedRows(dump.revoked),
        '',
        `WORKLOADS (${dump.workloads.length})`,
        table(['NAMESPACE', 'NAME', 'NODE', 'IPS', 'IDENTITY'], dump.workloads.map((w) => [w.namespace, w.name, w.node, w.ips.join(',') || '-', w.identity])).trimEnd() || '(none)',
        '',
        `POLICIES (${dump.policies.length})`,
        table(['NAMESPACE', 'NAME', 'ACTION', 'RULES'], dump.policies.map((p) => [p.namespace, p.name, p.action, String(p.rules)])).trimEnd() || '(none)',
        '',
      ];
      process.stdout.write(out.join('\n'));
    });
}

function revokedRows(r: Dump['revoked']): string {
  if (r === undefined) return '(not reported by this node proxy)';
  const rows = [
    ...r.nodes.map((n) => [`node ${n.node}`, `SVIDs issued up to ${n.issuedUpTo}`]),
    ...r.credentials.map((c) => [`credential ${c}`, 'SVIDs asked for with it']),
  ];
  return rows.length === 0 ? '(none)' : table(['REVOKED', 'REFUSED'], rows).trimEnd();
}
