// The egress gateway's two questions, as pure functions over plain data:
//  1. registry: does a ServiceEntry name this host on this port (REGISTRY_ONLY refuses any
//     other; ALLOW_ANY lets it out, still reported as "unknown" so it is logged as such)?
//  2. policy: may this verified source reach this host (AuthorizationPolicies that select the
//     gateway, with `to.operation.hosts`), decided by src/policy like every other decision.
// The host is the SNI or Host the client sent, never the IP it dialed (DESIGN invariant 7).
import { AmbitError, showValue } from '../errors.js';
import { canonicalHost, DEFAULT_NAMESPACE, HostSet, type OutboundTrafficMode, type ServiceEntryResource } from '../config/index.js';
import type { WireServiceEntry } from '../stream/resources.js';
import type { Decision, PolicyEvaluator, PolicyTarget } from '../policy/index.js';

export type EgressServiceEntry = ServiceEntryResource | WireServiceEntry;

export interface EgressRequest {
  /** SNI or Host as received (canonicalized here). */
  host: string;
  port: number;
  /** Verified source identity: `td/ns/x/sa/y`, or the `spiffe://` URI of the peer certificate. */
  principal?: string;
}

export interface EgressDecision {
  allowed: boolean;
  /** `ns/name` of the ServiceEntry that names the host on this port. */
  serviceEntry?: string;
  /** The ServiceEntry host (exact or wildcard) that matched. */
  matchedHost?: string;
  reason: string;
}

interface PortIndex {
  hosts: HostSet;
  /** pattern -> ids of the entries naming it on this port, sorted. */
  owners: Map<string, string[]>;
}

/** `namespace/name` of an entry, as decisions and audit lines name it. */
export function serviceEntryId(e: EgressServiceEntry): string {
  return 'metadata' in e ? `${e.metadata.namespace ?? DEFAULT_NAMESPACE}/${e.metadata.name}` : `${e.namespace}/${e.name}`;
}

function badRequest(path: string, why: string, value: unknown): never {
  throw new AmbitError('INVALID_EGRESS_REQUEST', `Cannot decide egress: ${path} ${why}, got ${showValue(value)}`, { path, value });
}

function checkPort(port: unknown, path: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) badRequest(path, 'must be a port number from 1 to 65535', port);
  return port;
}

/** ServiceEntries indexed by port then host, built once per configuration version. */
export class EgressRegistry {
  readonly #byPort = new Map<number, PortIndex>();
  readonly #allHosts = new HostSet();
  readonly #byId = new Map<string, EgressServiceEntry>();

  constructor(entries: Iterable<EgressServiceEntry>) {
    for (const e of entries) {
      const id = serviceEntryId(e);
      if (!this.#byId.has(id)) this.#byId.set(id, e);
      for (const port of e.spec.ports) {
        let index = this.#byPort.get(port.number);
        if (index === undefined) this.#byPort.set(port.number, (index = { hosts: new HostSet(), owners: new Map() }));
        for (const host of e.spec.hosts) {
          index.hosts.add(host);
          this.#allHosts.add(host);
          const owners = index.owners.get(host) ?? [];
          if (!owners.includes(id)) owners.push(id);
          index.owners.set(host, owners.sort());
        }
      }
    }
  }

  /** The entry a decision named (`serviceEntry`), to read how to reach the host. */
  entry(id: string): EgressServiceEntry | undefined {
    return this.#byId.get(id);
  }

  /** Decides on the registry alone; the caller applies per-source policy (egressAuthorize) after. */
  decide(mode: OutboundTrafficMode, req: Omit<EgressRequest, 'principal'>): EgressDecision {
    if (mode !== 'REGISTRY_ONLY' && mode !== 'ALLOW_ANY') badRequest('mode', 'must be "REGISTRY_ONLY" or "ALLOW_ANY"', mode);
    const port = checkPort(req?.port, 'port');
    const host = typeof req.host === 'string' ? canonicalHost(req.host) : null;
    if (host === null) return { allowed: false, reason: `refused: host ${showValue(req.host)} is not a valid DNS host name` };
    const index = this.#byPort.get(port);
    const matched = index?.hosts.match(host);
    if (index !== undefined && matched !== undefined) {
      const id = index.owners.get(matched)![0]!;
      return { allowed: true, serviceEntry: id, matchedHost: matched, reason: `allowed: ServiceEntry ${id} names ${matched} on port ${port}` };
    }
    const elsewhere = this.#allHosts.match(host);
    const why =
      elsewhere === undefined
        ? `no ServiceEntry names ${host}`
        : `ServiceEntry host ${elsewhere} covers ${host} but declares no port ${port}`;
    if (mode === 'ALLOW_ANY') return { allowed: true, reason: `allowed by ALLOW_ANY: ${why}` };
    return { allowed: false, reason: `refused by REGISTRY_ONLY: ${why}` };
  }
}

/** One-shot form of EgressRegistry#decide: indexes `entries` on every call. */
export function decideEgress(entries: Iterable<EgressServiceEntry>, mode: OutboundTrafficMode, req: Omit<EgressRequest, 'principal'>): EgressDecision {
  return new EgressRegistry(entries).decide(mode, req);
}

const SPIFFE = 'spiffe://';

/**
 * Per-source policy at the gateway: the AuthorizationPolicies that select the gateway workload
 * (`gatewayTarget`), evaluated at L4 with the requested host, so that `hosts: ["*.foo.example"]`
 * for app A and `["*.bar.example"]` for app B each hold.
 */
export function egressAuthorize(evaluator: PolicyEvaluator, gatewayTarget: PolicyTarget, req: EgressRequest): Decision {
  checkPort(req?.port, 'port');
  if (typeof req.host !== 'string') badRequest('host', 'must be a string', req.host);
  const principal = req.principal?.startsWith(SPIFFE) ? req.principal.slice(SPIFFE.length) : req.principal;
  return evaluator.authorize(gatewayTarget, { principal, host: req.host, port: req.port }, { layer: 'L4' });
}
