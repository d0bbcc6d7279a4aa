// The lab spec (`kind: Lab`): how many nodes, their pod CIDRs, the internet hosts with their
// names and served certificates, and IPAM options. Parsed strictly: an unknown field is an
// error naming its path, as in the configuration API. Pure: text in, validated spec out.
import { parseAllDocuments } from 'yaml';
import { AmbitError, showValue } from '../errors.js';
import { cidrsOverlap, formatIPv4, parseCidr, parseIPv4, cidrContains, type Cidr } from './ipam.js';
import { isValidNodeName } from './names.js';

export type InternetPortProtocol = 'HTTPS' | 'HTTP' | 'TCP';

export interface InternetHost {
  /** DNS names served by the internet DNS for this host; the first is its primary name. */
  names: string[];
  address: string;
  ports: { port: number; protocol: InternetPortProtocol }[];
  /** Names in the certificate the host serves (default: `names`). */
  certificateNames: string[];
}

export interface LabNodeSpec {
  name: string;
  podCIDR: string;
}

export interface LabSpec {
  nodes: LabNodeSpec[];
  underlayCIDR: string;
  ipam: { reuseFreed: boolean };
  /** Run the mesh (a node proxy per node, every pod captured). Off: plain routing only. */
  mesh: { enabled: boolean };
  /**
   * Deploy the egress gateway (pod ambit-system/egress-gateway on `node`) and close every node's
   * direct way to the internet CIDR but the gateway's own (DESIGN invariant 7). Needs the mesh.
   */
  egress: { enabled: boolean; node: string };
  internet: { cidr: string; dnsAddress: string; hosts: InternetHost[] };
}

export interface LabFile {
  spec: LabSpec;
  /** Lab name from `metadata.name`, if the file gives one. */
  name?: string;
  /** Every other document of the file (Pods, Services, ...), as YAML text to apply after `up`. */
  resourcesText: string;
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const RESERVED: { cidr: string; what: string }[] = [
  { cidr: '10.96.0.0/16', what: 'the default Service CIDR' },
  { cidr: '169.254.0.0/16', what: 'the link-local range (pod gateway)' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
];

function fail(path: string, value: unknown, why: string): never {
  throw new AmbitError('LAB_SPEC_INVALID', `Cannot read lab spec: ${path} ${why} (got ${showValue(value)})`, { path, value });
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string, allowed: string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, v, 'must be a mapping');
  for (const k of Object.keys(v as Obj)) {
    if (!allowed.includes(k)) fail(`${path}.${k}`, (v as Obj)[k], `is not a known field (known: ${allowed.join(', ')})`);
  }
  return v as Obj;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, v, 'must be a non-empty string');
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, v, `must be an integer from ${min} to ${max}`);
  return v;
}

function list(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, v, 'must be a list');
  return v;
}

function cidr(v: unknown, path: string): Cidr {
  const text = str(v, path);
  try {
    return parseCidr(text, path);
  } catch (err) {
    return fail(path, v, `is not an IPv4 CIDR with zero host bits (${(err as Error).message})`);
  }
}

function parseNodes(v: unknown): LabNodeSpec[] {
  if (v === undefined) v = 2;
  if (typeof v === 'number') {
    const n = int(v, 'spec.nodes', 1, 50);
    return Array.from({ length: n }, (_, i) => ({ name: `node-${i + 1}`, podCIDR: `10.244.${i + 1}.0/24` }));
  }
  const nodes = list(v, 'spec.nodes').map((raw, i) => {
    const path = `spec.nodes[${i}]`;
    const o = obj(raw, path, ['name', 'podCIDR']);
    const name = str(o.name, `${path}.name`);
    if (!isValidNodeName(name)) fail(`${path}.name`, name, 'must be a DNS label of at most 32 characters');
    const podCIDR = o.podCIDR === undefined ? `10.244.${i + 1}.0/24` : str(o.podCIDR, `${path}.podCIDR`);
    const c = cidr(podCIDR, `${path}.podCIDR`);
    if (c.prefix > 30) fail(`${path}.podCIDR`, podCIDR, 'must have a prefix of /30 or shorter');
    return { name, podCIDR };
  });
  if (nodes.length === 0) fail('spec.nodes', v, 'must list at least one node');
  return nodes;
}

function parseHosts(v: unknown, net: Cidr): InternetHost[] {
  if (v === undefined) return [];
  let next = net.base + 10;
  const hosts = list(v, 'spec.internet.hosts').map((raw, i) => {
    const path = `spec.internet.hosts[${i}]`;
    const o = obj(raw, path, ['names', 'address', 'ports', 'certificate']);
    const names = list(o.names, `${path}.names`).map((n, j) => {
      const name = str(n, `${path}.names[${j}]`);
      if (!DNS_NAME.test(name) || name.endsWith('.cluster.local')) fail(`${path}.names[${j}]`, n, 'must be a lower-case DNS name with a dot, outside cluster.local');
      return name;
    });
    if (names.length === 0) fail(`${path}.names`, o.names, 'must list at least one name');
    let address: string;
    if (o.address === undefined) address = formatIPv4(next++);
    else {
      address = str(o.address, `${path}.address`);
      const ip = parseIPv4(address, `${path}.address`);
      if (!cidrContains(net, ip)) fail(`${path}.address`, address, `must be inside spec.internet.cidr ${formatIPv4(net.base)}/${net.prefix}`);
    }
    const ports =
      o.ports === undefined
        ? [{ port: 443, protocol: 'HTTPS' as const }]
        : list(o.ports, `${path}.ports`).map((p, j) => {
            const pp = `${path}.ports[${j}]`;
            const po = obj(p, pp, ['port', 'protocol']);
            const protocol = po.protocol ?? 'HTTPS';
            if (protocol !== 'HTTPS' && protocol !== 'HTTP' && protocol !== 'TCP') fail(`${pp}.protocol`, protocol, 'must be one of HTTPS, HTTP, TCP');
            return { port: int(po.port, `${pp}.port`, 1, 65535), protocol: protocol as InternetPortProtocol };
          });
    let certificateNames = names;
    if (o.certificate !== undefined) {
      const c = obj(o.certificate, `${path}.certificate`, ['names']);
      certificateNames = list(c.names, `${path}.certificate.names`).map((n, j) => str(n, `${path}.certificate.names[${j}]`));
    }
    return { names, address, ports, certificateNames };
  });
  const seen = new Map<string, string>();
  hosts.forEach((h, i) => {
    for (const key of [...h.names, h.address]) {
      if (seen.has(key)) fail(`spec.internet.hosts[${i}]`, key, `repeats ${seen.get(key)}`);
      seen.set(key, `spec.internet.hosts[${i}]`);
    }
  });
  return hosts;
}

/** Validates a `kind: Lab` document's body (already parsed from YAML). */
export function parseLabSpec(doc: unknown): { spec: LabSpec; name?: string } {
  const top = obj(doc ?? {}, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  if (top.apiVersion !== 'ambit.dev/v1alpha1') fail('apiVersion', top.apiVersion, 'must be "ambit.dev/v1alpha1"');
  if (top.kind !== 'Lab') fail('kind', top.kind, 'must be "Lab"');
  let name: string | undefined;
  if (top.metadata !== undefined) {
    const md = obj(top.metadata, 'metadata', ['name']);
    if (md.name !== undefined) name = str(md.name, 'metadata.name');
  }
  const s = obj(top.spec ?? {}, 'spec', ['nodes', 'underlayCIDR', 'ipam', 'mesh', 'egress', 'internet']);
  const nodes = parseNodes(s.nodes);
  const underlayCIDR = s.underlayCIDR === undefined ? '172.30.0.0/24' : str(s.underlayCIDR, 'spec.underlayCIDR');
  const underlay = cidr(underlayCIDR, 'spec.underlayCIDR');
  if (underlay.prefix > 26) fail('spec.underlayCIDR', underlayCIDR, 'must have a prefix of /26 or shorter');
  let meshEnabled = true;
  if (s.mesh !== undefined) {
    const mesh = obj(s.mesh, 'spec.mesh', ['enabled']);
    if (mesh.enabled !== undefined) {
      if (typeof mesh.enabled !== 'boolean') fail('spec.mesh.enabled', mesh.enabled, 'must be true or false');
      meshEnabled = mesh.enabled;
    }
  }
  const egress = parseEgress(s.egress, meshEnabled, nodes);
  let reuseFreed = false;
  if (s.ipam !== undefined) {
    const ipam = obj(s.ipam, 'spec.ipam', ['reuseFreed']);
    if (ipam.reuseFreed !== undefined) {
      if (typeof ipam.reuseFreed !== 'boolean') fail('spec.ipam.reuseFreed', ipam.reuseFreed, 'must be true or false');
      reuseFreed = ipam.reuseFreed;
    }
  }
  const inet = obj(s.internet ?? {}, 'spec.internet', ['cidr', 'dnsAddress', 'hosts']);
  const inetCIDR = inet.cidr === undefined ? '203.0.113.0/24' : str(inet.cidr, 'spec.internet.cidr');
  const net = cidr(inetCIDR, 'spec.internet.cidr');
  const dnsAddress = inet.dnsAddress === undefined ? formatIPv4(net.base + 53) : str(inet.dnsAddress, 'spec.internet.dnsAddress');
  if (!cidrContains(net, parseIPv4(dnsAddress, 'spec.internet.dnsAddress'))) fail('spec.internet.dnsAddress', dnsAddress, 'must be inside spec.internet.cidr');
  const hosts = parseHosts(inet.hosts, net);
  if (hosts.some((h) => h.address === dnsAddress)) fail('spec.internet.hosts', dnsAddress, 'must not use the internet DNS address');

  const ranges: { path: string; c: Cidr }[] = [
    { path: 'spec.underlayCIDR', c: underlay },
    { path: 'spec.internet.cidr', c: net },
    ...nodes.map((n, i) => ({ path: `spec.nodes[${i}].podCIDR`, c: parseCidr(n.podCIDR) })),
  ];
  for (let i = 0; i < ranges.length; i++) {
    for (const r of RESERVED) {
      if (cidrsOverlap(ranges[i]!.c, parseCidr(r.cidr))) fail(ranges[i]!.path, `${formatIPv4(ranges[i]!.c.base)}/${ranges[i]!.c.prefix}`, `overlaps ${r.what} ${r.cidr}`);
    }
    for (let j = i + 1; j < ranges.length; j++) {
      if (cidrsOverlap(ranges[i]!.c, ranges[j]!.c)) fail(ranges[j]!.path, `${formatIPv4(ranges[j]!.c.base)}/${ranges[j]!.c.prefix}`, `overlaps ${ranges[i]!.path}`);
    }
  }
  const names = new Set<string>();
  nodes.forEach((n, i) => {
    if (names.has(n.name)) fail(`spec.nodes[${i}].name`, n.name, 'repeats an earlier node name');
    names.add(n.name);
  });
  if (nodes.length > underlayHostCount(underlay) - 3) fail('spec.nodes', nodes.length, `is more than ${underlayCIDR} can address`);
  const spec: LabSpec = { nodes, underlayCIDR, ipam: { reuseFreed }, mesh: { enabled: meshEnabled }, egress, internet: { cidr: inetCIDR, dnsAddress, hosts } };
  return name === undefined ? { spec } : { spec, name };
}

/** `spec.egress`: on by default exactly when the mesh is; its node must be a lab node. */
function parseEgress(v: unknown, meshEnabled: boolean, nodes: LabNodeSpec[]): LabSpec['egress'] {
  const e = obj(v ?? {}, 'spec.egress', ['enabled', 'node']);
  let enabled = meshEnabled;
  if (e.enabled !== undefined) {
    if (typeof e.enabled !== 'boolean') fail('spec.egress.enabled', e.enabled, 'must be true or false');
    if (e.enabled && !meshEnabled) fail('spec.egress.enabled', e.enabled, 'needs spec.mesh.enabled: true (the egress gateway is a mesh workload)');
    enabled = e.enabled;
  }
  let node = nodes[0]!.name;
  if (e.node !== undefined) {
    node = str(e.node, 'spec.egress.node');
    if (!nodes.some((n) => n.name === node)) fail('spec.egress.node', e.node, `is not a lab node (nodes: ${nodes.map((n) => n.name).join(', ')})`);
    if (!enabled) fail('spec.egress.node', e.node, 'has no effect while egress is disabled (remove it, or enable egress)');
  }
  return { enabled, node };
}

function underlayHostCount(c: Cidr): number {
  return 2 ** (32 - c.prefix) - 2;
}

export function defaultLabSpec(): LabSpec {
  return parseLabSpec({ apiVersion: 'ambit.dev/v1alpha1', kind: 'Lab' }).spec;
}

/** Reads a lab file: at most one `kind: Lab` document plus any resources to apply. */
export function parseLabFile(text: string, source: string): LabFile {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) {
    throw new AmbitError('LAB_SPEC_INVALID', `Cannot read lab spec ${source}: it is empty or not YAML`, { path: source });
  }
  let lab: { spec: LabSpec; name?: string } | undefined;
  const rest: string[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) {
      throw new AmbitError('LAB_SPEC_INVALID', `Cannot read lab spec ${source}: document ${i + 1} is not valid YAML: ${doc.errors[0]!.message}`, { path: source });
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value === 'object' && (value as Obj).kind === 'Lab') {
      if (lab) throw new AmbitError('LAB_SPEC_INVALID', `Cannot read lab spec ${source}: document ${i + 1} is a second kind: Lab`, { path: source });
      lab = parseLabSpec(value);
    } else {
      rest.push(doc.toString());
    }
  }
  const out: LabFile = { spec: lab?.spec ?? defaultLabSpec(), resourcesText: rest.join('---\n') };
  if (lab?.name !== undefined) out.name = lab.name;
  return out;
}
