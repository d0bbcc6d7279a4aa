// The node proxy, assembled: config stream -> mesh state; pods enrolled by the lab/CNI -> capture
// and listeners in each pod's namespace; the SVID manager for the identities those pods run as;
// the HBONE pool; telemetry and admin. Without the control plane it keeps serving its last state.
import http from 'node:http';
import type net from 'node:net';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';
import { ConfigStreamClient, type ConfigState } from '../stream/index.js';
import { RevocationFollower } from './revocations.js';
import type { DnsEndpoint } from '../dns/index.js';
import { IdentityManager } from './identity.js';
import { MeshState, type Workload } from './state.js';
import { PodManager } from './pods.js';
import { Telemetry } from './telemetry.js';
import { serveEnrollment, type EnrolledPod } from './enroll.js';
import { serveNodeProxyAdmin, type AdminPorts } from './admin.js';
import { registerCaptureDropMetrics } from './capture-metrics.js';
import { EgressVips } from './egress-vips.js';
import { formatCIDR } from '../config/net.js';
import { relayMode } from '../runtime/index.js';
import { splitPemCertificates } from '../identity/index.js';

export interface NodeProxyOptions {
  node: string;
  controlPlane: string;
  token: string;
  trustBundle: string;
  controlPlaneIdentity: string;
  enrollSocket: string;
  admin: AdminPorts;
  dnsUpstream?: DnsEndpoint;
  log: Logger;
  accessLog: Logger;
}

export class NodeProxy {
  private state = MeshState.empty();
  private readonly revocations: RevocationFollower;
  private candidate: MeshState | undefined;
  readonly telemetry: Telemetry;
  readonly certs: IdentityManager;
  readonly stream: ConfigStreamClient;
  readonly pods: PodManager;
  /** Egress VIP -> name, handed out by every pod's DNS proxy; lives (only) as long as this process. */
  readonly egressVips = new EgressVips();
  private enrollServer: net.Server | undefined;
  private adminServers: http.Server[] = [];
  private readonly waiters = new Set<() => void>();
  adminAddresses: Record<string, number> = {};
  private egressSaid: string | undefined;

  constructor(private readonly opts: NodeProxyOptions) {
    const { log } = opts;
    this.telemetry = new Telemetry(opts.accessLog);
    this.stream = new ConfigStreamClient({
      address: opts.controlPlane,
      node: opts.node,
      token: opts.token,
      trustBundle: opts.trustBundle,
      serverIdentity: opts.controlPlaneIdentity,
      log,
      // Build (and so check) the whole state before ACKing: a policy this proxy cannot enforce
      // makes the version a NACK, and the proxy keeps enforcing the previous one.
      validate: (s) => {
        this.candidate = new MeshState(s);
      },
    });
    this.certs = new IdentityManager({ requestSvid: (id, csr) => this.stream.requestSvid(id, csr), log });
    this.certs.setTrustRoots(splitPemCertificates(opts.trustBundle));
    this.pods = new PodManager({
      state: () => this.state,
      revoked: () => this.revocations.current,
      workloadOf: (pod) => this.workloadOf(pod),
      certs: this.certs,
      telemetry: this.telemetry,
      log,
      egressVips: this.egressVips,
      ...(opts.dnsUpstream ? { dnsUpstream: opts.dnsUpstream } : {}),
      onPodsChanged: () => this.refreshIdentities(),
    });
    registerCaptureDropMetrics(this.telemetry.registry, () => this.pods.list(), log);
    // Also from versions it rejects: a revocation must not wait for an unrelated fix.
    this.revocations = new RevocationFollower(this.stream, () => this.pods.recheckRevoked(), log);
    this.stream.on('update', (s) => this.apply(s));
    this.stream.on('connected', () => {
      this.certs.retryFailed();
      this.refreshIdentities();
    });
  }

  async start(): Promise<void> {
    this.stream.start();
    this.enrollServer = await serveEnrollment(this.opts.enrollSocket, this.pods, this.opts.log);
    const a = await serveNodeProxyAdmin(this.opts.admin, { dump: () => this.dump(), ready: () => this.readiness(), metrics: this.telemetry.registry });
    this.adminServers = a.servers;
    this.adminAddresses = a.addresses;
    this.opts.log.info({ node: this.opts.node, controlPlane: this.opts.controlPlane, enroll: this.opts.enrollSocket, admin: a.addresses, relay: relayMode() }, 'node proxy started');
  }

  async stop(): Promise<void> {
    this.stream.stop();
    this.certs.stop();
    this.enrollServer?.close();
    for (const s of this.adminServers) s.close();
    await this.pods.close();
  }

  private apply(s: ConfigState): void {
    this.state = this.candidate?.version === s.version ? this.candidate : new MeshState(s);
    this.candidate = undefined;
    this.revocations.applied(s.version, this.state.revoked);
    this.logEgressGateway();
    this.telemetry.configVersion.set(s.version);
    if (this.certs.setTrustRoots(this.state.trustRoots)) {
      // A root taken out of the bundle cuts the open connections it anchored, both ways.
      const untrusted = this.pods.recheckRevoked();
      if (untrusted > 0) this.opts.log.warn({ version: s.version, connectionsClosed: untrusted }, 'trust bundle changed: open tunnel connections whose peer no longer chains to it are closed');
    }
    this.refreshIdentities();
    // Policy applies to connections already open too (ztunnel's behaviour): a change that denies
    // one closes it, and its access-log line says why.
    const denied = this.pods.recheckPolicy(this.state);
    if (denied > 0) this.opts.log.warn({ version: s.version, connectionsClosed: denied }, 'configuration changed: open inbound connections it denies now are closed');
    for (const w of [...this.waiters]) w();
  }

  /** Says, on each version, what the egress gateway is and which selected endpoints are NOT trusted as it. */
  private logEgressGateway(): void {
    const gw = this.state.egressGateway;
    // Once per change, not once per config version.
    const said = JSON.stringify(gw ? [gw.endpoints.map((e) => e.ip), gw.ignored] : null);
    if (said === this.egressSaid) return;
    this.egressSaid = said;
    if (!gw) return this.opts.log.info('no egress gateway in the configuration: external traffic follows outboundTrafficPolicy directly');
    this.opts.log.info({ service: gw.service, identity: gw.identity, endpoints: gw.endpoints.map((e) => e.ip) }, 'egress gateway: external traffic goes through it');
    for (const i of gw.ignored) {
      this.opts.log.warn({ service: gw.service, ip: i.ip, workloadUid: i.workloadUid, reason: i.why }, `ignoring an endpoint of the egress gateway Service: ${i.why}`);
    }
    if (gw.endpoints.length === 0) this.opts.log.warn({ service: gw.service, identity: gw.identity }, 'the egress gateway has no endpoint running as its identity: external connections are refused');
  }

  /** Identities wanted = those of captured pods that the config knows. */
  private refreshIdentities(): void {
    const ids = new Set<string>();
    for (const p of this.pods.list()) {
      const w = this.state.workloadByName(p.namespace, p.name);
      if (w && w.node === this.opts.node) ids.add(w.identity);
    }
    this.telemetry.enrolledPods.set(this.pods.list().length);
    this.certs.setWanted(ids);
  }

  /** The captured pod's workload, checked against what the registry says about it. */
  private workloadOf(pod: EnrolledPod, timeoutMs = 5_000): Promise<Workload> {
    const check = (): Workload | undefined => {
      const w = this.state.workloadByName(pod.namespace, pod.name);
      if (!w) return undefined;
      if (w.node !== this.opts.node) throw new AmbitError('WORKLOAD_MISMATCH', `Cannot serve pod ${pod.namespace}/${pod.name}: the registry places it on node ${w.node}, not ${this.opts.node}`);
      if (!w.ips.includes(pod.ip)) return undefined;
      return w;
    };
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(on);
        reject(new AmbitError('WORKLOAD_UNKNOWN', `Cannot serve pod ${pod.namespace}/${pod.name} (${pod.ip}): the configuration does not list it with that IP yet`));
      }, timeoutMs);
      const on = (): void => {
        try {
          const w = check();
          if (!w) return;
          clearTimeout(t);
          this.waiters.delete(on);
          resolve(w);
        } catch (err) {
          clearTimeout(t);
          this.waiters.delete(on);
          reject(err);
        }
      };
      this.waiters.add(on);
    });
  }

  private readiness(): { ready: boolean; reason?: string } {
    if (this.state.version === 0) return { ready: false, reason: 'no configuration received yet' };
    return { ready: true };
  }

  dump(): unknown {
    return {
      node: this.opts.node,
      controlPlane: { address: this.opts.controlPlane, connected: this.stream.connected },
      config: { version: this.state.version, storeId: this.stream.state.storeId, mesh: this.state.mesh },
      pods: this.pods.list().map((p) => {
        const w = this.state.workloadByName(p.namespace, p.name);
        return { ...p, identity: w?.identity ?? null, uid: w?.uid ?? null };
      }),
      certificates: this.certs.dump(),
      revoked: this.revocations.current.describe(),
      workloads: [...this.state.workloads()].map((w) => ({ uid: w.uid, namespace: w.namespace, name: w.name, node: w.node, ips: w.ips, identity: w.identity })),
      egress: {
        gateway: this.state.egressGateway
          ? { ...this.state.egressGateway, endpoints: this.state.egressGateway.endpoints.map((e) => ({ ip: e.ip, workload: `${e.workload.namespace}/${e.workload.name}` })) }
          : null,
        mode: this.state.mesh.outboundTrafficPolicy.mode,
        serviceEntryHosts: [...this.state.serviceEntryHosts],
        vips: { range: formatCIDR(this.egressVips.range), capacity: this.egressVips.capacity, allocated: this.egressVips.entries() },
      },
      policies: this.state.policies.map((p) => ({ namespace: p.namespace, name: p.name, action: p.spec.action, rules: p.spec.rules.length })),
    };
  }
}
