// The egress gateway's per-version configuration, built from stream resources: which workload is
// its own, where origination goes, and which versions must be NACKed (an unreadable or non-PEM
// CA bundle, a policy it cannot enforce). Bundles are read through the injected reader (a test
// double for the disk, named as such).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEgressConfig, gatewayTargetOf, originationPort } from '../../../src/egress/workload-config.js';
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
  test('origination: the HTTP port\'s targetPort, else 443; wildcard ServiceEntry hosts count', () => {
    const entries = [se('a', ['plain.example.com'], [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8443 }]), se('b', ['*.wild.example'], [{ number: 80, name: 'http', protocol: 'HTTP' }]), se('c', ['tls.example.com'], [{ number: 443, name: 'tls', protocol: 'TLS', targetPort: 9443 }])].map(([, v]) => v);
    assert.equal(originationPort(entries, 'plain.example.com'), 8443);
    assert.equal(originationPort(entries, 'x.wild.example'), 443);
    assert.equal(originationPort(entries, 'tls.example.com'), 443, 'a TLS port is not an origination port');
    assert.equal(originationPort(entries, 'nowhere.example'), 443);
  });

  test('builds a version: its own workload, sorted entries, originate map with bundle and port', () => {
    const c = buildEgressConfig(state(self, se('z', ['plain.example.com'], [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8443 }]), se('a', ['api.example.com'], [{ number: 443, name: 'tls', protocol: 'TLS' }]), dr('api-tls', 'plain.example.com', '/ca/api.pem')), POD, read);
    assert.equal(c.version, 7);
    assert.deepEqual(c.serviceEntries.map((e) => e.name), ['a', 'z']);
    assert.deepEqual(c.originate, { 'plain.example.com': { caBundlePem: PEM, port: 8443 } });
    assert.deepEqual(gatewayTargetOf(c, POD), { namespace: 'ambit-system', labels: { app: 'egress-gateway' } });
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
