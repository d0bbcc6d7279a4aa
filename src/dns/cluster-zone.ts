// Answers `<service>.<namespace>.svc.<cluster domain>` with the Service's ClusterIP, kept current
// by the control plane's admin watch. Authoritative for the whole cluster domain: a name under it
// that names no Service is NXDOMAIN here and never leaks to the upstream.
import type { AdminApi, StoreEvent } from '../controlplane/admin-api.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { type DnsRecord, RCODE, RR_CLASS_IN, RR_TYPE } from './message.js';
import { type Zone, type ZoneAnswer, canonicalName } from './zone.js';

/** Kubernetes' CoreDNS default TTL for service records. */
const SERVICE_TTL = 5;
const RETRY_MS = 1000;

export interface ClusterZoneOptions {
  clusterDomain?: string;
  logger?: Logger;
}

export class ClusterZone implements Zone {
  readonly domain: string;
  /** `namespace/name` -> ClusterIP ("" when the Service has none yet). */
  private readonly services = new Map<string, string>();
  private readonly log: Logger;
  private revision = 0;
  private watchHandle: { close(): void } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncedResolve!: () => void;
  /** Resolves after the first watch event (the initial snapshot) has been applied. */
  readonly synced = new Promise<void>((resolve) => { this.syncedResolve = resolve; });

  constructor(private readonly api: Pick<AdminApi, 'watch'>, opts: ClusterZoneOptions = {}) {
    this.domain = canonicalName(opts.clusterDomain ?? 'cluster.local');
    this.log = opts.logger ?? silentLogger();
  }

  /** Starts (or restarts after an error) the watch from the last revision seen. */
  start(): void {
    this.stopped = false;
    this.watchHandle = this.api.watch(this.revision, (e) => this.apply(e), (err) => {
      this.log.warn({ err: err.message, revision: this.revision }, 'service watch failed; retrying');
      this.watchHandle?.close();
      if (!this.stopped) this.retryTimer = setTimeout(() => this.start(), RETRY_MS);
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.watchHandle?.close();
  }

  /** Applies one store transaction; exposed so a caller with its own event feed can drive the zone. */
  apply(e: StoreEvent): void {
    this.revision = Math.max(this.revision, e.revision);
    for (const c of e.changes) {
      if (c.resource.kind !== 'Service') continue;
      const key = `${c.resource.metadata.namespace ?? ''}/${c.resource.metadata.name}`;
      if (c.type === 'delete') this.services.delete(key);
      else this.services.set(key, c.resource.spec.clusterIP ?? '');
    }
    this.syncedResolve();
  }

  lookup(name: string, type: number): ZoneAnswer | null {
    const n = canonicalName(name);
    if (n !== this.domain && !n.endsWith(`.${this.domain}`)) return null;
    const soa = this.soa();
    if (n === this.domain) {
      const answers = type === RR_TYPE.SOA || type === RR_TYPE.ANY ? [soa] : [];
      return { answers, rcode: RCODE.NOERROR, authorities: answers.length ? [] : [soa] };
    }
    const labels = n.slice(0, -this.domain.length - 1).split('.');
    const ip = labels.length === 3 && labels[2] === 'svc' ? this.services.get(`${labels[1]}/${labels[0]}`) : undefined;
    if (ip === undefined) return { answers: [], rcode: RCODE.NXDOMAIN, authorities: [soa] };
    if (ip === '' || ip === 'None' || (type !== RR_TYPE.A && type !== RR_TYPE.ANY)) {
      return { answers: [], rcode: RCODE.NOERROR, authorities: [soa] };
    }
    const record: DnsRecord = { name, type: 'A', class: RR_CLASS_IN, ttl: SERVICE_TTL, address: ip };
    return { answers: [record], rcode: RCODE.NOERROR };
  }

  private soa(): DnsRecord {
    return {
      name: this.domain, type: 'SOA', class: RR_CLASS_IN, ttl: SERVICE_TTL,
      mname: `ns.dns.${this.domain}`, rname: `hostmaster.${this.domain}`,
      serial: this.revision, refresh: 7200, retry: 1800, expire: 86400, minimum: SERVICE_TTL,
    };
  }
}
