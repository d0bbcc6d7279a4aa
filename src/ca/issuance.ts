// The node-scoped issuance decision (DESIGN invariant 4): a node proxy may obtain an SVID only
// for an identity that some pod scheduled on its own node runs as; a workload credential (bound
// to one identity) only for that identity, and under the same node rule. Pure, so it is table-tested.
import { showValue } from '../errors.js';
import { EGRESS_GATEWAY } from '../config/index.js';
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
  | { allowed: false; code: 'ISSUANCE_NOT_WORKLOAD' | 'ISSUANCE_NOT_ON_NODE' | 'ISSUANCE_NOT_BOUND' | 'ISSUANCE_RESERVED'; reason: string };

/**
 * `node` (and `boundIdentity`, for a workload credential) must come from a verified token, never
 * from the request body.
 */
export function authorizeIssuance(req: { node: string; spiffeId: SpiffeId; boundIdentity?: string }, pods: PodPlacementLookup): IssuanceDecision {
  const { node, spiffeId } = req;
  if (req.boundIdentity !== undefined && spiffeId.uri !== req.boundIdentity) {
    return {
      allowed: false,
      code: 'ISSUANCE_NOT_BOUND',
      reason: `Cannot issue ${spiffeId.uri} to node ${showValue(node)}: the workload credential is bound to ${req.boundIdentity} only`,
    };
  }
  // The egress gateway's identity is the mesh's only way out: node proxies never capture its pod,
  // so none of them has a reason to hold its key. Only the gateway's own bound credential gets it.
  if (req.boundIdentity === undefined && spiffeId.namespace === EGRESS_GATEWAY.namespace && spiffeId.serviceAccount === EGRESS_GATEWAY.serviceAccount) {
    return {
      allowed: false,
      code: 'ISSUANCE_RESERVED',
      reason: `Cannot issue ${spiffeId.uri} to node ${showValue(node)}: the egress gateway's identity is issued only to a workload credential bound to it (AdminApi.issueWorkloadToken), never to a node proxy`,
    };
  }
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
