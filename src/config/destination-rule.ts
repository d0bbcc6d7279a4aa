// DestinationRule (networking.istio.io): in ambit, only TLS origination at the egress gateway.
// The application speaks plain HTTP to an external host; the gateway opens TLS to it with SNI =
// the host and verifies the server against `caCertificates` only (no public roots). Everything
// else Istio puts in a DestinationRule (load balancing, subsets, mTLS modes) is rejected.
import type { DestinationRuleResource, ObjectMeta } from './types.js';
import { checkFields, fail, mapping, oneOf, req, str, type Obj, type Reader } from './fields.js';
import { validateHost } from './hosts.js';

const exactHost: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (s === '') fail(path, 'must not be empty');
  const problem = validateHost(s, { wildcard: false });
  if (problem !== null) fail(path, problem, s);
  return s;
};

const absolutePemPath: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (!s.startsWith('/')) fail(path, 'must be an absolute path to a PEM bundle on the egress gateway\'s machine', s);
  if (s.includes('\0') || /(^|\/)\.\.?(\/|$)/.test(s)) fail(path, 'must be a plain absolute path (no "." or ".." segments)', s);
  return s;
};

export function parseDestinationRule(doc: Obj, metadata: ObjectMeta): DestinationRuleResource {
  const spec = req(doc, 'spec', '', mapping);
  checkFields(spec, 'spec', ['host', 'trafficPolicy'], {
    subsets: 'ambit has no subsets',
    exportTo: '',
    workloadSelector: '',
  });
  const host = req(spec, 'host', 'spec', exactHost);
  const traffic = req(spec, 'trafficPolicy', 'spec', mapping);
  checkFields(traffic, 'spec.trafficPolicy', ['tls'], {
    loadBalancer: '',
    connectionPool: '',
    outlierDetection: '',
    portLevelSettings: '',
    tunnel: '',
    proxyProtocol: '',
  });
  const tls = req(traffic, 'tls', 'spec.trafficPolicy', mapping);
  checkFields(tls, 'spec.trafficPolicy.tls', ['mode', 'caCertificates'], {
    clientCertificate: 'ambit originates TLS without a client certificate (mode SIMPLE)',
    privateKey: 'ambit originates TLS without a client certificate (mode SIMPLE)',
    credentialName: 'give the CA bundle as caCertificates',
    subjectAltNames: 'the upstream certificate is verified against spec.host',
    sni: 'the SNI is always spec.host',
    insecureSkipVerify: 'the upstream certificate is always verified',
    caCrl: '',
  });
  const mode = req(tls, 'mode', 'spec.trafficPolicy.tls', oneOf(['SIMPLE'] as const, {
    DISABLE: 'a DestinationRule in ambit exists only to originate TLS',
    MUTUAL: 'client certificates are not supported; use SIMPLE',
    ISTIO_MUTUAL: 'mesh traffic is always mutual TLS; a DestinationRule only originates TLS to external hosts',
  }));
  const caCertificates = req(tls, 'caCertificates', 'spec.trafficPolicy.tls', absolutePemPath);
  return {
    kind: 'DestinationRule',
    apiVersion: 'networking.istio.io/v1',
    metadata,
    spec: { host, trafficPolicy: { tls: { mode, caCertificates } } },
  };
}
