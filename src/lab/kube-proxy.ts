// Services before the mesh: a "kube-proxy" nftables table in each node namespace that DNATs
// ClusterIP:port to a random ready endpoint's podIP:targetPort. Rendered from plain data (pure,
// unit-tested) and loaded atomically, replacing the previous table in one transaction.
import type { PodResource, ServiceResource } from '../config/types.js';
import { nftIn } from './shell.js';

export const KUBE_PROXY_TABLE = 'ambit_lab_kube_proxy';

export interface ServiceRule {
  clusterIP: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** podIP and targetPort of each ready endpoint. */
  endpoints: { ip: string; port: number }[];
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** One rule per Service port with a ClusterIP and at least one running endpoint. */
export function serviceRules(services: ServiceResource[], pods: PodResource[]): ServiceRule[] {
  const rules: ServiceRule[] = [];
  for (const svc of services) {
    if (!svc.spec.clusterIP) continue;
    const ready = pods.filter(
      (p) =>
        p.metadata.namespace === svc.metadata.namespace &&
        p.status?.phase === 'Running' &&
        p.status.podIP !== undefined &&
        selects(svc.spec.selector, p.metadata.labels),
    );
    for (const port of svc.spec.ports) {
      const endpoints = ready.map((p) => ({ ip: p.status!.podIP!, port: port.targetPort })).sort((a, b) => (a.ip < b.ip ? -1 : 1));
      if (endpoints.length === 0) continue;
      rules.push({ clusterIP: svc.spec.clusterIP, port: port.port, protocol: port.protocol === 'UDP' ? 'udp' : 'tcp', endpoints });
    }
  }
  return rules.sort((a, b) => (`${a.clusterIP}:${a.port}` < `${b.clusterIP}:${b.port}` ? -1 : 1));
}

export function renderKubeProxy(rules: ServiceRule[]): string {
  const lines = rules.map((r) => {
    const map = r.endpoints.map((e, i) => `${i} : ${e.ip} . ${e.port}`).join(', ');
    return `    ip daddr ${r.clusterIP} ${r.protocol} dport ${r.port} dnat ip to numgen random mod ${r.endpoints.length} map { ${map} }`;
  });
  return [
    `table ip ${KUBE_PROXY_TABLE} {}`,
    `delete table ip ${KUBE_PROXY_TABLE}`,
    `table ip ${KUBE_PROXY_TABLE} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    ...lines,
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...lines,
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function applyKubeProxy(netns: string, rules: ServiceRule[]): Promise<void> {
  await nftIn(netns, renderKubeProxy(rules));
}
