// The egress gateway's per-version configuration, built from stream resources: which workload is
// its own, where origination goes, and which versions must be NACKed (an unreadable or non-PEM
// CA bundle, a policy it cannot enforce). Bundles are read through the injected reader (a test
// double for the disk, named as such).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEgressConfig, gatewayTargetOf, originationPorts, sourcePodOf } from '../../../src/egress/workload-config.js';
import { DEFAULT_MESH_SETTINGS } from '../../../src/config/index.js';
import type { ConfigState } from '../../../src/stream/index.js';
import type { WireServiceEntry } from '../../../src/stream/resources.js';

const POD = { namespace: 'ambit-system', name: 'egress-gateway' };
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const files: Record<string, string> = { '/ca/api.pem': PEM, '/ca/junk.pem': 'not a certificate' };
/** Test double for the gateway's disk. */
const read = (path: string): string => {
  if (!Object.hasOwn(files, path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return files[path]!;
};

const se = (name: string, hosts: string[], ports: WireServiceEntry['spec']['ports']): [string, WireServiceEntry] =>
  [`service-entry/shop/${name}`, { name, namespace: 'shop', spec: { hosts, ports, resolution: 'DNS', location: 'MESH_EXTERNAL', endpoints: [] } }];
const dr = (name: string, host: string, caCertificates: string): [string, unknown] =>
  [`destination-rule/shop/${name}`, { name, namespace: 'shop', spec: { host, trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates } } } }];
const self: [string, unknown] = ['workload/ambit-system/egress-gateway', {
  uid: 'u', name: 'egress-gateway', namespace: 'ambit-system', node: 'node-1', ips: [], serviceAccount: 'egress-gateway',
  identity: 'spiffe://cluster.local/ns/ambit-system/sa/egress-gateway', labels: { app: 'egress-gateway' }, waypoint: null,
}];
const state = (...entries: [string, unknown][]): ConfigState => ({ version: 7, storeId: 's', resources: new Map(entries) });

describe('egress workload config', () => {
  test('origination: per tunnel port, the HTTP port\'s targetPort of the entry the registry matches, else 443', () => {
    const entries = [
      se('a', ['plain.example.com'], [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8443 }, { number: 8080, name: 'alt', protocol: 'HTTP' }]),
      se('b', ['*.wild.example'], [{ number: 80, name: 'http', protocol: 'HTTP' }]),
      se('c', ['tls.example.com'], [{ number: 443, name: 'tls', protocol: 'TLS', targetPort: 9443 }]),
      // Sorted before the exact entry and naming the host by wildcard: the exact entry still wins.
      se('0-wild', ['*.example.com'], [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 7443 }]),
    ].map(([, v]) => v);
    assert.deepEqual(originationPorts(entries, 'plain.example.com'), { 80: 8443, 8080: 443 });
    assert.deepEqual(originationPorts(entries, 'other.example.com'), { 80: 7443 });
    assert.deepEqual(originationPorts(entries, 'x.wild.example'), { 80: 443 });
    assert.deepEqual(originationPorts(entries, 'tls.example.com'), { 80: 7443 }, 'a TLS port is not an origination port');
    assert.deepEqual(originationPorts(entries, 'nowhere.example'), {});
  });

  test('forbidden upstreams: built-in ranges, every node\'s podCIDR, the service CIDR, the control plane and the operator\'s ranges', () => {
    const node = (name: string, podCIDR: string | null): [string, unknown] => [`node/${name}`, { name, podCIDR }];
    const mesh: [string, unknown] = ['mesh/mesh', { ...DEFAULT_MESH_SETTINGS, serviceCIDR: '10.97.0.0/16', egressForbiddenUpstreams: [{ cidr: '192.168.0.0/16', reason: 'corp network' }, { cidr: '172.16.0.0/12' }] }];
    const c = buildEgressConfig(state(node('n2', '10.244.2.0/24'), node('n1', '10.244.1.0/24'), node('n3', null), mesh), POD, read, { controlPlane: '10.0.0.10' });
    assert.deepEqual(c.podCIDRs, ['10.244.1.0/24', '10.244.2.0/24']);
    assert.deepEqual(c.forbiddenUpstreams.map((r) => r.label).slice(6), [
      '10.244.1.0/24 (the mesh\'s pod CIDR)', '10.244.2.0/24 (the mesh\'s pod CIDR)', '10.97.0.0/16 (the mesh\'s service CIDR)', '10.0.0.10/32 (the control plane)',
      '192.168.0.0/16 (MeshConfig egressForbiddenUpstreams: corp network)', '172.16.0.0/12 (MeshConfig egressForbiddenUpstreams)',
    ]);
    assert.ok(c.forbiddenUpstreams.some((r) => r.label.startsWith('127.0.0.0/8')));
    const loop = buildEgressConfig(state(), POD, read, { controlPlane: '127.0.0.1', allowLoopback: true });
    assert.ok(!loop.forbiddenUpstreams.some((r) => r.label.startsWith('127.0.0.0/8')));
    assert.ok(loop.forbiddenUpstreams.some((r) => r.label === '127.0.0.1/32 (the control plane)'), 'the control plane stays forbidden');
  });

  test('builds a version: its own workload, sorted entries, originate map with bundle and port', () => {
    const c = buildEgressConfig(state(self, se('z', ['plain.example.com'], [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8443 }]), se('a', ['api.example.com'], [{ number: 443, name: 'tls', protocol: 'TLS' }]), dr('api-tls', 'plain.example.com', '/ca/api.pem')), POD, read);
    assert.equal(c.version, 7);
    assert.deepEqual(c.serviceEntries.map((e) => e.name), ['a', 'z']);
    assert.deepEqual(c.originate, { 'plain.example.com': { caBundlePem: PEM } });
    assert.deepEqual(gatewayTargetOf(c, POD), { namespace: 'ambit-system', labels: { app: 'egress-gateway' } });
  });

  test('audit lines name the source pod only when the pod at that address runs as the verified identity', () => {
    const app: [string, unknown] = ['workload/shop/app-a', { uid: 'a', name: 'app-a', namespace: 'shop', node: 'node-2', ips: ['10.244.2.5'], serviceAccount: 'app-a', identity: 'spiffe://cluster.local/ns/shop/sa/app-a', labels: {}, waypoint: null }];
    const c = buildEgressConfig(state(self, app), POD, read);
    assert.equal(sourcePodOf(c, 'spiffe://cluster.local/ns/shop/sa/app-a', '10.244.2.5'), 'shop/app-a');
    assert.equal(sourcePodOf(c, 'spiffe://cluster.local/ns/shop/sa/app-a', '::ffff:10.244.2.5'), 'shop/app-a');
    assert.equal(sourcePodOf(c, 'spiffe://cluster.local/ns/shop/sa/other', '10.244.2.5'), 'unknown (shop/app-a at 10.244.2.5 runs as spiffe://cluster.local/ns/shop/sa/app-a)');
    assert.equal(sourcePodOf(c, 'spiffe://cluster.local/ns/shop/sa/app-a', '10.244.9.9'), 'unknown (no pod at 10.244.9.9)');
    assert.equal(sourcePodOf(c, 'spiffe://cluster.local/ns/shop/sa/app-a', undefined), 'unknown (no pod at an unknown address)');
  });

  test('without its own workload every tunnel is refused (fail closed)', () => {
    const c = buildEgressConfig(state(), POD, read);
    assert.throws(() => gatewayTargetOf(c, POD), { code: 'EGRESS_SELF_UNKNOWN', message: 'Cannot allow egress: the gateway\'s own workload ambit-system/egress-gateway (--pod) is not in the registry' });
  });

  test('a version to NACK: unreadable bundle, bundle without a certificate, a policy it cannot enforce', () => {
    assert.throws(() => buildEgressConfig(state(dr('gone', 'api.example.com', '/ca/missing.pem')), POD, read), {
      code: 'EGRESS_CA_BUNDLE_UNREADABLE',
      message: 'Cannot originate TLS for "api.example.com": DestinationRule shop/gone spec.trafficPolicy.tls.caCertificates "/ca/missing.pem" cannot be read (ENOENT)',
    });
    assert.throws(() => buildEgressConfig(state(dr('junk', 'api.example.com', '/ca/junk.pem')), POD, read), {
      code: 'EGRESS_CA_BUNDLE_UNREADABLE',
      message: 'Cannot originate TLS for "api.example.com": DestinationRule shop/junk spec.trafficPolicy.tls.caCertificates "/ca/junk.pem" holds no PEM certificate',
    });
    assert.throws(() => buildEgressConfig(state(['authorization-policy/shop/x', { name: 'x', namespace: 'shop', spec: { action: 'CUSTOM' } }]), POD, read), { code: 'INVALID_POLICY' });
  });
});

test('closed by default: with no MeshConfig in the stream, the gateway decides under REGISTRY_ONLY (not Istio\'s ALLOW_ANY)', () => {
  const c = buildEgressConfig(state(self), POD, read);
  assert.equal(c.mesh.outboundTrafficPolicy.mode, 'REGISTRY_ONLY');
});
