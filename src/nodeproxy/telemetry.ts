// L4 telemetry of the node proxy: Prometheus counters labelled by both workloads and their
// verified principals, and one JSON access-log line per connection (DESIGN.md invariant 8).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../log.js';

export type Direction = 'inbound' | 'outbound';

/** Why a connection did not complete normally (Envoy-style response flags). */
export type ResponseFlag = '-' | 'DENY' | 'TLS_FAILURE' | 'IDENTITY_MISMATCH' | 'UNREACHABLE' | 'NO_ROUTE' | 'BAD_REQUEST' | 'NO_SVID' | 'UPSTREAM_RESET';

export interface ConnectionRecord {
  direction: Direction;
  sourceWorkload: string;
  sourceNamespace: string;
  sourcePrincipal: string;
  destinationWorkload: string;
  destinationNamespace: string;
  destinationPrincipal: string;
  sourceAddress?: string;
  destinationAddress: string;
  /** Bytes from the source to the destination, and back. */
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
  flag: ResponseFlag;
  policy?: string;
  reason?: string;
}

const LABELS = ['direction', 'source_workload', 'source_namespace', 'source_principal', 'destination_workload', 'destination_namespace', 'destination_principal', 'response_flag'] as const;

export class Telemetry {
  readonly registry = new Registry();
  private readonly opened = new Counter({ name: 'ambit_tcp_connections_opened_total', help: 'TCP connections opened', labelNames: LABELS, registers: [this.registry] });
  private readonly closed = new Counter({ name: 'ambit_tcp_connections_closed_total', help: 'TCP connections closed', labelNames: LABELS, registers: [this.registry] });
  private readonly failed = new Counter({ name: 'ambit_tcp_connections_failed_total', help: 'TCP connections refused or failed', labelNames: LABELS, registers: [this.registry] });
  private readonly sent = new Counter({ name: 'ambit_tcp_sent_bytes_total', help: 'Bytes from source to destination', labelNames: LABELS, registers: [this.registry] });
  private readonly received = new Counter({ name: 'ambit_tcp_received_bytes_total', help: 'Bytes from destination to source', labelNames: LABELS, registers: [this.registry] });
  readonly enrolledPods = new Gauge({ name: 'ambit_enrolled_pods', help: 'Pods captured by this node proxy', registers: [this.registry] });
  readonly configVersion = new Gauge({ name: 'ambit_config_version', help: 'Applied configuration version', registers: [this.registry] });

  constructor(private readonly accessLog: Logger) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ambit_nodeproxy_' });
  }

  /** Records a connection that opened (counts it) and returns the function that closes it. */
  open(r: Omit<ConnectionRecord, 'bytesSent' | 'bytesReceived' | 'durationMs' | 'flag'>): (end: { bytesSent: number; bytesReceived: number; flag?: ResponseFlag; reason?: string }) => void {
    const started = performance.now();
    this.opened.inc(this.labels({ ...r, flag: '-' }));
    return (end) => {
      const rec: ConnectionRecord = { ...r, ...end, flag: end.flag ?? '-', durationMs: Math.round(performance.now() - started) };
      const l = this.labels(rec);
      this.closed.inc(l);
      this.sent.inc(l, rec.bytesSent);
      this.received.inc(l, rec.bytesReceived);
      this.log(rec);
    };
  }

  /** A connection refused before it opened. */
  refuse(r: Omit<ConnectionRecord, 'bytesSent' | 'bytesReceived' | 'durationMs'>): void {
    const rec: ConnectionRecord = { ...r, bytesSent: 0, bytesReceived: 0, durationMs: 0 };
    this.failed.inc(this.labels(rec));
    this.log(rec);
  }

  private labels(r: Pick<ConnectionRecord, 'direction' | 'sourceWorkload' | 'sourceNamespace' | 'sourcePrincipal' | 'destinationWorkload' | 'destinationNamespace' | 'destinationPrincipal' | 'flag'>): Record<(typeof LABELS)[number], string> {
    return {
      direction: r.direction,
      source_workload: r.sourceWorkload,
      source_namespace: r.sourceNamespace,
      source_principal: r.sourcePrincipal,
      destination_workload: r.destinationWorkload,
      destination_namespace: r.destinationNamespace,
      destination_principal: r.destinationPrincipal,
      response_flag: r.flag,
    };
  }

  private log(r: ConnectionRecord): void {
    this.accessLog.info({ access: true, ...r }, r.flag === '-' ? 'connection' : `connection refused: ${r.flag}`);
  }
}
