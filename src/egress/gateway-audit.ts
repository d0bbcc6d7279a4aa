// The egress gateway's audit trail (DESIGN invariant 8): one JSON log line per connection and
// Prometheus counters with the same labels, from one record filled in as the connection goes.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log.js';

export type EgressVerdict = 'allowed' | 'refused';

export interface EgressRecord {
  /** Verified source principal (SPIFFE ID from the tunnel's mTLS). */
  source: string;
  /** The pod at the tunnel's source address when it runs as `source` (telemetry only). */
  sourcePod?: string;
  sourceAddress?: string;
  /** The tunnel's `:authority` as sent. */
  authority: string;
  mode?: 'passthrough' | 'originate';
  sni?: string;
  host?: string;
  resolved?: string[];
  upstream?: string;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  verdict: EgressVerdict;
  /** `ALLOWED`, or the refusal's error code. */
  code: string;
  reason: string;
  serviceEntry?: string;
  policy?: string;
  /** A relay failure after the connection was allowed. */
  error?: string;
}

export interface EgressAudit {
  record(r: EgressRecord): void;
}

/** Distinct `host` label values the refusals may use; later ones are counted as OTHER_HOSTS. */
export const REFUSED_HOST_LABELS = 1000;
export const OTHER_HOSTS = '(other refused hosts)';

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createEgressAudit(logger: Logger, registry: Registry): EgressAudit {
  const labelNames = ['source', 'host', 'verdict', 'code'] as const;
  const connections = metric(registry, 'ambit_egress_connections_total', () => new Counter({
    name: 'ambit_egress_connections_total', help: 'Egress connections by verified source, destination host, verdict and code', labelNames, registers: [registry],
  }));
  const bytes = metric(registry, 'ambit_egress_bytes_total', () => new Counter({
    name: 'ambit_egress_bytes_total', help: 'Egress bytes by verified source, destination host, verdict, code and direction (in: client to upstream)', labelNames: [...labelNames, 'direction'], registers: [registry],
  }));
  const duration = metric(registry, 'ambit_egress_connection_duration_seconds', () => new Histogram({
    name: 'ambit_egress_connection_duration_seconds', help: 'Egress connection duration', labelNames, registers: [registry],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
  }));
  const refusedHosts = new Set<string>();
  // A refused connection's SNI or Host is whatever the client sent: as a label, random ones would
  // grow the metrics without bound. Refusals are labelled by the tunnel's authority host (the name
  // the source's node proxy asked for), and at most REFUSED_HOST_LABELS distinct ones; the log
  // line keeps everything.
  const refusedHost = (authority: string): string => {
    const host = authority.replace(/:[0-9]+$/, '');
    if (refusedHosts.has(host)) return host;
    if (refusedHosts.size >= REFUSED_HOST_LABELS) return OTHER_HOSTS;
    refusedHosts.add(host);
    return host;
  };
  return {
    record(r) {
      const host = r.verdict === 'allowed' ? r.sni ?? r.host ?? r.authority : refusedHost(r.authority);
      const labels = { source: r.source, host, verdict: r.verdict, code: r.code };
      connections.inc(labels);
      bytes.inc({ ...labels, direction: 'in' }, r.bytesIn);
      bytes.inc({ ...labels, direction: 'out' }, r.bytesOut);
      duration.observe(labels, r.durationMs / 1000);
      const line = { ...r, durationMs: Math.round(r.durationMs * 1000) / 1000 };
      if (r.verdict === 'allowed') logger.info(line, 'egress connection');
      else logger.warn(line, 'egress connection');
    },
  };
}
