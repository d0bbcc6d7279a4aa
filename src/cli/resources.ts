// `ambit apply`, `ambit get`, `ambit delete`: kubectl-shaped resource commands over the admin API.
import type { Command } from 'commander';
import { loadFiles } from '../config/index.js';
import { CLUSTER_SCOPED, type Resource } from '../config/types.js';
import { AmbitError } from '../errors.js';
import { kindFromArg } from './kinds.js';
import { outputFormat, printData, table } from './output.js';
import { adminClient } from './context.js';

export function registerResourceCommands(program: Command): void {
  program
    .command('apply')
    .description('Create or update resources from YAML files or directories (all of a request lands, or none)')
    .requiredOption('-f, --filename <path...>', 'file or directory of YAML manifests')
    .action(async (o: { filename: string[] }) => {
      const resources = await loadFiles(o.filename);
      const results = await adminClient(program).apply(resources);
      for (const r of results) process.stdout.write(`${ref(r.resource)} ${r.action}\n`);
    });

  program
    .command('get')
    .description('List resources of a kind (pods, svc, ap, pa, se, ns, nodes, sa, meshconfig)')
    .argument('<kind>', 'kind or short name')
    .argument('[name]', 'one resource by name')
    .option('-n, --namespace <ns>', 'namespace (default: all namespaces when listing, "default" for one name)')
    .option('-o, --output <format>', 'json | yaml (default: a table)')
    .action(async (kindArg: string, name: string | undefined, o: { namespace?: string; output?: string }) => {
      const kind = kindFromArg(kindArg);
      const format = outputFormat(o.output);
      const items = await adminClient(program).get(kind, { ...(o.namespace ? { namespace: o.namespace } : {}), ...(name ? { name } : {}) });
      if (format !== 'table') return printData(name ? items[0] : items, format);
      if (items.length === 0) return void process.stderr.write(`No ${kind} resources found.\n`);
      const [headers, row] = columns(kind);
      process.stdout.write(table(headers, items.map(row)));
    });

  program
    .command('delete')
    .description('Delete the resources named in files, or one resource by kind and name')
    .argument('[kind]', 'kind or short name (with a name)')
    .argument('[name]', 'resource name')
    .option('-f, --filename <path...>', 'file or directory of YAML manifests')
    .option('-n, --namespace <ns>', 'namespace of the kind and name (default: default); files carry their own')
    .action(async (kindArg: string | undefined, name: string | undefined, o: { filename?: string[]; namespace?: string }) => {
      // Half-understood flags would delete something other than what was asked: refused.
      if (o.filename && kindArg !== undefined) throw new AmbitError('FLAG_INVALID', `Cannot delete: give -f FILE or a kind and a name, not both (got -f and ${JSON.stringify([kindArg, name].filter((x) => x !== undefined).join(' '))})`, { value: kindArg });
      if (o.filename && o.namespace !== undefined) throw new AmbitError('FLAG_INVALID', `Cannot delete: -n ${JSON.stringify(o.namespace)} does not apply to -f (each object in a file is deleted from its own metadata.namespace, "default" when it has none)`, { path: '--namespace', value: o.namespace });
      let refs: { kind: Resource['kind']; namespace?: string; name: string }[];
      if (o.filename) refs = (await loadFiles(o.filename)).map((r) => ({ kind: r.kind, ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}), name: r.metadata.name }));
      else if (kindArg && name) {
        const kind = kindFromArg(kindArg);
        if (CLUSTER_SCOPED.has(kind) && o.namespace !== undefined) throw new AmbitError('FLAG_INVALID', `Cannot delete ${kind} ${JSON.stringify(name)}: -n does not apply, ${kind} is cluster-scoped`, { path: '--namespace', value: o.namespace });
        refs = [{ kind, ...(CLUSTER_SCOPED.has(kind) ? {} : { namespace: o.namespace ?? 'default' }), name }];
      }
      else throw new Error('Cannot delete: give -f FILE, or a kind and a name (ambit delete pod web -n default)');
      const results = await adminClient(program).delete(refs);
      for (const r of results) process.stdout.write(`${r.key.replace(/\/\//, '/')} ${r.deleted ? 'deleted' : 'not found'}\n`);
    });
}

function ref(r: Resource): string {
  return `${r.kind.toLowerCase()}/${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`;
}

type Row = (r: Resource) => string[];

function columns(kind: Resource['kind']): [string[], Row] {
  const nsName = (r: Resource): string[] => [r.metadata.namespace ?? '', r.metadata.name];
  switch (kind) {
    case 'Pod':
      return [['NAMESPACE', 'NAME', 'NODE', 'IP', 'SERVICE-ACCOUNT', 'PHASE'], (r) => r.kind === 'Pod' ? [...nsName(r), r.spec.nodeName, r.status?.podIP ?? '-', r.spec.serviceAccountName, r.status?.phase ?? 'Pending'] : []];
    case 'Service':
      return [['NAMESPACE', 'NAME', 'CLUSTER-IP', 'PORTS', 'SELECTOR'], (r) => r.kind === 'Service' ? [...nsName(r), r.spec.clusterIP ?? '-', r.spec.ports.map((p) => `${p.port}/${p.protocol}`).join(','), Object.entries(r.spec.selector).map(([k, v]) => `${k}=${v}`).join(',')] : []];
    case 'AuthorizationPolicy':
      return [['NAMESPACE', 'NAME', 'ACTION', 'RULES', 'SELECTOR'], (r) => r.kind === 'AuthorizationPolicy' ? [...nsName(r), r.spec.action, String(r.spec.rules.length), r.spec.selector ? Object.entries(r.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',') : '<namespace>'] : []];
    case 'PeerAuthentication':
      return [['NAMESPACE', 'NAME', 'MODE'], (r) => r.kind === 'PeerAuthentication' ? [...nsName(r), r.spec.mtls.mode] : []];
    case 'ServiceEntry':
      return [['NAMESPACE', 'NAME', 'HOSTS', 'PORTS', 'RESOLUTION'], (r) => r.kind === 'ServiceEntry' ? [...nsName(r), r.spec.hosts.join(','), r.spec.ports.map((p) => `${p.number}/${p.protocol}`).join(','), r.spec.resolution] : []];
    case 'DestinationRule':
      return [['NAMESPACE', 'NAME', 'HOST', 'TLS', 'CA-CERTIFICATES'], (r) => r.kind === 'DestinationRule' ? [...nsName(r), r.spec.host, r.spec.trafficPolicy.tls.mode, r.spec.trafficPolicy.tls.caCertificates] : []];
    case 'Node':
      return [['NAME', 'POD-CIDR'], (r) => r.kind === 'Node' ? [r.metadata.name, r.spec.podCIDR ?? '-'] : []];
    case 'MeshConfig':
      return [['NAME', 'TRUST-DOMAIN', 'OUTBOUND'], (r) => r.kind === 'MeshConfig' ? [r.metadata.name, r.spec.trustDomain, r.spec.outboundTrafficPolicy.mode] : []];
    case 'Namespace':
      return [['NAME'], (r) => [r.metadata.name]];
    case 'ServiceAccount':
      return [['NAMESPACE', 'NAME'], nsName];
  }
}
