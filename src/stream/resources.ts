// The resource types carried by the configuration stream, shared by the control plane (which
// encodes them) and every proxy (which decodes them). Each type has a decoder that returns a
// valid value or the list of what is wrong with it; a proxy applies a delta only when every
// resource in it decodes, so a version is never half-applied.

import type {
  AuthorizationPolicyResource,
  MeshSettings,
  PeerAuthenticationResource,
  ServiceEntryResource,
  DestinationRuleResource,
  Labels,
} from '../config/types.js';

export interface WireWorkload {
  /** Unique per pod incarnation: a pod deleted and re-created under the same name gets a new UID. */
  uid: string;
  name: string;
  namespace: string;
  node: string;
  ips: string[];
  serviceAccount: string;
  /** SPIFFE ID of the workload, `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  identity: string;
  labels: Labels;
  /** The waypoint serving this workload's identity, when it has one (issue: waypoints). */
  waypoint: string | null;
}

export interface WireService {
  name: string;
  namespace: string;
  hostname: string;
  vip: string | null;
  ports: { name?: string; port: number; targetPort: number; protocol: 'TCP' | 'UDP' }[];
  endpoints: { workloadUid: string; ip: string }[];
}

export interface WirePolicy {
  name: string;
  namespace: string;
  spec: AuthorizationPolicyResource['spec'];
}

export interface WirePeerAuthentication {
  name: string;
  namespace: string;
  spec: PeerAuthenticationResource['spec'];
}

export interface WireServiceEntry {
  name: string;
  namespace: string;
  spec: ServiceEntryResource['spec'];
}

/** TLS origination settings for one external host (read by the egress gateway only). */
export interface WireDestinationRule {
  name: string;
  namespace: string;
  spec: DestinationRuleResource['spec'];
}

/** A node, for the address ranges proxies must treat as the mesh's own. */
export interface WireNode {
  name: string;
  podCIDR: string | null;
}

export interface WireTrustBundle {
  /** PEM certificates of every trusted root (several during a rotation). */
  roots: string[];
}

export interface WireTypes {
  workload: WireWorkload;
  service: WireService;
  'authorization-policy': WirePolicy;
  'peer-authentication': WirePeerAuthentication;
  'service-entry': WireServiceEntry;
  'destination-rule': WireDestinationRule;
  mesh: MeshSettings;
  'trust-bundle': WireTrustBundle;
  node: WireNode;
}

export type WireType = keyof WireTypes;

export const WIRE_TYPES: readonly WireType[] = [
  'workload',
  'service',
  'authorization-policy',
  'peer-authentication',
  'service-entry',
  'destination-rule',
  'mesh',
  'trust-bundle',
  'node',
];

/** Key of a stream resource: `<type>/<namespace>/<name>` (or `<type>/<name>` for singletons). */
export function wireTypeOf(key: string): WireType | undefined {
  const t = key.slice(0, key.indexOf('/'));
  return (WIRE_TYPES as readonly string[]).includes(t) ? (t as WireType) : undefined;
}

/** A version's resources by type, typed: every value has passed decodeResource when it was applied. */
export type ResourcesByType = { readonly [T in WireType]: readonly WireTypes[T][] };

/**
 * Groups a version's resources by type (in the version's order): the one place a proxy turns the
 * stream's keys into typed values. Singletons (mesh, trust-bundle) are lists of at most one.
 */
export function resourcesByType(resources: ReadonlyMap<string, unknown>): ResourcesByType {
  const out = Object.fromEntries(WIRE_TYPES.map((t) => [t, [] as unknown[]])) as Record<WireType, unknown[]>;
  for (const [key, value] of resources) {
    const type = wireTypeOf(key);
    if (type !== undefined) out[type].push(value);
  }
  return out as unknown as ResourcesByType;
}

type Check = (v: Record<string, unknown>, errs: string[]) => void;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (f: string): Check => (v, e) => {
  if (typeof v[f] !== 'string' || v[f] === '') e.push(`${f}: must be a non-empty string`);
};
const strArr = (f: string): Check => (v, e) => {
  if (!Array.isArray(v[f]) || !(v[f] as unknown[]).every((x) => typeof x === 'string')) e.push(`${f}: must be a list of strings`);
};
const arr = (f: string): Check => (v, e) => {
  if (!Array.isArray(v[f])) e.push(`${f}: must be a list`);
};
const obj = (f: string): Check => (v, e) => {
  if (!isObj(v[f])) e.push(`${f}: must be an object`);
};
const identity: Check = (v, e) => {
  if (typeof v.identity !== 'string' || !v.identity.startsWith('spiffe://')) e.push('identity: must be a spiffe:// URI');
};
const named = [str('name'), str('namespace')];
const destinationRuleSpec: Check = (v, e) => {
  const spec = v.spec as Record<string, unknown> | undefined;
  const tls = isObj(spec) && isObj(spec.trafficPolicy) ? spec.trafficPolicy.tls : undefined;
  if (!isObj(spec) || typeof spec.host !== 'string' || spec.host === '') e.push('spec.host: must be a non-empty string');
  if (!isObj(tls) || tls.mode !== 'SIMPLE' || typeof tls.caCertificates !== 'string' || !tls.caCertificates.startsWith('/')) {
    e.push(`spec.trafficPolicy.tls: must be {mode: SIMPLE, caCertificates: <absolute path>}, got ${JSON.stringify(tls ?? null)}`);
  }
};

const CHECKS: Record<WireType, Check[]> = {
  workload: [str('uid'), ...named, str('node'), strArr('ips'), str('serviceAccount'), identity, obj('labels')],
  service: [...named, str('hostname'), arr('ports'), arr('endpoints')],
  'authorization-policy': [...named, obj('spec')],
  'peer-authentication': [...named, obj('spec')],
  'service-entry': [...named, obj('spec')],
  'destination-rule': [...named, obj('spec'), destinationRuleSpec],
  mesh: [str('trustDomain'), obj('outboundTrafficPolicy')],
  'trust-bundle': [strArr('roots')],
  node: [str('name')],
};

/** Validates one stream resource; returns the list of problems (empty when it is usable). */
export function decodeResource(key: string, value: unknown): string[] {
  const type = wireTypeOf(key);
  if (type === undefined) return [`${key}: unknown resource type`];
  if (!isObj(value)) return [`${key}: must be an object`];
  const errs: string[] = [];
  for (const c of CHECKS[type]) c(value, errs);
  return errs.map((m) => `${key}: ${m}`);
}
