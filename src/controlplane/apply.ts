// What `ambit apply` and `ambit delete` do to the store: re-validate every object (the admin API
// never trusts its caller), assign what the control plane owns (Service ClusterIPs), keep pod
// status across unchanged re-applies, refuse changes to immutable fields, and commit the lot as
// one transaction: all of a file lands, or none of it.

import { isDeepStrictEqual } from 'node:util';
import { AmbitError, showValue } from '../errors.js';
import { CLUSTER_SCOPED, keyOf, resourceKey, type Kind, type PodStatus, type Resource, type ServiceResource } from '../config/types.js';
import { cidrContains, formatCIDR, parseCIDR, parseIPv4, formatIPv4 } from '../config/net.js';
import type { Mutation, Store } from '../store/index.js';
import type { ApplyResult, DeleteResult } from './admin-api.js';
import type { ConfigView } from './view.js';

export function applyResources(store: Store, view: ConfigView, incoming: Resource[]): ApplyResult[] {
  const results: ApplyResult[] = [];
  const mutations: Mutation[] = [];
  const seen = new Set<string>();
  const ips = new ClusterIpAllocator(store, view.mesh().serviceCIDR);
  for (const r of incoming) {
    const key = keyOf(r);
    if (seen.has(key)) throw new AmbitError('APPLY_DUPLICATE', `Cannot apply ${describe(r)}: it appears twice in the same request`, { value: key });
    seen.add(key);
    if (r.kind !== 'Namespace' && !CLUSTER_SCOPED.has(r.kind)) requireNamespace(store, incoming, r);
    const prev = store.get(key)?.resource;
    const next = withOwnedFields(r, prev, ips);
    const action = !prev ? 'created' : isDeepStrictEqual(prev, next) ? 'unchanged' : 'configured';
    if (action !== 'unchanged') mutations.push({ type: 'put', resource: next });
    results.push({ key, action, resource: next });
  }
  store.commit(mutations);
  return results;
}

export function deleteResources(store: Store, refs: { kind: Kind; namespace?: string; name: string }[]): DeleteResult[] {
  const results: DeleteResult[] = [];
  const mutations: Mutation[] = [];
  for (const ref of refs) {
    const ns = CLUSTER_SCOPED.has(ref.kind) ? undefined : (ref.namespace ?? 'default');
    const key = resourceKey(ref.kind, ns, ref.name);
    const exists = store.get(key) !== undefined;
    if (exists) mutations.push({ type: 'delete', key });
    results.push({ key, deleted: exists });
  }
  store.commit(mutations);
  return results;
}

export function setPodStatus(store: Store, namespace: string, name: string, status: PodStatus): void {
  const e = store.get(resourceKey('Pod', namespace, name));
  if (!e || e.resource.kind !== 'Pod') throw new AmbitError('NOT_FOUND', `Cannot set the status of pod "${namespace}/${name}": no such pod`);
  if (status.podIP !== undefined) {
    const at = `pod "${namespace}/${name}" status.podIP`;
    try {
      parseIPv4(status.podIP);
    } catch (err) {
      throw new AmbitError('INVALID_IPV4', `Cannot set ${at}: ${(err as Error).message}`, { path: 'status.podIP', value: status.podIP, cause: err });
    }
    // Proxies take a node's podCIDR for mesh addresses: a pod outside it, not known to a proxy yet,
    // would be an outside address there (passthrough under ALLOW_ANY, in plaintext).
    const node = store.get(resourceKey('Node', undefined, e.resource.spec.nodeName));
    const cidr = node?.resource.kind === 'Node' ? node.resource.spec.podCIDR : undefined;
    if (cidr !== undefined && !cidrContains(parseCIDR(cidr), status.podIP)) {
      throw new AmbitError('POD_IP_OUTSIDE_NODE_CIDR', `Cannot set ${at} to ${status.podIP}: it is outside the podCIDR ${cidr} of its node ${e.resource.spec.nodeName}`, { path: 'status.podIP', value: status.podIP });
    }
  }
  if (isDeepStrictEqual(e.resource.status, status)) return;
  store.commit([{ type: 'put', resource: { ...e.resource, status } }]);
}

function withOwnedFields(r: Resource, prev: Resource | undefined, ips: ClusterIpAllocator): Resource {
  if (r.kind === 'Pod' && prev?.kind === 'Pod' && prev.status) {
    // A re-apply keeps the lab-assigned status unless the pod moved (then the lab re-creates it).
    return prev.spec.nodeName === r.spec.nodeName ? { ...r, status: prev.status } : r;
  }
  if (r.kind === 'Service') {
    const before = prev?.kind === 'Service' ? prev.spec.clusterIP : undefined;
    const asked = r.spec.clusterIP;
    if (before && asked && asked !== before) {
      throw new AmbitError('FIELD_IMMUTABLE', `Cannot apply ${describe(r)}: spec.clusterIP is immutable (it is ${before}), got ${showValue(asked)}`, {
        path: 'spec.clusterIP',
        value: asked,
      });
    }
    const clusterIP = asked ?? before ?? ips.allocate(r);
    if (asked && !before) ips.claim(r, asked);
    return { ...r, spec: { ...r.spec, clusterIP } } satisfies ServiceResource;
  }
  return r;
}

function requireNamespace(store: Store, incoming: Resource[], r: Resource): void {
  const ns = r.metadata.namespace!;
  if (store.get(resourceKey('Namespace', undefined, ns))) return;
  if (ns === 'default') return;
  if (incoming.some((x) => x.kind === 'Namespace' && x.metadata.name === ns)) return;
  throw new AmbitError('NAMESPACE_NOT_FOUND', `Cannot apply ${describe(r)}: namespace "${ns}" does not exist; apply a Namespace first`, {
    path: 'metadata.namespace',
    value: ns,
  });
}

function describe(r: Resource): string {
  return `${r.kind} "${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}"`;
}

/** Hands out Service ClusterIPs from the mesh's service CIDR, skipping the network and first address. */
class ClusterIpAllocator {
  private readonly used = new Map<string, string>();
  private readonly cidr;
  private next: number;

  constructor(store: Store, serviceCIDR: string) {
    this.cidr = parseCIDR(serviceCIDR);
    this.next = 2;
    for (const e of store.iterate('Service')) {
      const ip = (e.resource as ServiceResource).spec.clusterIP;
      if (ip) this.used.set(ip, keyOf(e.resource));
    }
  }

  claim(r: Resource, ip: string): void {
    const n = parseIPv4(ip);
    if (n < this.cidr.base || n >= this.cidr.base + this.cidr.size) {
      throw new AmbitError('CLUSTER_IP_INVALID', `Cannot apply ${describe(r)}: spec.clusterIP ${ip} is outside the service CIDR`, { path: 'spec.clusterIP', value: ip });
    }
    if (this.cidr.size > 2 && (n === this.cidr.base || n === this.cidr.base + this.cidr.size - 1)) {
      throw new AmbitError('CLUSTER_IP_INVALID', `Cannot apply ${describe(r)}: spec.clusterIP ${ip} is the ${n === this.cidr.base ? 'network' : 'broadcast'} address of the service CIDR ${formatCIDR(this.cidr)}`, { path: 'spec.clusterIP', value: ip });
    }
    const owner = this.used.get(ip);
    if (owner && owner !== keyOf(r)) {
      throw new AmbitError('CLUSTER_IP_TAKEN', `Cannot apply ${describe(r)}: spec.clusterIP ${ip} is already used by ${owner}`, { path: 'spec.clusterIP', value: ip });
    }
    this.used.set(ip, keyOf(r));
  }

  allocate(r: Resource): string {
    for (; this.next < this.cidr.size - 1; this.next++) {
      const ip = formatIPv4(this.cidr.base + this.next);
      if (!this.used.has(ip)) {
        this.used.set(ip, keyOf(r));
        return ip;
      }
    }
    throw new AmbitError('CLUSTER_IP_EXHAUSTED', `Cannot apply ${describe(r)}: no free ClusterIP is left in the service CIDR`);
  }
}
