// Where the gateway must never dial, whatever a name resolves to (SSRF). An allowed name (ALLOW_ANY,
// or a wildcard over a zone someone else controls) can point at the gateway's own loopback admin
// ports, the mesh's pod and service ranges (reached from the gateway without capture, so without
// mTLS or policy), the nodes' own addresses (a kubelet, a node proxy's admin ports), the control plane, link-local metadata services, or multicast/reserved space
// (which holds the node proxies' egress VIPs). Every answer is checked, not only the one dialled:
// a name that mixes a public address with a forbidden one is refused outright.
// Private ranges and RFC 5737 documentation ranges are NOT refused wholesale: external services
// may live there (the lab's internet is 203.0.113.0/24); operators add what else to forbid
// (MeshConfig egressForbiddenUpstreams). An operator range can only add refusals, never lift one.
import { cidrContains, isIPv4, parseCIDR, type Cidr } from '../config/index.js';
import { AmbitError, showValue } from '../errors.js';

export interface ForbiddenRange {
  cidr: Cidr;
  /** Shown in the refusal: `127.0.0.0/8 (loopback: the gateway's own ports)`. */
  label: string;
}

/** Ranges no egress connection may reach, on any machine. */
export const ALWAYS_FORBIDDEN: readonly { cidr: string; why: string }[] = [
  { cidr: '0.0.0.0/8', why: '"this network"' },
  { cidr: '127.0.0.0/8', why: 'loopback: the gateway\'s own ports' },
  { cidr: '169.254.0.0/16', why: 'link-local: metadata services' },
  { cidr: '224.0.0.0/4', why: 'multicast' },
  { cidr: '240.0.0.0/4', why: 'reserved, holds the egress VIPs' },
  { cidr: '255.255.255.255/32', why: 'broadcast' },
];

export interface AddressPolicyOptions {
  /** The mesh's pod CIDRs (every Node's podCIDR). */
  podCIDRs?: readonly string[];
  /** Every node's own addresses (Node spec.addresses), by node name. */
  nodeAddresses?: readonly { node: string; address: string }[];
  /** The mesh's service CIDR (MeshConfig serviceCIDR). */
  serviceCIDR?: string;
  /** The control plane's address (the `--control-plane` host). */
  controlPlane?: string;
  /** The operator's own ranges (MeshConfig egressForbiddenUpstreams). */
  operator?: readonly { cidr: string; reason?: string }[];
  /**
   * Lets 127.0.0.0/8 through (the control plane's own address stays forbidden). Only for a
   * gateway whose "internet" is loopback: tests on one machine (`--allow-loopback-upstreams`).
   */
  allowLoopback?: boolean;
}

/** The forbidden ranges, in the order they are reported. Throws on a malformed CIDR (a NACK). */
export function forbiddenRanges(opts: AddressPolicyOptions = {}): ForbiddenRange[] {
  const out: ForbiddenRange[] = [];
  const add = (text: string, why: string): void => {
    out.push({ cidr: parseCIDR(text), label: `${text} (${why})` });
  };
  for (const r of ALWAYS_FORBIDDEN) {
    if (!(opts.allowLoopback === true && r.cidr === '127.0.0.0/8')) add(r.cidr, r.why);
  }
  for (const c of opts.podCIDRs ?? []) add(c, 'the mesh\'s pod CIDR');
  for (const n of opts.nodeAddresses ?? []) add(`${n.address}/32`, `node ${n.node}'s own address`);
  if (opts.serviceCIDR !== undefined) add(opts.serviceCIDR, 'the mesh\'s service CIDR');
  if (opts.controlPlane !== undefined && isIPv4(opts.controlPlane)) add(`${opts.controlPlane}/32`, 'the control plane');
  for (const e of opts.operator ?? []) add(e.cidr, `MeshConfig egressForbiddenUpstreams${e.reason !== undefined ? `: ${e.reason}` : ''}`);
  return out;
}

/** Why `ip` must not be dialled, or undefined when it may be. IPv6 is refused: the mesh is IPv4 only. */
export function addressProblem(ip: string, ranges: readonly ForbiddenRange[]): string | undefined {
  if (!isIPv4(ip)) return 'it is not an IPv4 address (only IPv4 upstreams are checked, so only they are dialled)';
  const hit = ranges.find((r) => cidrContains(r.cidr, ip));
  return hit === undefined ? undefined : `it is in ${hit.label}`;
}

/** Throws EGRESS_ADDRESS_FORBIDDEN when any of `addresses` (every answer for `host`) is forbidden. */
export function checkUpstreamAddresses(host: string, addresses: readonly string[], ranges: readonly ForbiddenRange[]): void {
  for (const ip of addresses) {
    const why = addressProblem(ip, ranges);
    if (why !== undefined) {
      throw new AmbitError('EGRESS_ADDRESS_FORBIDDEN', `Cannot dial ${showValue(host)} at ${ip}: ${why}`, { path: 'upstream', value: ip });
    }
  }
}
