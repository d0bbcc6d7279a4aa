// The proxies' view of the registry: store resources turned into stream resources (workloads,
// services with endpoints, policies, service entries, destination rules, mesh settings, trust bundle, revocations), each keyed and
// versioned, with a change log so that any proxy gets exactly what changed since the version it
// holds. Every node proxy gets the whole view (as ztunnel does); per-proxy filtering can come later.

import { DEFAULT_MESH_SETTINGS, type MeshSettings, type PodResource, type Resource, type ServiceResource } from '../config/types.js';
import type { StoreEvent } from './admin-api.js';
import type { Store } from '../store/index.js';
import { REVOCATIONS_KEY, type WireRevocations, type WireService, type WireWorkload } from '../stream/resources.js';

interface Entry {
  version: number;
  value: unknown;
  /** The value's JSON, made once and shared by every proxy's delta. */
  json: string;
}

export interface DeltaPlan {
  version: number;
  reset: boolean;
  upserts: { key: string; json: string }[];
  removes: string[];
}

const MAX_LOG = 400_000;

export class ConfigView {
  private readonly entries = new Map<string, Entry>();
  private log: { version: number; key: string }[] = [];
  /** Deltas can be computed from any version >= floor; older ones get a full reset. */
  private floor: number;
  private current: number;
  private readonly listeners = new Set<(version: number) => void>();

  /** The mesh settings while no MeshConfig is applied: the defaults, in the CA's trust domain. */
  private readonly defaults: MeshSettings;

  /** `trustDomain`: the CA's (default DEFAULT_MESH_SETTINGS'); identities use it until a MeshConfig says otherwise. */
  constructor(
    private readonly store: Store,
    private trustRoots: string[],
    private revocations?: WireRevocations,
    trustDomain?: string,
  ) {
    this.defaults = trustDomain === undefined || trustDomain === DEFAULT_MESH_SETTINGS.trustDomain ? DEFAULT_MESH_SETTINGS : { ...DEFAULT_MESH_SETTINGS, trustDomain };
    this.current = store.revision;
    this.floor = store.revision;
    this.rebuild();
    store.watch((e) => this.onStoreEvent(e));
  }

  get version(): number {
    return this.current;
  }

  get size(): number {
    return this.entries.size;
  }

  onChange(fn: (version: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  mesh(): MeshSettings {
    const e = this.store.get('MeshConfig//mesh');
    return e && e.resource.kind === 'MeshConfig' ? e.resource.spec : this.defaults;
  }

  /** Replaces the trust bundle carried to proxies (CA rotation). Bumps the view version. */
  setTrustBundle(roots: string[]): void {
    this.trustRoots = roots;
    this.bump(new Set(['trust-bundle/mesh']));
  }

  /** Replaces the revocations carried to proxies (undefined: none, the resource is removed). Bumps the view version. */
  setRevocations(revocations: WireRevocations | undefined): void {
    this.revocations = revocations;
    this.bump(new Set([REVOCATIONS_KEY]));
  }

  value(key: string): unknown {
    return this.entries.get(key)?.value;
  }

  /** What a proxy holding `from` (of store `storeId`) needs to reach the current version. */
  deltaSince(from: number, sameStore: boolean): DeltaPlan {
    if (!sameStore || from < this.floor || from > this.current) {
      return { version: this.current, reset: true, upserts: [...this.entries].map(([key, e]) => ({ key, json: e.json })), removes: [] };
    }
    const keys = new Set<string>();
    for (let i = this.firstLogIndexAfter(from); i < this.log.length; i++) keys.add(this.log[i]!.key);
    const upserts: DeltaPlan['upserts'] = [];
    const removes: string[] = [];
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e) upserts.push({ key, json: e.json });
      else removes.push(key);
    }
    return { version: this.current, reset: false, upserts, removes };
  }

  private firstLogIndexAfter(version: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.log[mid]!.version <= version) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private rebuild(): void {
    this.recompute(this.allKeys(), this.current, true);
  }

  private onStoreEvent(e: StoreEvent): void {
    const keys = new Set<string>();
    let all = false;
    for (const c of e.changes) {
      if (c.resource.kind === 'MeshConfig') all = true;
      for (const k of derivedKeysOf(c.resource)) keys.add(k);
      if (c.resource.kind === 'Pod') {
        // Services whose selector matched the old or matches the new labels change endpoints.
        const ns = c.resource.metadata.namespace!;
        const labelSets = [c.resource.metadata.labels];
        const prevKey = `workload/${ns}/${c.resource.metadata.name}`;
        const prev = this.entries.get(prevKey)?.value as WireWorkload | undefined;
        if (prev) labelSets.push(prev.labels);
        for (const s of this.store.iterate('Service', ns)) {
          const svc = s.resource as ServiceResource;
          if (labelSets.some((l) => selects(svc.spec.selector, l))) keys.add(`service/${ns}/${svc.metadata.name}`);
        }
      }
    }
    if (all) for (const k of this.allKeys()) keys.add(k);
    this.recompute(keys, Math.max(this.current + 1, e.revision));
  }

  private bump(keys: Set<string>): void {
    this.recompute(keys, this.current + 1);
  }

  private allKeys(): Set<string> {
    const keys = new Set<string>(this.entries.keys());
    for (const e of this.store.iterate()) for (const k of derivedKeysOf(e.resource)) keys.add(k);
    keys.add('mesh/mesh');
    keys.add('trust-bundle/mesh');
    keys.add(REVOCATIONS_KEY);
    return keys;
  }

  /** Re-derives `keys`; changed ones get `version` (or the current one while building at start). */
  private recompute(keys: Set<string>, version: number, initial = false): void {
    let changed = false;
    for (const key of keys) {
      const value = this.derive(key);
      const prev = this.entries.get(key);
      if (value === undefined) {
        if (prev) {
          this.entries.delete(key);
          this.log.push({ version, key });
          changed = true;
        }
        continue;
      }
      const json = JSON.stringify(value);
      if (prev && prev.json === json) continue;
      this.entries.set(key, { version, value, json });
      this.log.push({ version, key });
      changed = true;
    }
    if (!changed || initial) {
      if (initial) this.log = [];
      return;
    }
    this.current = version;
    if (this.log.length > MAX_LOG) {
      const cut = this.log.length - MAX_LOG / 2;
      this.floor = this.log[cut - 1]!.version;
      this.log = this.log.slice(cut);
    }
    for (const fn of this.listeners) fn(this.current);
  }

  private derive(key: string): unknown {
    const [type, a, b] = key.split('/');
    const mesh = this.mesh();
    switch (type) {
      case 'mesh':
        return meshOnTheWire(mesh);
      case 'trust-bundle':
        return { roots: this.trustRoots };
      case 'revocations':
        return this.revocations;
      case 'node': {
        const e = this.store.get(`Node//${a}`);
        if (!e || e.resource.kind !== 'Node') return undefined;
        const { podCIDR, addresses } = e.resource.spec;
        // A field added after the first release travels only when used (docs/stream.md).
        return { name: a, podCIDR: podCIDR ?? null, ...(addresses?.length ? { addresses } : {}) };
      }
      case 'workload': {
        const e = this.store.get(`Pod/${a}/${b}`);
        return e ? toWorkload(e.resource as PodResource, e.createRevision, mesh) : undefined;
      }
      case 'service': {
        const e = this.store.get(`Service/${a}/${b}`);
        return e ? this.toService(e.resource as ServiceResource) : undefined;
      }
      case 'authorization-policy':
      case 'peer-authentication':
      case 'service-entry':
      case 'destination-rule': {
        const kind = { 'authorization-policy': 'AuthorizationPolicy', 'peer-authentication': 'PeerAuthentication', 'service-entry': 'ServiceEntry', 'destination-rule': 'DestinationRule' }[type];
        const e = this.store.get(`${kind}/${a}/${b}`);
        return e ? { name: b, namespace: a, spec: (e.resource as { spec: unknown }).spec } : undefined;
      }
      default:
        return undefined;
    }
  }

  private toService(svc: ServiceResource): WireService {
    const ns = svc.metadata.namespace!;
    const endpoints: WireService['endpoints'] = [];
    for (const p of this.store.iterate('Pod', ns)) {
      const pod = p.resource as PodResource;
      const ip = pod.status?.podIP;
      if (ip && selects(svc.spec.selector, pod.metadata.labels)) endpoints.push({ workloadUid: workloadUid(pod, p.createRevision), ip });
    }
    return {
      name: svc.metadata.name,
      namespace: ns,
      hostname: `${svc.metadata.name}.${ns}.svc.cluster.local`,
      vip: svc.spec.clusterIP ?? null,
      ports: svc.spec.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
      endpoints,
    };
  }
}

export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

export function workloadUid(pod: PodResource, createRevision: number): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}@${createRevision}`;
}

/**
 * The mesh settings as sent: a setting added after the first release is left out while it holds
 * its default (empty), so a proxy that predates it, which refuses fields it does not know, keeps
 * accepting every version that does not use it. Proxies parse the value and fill the default in.
 */
export function meshOnTheWire(mesh: MeshSettings): Partial<MeshSettings> {
  const { egressForbiddenUpstreams, ...rest } = mesh;
  return egressForbiddenUpstreams.length > 0 ? mesh : rest;
}

export function toWorkload(pod: PodResource, createRevision: number, mesh: MeshSettings): WireWorkload {
  const ns = pod.metadata.namespace!;
  return {
    uid: workloadUid(pod, createRevision),
    name: pod.metadata.name,
    namespace: ns,
    node: pod.spec.nodeName,
    ips: pod.status?.podIP ? [pod.status.podIP] : [],
    serviceAccount: pod.spec.serviceAccountName,
    identity: `spiffe://${mesh.trustDomain}/ns/${ns}/sa/${pod.spec.serviceAccountName}`,
    labels: pod.metadata.labels,
    waypoint: null,
  };
}

function derivedKeysOf(r: Resource): string[] {
  const ns = r.metadata.namespace ?? '';
  switch (r.kind) {
    case 'Pod':
      return [`workload/${ns}/${r.metadata.name}`];
    case 'Service':
      return [`service/${ns}/${r.metadata.name}`];
    case 'AuthorizationPolicy':
      return [`authorization-policy/${ns}/${r.metadata.name}`];
    case 'PeerAuthentication':
      return [`peer-authentication/${ns}/${r.metadata.name}`];
    case 'ServiceEntry':
      return [`service-entry/${ns}/${r.metadata.name}`];
    case 'DestinationRule':
      return [`destination-rule/${ns}/${r.metadata.name}`];
    case 'MeshConfig':
      return ['mesh/mesh'];
    case 'Node':
      return [`node/${r.metadata.name}`];
    default:
      return [];
  }
}
