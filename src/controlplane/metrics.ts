// Prometheus metrics of the control plane, served on its metrics port (15014).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly connectedProxies = new Gauge({ name: 'ambit_controlplane_connected_proxies', help: 'Proxies with an open config stream', registers: [this.registry] });
  readonly configVersion = new Gauge({ name: 'ambit_controlplane_config_version', help: 'Current configuration view version', registers: [this.registry] });
  readonly storeRevision = new Gauge({ name: 'ambit_controlplane_store_revision', help: 'Latest committed store revision', registers: [this.registry] });
  readonly resources = new Gauge({ name: 'ambit_controlplane_resources', help: 'Stored resources by kind', labelNames: ['kind'], registers: [this.registry] });
  readonly pushes = new Counter({ name: 'ambit_controlplane_config_pushes_total', help: 'Configuration deltas sent to proxies', registers: [this.registry] });
  readonly acks = new Counter({ name: 'ambit_controlplane_config_acks_total', help: 'Configuration versions ACKed by proxies', registers: [this.registry] });
  readonly nacks = new Counter({ name: 'ambit_controlplane_config_nacks_total', help: 'Configuration versions NACKed by proxies', registers: [this.registry] });
  readonly svidsSigned = new Counter({ name: 'ambit_controlplane_svids_signed_total', help: 'Workload certificates signed', registers: [this.registry] });
  readonly svidRefusals = new Counter({ name: 'ambit_controlplane_svid_refusals_total', help: 'Certificate requests refused, by reason', labelNames: ['code'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ambit_controlplane_' });
  }
}
