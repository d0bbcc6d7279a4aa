// The small cluster kinds: Namespace, Node and ServiceAccount. They carry little beyond their
// metadata, but they are what pods, identities and node-scoped credentials hang from.
import type { NamespaceResource, NodeResource, ObjectMeta, ServiceAccountResource } from './types.js';
import { checkFields, fail, listOf, mapping, noDuplicates, opt, str, type Obj, type Reader } from './fields.js';
import { cidrProblem, ipv4Problem } from './net.js';

export function parseNamespace(_doc: Obj, metadata: ObjectMeta): NamespaceResource {
  return { kind: 'Namespace', apiVersion: 'v1', metadata };
}

export function parseServiceAccount(_doc: Obj, metadata: ObjectMeta): ServiceAccountResource {
  return { kind: 'ServiceAccount', apiVersion: 'v1', metadata };
}

export const ipv4Cidr: Reader<string> = (v, path) => {
  const s = str(v, path);
  const problem = cidrProblem(s);
  if (problem !== null) fail(path, problem, s);
  return s;
};

const ipv4Address: Reader<string> = (v, path) => {
  const s = str(v, path);
  const problem = ipv4Problem(s);
  if (problem !== null) fail(path, problem, s);
  return s;
};

export function parseNode(doc: Obj, metadata: ObjectMeta): NodeResource {
  const node: NodeResource = { kind: 'Node', apiVersion: 'v1', metadata, spec: {} };
  if (!Object.hasOwn(doc, 'spec')) return node;
  const spec = mapping(doc.spec, 'spec');
  checkFields(spec, 'spec', ['podCIDR', 'addresses'], { podCIDRs: 'use the single podCIDR', taints: '', unschedulable: '' });
  const podCIDR = opt(spec, 'podCIDR', 'spec', ipv4Cidr);
  if (podCIDR !== undefined) node.spec.podCIDR = podCIDR;
  const addresses = opt(spec, 'addresses', 'spec', listOf(ipv4Address));
  if (addresses !== undefined) {
    noDuplicates(addresses, 'spec.addresses', (a) => a, 'address');
    node.spec.addresses = addresses;
  }
  return node;
}
