// The lab's topology as data: which namespace holds what and which address each end of each
// link gets. Derived only from the lab name and the spec, so `up`, the agent, `status` and the
// tests compute the same answers without talking to each other.
import { join } from 'node:path';
import { labRunDir } from '../paths.js';
import type { LabSpec, InternetHost } from './spec.js';
import { formatIPv4, parseCidr, cidrSize } from './ipam.js';
import { controlPlaneNetns, internetNetns, nodeNetns, underlayNetns, labPrefix } from './names.js';

export interface NodePlan {
  name: string;
  netns: string;
  podCIDR: string;
  /** The node's address on the underlay. */
  ip: string;
  /** The underlay-side veth name of the node's link. */
  uplink: string;
}

export interface LabPlan {
  lab: string;
  prefix: string;
  underlay: { netns: string; cidr: string; prefixLength: number; bridge: string };
  cp: { netns: string; ip: string; uplink: string };
  inet: { netns: string; ip: string; uplink: string; cidr: string; dnsAddress: string; hosts: InternetHost[] };
  nodes: NodePlan[];
  /** The cluster DNS that pods' resolv.conf names (runs in the cp namespace). */
  clusterDnsIP: string;
  /** The gateway every pod routes through: a link-local address on the node side of its veth. */
  podGateway: string;
  reuseFreed: boolean;
  /** A node proxy per node captures every pod (spec.mesh.enabled). */
  mesh: boolean;
}

export function planLab(lab: string, spec: LabSpec): LabPlan {
  const u = parseCidr(spec.underlayCIDR);
  const cpIP = formatIPv4(u.base + 2);
  return {
    lab,
    prefix: labPrefix(lab),
    underlay: { netns: underlayNetns(lab), cidr: spec.underlayCIDR, prefixLength: u.prefix, bridge: 'br0' },
    cp: { netns: controlPlaneNetns(lab), ip: cpIP, uplink: 'ulcp' },
    inet: {
      netns: internetNetns(lab),
      ip: formatIPv4(u.base + cidrSize(u) - 2),
      uplink: 'ulinet',
      cidr: spec.internet.cidr,
      dnsAddress: spec.internet.dnsAddress,
      hosts: spec.internet.hosts,
    },
    nodes: spec.nodes.map((n, i) => ({
      name: n.name,
      netns: nodeNetns(lab, n.name),
      podCIDR: n.podCIDR,
      ip: formatIPv4(u.base + 11 + i),
      uplink: `ul${i + 1}`,
    })),
    clusterDnsIP: cpIP,
    podGateway: '169.254.1.1',
    reuseFreed: spec.ipam.reuseFreed,
    mesh: spec.mesh.enabled,
  };
}

export function findNode(plan: LabPlan, name: string): NodePlan | undefined {
  return plan.nodes.find((n) => n.name === name);
}

/** Where a node's proxy takes pod enrollments (a Unix socket: reachable from any namespace). */
export function enrollSocketPath(plan: LabPlan, node: string): string {
  return join(labRunDir(plan.lab), 'nodes', `${node}.enroll.sock`);
}
