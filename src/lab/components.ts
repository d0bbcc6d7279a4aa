// The lab's long-lived processes other than pods: the control plane, the cluster DNS, the
// internet DNS, the internet hosts' servers and the lab agent. Each is described by a
// ComponentRecord (argv, namespace, log) kept in state.json, so `lab kill` and `lab restart`
// can stop and start any of them again exactly as `up` did.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adminSocketPath, controlPlaneDataDir, labRunDir } from '../paths.js';
import { enrollSocketPath, type LabPlan, type NodePlan } from './plan.js';
import type { InternetHost } from './spec.js';
import { logDir, type ComponentRecord } from './state.js';
import { spawnDetached, stopProcesses } from './processes.js';

export type ComponentTemplate = Omit<ComponentRecord, 'pid' | 'startedAt'>;

function template(lab: string, name: string, argv: string[], netns?: string): ComponentTemplate {
  const t: ComponentTemplate = { name, argv, logFile: join(logDir(lab), `${name}.log`) };
  if (netns !== undefined) t.netns = netns;
  return t;
}

export function controlPlaneComponent(plan: LabPlan): ComponentTemplate {
  return template(
    plan.lab,
    'control-plane',
    [
      'ambit', 'control-plane',
      '--data-dir', controlPlaneDataDir(plan.lab),
      '--stream-listen', `${plan.cp.ip}:15012`,
      '--metrics-listen', `${plan.cp.ip}:15014`,
      '--admin-socket', adminSocketPath(plan.lab),
    ],
    plan.cp.netns,
  );
}

/** Writes the DNS configs and returns the two DNS components. */
export function dnsComponents(plan: LabPlan): ComponentTemplate[] {
  const dir = join(labRunDir(plan.lab), 'dns');
  mkdirSync(dir, { recursive: true });
  const inetConfig = {
    records: plan.inet.hosts.flatMap((h) => h.names.map((name) => ({ name, type: 'A', address: h.address }))),
  };
  const clusterConfig = {
    upstream: `${plan.inet.dnsAddress}:53`,
    clusterDomain: 'cluster.local',
    adminSocket: adminSocketPath(plan.lab),
  };
  writeFileSync(join(dir, 'internet.json'), JSON.stringify(inetConfig, null, 2));
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(clusterConfig, null, 2));
  return [
    template(plan.lab, 'internet-dns', ['ambit', 'dns-server', '--listen', `${plan.inet.dnsAddress}:53`, '--config', join(dir, 'internet.json')], plan.inet.netns),
    template(plan.lab, 'cluster-dns', ['ambit', 'dns-server', '--listen', `${plan.clusterDnsIP}:53`, '--config', join(dir, 'cluster.json')], plan.cp.netns),
  ];
}

/** Files of the certificate an internet host serves (written by the public CA at `up`). */
export function hostCertFiles(lab: string, host: InternetHost): { cert: string; key: string } {
  const dir = join(labRunDir(lab), 'public-ca');
  return { cert: join(dir, `${host.names[0]}.crt`), key: join(dir, `${host.names[0]}.key`) };
}

/** One server per internet host port: HTTPS with the host's certificate, plain HTTP or TCP echo. */
export function internetHostComponents(plan: LabPlan, certs: Map<string, { cert: string; key: string }>): ComponentTemplate[] {
  return plan.inet.hosts.flatMap((h) =>
    h.ports.map((p) => {
      const listen = `${h.address}:${p.port}`;
      const name = `inet-${h.names[0]}-${p.port}`;
      if (p.protocol === 'HTTPS') {
        const files = certs.get(h.names[0]!) ?? hostCertFiles(plan.lab, h);
        return template(plan.lab, name, ['ambit', 'app', 'https-server', '--listen', listen, '--cert', files.cert, '--key', files.key, '--name', h.names[0]!], plan.inet.netns);
      }
      const tcp = p.protocol === 'TCP' ? ['--tcp'] : [];
      return template(plan.lab, name, ['ambit', 'app', 'echo', '--listen', listen, ...tcp, '--name', h.names[0]!], plan.inet.netns);
    }),
  );
}

/** The node proxy of one node, in the node's namespace, enrolled into by the agent. */
export function nodeProxyComponent(plan: LabPlan, node: NodePlan): ComponentTemplate {
  const nodesDir = join(labRunDir(plan.lab), 'nodes');
  return template(
    plan.lab,
    `node-proxy-${node.name}`,
    [
      'ambit', 'node-proxy',
      '--node', node.name,
      '--control-plane', `${plan.cp.ip}:15012`,
      '--token-file', join(nodesDir, `${node.name}.token`),
      '--trust-bundle', join(labRunDir(plan.lab), 'mesh-ca.pem'),
      '--enroll-socket', enrollSocketPath(plan, node.name),
      '--dns-upstream', `${plan.clusterDnsIP}:53`,
    ],
    node.netns,
  );
}

export function agentComponent(plan: LabPlan): ComponentTemplate {
  return template(plan.lab, 'agent', ['ambit', 'lab', 'agent', '--name', plan.lab]);
}

export function startComponent(t: ComponentTemplate): ComponentRecord {
  const pid = spawnDetached(t);
  return { ...t, pid, startedAt: new Date().toISOString() };
}

export async function stopComponent(c: ComponentRecord): Promise<void> {
  await stopProcesses([c.pid], 2000);
}
