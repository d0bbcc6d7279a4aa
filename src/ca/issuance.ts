// The node-scoped issuance decision (DESIGN invariant 4): a node proxy may obtain an SVID only
// for an identity that some pod scheduled on its own node runs as. Pure, so it is table-tested.
import { showValue } from '../errors.js';
import type { SpiffeId } from '../identity/index.js';

export interface PlacedPod {
  namespace: string;
  name: string;
  nodeName: string;
}

/** The narrow seam to the registry: which pods run as this service account, and where. */
export interface PodPlacementLookup {
  podsWithIdentity(namespace: string, serviceAccount: string): PlacedPod[];
}

export type IssuanceDecision =
  | { allowed: true }
  | { allowed: false; code: 'ISSUANCE_NOT_WORKLOAD' | 'ISSUANCE_NOT_ON_NODE'; reason: string };

export function authorizeIssuance(req: { node: string; spiffeId: SpiffeId }, pods: PodPlacementLookup): IssuanceDecision {
  const { node, spiffeId } = req;
  if (spiffeId.namespace === undefined || spiffeId.serviceAccount === undefined) {
    return {
      allowed: false,
      code: 'ISSUANCE_NOT_WORKLOAD',
      reason: `Cannot issue ${spiffeId.uri} to node ${showValue(node)}: not a workload identity (path must be /ns/<namespace>/sa/<service-account>)`,
    };
  }
  const placed = pods.podsWithIdentity(spiffeId.namespace, spiffeId.serviceAccount);
  if (placed.some((p) => p.nodeName === node)) return { allowed: true };
  const where = placed.length === 0
    ? 'no pod runs with this identity'
    : `pods: ${placed.slice(0, 5).map((p) => `${p.namespace}/${p.name} on ${p.nodeName}`).join(', ')}${placed.length > 5 ? `, and ${placed.length - 5} more` : ''}`;
  return {
    allowed: false,
    code: 'ISSUANCE_NOT_ON_NODE',
    reason: `Cannot issue ${spiffeId.uri} to node ${showValue(node)}: no pod with this identity is scheduled on it (${where})`,
  };
}
