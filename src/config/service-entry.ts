// ServiceEntry (networking.istio.io): the registry of hosts outside the mesh. With
// REGISTRY_ONLY these are the only names the egress gateway lets through, so hosts are held to
// strict DNS rules (hosts.ts). Resolution defaults to DNS, unlike Istio's NONE: the egress
// gateway must resolve the requested name itself and never trust the IP the client dialed, so
// NONE (the client picks the address) is refused, as is MESH_INTERNAL (not implemented): every
// field accepted here is one the gateway honours (DESIGN: nothing is silently ignored).
// For wildcard hosts, DNS resolution means the gateway resolves the concrete name requested.
import type { ObjectMeta, ServiceEntryPort, ServiceEntryPortProtocol, ServiceEntryResource } from './types.js';
import { checkFields, fail, listOf, mapping, noDuplicates, oneOf, opt, port, req, str, type Obj, type Reader } from './fields.js';
import { validateHost } from './hosts.js';
import { isIPv4 } from './net.js';
import { hostPattern } from './policy-values.js';

type Resolution = ServiceEntryResource['spec']['resolution'];
type Location = ServiceEntryResource['spec']['location'];

const PROTOCOLS: readonly ServiceEntryPortProtocol[] = ['HTTP', 'HTTPS', 'TLS', 'TCP'];
const RESOLUTIONS: readonly Resolution[] = ['DNS', 'STATIC'];
const LOCATIONS: readonly Location[] = ['MESH_EXTERNAL'];
export const DEFAULT_RESOLUTION: Resolution = 'DNS';
export const DEFAULT_LOCATION: Location = 'MESH_EXTERNAL';

const entryPort: Reader<ServiceEntryPort> = (v, path) => {
  const p = mapping(v, path);
  checkFields(p, path, ['number', 'name', 'protocol', 'targetPort']);
  const out: ServiceEntryPort = {
    number: req(p, 'number', path, port),
    name: req(p, 'name', path, (n, np) => {
      const s = str(n, np);
      if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s)) fail(np, 'must be 1-63 lower-case letters, digits and "-"', s);
      return s;
    }),
    protocol: req(p, 'protocol', path, oneOf(PROTOCOLS, {
      GRPC: 'use HTTP',
      HTTP2: 'use HTTP',
      MONGO: 'use TCP',
      UDP: 'egress is TCP only',
    })),
  };
  const target = opt(p, 'targetPort', path, port);
  if (target !== undefined) out.targetPort = target;
  return out;
};

const endpoint: Reader<{ address: string }> = (v, path) => {
  const e = mapping(v, path);
  checkFields(e, path, ['address'], { ports: '', labels: '', network: '', locality: '', weight: '', serviceAccount: '' });
  const address = req(e, 'address', path, str);
  if (!isIPv4(address) && validateHost(address, { wildcard: false }) !== null) {
    fail(`${path}.address`, 'must be an IPv4 address or a DNS name', address);
  }
  return { address };
};

export function parseServiceEntry(doc: Obj, metadata: ObjectMeta): ServiceEntryResource {
  const spec = req(doc, 'spec', '', mapping);
  checkFields(spec, 'spec', ['hosts', 'ports', 'resolution', 'location', 'endpoints'], {
    addresses: 'ambit matches external traffic by host name, never by IP address',
    exportTo: '',
    subjectAltNames: '',
    workloadSelector: 'use endpoints',
  });
  const hosts = req(spec, 'hosts', 'spec', listOf(hostPattern, { nonEmpty: 'must list at least one host' }));
  noDuplicates(hosts, 'spec.hosts', (h) => JSON.stringify(h), 'host');
  const ports = req(spec, 'ports', 'spec', listOf(entryPort, { nonEmpty: 'must list at least one port' }));
  noDuplicates(ports, 'spec.ports', (p) => String(p.number), 'port number');
  noDuplicates(ports, 'spec.ports', (p) => JSON.stringify(p.name), 'port name');
  const resolution = opt(spec, 'resolution', 'spec', oneOf(RESOLUTIONS, {
    NONE: 'the egress gateway never dials the address a client chose; use DNS, or STATIC with endpoints',
    DNS_ROUND_ROBIN: 'use DNS',
    DYNAMIC_DNS: 'use DNS; for wildcard hosts the egress gateway resolves the requested name',
  })) ?? DEFAULT_RESOLUTION;
  const location = opt(spec, 'location', 'spec', oneOf(LOCATIONS, {
    MESH_INTERNAL: 'ServiceEntries describe hosts outside the mesh, reached through the egress gateway; use a Service for mesh workloads',
  })) ?? DEFAULT_LOCATION;
  const endpoints = opt(spec, 'endpoints', 'spec', listOf(endpoint)) ?? [];
  if (resolution === 'STATIC') {
    if (endpoints.length === 0) fail('spec.endpoints', 'required when resolution is STATIC: list the IPv4 addresses to send to');
    endpoints.forEach((e, i) => {
      if (!isIPv4(e.address)) fail(`spec.endpoints[${i}].address`, 'must be an IPv4 address when resolution is STATIC', e.address);
    });
  }
  return {
    kind: 'ServiceEntry',
    apiVersion: 'networking.istio.io/v1',
    metadata,
    spec: { hosts, ports, resolution, location, endpoints },
  };
}
