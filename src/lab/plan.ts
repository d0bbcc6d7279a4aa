// The lab's topology as data: which namespace holds what and which address each end of each
// link gets. Derived only from the lab name and the spec, so `up`, the agent, `status` and the
// tests compute the same answers without talking to each other.
import { join } from 'node:path';
import { labRunDir } from '../paths.js';
import type { LabSpec, InternetHost } from './spec.js';
import { formatIPv4, parseCidr, cidrSize } from './ipam.js';
import { controlPlaneNetns, internetNetns, nodeNetns, underlayNetns, labPrefix, podNetns, podVethName } from './names.js';
import { AmbitError } from '../errors.js';
import { DEFAULT_MESH_SETTINGS } from '../config/types.js';
import { EGRESS_GATEWAY, egressGatewayIdentity } from '../config/egress-gateway.js';

export interface NodePlan {
  name: string;
  netns: string;
  podCIDR: string;
  /** The node's address on the underlay. */
  ip: string;
  /** The underlay-side veth name of the node's link. */
  uplink: string;
}

/** The egress gateway as the lab deploys it: one system pod, on one node, the only way out. */
export interface EgressPlan {
  node: string;
  /** The gateway node's namespace (where its veth's node end lives). */
  nodeNetns: string;
  namespace: string;
  pod: string;
  service: string;
  serviceAccount: string;
  container: string;
  identity: string;
  trustDomain: string;
  /** The pod's network namespace and the node end of its veth (what the node drops key on). */
  netns: string;
  veth: string;
  /** The workload credential the gateway opens its config stream with: its pod user's, 0400, in a 0700 directory. */
  tokenFile: string;
  hbonePort: number;
  /** Readiness (and dump) on 127.0.0.1 inside the gateway's pod namespace. */
  adminHost: string;
  readinessPort: number;
  configDumpPort: number;
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
  /** Present when spec.egress.enabled: the gateway pod, and nodes drop all other internet traffic. */
  egress?: EgressPlan;
}

export function planEgress(lab: string, node: string): EgressPlan {
  const { namespace, name, service, serviceAccount } = EGRESS_GATEWAY;
  const trustDomain = DEFAULT_MESH_SETTINGS.trustDomain;
  return {
    node,
    nodeNetns: nodeNetns(lab, node),
    namespace,
    pod: name,
    service,
    serviceAccount,
    container: 'gateway',
    identity: egressGatewayIdentity(trustDomain),
    trustDomain,
    netns: podNetns(lab, namespace, name),
    veth: podVethName(namespace, name),
    tokenFile: join(labRunDir(lab), 'egress-gateway', 'token'),
    hbonePort: EGRESS_GATEWAY.hbonePort,
    adminHost: '127.0.0.1',
    readinessPort: 15021,
    configDumpPort: 15000,
  };
}

export function planLab(lab: string, spec: LabSpec): LabPlan {
  const u = parseCidr(spec.underlayCIDR);
  const cpIP = formatIPv4(u.base + 2);
  const plan: LabPlan = {
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
  if (spec.egress.enabled) {
    // parseLabSpec refuses this too; a spec built in code must not get half an egress either.
    if (!spec.mesh.enabled) throw new AmbitError('LAB_SPEC_INVALID', 'Cannot plan the lab: spec.egress.enabled needs spec.mesh.enabled: true (got mesh.enabled false)', { path: 'spec.egress.enabled', value: true });
    plan.egress = planEgress(lab, spec.egress.node);
  }
  return plan;
}

export function findNode(plan: LabPlan, name: string): NodePlan | undefined {
  return plan.nodes.find((n) => n.name === name);
}

/** Where a node's proxy takes pod enrollments (a Unix socket: reachable from any namespace). */
export function enrollSocketPath(plan: LabPlan, node: string): string {
  return join(labRunDir(plan.lab), 'nodes', `${node}.enroll.sock`);
}
