// Table tests: DestinationRule, which ambit accepts only for TLS origination at the egress
// gateway (mode SIMPLE, a CA bundle path). The good shape, then every field it refuses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments } from '../../../src/config/index.js';
import { kindFromArg } from '../../../src/cli/kinds.js';
import { edit, runBadCases, type Doc } from './fixtures.js';

const rule = (): Doc => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'api-tls', namespace: 'egress' },
  spec: { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/etc/ambit/api-ca.pem' } } },
});
const tls = (change: (t: Doc) => void): Doc => edit(rule, (d) => change(d.spec.trafficPolicy.tls));

describe('DestinationRule: accepted', () => {
  test('the one shape, older apiVersions normalised to v1, namespace defaulted', () => {
    const [r] = parseDocuments(`
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: api-tls}
spec:
  host: api.example.com
  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/ambit/api-ca.pem}}
`, 'dr.yaml');
    assert.deepEqual(r, {
      kind: 'DestinationRule',
      apiVersion: 'networking.istio.io/v1',
      metadata: { name: 'api-tls', namespace: 'default', labels: {}, annotations: {} },
      spec: { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/etc/ambit/api-ca.pem' } } },
    });
  });
});

test('ambit get destinationrules / destinationrule / dr', () => {
  for (const a of ['destinationrules', 'destinationrule', 'dr', 'DR']) assert.equal(kindFromArg(a), 'DestinationRule');
});

describe('DestinationRule: rejected', () => {
  runBadCases(test, 'DestinationRule "egress/api-tls"', [
    { name: 'no spec', doc: edit(rule, (d) => delete d.spec), error: 'spec: required' },
    { name: 'unknown spec field', doc: edit(rule, (d) => (d.spec.hostname = 'x')), error: 'spec.hostname: unknown field' },
    { name: 'subsets', doc: edit(rule, (d) => (d.spec.subsets = [])), error: 'spec.subsets: not supported by ambit: ambit has no subsets' },
    { name: 'exportTo', doc: edit(rule, (d) => (d.spec.exportTo = ['.'])), error: 'spec.exportTo: not supported by ambit' },
    { name: 'no host', doc: edit(rule, (d) => delete d.spec.host), error: 'spec.host: required' },
    { name: 'host not a string', doc: edit(rule, (d) => (d.spec.host = 7)), error: 'spec.host: must be a string, got 7' },
    { name: 'wildcard host', doc: edit(rule, (d) => (d.spec.host = '*.example.com')), error: 'spec.host: must be a DNS name, not a wildcard, got "*.example.com"' },
    { name: 'upper-case host', doc: edit(rule, (d) => (d.spec.host = 'API.example.com')), error: 'spec.host: host names must be lower case (write "api.example.com"), got "API.example.com"' },
    { name: 'IP host', doc: edit(rule, (d) => (d.spec.host = '93.184.216.34')), error: "spec.host: must be a DNS name, not an IP address (put addresses in a ServiceEntry's spec.endpoints), got \"93.184.216.34\"" },
    { name: 'no trafficPolicy', doc: edit(rule, (d) => delete d.spec.trafficPolicy), error: 'spec.trafficPolicy: required' },
    { name: 'loadBalancer', doc: edit(rule, (d) => (d.spec.trafficPolicy.loadBalancer = { simple: 'ROUND_ROBIN' })), error: 'spec.trafficPolicy.loadBalancer: not supported by ambit' },
    { name: 'portLevelSettings', doc: edit(rule, (d) => (d.spec.trafficPolicy.portLevelSettings = [])), error: 'spec.trafficPolicy.portLevelSettings: not supported by ambit' },
    { name: 'unknown trafficPolicy field', doc: edit(rule, (d) => (d.spec.trafficPolicy.retries = 3)), error: 'spec.trafficPolicy.retries: unknown field' },
    { name: 'no tls', doc: edit(rule, (d) => delete d.spec.trafficPolicy.tls), error: 'spec.trafficPolicy.tls: required' },
    { name: 'tls not a mapping', doc: edit(rule, (d) => (d.spec.trafficPolicy.tls = 'SIMPLE')), error: 'spec.trafficPolicy.tls: must be a mapping, got "SIMPLE"' },
    { name: 'no mode', doc: tls((t) => delete t.mode), error: 'spec.trafficPolicy.tls.mode: required' },
    { name: 'mode MUTUAL', doc: tls((t) => (t.mode = 'MUTUAL')), error: 'spec.trafficPolicy.tls.mode: "MUTUAL" is not supported by ambit: client certificates are not supported; use SIMPLE' },
    { name: 'mode ISTIO_MUTUAL', doc: tls((t) => (t.mode = 'ISTIO_MUTUAL')), error: 'spec.trafficPolicy.tls.mode: "ISTIO_MUTUAL" is not supported by ambit: mesh traffic is always mutual TLS; a DestinationRule only originates TLS to external hosts' },
    { name: 'mode DISABLE', doc: tls((t) => (t.mode = 'DISABLE')), error: 'spec.trafficPolicy.tls.mode: "DISABLE" is not supported by ambit: a DestinationRule in ambit exists only to originate TLS' },
    { name: 'mode lower case', doc: tls((t) => (t.mode = 'simple')), error: 'spec.trafficPolicy.tls.mode: must be one of SIMPLE, got "simple"' },
    { name: 'no caCertificates', doc: tls((t) => delete t.caCertificates), error: 'spec.trafficPolicy.tls.caCertificates: required' },
    { name: 'relative caCertificates', doc: tls((t) => (t.caCertificates = 'ca.pem')), error: 'spec.trafficPolicy.tls.caCertificates: must be an absolute path to a PEM bundle on the egress gateway\'s machine, got "ca.pem"' },
    { name: 'caCertificates with ..', doc: tls((t) => (t.caCertificates = '/etc/../root/ca.pem')), error: 'spec.trafficPolicy.tls.caCertificates: must be a plain absolute path (no "." or ".." segments), got "/etc/../root/ca.pem"' },
    { name: 'caCertificates not a string', doc: tls((t) => (t.caCertificates = ['/a.pem'])), error: 'spec.trafficPolicy.tls.caCertificates: must be a string, got ["/a.pem"]' },
    { name: 'credentialName', doc: tls((t) => (t.credentialName = 'api-ca')), error: 'spec.trafficPolicy.tls.credentialName: not supported by ambit: give the CA bundle as caCertificates' },
    { name: 'insecureSkipVerify', doc: tls((t) => (t.insecureSkipVerify = true)), error: 'spec.trafficPolicy.tls.insecureSkipVerify: not supported by ambit: the upstream certificate is always verified' },
    { name: 'sni', doc: tls((t) => (t.sni = 'other.example.com')), error: 'spec.trafficPolicy.tls.sni: not supported by ambit: the SNI is always spec.host' },
    { name: 'subjectAltNames', doc: tls((t) => (t.subjectAltNames = ['x'])), error: 'spec.trafficPolicy.tls.subjectAltNames: not supported by ambit: the upstream certificate is verified against spec.host' },
    { name: 'clientCertificate', doc: tls((t) => (t.clientCertificate = '/c.pem')), error: 'spec.trafficPolicy.tls.clientCertificate: not supported by ambit: ambit originates TLS without a client certificate (mode SIMPLE)' },
    { name: 'unknown tls field', doc: tls((t) => (t.verify = true)), error: 'spec.trafficPolicy.tls.verify: unknown field' },
    { name: 'status', doc: edit(rule, (d) => (d.status = {})), error: 'status: set by the control plane; remove it' },
  ]);
});
