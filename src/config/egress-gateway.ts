// The egress gateway's well-known place in the registry, shared by everything that must find it:
// the lab (which deploys it), the node proxy (which carries external traffic to it over HBONE and
// checks that it proves exactly this identity) and the gateway itself. One home for these names.

export const EGRESS_GATEWAY = {
  /** The system namespace (also the mesh's root namespace by default). */
  namespace: 'ambit-system',
  /** The gateway pod(s) and the Service that selects them. */
  name: 'egress-gateway',
  service: 'egress-gateway',
  serviceAccount: 'egress-gateway',
  /** The label its pods carry and egress AuthorizationPolicies select. */
  labels: { app: 'egress-gateway' } as Readonly<Record<string, string>>,
  /** It terminates HBONE itself, on the usual port. */
  hbonePort: 15008,
} as const;

/** The SPIFFE ID the gateway must prove; node proxies send external traffic to nothing else. */
export function egressGatewayIdentity(trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/${EGRESS_GATEWAY.namespace}/sa/${EGRESS_GATEWAY.serviceAccount}`;
}

/**
 * Node proxies answer DNS queries for external hosts with addresses from this range (class E,
 * never routed anywhere), remember address -> name, and carry connections to them to the gateway
 * with the name as the tunnel's authority. The application never learns a real external address.
 */
export const EGRESS_VIP_CIDR = '240.240.0.0/16';
