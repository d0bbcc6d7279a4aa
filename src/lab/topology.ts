// Builds the lab's fixed network: the underlay bridge in its own namespace, one namespace per
// node (a router for its pods), the control-plane namespace and the internet namespace, each
// linked to the bridge by a veth created directly inside the lab namespaces, so the root
// namespace never holds a lab link, address or route even for an instant.
import { ipBatch, run, sysctlIn } from './shell.js';
import type { LabPlan } from './plan.js';

interface Attachment {
  netns: string;
  ip: string;
  uplink: string;
}

function attachments(plan: LabPlan): Attachment[] {
  return [plan.cp, plan.inet, ...plan.nodes];
}

/** Every namespace of the fixed topology, in creation order. */
export function topologyNamespaces(plan: LabPlan): string[] {
  return [plan.underlay.netns, ...attachments(plan).map((a) => a.netns)];
}

export async function createTopology(plan: LabPlan): Promise<void> {
  await ipBatch(undefined, topologyNamespaces(plan).map((ns) => `netns add ${ns}`));
  const u = plan.underlay;
  await ipBatch(u.netns, [
    'link set lo up',
    `link add ${u.bridge} type bridge`,
    `link set ${u.bridge} up`,
    ...attachments(plan).flatMap((a) => [
      `link add ${a.uplink} type veth peer name eth0 netns ${a.netns}`,
      `link set ${a.uplink} master ${u.bridge} up`,
    ]),
  ]);
  const base = (a: Attachment): string[] => ['link set lo up', `addr add ${a.ip}/${u.prefixLength} dev eth0`, 'link set eth0 up'];
  const toPods = (except?: string): string[] =>
    plan.nodes.filter((n) => n.name !== except).map((n) => `route add ${n.podCIDR} via ${n.ip}`);
  const inetHostAddrs = [plan.inet.dnsAddress, ...plan.inet.hosts.map((h) => h.address)];

  const batches: Promise<unknown>[] = [
    ipBatch(plan.cp.netns, [...base(plan.cp), ...toPods(), `route add ${plan.inet.cidr} via ${plan.inet.ip}`]),
    ipBatch(plan.inet.netns, [...base(plan.inet), ...inetHostAddrs.map((a) => `addr add ${a}/32 dev lo`), ...toPods()]),
    ...plan.nodes.map((n) =>
      ipBatch(n.netns, [...base(n), ...toPods(n.name), `route add ${plan.inet.cidr} via ${plan.inet.ip}`]),
    ),
  ];
  await Promise.all(batches);
  await Promise.all(
    plan.nodes.map((n) =>
      sysctlIn(n.netns, { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0 }),
    ),
  );
  // Control plane and internet hosts listen on low ports (53, 443) without being root.
  await Promise.all(
    [plan.cp.netns, plan.inet.netns].map((ns) => sysctlIn(ns, { 'net.ipv4.ip_unprivileged_port_start': 0 })),
  );
}

/** Names of network namespaces on this machine. */
export async function listNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}
