// The plain-data shapes that callers hand to the authorizer and get back: the workload being
// protected, what is known about one connection (or request), and the verdict. Kept apart from
// the evaluator so that the node proxy, egress gateway and waypoint can import them cheaply.

/** Where the decision is made: the node proxy sees L4 only; a waypoint also sees HTTP. */
export type Layer = 'L4' | 'L7';

/** The workload being protected (the destination of the connection). */
export interface PolicyTarget {
  namespace: string;
  labels: Record<string, string>;
}

export interface ConnectionAttributes {
  /** Verified peer identity in Istio principal form `td/ns/x/sa/y` (no scheme), or undefined when none was proven (plaintext). */
  principal?: string;
  /** The peer's namespace, taken from its verified identity (never from an IP). Derived from `principal` when omitted. */
  namespace?: string;
  port: number;
  /** SNI or Host, when the caller knows it (egress gateway). */
  host?: string;
  /** L7 attributes, when the caller is an L7 proxy; absent at L4. */
  method?: string;
  /** The request target as received; the authorizer normalizes it itself (see request-path.ts). */
  path?: string;
}

export type DecidingAction = 'ALLOW' | 'DENY';

export interface Decision {
  allowed: boolean;
  /** `ns/name` of the deciding policy, if any. */
  policy?: string;
  action?: DecidingAction;
  reason: string;
}

export interface AuthorizeOptions {
  /** The namespace whose policies apply mesh-wide (MeshSettings.rootNamespace). */
  rootNamespace: string;
  layer: Layer;
}
