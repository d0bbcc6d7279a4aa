// A pod's network: its own namespace, a veth to its node, the pod IP as a /32 behind a
// link-local gateway that the node side of every pod veth holds, a /32 route on the node, and
// the /etc/netns files that `ip netns exec` mounts into the pod: resolv.conf (cluster DNS and
// the Kubernetes search path) and ssl/ (the system CAs plus the lab's public CA).
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipBatch, run, sysctlIn } from './shell.js';
import type { LabPlan, NodePlan } from './plan.js';
import { podNetns, podVethName } from './names.js';
import { labRunDir } from '../paths.js';

export interface PodNetwork {
  netns: string;
  veth: string;
  ip: string;
}

export function podResolvConf(plan: LabPlan, namespace: string): string {
  return [
    `nameserver ${plan.clusterDnsIP}`,
    `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local`,
    'options ndots:5',
    '',
  ].join('\n');
}

/** The lab-wide copy of /etc/ssl that also trusts the lab public CA (made at `up`). */
export function labSslDir(lab: string): string {
  return join(labRunDir(lab), 'etc-ssl');
}

export async function createPodNetwork(plan: LabPlan, node: NodePlan, namespace: string, name: string, ip: string): Promise<PodNetwork> {
  const netns = podNetns(plan.lab, namespace, name);
  const veth = podVethName(namespace, name);
  const etc = join('/etc/netns', netns);
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'resolv.conf'), podResolvConf(plan, namespace), { mode: 0o644 });
  rmSync(join(etc, 'ssl'), { force: true, recursive: true });
  symlinkSync(labSslDir(plan.lab), join(etc, 'ssl'));

  await run('ip', ['netns', 'add', netns]);
  await ipBatch(node.netns, [
    `link add ${veth} type veth peer name eth0 netns ${netns}`,
    `addr add ${plan.podGateway}/32 dev ${veth}`,
    `link set ${veth} up`,
    // replace, not add: a pod just deleted with this IP may keep its veth (and route) for a moment,
    // until the kernel finishes tearing its namespace down; the new pod's route wins either way.
    `route replace ${ip}/32 dev ${veth} scope link`,
  ]);
  await ipBatch(netns, [
    'link set lo up',
    `addr add ${ip}/32 dev eth0`,
    'link set eth0 up',
    `route add ${plan.podGateway} dev eth0 scope link`,
    `route add default via ${plan.podGateway} dev eth0`,
  ]);
  // Let unprivileged apps bind low ports and ping, as a container runtime does.
  await sysctlIn(netns, { 'net.ipv4.ip_unprivileged_port_start': 0, 'net.ipv4.ping_group_range': '0 2147483647' });
  return { netns, veth, ip };
}

/** Deleting the namespace takes the veth pair, and with it the node's route, away too. */
export async function removePodNetwork(netns: string): Promise<void> {
  await run('ip', ['netns', 'del', netns], { allowFail: true });
  rmSync(join('/etc/netns', netns), { recursive: true, force: true });
}
