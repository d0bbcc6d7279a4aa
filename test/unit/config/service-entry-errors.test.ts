// Table tests: rejected ServiceEntry and MeshConfig inputs, exact messages. Hosts are the egress
// gateway's allow-list, so every malformed host shape is listed literally.
import { describe, test } from 'node:test';
import { edit, meshConfig, runBadCases, serviceEntry, type Doc } from './fixtures.js';

const host = (h: unknown): Doc => edit(serviceEntry, (d) => (d.spec.hosts = [h]));
const WILDCARD_RULE = 'may hold "*" only as the whole first label, as in "*.example.com"';
const LONG_HOST = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`; // 254 characters

describe('ServiceEntry hosts', () => {
  runBadCases(test, 'ServiceEntry "default/api"', [
    { name: '*.*.example.com', doc: host('*.*.example.com'), error: `spec.hosts[0]: ${WILDCARD_RULE}, got "*.*.example.com"` },
    { name: 'foo.*.example.com', doc: host('foo.*.example.com'), error: `spec.hosts[0]: ${WILDCARD_RULE}, got "foo.*.example.com"` },
    { name: '*foo.example.com', doc: host('*foo.example.com'), error: `spec.hosts[0]: ${WILDCARD_RULE}, got "*foo.example.com"` },
    { name: '* alone', doc: host('*'), error: 'spec.hosts[0]: must not be "*" alone: that matches every host; name a domain, as in "*.example.com", got "*"' },
    { name: 'trailing dot', doc: host('api.example.com.'), error: 'spec.hosts[0]: must not end with "." (write "api.example.com"), got "api.example.com."' },
    { name: 'upper case', doc: host('API.example.com'), error: 'spec.hosts[0]: host names must be lower case (write "api.example.com"), got "API.example.com"' },
    {
      name: '254-character name',
      doc: host(LONG_HOST),
      error: `spec.hosts[0]: must be at most 253 characters (has 254), got "${LONG_HOST.slice(0, 116)}...`,
    },
    { name: 'empty label', doc: host('a..b'), error: 'spec.hosts[0]: must not contain empty labels (a leading ".", a trailing "." or ".."), got "a..b"' },
    { name: 'leading dot', doc: host('.example.com'), error: 'spec.hosts[0]: must not contain empty labels (a leading ".", a trailing "." or ".."), got ".example.com"' },
    {
      name: 'IP address',
      doc: host('93.184.216.34'),
      error: "spec.hosts[0]: must be a DNS name, not an IP address (put addresses in a ServiceEntry's spec.endpoints), got \"93.184.216.34\"",
    },
    {
      name: 'label starting with "-"',
      doc: host('-api.example.com'),
      error: 'spec.hosts[0]: label "-api" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, got "-api.example.com"',
    },
    {
      name: 'underscore',
      doc: host('my_api.example.com'),
      error: 'spec.hosts[0]: label "my_api" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, got "my_api.example.com"',
    },
    {
      name: '64-character label',
      doc: host(`${'a'.repeat(64)}.com`),
      error: `spec.hosts[0]: label "${'a'.repeat(64)}" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, got "${'a'.repeat(64)}.com"`,
    },
    { name: 'empty host', doc: host(''), error: 'spec.hosts[0]: must not be empty' },
    { name: 'host not a string', doc: host(443), error: 'spec.hosts[0]: must be a string, got 443' },
    { name: 'no hosts', doc: edit(serviceEntry, (d) => (d.spec.hosts = [])), error: 'spec.hosts: must list at least one host' },
    { name: 'missing hosts', doc: edit(serviceEntry, (d) => delete d.spec.hosts), error: 'spec.hosts: required' },
    {
      name: 'duplicate hosts',
      doc: edit(serviceEntry, (d) => (d.spec.hosts = ['a.example.com', '*.example.com', 'a.example.com'])),
      error: 'spec.hosts[2]: duplicate host "a.example.com" (also spec.hosts[0])',
    },
  ]);
});

describe('ServiceEntry ports, resolution and endpoints', () => {
  runBadCases(test, 'ServiceEntry "default/api"', [
    { name: 'no ports', doc: edit(serviceEntry, (d) => (d.spec.ports = [])), error: 'spec.ports: must list at least one port' },
    { name: 'port without name', doc: edit(serviceEntry, (d) => delete d.spec.ports[0].name), error: 'spec.ports[0].name: required' },
    { name: 'port without protocol', doc: edit(serviceEntry, (d) => delete d.spec.ports[0].protocol), error: 'spec.ports[0].protocol: required' },
    { name: 'port number out of range', doc: edit(serviceEntry, (d) => (d.spec.ports[0].number = 65536)), error: 'spec.ports[0].number: must be an integer from 1 to 65535, got 65536' },
    { name: 'GRPC protocol', doc: edit(serviceEntry, (d) => (d.spec.ports[0].protocol = 'GRPC')), error: 'spec.ports[0].protocol: "GRPC" is not supported by ambit: use HTTP' },
    { name: 'lower-case protocol', doc: edit(serviceEntry, (d) => (d.spec.ports[0].protocol = 'tls')), error: 'spec.ports[0].protocol: must be one of HTTP, HTTPS, TLS, TCP, got "tls"' },
    { name: 'upper-case port name', doc: edit(serviceEntry, (d) => (d.spec.ports[0].name = 'HTTPS')), error: 'spec.ports[0].name: must be 1-63 lower-case letters, digits and "-", got "HTTPS"' },
    {
      name: 'duplicate port numbers',
      doc: edit(serviceEntry, (d) => d.spec.ports.push({ number: 443, name: 'other', protocol: 'TCP' })),
      error: 'spec.ports[1]: duplicate port number 443 (also spec.ports[0])',
    },
    {
      name: 'STATIC without endpoints',
      doc: edit(serviceEntry, (d) => (d.spec.resolution = 'STATIC')),
      error: 'spec.endpoints: required when resolution is STATIC: list the IPv4 addresses to send to',
    },
    {
      name: 'STATIC with a DNS endpoint',
      doc: edit(serviceEntry, (d) => Object.assign(d.spec, { resolution: 'STATIC', endpoints: [{ address: 'backend.example.com' }] })),
      error: 'spec.endpoints[0].address: must be an IPv4 address when resolution is STATIC, got "backend.example.com"',
    },
    {
      name: 'NONE resolution (the client would choose the address)',
      doc: edit(serviceEntry, (d) => (d.spec.resolution = 'NONE')),
      error: 'spec.resolution: "NONE" is not supported by ambit: the egress gateway never dials the address a client chose; use DNS, or STATIC with endpoints',
    },
    {
      name: 'MESH_INTERNAL location',
      doc: edit(serviceEntry, (d) => (d.spec.location = 'MESH_INTERNAL')),
      error: 'spec.location: "MESH_INTERNAL" is not supported by ambit: ServiceEntries describe hosts outside the mesh, reached through the egress gateway; use a Service for mesh workloads',
    },
    {
      name: 'endpoint address neither IPv4 nor DNS',
      doc: edit(serviceEntry, (d) => (d.spec.endpoints = [{ address: '10.0.0.1:443' }])),
      error: 'spec.endpoints[0].address: must be an IPv4 address or a DNS name, got "10.0.0.1:443"',
    },
    { name: 'endpoint ports', doc: edit(serviceEntry, (d) => (d.spec.endpoints = [{ address: '10.0.0.1', ports: { https: 8443 } }])), error: 'spec.endpoints[0].ports: not supported by ambit' },
    {
      name: 'DYNAMIC_DNS resolution',
      doc: edit(serviceEntry, (d) => (d.spec.resolution = 'DYNAMIC_DNS')),
      error: 'spec.resolution: "DYNAMIC_DNS" is not supported by ambit: use DNS; for wildcard hosts the egress gateway resolves the requested name',
    },
    { name: 'unknown resolution', doc: edit(serviceEntry, (d) => (d.spec.resolution = 'dns')), error: 'spec.resolution: must be one of DNS, STATIC, got "dns"' },
    { name: 'unknown location', doc: edit(serviceEntry, (d) => (d.spec.location = 'EXTERNAL')), error: 'spec.location: must be one of MESH_EXTERNAL, got "EXTERNAL"' },
    {
      name: 'addresses',
      doc: edit(serviceEntry, (d) => (d.spec.addresses = ['240.0.0.1'])),
      error: 'spec.addresses: not supported by ambit: ambit matches external traffic by host name, never by IP address',
    },
    { name: 'exportTo', doc: edit(serviceEntry, (d) => (d.spec.exportTo = ['.'])), error: 'spec.exportTo: not supported by ambit' },
  ]);
});

describe('MeshConfig', () => {
  runBadCases(test, 'MeshConfig "mesh"', [
    { name: 'trust domain with a scheme', doc: edit(meshConfig, (d) => (d.spec.trustDomain = 'spiffe://cluster.local')), error: 'spec.trustDomain: must not include a scheme; write "cluster.local", got "spiffe://cluster.local"' },
    {
      name: 'upper-case trust domain',
      doc: edit(meshConfig, (d) => (d.spec.trustDomain = 'Cluster.Local')),
      error: 'spec.trustDomain: must be 1-255 characters of lower-case letters, digits, ".", "_" and "-", got "Cluster.Local"',
    },
    {
      name: '256-character trust domain',
      doc: edit(meshConfig, (d) => (d.spec.trustDomain = 'a'.repeat(256))),
      error: `spec.trustDomain: must be 1-255 characters of lower-case letters, digits, ".", "_" and "-", got "${'a'.repeat(116)}...`,
    },
    { name: 'TTL below five seconds', doc: edit(meshConfig, (d) => (d.spec.certificateTTLSeconds = 4)), error: 'spec.certificateTTLSeconds: must be an integer from 5 to 2592000, got 4' },
    { name: 'TTL above 30 days', doc: edit(meshConfig, (d) => (d.spec.certificateTTLSeconds = 2592001)), error: 'spec.certificateTTLSeconds: must be an integer from 5 to 2592000, got 2592001' },
    { name: 'TTL as a string', doc: edit(meshConfig, (d) => (d.spec.certificateTTLSeconds = '3600')), error: 'spec.certificateTTLSeconds: must be an integer from 5 to 2592000, got "3600"' },
    { name: 'serviceCIDR too small', doc: edit(meshConfig, (d) => (d.spec.serviceCIDR = '10.96.0.0/29')), error: 'spec.serviceCIDR: must have a prefix length from 8 to 28, got "10.96.0.0/29"' },
    { name: 'serviceCIDR too large', doc: edit(meshConfig, (d) => (d.spec.serviceCIDR = '10.0.0.0/7')), error: 'spec.serviceCIDR: must have a prefix length from 8 to 28, got "10.0.0.0/7"' },
    { name: 'serviceCIDR prefix 33', doc: edit(meshConfig, (d) => (d.spec.serviceCIDR = '10.0.0.0/33')), error: 'spec.serviceCIDR: must be an IPv4 CIDR with a prefix length from 0 to 32, got "10.0.0.0/33"' },
    { name: 'outbound mode missing', doc: edit(meshConfig, (d) => (d.spec.outboundTrafficPolicy = {})), error: 'spec.outboundTrafficPolicy.mode: required' },
    {
      name: 'outbound mode unknown',
      doc: edit(meshConfig, (d) => (d.spec.outboundTrafficPolicy = { mode: 'DENY_ALL' })),
      error: 'spec.outboundTrafficPolicy.mode: must be one of REGISTRY_ONLY, ALLOW_ANY, got "DENY_ALL"',
    },
    { name: 'unknown setting', doc: edit(meshConfig, (d) => (d.spec.enableTracing = true)), error: 'spec.enableTracing: unknown field' },
    { name: 'forbidden upstreams not a list', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = '10.0.0.0/8')), error: 'spec.egressForbiddenUpstreams: must be a list, got "10.0.0.0/8"' },
    { name: 'forbidden upstream as a bare string', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = ['10.0.0.0/8'])), error: 'spec.egressForbiddenUpstreams[0]: must be a mapping, got "10.0.0.0/8"' },
    { name: 'forbidden upstream without cidr', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ reason: 'corp' }])), error: 'spec.egressForbiddenUpstreams[0].cidr: required' },
    { name: 'forbidden upstream with host bits', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: '10.0.0.0/8' }, { cidr: '10.1.2.3/16' }])), error: 'spec.egressForbiddenUpstreams[1].cidr: must have no host bits set (did you mean "10.1.0.0/16"?), got "10.1.2.3/16"' },
    { name: 'forbidden upstream IPv6', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: 'fd00::/8' }])), error: 'spec.egressForbiddenUpstreams[0].cidr: must be an IPv4 CIDR like "10.96.0.0/16", got "fd00::/8"' },
    { name: 'forbidden upstream unknown field', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: '10.0.0.0/8', action: 'allow' }])), error: 'spec.egressForbiddenUpstreams[0].action: unknown field' },
    { name: 'forbidden upstream empty reason', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: '10.0.0.0/8', reason: ' ' }])), error: 'spec.egressForbiddenUpstreams[0].reason: must be 1-200 printable characters, got " "' },
    { name: 'forbidden upstream reason with a newline', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: '10.0.0.0/8', reason: 'a\nb' }])), error: 'spec.egressForbiddenUpstreams[0].reason: must be 1-200 printable characters, got "a\\nb"' },
    { name: 'forbidden upstream reason with a bidi override', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: '10.0.0.0/8', reason: 'corp\u202enet' }])), error: 'spec.egressForbiddenUpstreams[0].reason: must be 1-200 printable characters, got "corp\\u202enet"' },
    { name: 'forbidden upstream twice', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = [{ cidr: '10.0.0.0/8' }, { cidr: '10.0.0.0/8', reason: 'again' }])), error: 'spec.egressForbiddenUpstreams[1]: duplicate cidr 10.0.0.0/8 (also spec.egressForbiddenUpstreams[0])' },
    { name: 'too many forbidden upstreams', doc: edit(meshConfig, (d) => (d.spec.egressForbiddenUpstreams = Array.from({ length: 257 }, (_v, i) => ({ cidr: `10.${i >> 8}.${i & 255}.0/24` })))), error: 'spec.egressForbiddenUpstreams: at most 256 entries' },
    { name: 'namespace on a cluster-scoped kind', doc: edit(meshConfig, (d) => (d.metadata.namespace = 'ambit-system')), error: 'metadata.namespace: must be absent: MeshConfig is cluster-scoped' },
  ]);
  runBadCases(test, 'MeshConfig "config"', [
    { name: 'name other than mesh', doc: edit(meshConfig, (d) => (d.metadata.name = 'config')), error: 'metadata.name: must be "mesh" (MeshConfig is a singleton), got "config"' },
  ]);
});
