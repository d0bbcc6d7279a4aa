// The resource types carried by the configuration stream, shared by the control plane (which
// encodes them) and every proxy (which decodes them). Each type has a decoder that returns a
// valid value or the list of what is wrong with it; a proxy applies a delta only when every
// resource in it decodes, so a version is never half-applied.

import { parseResource } from '../config/resource.js';
import { unknownField } from '../config/fields.js';
import { showValue } from '../errors.js';
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
  /**
   * The node's own IPv4 addresses (Node spec.addresses): never an egress upstream. Sent only when
   * the Node lists some, so that a proxy from before the field accepts every Node without them.
   */
  addresses?: string[];
}

export interface WireTrustBundle {
  /** PEM certificates of every trusted root (several during a rotation). */
  roots: string[];
}

/**
 * The revoked nodes and credentials, so that every proxy refuses the SVIDs they were issued
 * (their issued-to extension, identity/issued-to.ts): a node's SVIDs signed at or before its
 * `issuedUpTo` second, and any SVID asked for with a revoked credential. Sent only once something
 * is revoked, so that proxies from before it keep accepting the versions of a mesh that never revoked.
 */
export interface WireRevocations {
  /** Node name to Unix second: that node's SVIDs issued up to then are refused. */
  nodes: Record<string, number>;
  /** Revoked credential IDs: SVIDs issued to a session of one of them are refused. */
  credentials: string[];
}

/** The one key the revocations travel under. */
export const REVOCATIONS_KEY = 'revocations/mesh';

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
  revocations: WireRevocations;
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
  'revocations',
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
 * stream's keys into typed values. Singletons (mesh, trust-bundle, revocations) are lists of at most one.
 */
export function resourcesByType(resources: ReadonlyMap<string, unknown>): ResourcesByType {
  const out = Object.fromEntries(WIRE_TYPES.map((t) => [t, [] as unknown[]])) as Record<WireType, unknown[]>;
  for (const [key, value] of resources) {
    const type = wireTypeOf(key);
    if (type !== undefined) out[type].push(value);
  }
  return out as unknown as ResourcesByType;
}

/** Pushes what is wrong with `v` onto `errs`; may return the value to apply instead of `v` (the parsed one). */
type Check = (v: Record<string, unknown>, errs: string[]) => unknown;

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
/** A field the decoder does not know is an error: a half-understood resource is a hole. */
const only = (...fields: string[]): Check => (v, e) => {
  const extra = unknownField(v, fields);
  if (extra !== undefined) e.push(`${extra}: unknown field (known: ${fields.join(', ')})`);
};

/**
 * The kinds whose stream value is what a config parser returned on the control plane: the proxy
 * runs that parser again, so it accepts exactly what the control plane could have accepted (an
 * unknown action, mode or field is refused here as there, never read as some default).
 */
const APPLIED: Partial<Record<WireType, { apiVersion: string; kind: string }>> = {
  'authorization-policy': { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy' },
  'peer-authentication': { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' },
  'service-entry': { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry' },
  'destination-rule': { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule' },
  mesh: { apiVersion: 'ambit.dev/v1alpha1', kind: 'MeshConfig' },
};
const asApplied = (type: WireType): Check => (v, e) => {
  const k = APPLIED[type]!;
  // The mesh singleton travels as its settings; the others as {name, namespace, spec}.
  const doc = type === 'mesh'
    ? { ...k, metadata: { name: 'mesh' }, spec: v }
    : { ...k, metadata: { name: v.name, namespace: v.namespace }, spec: v.spec };
  try {
    // What is applied is what the parser returned (defaults filled in), never the raw value beside it.
    const spec = (parseResource(doc, 'from the config stream') as { spec: unknown }).spec;
    return type === 'mesh' ? spec : { ...v, spec };
  } catch (err) {
    e.push((err as Error).message);
    return undefined;
  }
};

// Every field of each type the control plane writes (view.ts), tied to the type: a field added
// there must be added here, or a proxy would refuse it (the wire-roundtrip test builds them all).
const fieldsOf = <T>(fields: Record<keyof T, true>): string[] => Object.keys(fields);
const WORKLOAD_FIELDS = fieldsOf<WireWorkload>({ uid: true, name: true, namespace: true, node: true, ips: true, serviceAccount: true, identity: true, labels: true, waypoint: true });
const SERVICE_FIELDS = fieldsOf<WireService>({ name: true, namespace: true, hostname: true, vip: true, ports: true, endpoints: true });
const NAMED_SPEC_FIELDS = fieldsOf<WirePolicy>({ name: true, namespace: true, spec: true });
const NODE_FIELDS = fieldsOf<WireNode>({ name: true, podCIDR: true, addresses: true });
const TRUST_BUNDLE_FIELDS = fieldsOf<WireTrustBundle>({ roots: true });
const REVOCATIONS_FIELDS = fieldsOf<WireRevocations>({ nodes: true, credentials: true });
const revokedNodes: Check = (v, e) => {
  if (!isObj(v.nodes)) return void e.push(`nodes: must be an object of node name to Unix seconds, got ${showValue(v.nodes)}`);
  for (const [node, t] of Object.entries(v.nodes)) {
    if (!Number.isSafeInteger(t) || (t as number) < 0) e.push(`nodes.${JSON.stringify(node)}: must be a whole number of Unix seconds, got ${showValue(t)}`);
  }
};

const CHECKS: Record<WireType, Check[]> = {
  workload: [only(...WORKLOAD_FIELDS), str('uid'), ...named, str('node'), strArr('ips'), str('serviceAccount'), identity, obj('labels')],
  service: [only(...SERVICE_FIELDS), ...named, str('hostname'), arr('ports'), arr('endpoints')],
  'authorization-policy': [only(...NAMED_SPEC_FIELDS), ...named, obj('spec'), asApplied('authorization-policy')],
  'peer-authentication': [only(...NAMED_SPEC_FIELDS), ...named, obj('spec'), asApplied('peer-authentication')],
  'service-entry': [only(...NAMED_SPEC_FIELDS), ...named, obj('spec'), asApplied('service-entry')],
  'destination-rule': [only(...NAMED_SPEC_FIELDS), ...named, obj('spec'), asApplied('destination-rule')],
  mesh: [asApplied('mesh')],
  'trust-bundle': [only(...TRUST_BUNDLE_FIELDS), strArr('roots')],
  node: [only(...NODE_FIELDS), str('name'), (v, e) => void (v.addresses !== undefined && strArr('addresses')(v, e))],
  revocations: [only(...REVOCATIONS_FIELDS), revokedNodes, strArr('credentials')],
};

/** The kinds of which a version holds one, under this key: another key would be a second, conflicting one. */
const SINGLETON_KEYS: Partial<Record<WireType, string>> = { mesh: 'mesh/mesh', 'trust-bundle': 'trust-bundle/mesh', revocations: REVOCATIONS_KEY };

/**
 * Validates one stream resource: its problems (none when it is usable) and the value to apply,
 * which for the parsed kinds (APPLIED) is the parser's own output, not the raw value it read.
 */
export function decodeResourceValue(key: string, value: unknown): { problems: string[]; value: unknown } {
  const type = wireTypeOf(key);
  if (type === undefined) return { problems: [`${key}: unknown resource type`], value };
  if (!isObj(value)) return { problems: [`${key}: must be an object`], value };
  const singleton = SINGLETON_KEYS[type];
  if (singleton !== undefined && key !== singleton) return { problems: [`${key}: a ${type} resource is a singleton, keyed ${singleton} only`], value };
  const errs: string[] = [];
  let applied: unknown = value;
  for (const c of CHECKS[type]) {
    const replaced = c(value, errs);
    if (replaced !== undefined) applied = replaced;
  }
  return { problems: errs.map((m) => `${key}: ${m}`), value: applied };
}

/** Validates one stream resource; returns the list of problems (empty when it is usable). */
export function decodeResource(key: string, value: unknown): string[] {
  return decodeResourceValue(key, value).problems;
}
