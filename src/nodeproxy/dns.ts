// The in-pod DNS proxy (15053): answers mesh service names from the node proxy's own view
// (so a pod resolves what the proxy will route); external names go to EgressZone when the mesh
// has an egress gateway (egress-zone.ts); everything else is forwarded upstream.
import { RCODE, RR_TYPE, canonicalName, type Zone, type ZoneAnswer } from '../dns/index.js';
import type { MeshState } from './state.js';

/** The cluster DNS domain (the control plane names Services `<svc>.<ns>.svc.cluster.local`). */
export const CLUSTER_DOMAIN = 'cluster.local';

export class MeshZone implements Zone {
  constructor(private readonly state: () => MeshState) {}

  lookup(name: string, type: number): ZoneAnswer | null {
    const n = canonicalName(name);
    const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(n);
    if (!m) return null;
    const svc = this.state().serviceByName(m[2]!, m[1]!);
    if (!svc || !svc.vip) return null;
    if (type !== RR_TYPE.A && type !== RR_TYPE.ANY) return { answers: [], rcode: RCODE.NOERROR };
    return { answers: [{ name: n, type: 'A', class: 1, ttl: 5, address: svc.vip }] as ZoneAnswer['answers'], rcode: RCODE.NOERROR };
  }
}
