// One configuration version of the egress gateway, built from the stream's resources: its
// ServiceEntries, the mesh's outboundTrafficPolicy, the AuthorizationPolicies compiled for its
// own workload, TLS origination from DestinationRules (CA bundles read from disk here, so a
// bundle that cannot be read makes the whole version a NACK and the last good one stays), and the
// upstream ranges it must never dial (the nodes' pod CIDRs, the service CIDR, the control plane).
import { AmbitError, showValue } from '../errors.js';
import { DEFAULT_MESH_SETTINGS, type MeshSettings } from '../config/index.js';
import { compilePolicies, type PolicyEvaluator, type PolicyTarget } from '../policy/index.js';
import { resourcesByType, type ConfigState } from '../stream/index.js';
import { RevokedSvids } from '../hbone/index.js';
import type { WireDestinationRule, WirePolicy, WireServiceEntry, WireWorkload } from '../stream/resources.js';
import { forbiddenRanges, type ForbiddenRange } from './address-policy.js';
import { EgressRegistry } from './decision.js';
import type { OriginationSetting } from './gateway.js';
import { upstreamPort } from './upstream-target.js';

export interface EgressConfig {
  version: number;
  mesh: MeshSettings;
  trustRoots: string[];
  /** The SVIDs of revoked nodes and credentials: a source proving one is refused. */
  revoked: RevokedSvids;
  serviceEntries: readonly WireServiceEntry[];
  destinationRules: readonly WireDestinationRule[];
  policies: readonly WirePolicy[];
  evaluator: PolicyEvaluator;
  /** The gateway's own registry entry (`--pod`), when the registry has it. */
  self: WireWorkload | undefined;
  originate: Readonly<Record<string, OriginationSetting>>;
  /** Workloads by pod IP: for naming the source pod in audit lines only, never for a decision. */
  workloadsByIp: ReadonlyMap<string, WireWorkload>;
  /** Every node's podCIDR, sorted. */
  podCIDRs: readonly string[];
  /** Where no upstream address may be (SSRF): built-in ranges, pod and service CIDRs, the control plane. */
  forbiddenUpstreams: readonly ForbiddenRange[];
}

/** What the gateway knows of itself that the stream does not say (its flags). */
export interface UpstreamGuardFlags {
  /** The `--control-plane` host. */
  controlPlane?: string;
  /** `--allow-loopback-upstreams`: tests on one machine only. */
  allowLoopback?: boolean;
}

export const EMPTY_EGRESS_CONFIG: EgressConfig = {
  version: 0,
  mesh: DEFAULT_MESH_SETTINGS,
  trustRoots: [],
  revoked: RevokedSvids.NONE,
  serviceEntries: [],
  destinationRules: [],
  policies: [],
  evaluator: compilePolicies([], { rootNamespace: DEFAULT_MESH_SETTINGS.rootNamespace }),
  self: undefined,
  originate: {},
  workloadsByIp: new Map(),
  podCIDRs: [],
  forbiddenUpstreams: forbiddenRanges(),
};

/** Reads a CA bundle named by a DestinationRule; the default reads the gateway's own disk. */
export type BundleReader = (path: string) => string;

/**
 * Where origination for `host` goes, per tunnel port (for the config dump): for each port, the
 * entry the registry decision picks for (host, port) (an exact host beats a wildcard, then the
 * first by namespace/name), when that port is HTTP: its targetPort, else 443. Same function as the
 * gateway uses per tunnel (upstreamPort, upstream-target.ts).
 */
export function originationPorts(entries: readonly WireServiceEntry[], host: string): Record<string, number> {
  const registry = new EgressRegistry(entries);
  const numbers = [...new Set(entries.flatMap((e) => e.spec.ports.map((p) => p.number)))].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const n of numbers) {
    const id = registry.decide('REGISTRY_ONLY', { host, port: n }).serviceEntry;
    const entry = id === undefined ? undefined : registry.entry(id);
    if (entry?.spec.ports.find((p) => p.number === n)?.protocol === 'HTTP') out[String(n)] = upstreamPort(entry, n, 443);
  }
  return out;
}

function readBundle(dr: WireDestinationRule, read: BundleReader): string {
  const file = dr.spec.trafficPolicy.tls.caCertificates;
  const where = `DestinationRule ${dr.namespace}/${dr.name} spec.trafficPolicy.tls.caCertificates`;
  let pem: string;
  try {
    pem = read(file);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new AmbitError('EGRESS_CA_BUNDLE_UNREADABLE', `Cannot originate TLS for ${showValue(dr.spec.host)}: ${where} ${showValue(file)} cannot be read (${why})`, { path: 'spec.trafficPolicy.tls.caCertificates', value: file, cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new AmbitError('EGRESS_CA_BUNDLE_UNREADABLE', `Cannot originate TLS for ${showValue(dr.spec.host)}: ${where} ${showValue(file)} holds no PEM certificate`, { path: 'spec.trafficPolicy.tls.caCertificates', value: file });
  }
  return pem;
}

/** Builds (and so checks) one version; throws an AmbitError to NACK it. */
export function buildEgressConfig(state: ConfigState, pod: { namespace: string; name: string }, read: BundleReader, flags: UpstreamGuardFlags = {}): EgressConfig {
  const r = resourcesByType(state.resources);
  const mesh = r.mesh.at(-1) ?? DEFAULT_MESH_SETTINGS;
  const trustRoots = r['trust-bundle'].at(-1)?.roots ?? [];
  const serviceEntries = [...r['service-entry']];
  const destinationRules = [...r['destination-rule']];
  const policies = [...r['authorization-policy']];
  const self = r.workload.filter((w) => w.namespace === pod.namespace && w.name === pod.name).at(-1);
  const workloadsByIp = new Map<string, WireWorkload>();
  for (const w of r.workload) for (const ip of w.ips) workloadsByIp.set(ip, w);
  const podCIDRs = r.node.flatMap((n) => (n.podCIDR !== null ? [n.podCIDR] : []));
  const nodeAddresses = r.node.flatMap((n) => (n.addresses ?? []).map((address) => ({ node: n.name, address }))).sort((a, b) => a.node.localeCompare(b.node) || a.address.localeCompare(b.address));
  const byName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }): number =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`);
  serviceEntries.sort(byName);
  destinationRules.sort(byName);
  policies.sort(byName);
  const originate: Record<string, OriginationSetting> = {};
  for (const dr of destinationRules) {
    if (Object.hasOwn(originate, dr.spec.host)) continue; // first by namespace/name wins, as listed in the dump
    // No port: the upstream port comes from the ServiceEntry port the tunnel matched (its targetPort, else 443).
    originate[dr.spec.host] = { caBundlePem: readBundle(dr, read) };
  }
  podCIDRs.sort();
  return {
    version: state.version,
    mesh,
    trustRoots,
    revoked: RevokedSvids.of(r.revocations.at(-1)),
    serviceEntries,
    destinationRules,
    policies,
    evaluator: compilePolicies(policies, { rootNamespace: mesh.rootNamespace }),
    self,
    originate,
    workloadsByIp,
    podCIDRs,
    forbiddenUpstreams: forbiddenRanges({ podCIDRs, nodeAddresses, serviceCIDR: mesh.serviceCIDR, operator: mesh.egressForbiddenUpstreams, ...flags }),
  };
}

/**
 * The source pod an audit line names: the workload at the tunnel's source address, but only if it
 * runs as the identity the handshake proved (the node proxy dials from the pod's own namespace).
 * Anything else is said plainly; no decision ever reads this.
 */
export function sourcePodOf(config: EgressConfig, principal: string, address: string | undefined): string {
  const w = address === undefined ? undefined : config.workloadsByIp.get(address.replace(/^::ffff:/, ''));
  if (w === undefined) return `unknown (no pod at ${address ?? 'an unknown address'})`;
  if (w.identity !== principal) return `unknown (${w.namespace}/${w.name} at ${address} runs as ${w.identity})`;
  return `${w.namespace}/${w.name}`;
}

/** The policy target of the gateway: its own namespace and labels, from the registry only. */
export function gatewayTargetOf(config: EgressConfig, pod: { namespace: string; name: string }): PolicyTarget {
  if (config.self === undefined) {
    throw new AmbitError('EGRESS_SELF_UNKNOWN', `Cannot allow egress: the gateway's own workload ${pod.namespace}/${pod.name} (--pod) is not in the registry`, { path: '--pod', value: `${pod.namespace}/${pod.name}` });
  }
  return { namespace: config.self.namespace, labels: config.self.labels };
}
