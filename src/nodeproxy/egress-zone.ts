// The in-pod DNS proxy's egress answers (DESIGN invariant 7). When the mesh has an egress
// gateway, an external name never reaches the upstream resolver: a name a ServiceEntry covers
// (exact or `*.suffix`), or under ALLOW_ANY any external name, is answered with an egress VIP
// that this node proxy remembers (VIP -> name), so the connection that follows goes to the
// gateway with that name; under REGISTRY_ONLY any other external name is REFUSED and logged.
// Cluster names, and everything when there is no gateway, are left to the next zone/upstream.
import { RCODE, RR_CLASS_IN, RR_TYPE, canonicalName, type Zone, type ZoneAnswer } from '../dns/index.js';
import { canonicalHost } from '../config/hosts.js';
import { LogBudget, type Logger } from '../log.js';
import type { MeshState } from './state.js';
import type { EgressVips } from './egress-vips.js';
import { CLUSTER_DOMAIN } from './dns.js';

/** Short, like service records: a proxy restart forgets its VIPs, and clients should ask again soon. */
export const EGRESS_VIP_TTL = 5;

/**
 * Distinct external names one pod may be handed VIPs for while the proxy runs. VIPs are never
 * reused, so without a per-pod bound one pod could use up the node's whole range (65,534
 * addresses) and starve every other pod on the node of new names.
 */
export const DEFAULT_MAX_NAMES_PER_POD = 1024;

/** Refusal lines one pod's DNS proxy writes a second at most; the rest are counted in the next line's `suppressed`. */
export const REFUSAL_LOG_LINES_PER_SECOND = 20;

export interface EgressZoneOptions {
  state: () => MeshState;
  /** The node proxy's one table, shared by every pod's DNS proxy and by outbound routing. */
  vips: EgressVips;
  /** `namespace/name` of the pod this DNS proxy serves, for the log. */
  pod: string;
  log: Logger;
  clusterDomain?: string;
  maxNamesPerPod?: number;
}

export class EgressZone implements Zone {
  private readonly domain: string;
  /** Names this pod was handed VIPs for (its quota). */
  private readonly names = new Set<string>();
  private quotaLogged = false;
  private readonly refusalLog = new LogBudget(REFUSAL_LOG_LINES_PER_SECOND);

  constructor(private readonly opts: EgressZoneOptions) {
    this.domain = canonicalName(opts.clusterDomain ?? CLUSTER_DOMAIN);
  }

  lookup(name: string, type: number): ZoneAnswer | null {
    const state = this.opts.state();
    const n = canonicalName(name);
    if (n === '' || n === this.domain || n.endsWith(`.${this.domain}`)) return null;
    // Before the first configuration the proxy cannot know whether egress is closed: fail closed
    // rather than forward an external name upstream (a restarted proxy with the control plane away).
    if (state.version === 0) return this.refuse(n, type, `no configuration from the control plane yet: external names are refused until it arrives`);
    if (state.egressGateway === undefined) return null; // no gateway: forwarded upstream, as before
    const host = canonicalHost(n);
    const mode = state.mesh.outboundTrafficPolicy.mode;
    const matched = host === null ? undefined : state.serviceEntryHosts.match(host);
    if (matched === undefined && mode === 'REGISTRY_ONLY') {
      return this.refuse(n, type, `no ServiceEntry names ${n} and outboundTrafficPolicy is REGISTRY_ONLY`);
    }
    if (host === null) return this.refuse(n, type, `${JSON.stringify(n)} is not a host name the egress gateway can carry`);
    // The mesh is IPv4 only: AAAA (and any other type) is "the name exists, no such records".
    if (type !== RR_TYPE.A && type !== RR_TYPE.ANY) return { answers: [], rcode: RCODE.NOERROR };
    const quota = this.opts.maxNamesPerPod ?? DEFAULT_MAX_NAMES_PER_POD;
    if (!this.names.has(host) && this.names.size >= quota) {
      if (!this.quotaLogged) {
        this.quotaLogged = true;
        this.opts.log.error({ pod: this.opts.pod, name: n, code: 'EGRESS_VIP_QUOTA', quota }, `dns query refused: pod ${this.opts.pod} already holds egress addresses for ${quota} names (EGRESS_VIP_QUOTA); further new names are refused (logged once)`);
      }
      return { answers: [], rcode: RCODE.REFUSED };
    }
    let vip: string;
    try {
      vip = this.opts.vips.allocate(host);
      this.names.add(host);
    } catch (err) {
      this.opts.log.error({ pod: this.opts.pod, name: n, err: (err as Error).message, code: (err as { code?: string }).code }, 'dns query failed: no egress address left; answering SERVFAIL');
      return { answers: [], rcode: RCODE.SERVFAIL };
    }
    this.opts.log.debug({ pod: this.opts.pod, name: n, vip, serviceEntryHost: matched ?? null, mode }, 'dns egress answer');
    return { answers: [{ name, type: 'A', class: RR_CLASS_IN, ttl: EGRESS_VIP_TTL, address: vip }], rcode: RCODE.NOERROR };
  }

  private refuse(name: string, type: number, reason: string): ZoneAnswer {
    const said = this.refusalLog.take('refused');
    if (said !== null) this.opts.log.warn({ pod: this.opts.pod, name, type, rcode: 'REFUSED', reason, ...(said.suppressed > 0 ? { suppressed: said.suppressed } : {}) }, `dns query refused: ${reason}${said.suppressed > 0 ? ` (${said.suppressed} earlier refusals from this pod not logged: over ${REFUSAL_LOG_LINES_PER_SECOND} a second)` : ''}`);
    return { answers: [], rcode: RCODE.REFUSED };
  }
}
