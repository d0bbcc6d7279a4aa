// The node proxy's view of the mesh, rebuilt from each applied config version: lookups by IP, by
// service VIP, by UID; the policies; the mesh settings. Internal types, converted once from the
// stream's wire resources here and nowhere else. The egress gateway is learned here too: the
// endpoints of Service ambit-system/egress-gateway that run as exactly the gateway's identity.

import { resourcesByType, type ConfigState } from '../stream/index.js';
import type { WirePolicy, WireService, WireServiceEntry, WireWorkload } from '../stream/resources.js';
import type { MeshSettings } from '../config/types.js';
import { DEFAULT_MESH_SETTINGS } from '../config/types.js';
import { EGRESS_GATEWAY, egressGatewayIdentity } from '../config/egress-gateway.js';
import { HostSet } from '../config/hosts.js';
import { compilePolicies, type PolicyEvaluator } from '../policy/index.js';
import { cidrContains, isIPv4, parseCIDR, type Cidr } from '../config/net.js';
import { RevokedSvids } from '../hbone/index.js';

export type Workload = WireWorkload;
export type Service = WireService;
export type ServiceEntry = WireServiceEntry;

/** One place to send external traffic: an endpoint of the gateway Service proving the gateway identity. */
export interface EgressGatewayEndpoint {
  ip: string;
  workload: Workload;
}

/** The egress gateway as this proxy knows it (present when its Service is in the config). */
export interface EgressGateway {
  /** `ambit-system/egress-gateway` */
  service: string;
  /** The SPIFFE ID every endpoint must prove in the handshake (egressGatewayIdentity). */
  identity: string;
  /** Endpoints whose workload runs as `identity`; may be empty (the gateway is down: fail closed). */
  endpoints: EgressGatewayEndpoint[];
  /** Endpoints the Service selects that are NOT the gateway (wrong identity, unknown workload): never used. */
  ignored: { ip: string; workloadUid: string; why: string }[];
}

export class MeshState {
  readonly version: number;
  readonly mesh: MeshSettings;
  readonly trustRoots: string[];
  /** The SVIDs of revoked nodes and credentials: refused at both ends of every tunnel. */
  readonly revoked: RevokedSvids;
  readonly policies: WirePolicy[];
  /** The mesh's own address ranges (pod CIDRs, the service CIDR): never a plaintext destination. */
  readonly meshRanges: Cidr[];
  /** Compiled once per version; compiling throws on a policy this proxy cannot enforce (-> NACK). */
  readonly authz: PolicyEvaluator;
  /** Every host the ServiceEntries name (exact and `*.suffix`). */
  readonly serviceEntryHosts: HostSet;
  /** Undefined when the config has no Service ambit-system/egress-gateway (egress is then as before). */
  readonly egressGateway: EgressGateway | undefined;
  private readonly byIp = new Map<string, Workload>();
  private readonly byUid = new Map<string, Workload>();
  private readonly byName = new Map<string, Workload>();
  private readonly byVip = new Map<string, Service>();
  private readonly byServiceName = new Map<string, Service>();
  private readonly byIdentity = new Map<string, Workload>();
  private readonly peerAuth = new Map<string, { selector?: Record<string, string>; mode: 'STRICT' | 'PERMISSIVE'; namespace: string }[]>();

  constructor(state: ConfigState) {
    this.version = state.version;
    const r = resourcesByType(state.resources);
    for (const w of r.workload) {
      this.byUid.set(w.uid, w);
      this.byName.set(`${w.namespace}/${w.name}`, w);
      for (const ip of w.ips) this.byIp.set(ip, w);
      if (!this.byIdentity.has(w.identity)) this.byIdentity.set(w.identity, w);
    }
    for (const s of r.service) {
      if (s.vip) this.byVip.set(s.vip, s);
      this.byServiceName.set(`${s.namespace}/${s.name}`, s);
    }
    for (const p of r['peer-authentication']) {
      const list = this.peerAuth.get(p.namespace) ?? [];
      list.push({ namespace: p.namespace, mode: p.spec.mtls.mode, ...(p.spec.selector ? { selector: p.spec.selector.matchLabels } : {}) });
      this.peerAuth.set(p.namespace, list);
    }
    const mesh: MeshSettings = r.mesh.at(-1) ?? DEFAULT_MESH_SETTINGS;
    const roots = r['trust-bundle'].at(-1)?.roots ?? [];
    const policies = [...r['authorization-policy']];
    const entries = r['service-entry'];
    const podCIDRs = r.node.flatMap((n) => (n.podCIDR ? [n.podCIDR] : []));
    this.mesh = mesh;
    this.trustRoots = roots;
    this.revoked = RevokedSvids.of(r.revocations.at(-1));
    this.policies = policies;
    this.authz = compilePolicies(policies, { rootNamespace: mesh.rootNamespace });
    this.meshRanges = [...podCIDRs, mesh.serviceCIDR].map((c) => parseCIDR(c));
    // A host the proxy cannot hold is a config it cannot enforce: throwing here NACKs the version.
    this.serviceEntryHosts = new HostSet(entries.flatMap((e) => e.spec.hosts));
    this.egressGateway = this.findEgressGateway();
  }

  /**
   * The gateway is whatever Service ambit-system/egress-gateway selects AND runs as exactly the
   * gateway's service account: a pod that a careless selector picks up never receives external
   * traffic (and the pool checks the same identity again in the TLS handshake).
   */
  private findEgressGateway(): EgressGateway | undefined {
    const svc = this.serviceByName(EGRESS_GATEWAY.namespace, EGRESS_GATEWAY.service);
    if (!svc) return undefined;
    const identity = egressGatewayIdentity(this.mesh.trustDomain);
    const endpoints: EgressGatewayEndpoint[] = [];
    const ignored: EgressGateway['ignored'] = [];
    for (const e of svc.endpoints) {
      const w = this.byUid.get(e.workloadUid);
      if (!w) ignored.push({ ip: e.ip, workloadUid: e.workloadUid, why: 'no workload with that uid in the config' });
      else if (w.identity !== identity) ignored.push({ ip: e.ip, workloadUid: e.workloadUid, why: `runs as ${w.identity}, not ${identity}` });
      else if (!w.ips.includes(e.ip)) ignored.push({ ip: e.ip, workloadUid: e.workloadUid, why: `workload ${w.namespace}/${w.name} does not have IP ${e.ip}` });
      else endpoints.push({ ip: e.ip, workload: w });
    }
    return { service: `${svc.namespace}/${svc.name}`, identity, endpoints, ignored };
  }

  static empty(): MeshState {
    return new MeshState({ version: 0, storeId: null, resources: new Map() });
  }

  workloadByIp(ip: string): Workload | undefined {
    return this.byIp.get(ip);
  }

  /** True for an address in the mesh's own ranges (known to this proxy or not). */
  inMeshRange(ip: string): boolean {
    if (!isIPv4(ip)) return false;
    return this.meshRanges.some((c) => cidrContains(c, ip));
  }

  workloadByUid(uid: string): Workload | undefined {
    return this.byUid.get(uid);
  }

  workloadByName(namespace: string, name: string): Workload | undefined {
    return this.byName.get(`${namespace}/${name}`);
  }

  serviceByVip(ip: string): Service | undefined {
    return this.byVip.get(ip);
  }

  serviceByName(namespace: string, name: string): Service | undefined {
    return this.byServiceName.get(`${namespace}/${name}`);
  }

  /** Some workload running as `identity` (for telemetry labels only; never for decisions). */
  workloadWithIdentity(identity: string): Workload | undefined {
    return this.byIdentity.get(identity);
  }

  workloads(): IterableIterator<Workload> {
    return this.byUid.values();
  }

  /**
   * The mTLS mode for a workload: the most specific PeerAuthentication wins (workload selector in
   * its namespace, then namespace-wide, then mesh-wide in the root namespace); STRICT by default.
   */
  mtlsMode(w: Workload): 'STRICT' | 'PERMISSIVE' {
    const pick = (ns: string): 'STRICT' | 'PERMISSIVE' | undefined => {
      const list = this.peerAuth.get(ns) ?? [];
      const sel = ns === w.namespace ? list.find((p) => p.selector && Object.entries(p.selector).every(([k, v]) => w.labels[k] === v)) : undefined;
      return (sel ?? list.find((p) => !p.selector))?.mode;
    };
    return pick(w.namespace) ?? pick(this.mesh.rootNamespace) ?? 'STRICT';
  }
}
