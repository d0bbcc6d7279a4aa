// Which pods carry which identity, and where they run: the lookup behind node-scoped issuance.
// Kept as an index over the store so a CSR costs a map lookup, not a scan of every pod.
import type { PodResource } from '../config/types.js';
import type { Store } from '../store/index.js';

export interface PodPlacement {
  namespace: string;
  name: string;
  nodeName: string;
}

export class PlacementIndex {
  private readonly byIdentity = new Map<string, Map<string, PodPlacement>>();
  /** `namespace/name` -> the identity key it is filed under. */
  private readonly identityOf = new Map<string, string>();

  constructor(store: Store) {
    for (const e of store.iterate('Pod')) this.put(e.resource as PodResource);
    store.watch((ev) => {
      for (const c of ev.changes) {
        if (c.resource.kind !== 'Pod') continue;
        if (c.type === 'delete') this.remove(c.resource);
        else this.put(c.resource);
      }
    });
  }

  podsWithIdentity(namespace: string, serviceAccount: string): PodPlacement[] {
    return [...(this.byIdentity.get(`${namespace}/${serviceAccount}`)?.values() ?? [])];
  }

  private put(pod: PodResource): void {
    // A re-applied pod may have changed its service account: drop it from every identity first.
    this.remove(pod);
    const id = `${pod.metadata.namespace}/${pod.spec.serviceAccountName}`;
    let m = this.byIdentity.get(id);
    if (!m) this.byIdentity.set(id, (m = new Map()));
    m.set(pod.metadata.name, { namespace: pod.metadata.namespace!, name: pod.metadata.name, nodeName: pod.spec.nodeName });
    this.identityOf.set(`${pod.metadata.namespace}/${pod.metadata.name}`, id);
  }

  private remove(pod: PodResource): void {
    const podKey = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const id = this.identityOf.get(podKey);
    if (id === undefined) return;
    this.identityOf.delete(podKey);
    const m = this.byIdentity.get(id)!;
    m.delete(pod.metadata.name);
    if (m.size === 0) this.byIdentity.delete(id);
  }
}
