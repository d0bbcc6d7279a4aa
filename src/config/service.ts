// Service: a stable virtual IP and ports in front of the pods its selector picks. Only what the
// node proxy implements: ClusterIP services with numeric target ports.
import type { ObjectMeta, Protocol, ServicePort, ServiceResource } from './types.js';
import { checkFields, fail, listOf, mapping, noDuplicates, oneOf, opt, port, req, str, type Obj, type Reader } from './fields.js';
import { dnsLabel, labels } from './metadata.js';
import { ipv4Problem } from './net.js';

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP'];

const targetPort: Reader<number> = (v, path) => {
  if (typeof v === 'string' && !/^[0-9]+$/.test(v)) {
    fail(path, "named target ports are not supported by ambit; use the container's port number", v);
  }
  return port(v, path);
};

const servicePort: Reader<ServicePort> = (v, path) => {
  const p = mapping(v, path);
  checkFields(p, path, ['name', 'port', 'targetPort', 'protocol'], {
    nodePort: 'only ClusterIP services exist in ambit',
    appProtocol: '',
  });
  const name = opt(p, 'name', path, dnsLabel);
  const number = req(p, 'port', path, port);
  const out: ServicePort = {
    port: number,
    targetPort: opt(p, 'targetPort', path, targetPort) ?? number,
    protocol: opt(p, 'protocol', path, oneOf(PROTOCOLS, { SCTP: 'use TCP or UDP' })) ?? 'TCP',
  };
  if (name !== undefined) out.name = name;
  return out;
};

const clusterIP: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (s === 'None') fail(path, 'headless Services ("None") are not supported by ambit; omit clusterIP to have one allocated');
  const problem = ipv4Problem(s);
  if (problem !== null) fail(path, problem, s);
  return s;
};

export function parseService(doc: Obj, metadata: ObjectMeta): ServiceResource {
  const spec = req(doc, 'spec', '', mapping);
  checkFields(spec, 'spec', ['selector', 'ports', 'clusterIP'], {
    type: 'every Service is a ClusterIP service',
    clusterIPs: 'use clusterIP',
    externalName: '',
    externalIPs: '',
    sessionAffinity: '',
    ipFamilies: '',
    loadBalancerIP: '',
  });
  const selector = req(spec, 'selector', 'spec', labels);
  if (Object.keys(selector).length === 0) fail('spec.selector', 'must select at least one label');
  const ports = req(spec, 'ports', 'spec', listOf(servicePort, { nonEmpty: 'must list at least one port' }));
  noDuplicates(ports, 'spec.ports', (p) => `${p.port}/${p.protocol}`, 'port');
  noDuplicates(ports, 'spec.ports', (p) => (p.name === undefined ? undefined : JSON.stringify(p.name)), 'port name');
  const out: ServiceResource = { kind: 'Service', apiVersion: 'v1', metadata, spec: { selector, ports } };
  const ip = opt(spec, 'clusterIP', 'spec', clusterIP);
  if (ip !== undefined) out.spec.clusterIP = ip;
  return out;
}
