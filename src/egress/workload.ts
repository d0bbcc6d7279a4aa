// The egress gateway as a workload, assembled: the config stream (opened with a workload
// credential bound to the gateway's identity) -> one EgressConfig per version; the SVID manager
// for its one identity (the registry entry of its own pod); createEgressGateway on the HBONE
// listener; admin ports (config dump, metrics, readiness). Without the control plane it keeps
// serving its last good configuration until its certificate expires.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import type { DnsEndpoint } from '../dns/index.js';
import { formatAuthority, type HboneServer } from '../hbone/index.js';
import type { Logger } from '../log.js';
import { IdentityManager } from '../nodeproxy/identity.js';
import { DEFAULT_ADMIN_PORTS, serveNodeProxyAdmin } from '../nodeproxy/admin.js';
import { ConfigStreamClient } from '../stream/index.js';
import { RevocationFollower } from '../nodeproxy/revocations.js';
import { createEgressGateway } from './gateway.js';
import { dnsResolver } from './resolve.js';
import { buildEgressConfig, EMPTY_EGRESS_CONFIG, gatewayTargetOf, originationPorts, sourcePodOf, type BundleReader, type EgressConfig, type UpstreamGuardFlags } from './workload-config.js';
import { relayMode } from '../runtime/index.js';
import { splitPemCertificates } from '../identity/index.js';

export interface EgressWorkloadOptions {
  node: string;
  /** The control plane's config stream (its IP is also a forbidden upstream). */
  controlPlane: { host: string; port: number };
  /** Workload credential bound to the gateway identity (AdminApi.issueWorkloadToken). */
  token: string;
  /** PEM roots, to verify the control plane (and, until the stream says otherwise, HBONE clients). */
  trustBundle: string;
  controlPlaneIdentity: string;
  /** Its own workload in the registry: its identity, namespace and labels. */
  pod: { namespace: string; name: string };
  listen: { host: string; port: number };
  dns: DnsEndpoint;
  /** Admin ports on this host: 15000 config dump, 15020 metrics, 15021 readiness. */
  adminHost: string;
  adminPorts?: { configDump: number; metrics: number; readiness: number };
  log: Logger;
  readBundle?: BundleReader;
  /** Lets upstreams on 127.0.0.0/8 through (`--allow-loopback-upstreams`): tests on one machine only. */
  allowLoopbackUpstreams?: boolean;
}

export class EgressGatewayWorkload {
  readonly metrics = new Registry();
  readonly stream: ConfigStreamClient;
  readonly certs: IdentityManager;
  private config: EgressConfig = EMPTY_EGRESS_CONFIG;
  private readonly revocations: RevocationFollower;
  private candidate: EgressConfig | undefined;
  private lastNack: { version: number; error: string } | undefined;
  private server: HboneServer | undefined;
  private adminServers: http.Server[] = [];
  /** Until the SVID arrives, handshakes fail (no certificate): fail closed, never a shared key. */
  private readonly noCredential = tls.createSecureContext({ minVersion: 'TLSv1.3' });
  listenAddress: AddressInfo | undefined;
  adminAddresses: Record<string, number> = {};

  constructor(private readonly opts: EgressWorkloadOptions) {
    const { log } = opts;
    const read = opts.readBundle ?? ((path: string) => readFileSync(path, 'utf8'));
    const guard: UpstreamGuardFlags = {
      controlPlane: opts.controlPlane.host,
      allowLoopback: opts.allowLoopbackUpstreams === true,
    };
    if (guard.allowLoopback) log.warn('--allow-loopback-upstreams: upstreams on 127.0.0.0/8 may be dialled (tests on one machine only)');
    this.stream = new ConfigStreamClient({
      address: formatAuthority(opts.controlPlane),
      node: opts.node,
      token: opts.token,
      trustBundle: opts.trustBundle,
      serverIdentity: opts.controlPlaneIdentity,
      log,
      // Build the whole version before ACKing it: a policy it cannot enforce or a CA bundle it
      // cannot read is a NACK, and the gateway keeps serving the previous version.
      validate: (s) => {
        this.candidate = buildEgressConfig(s, opts.pod, read, guard);
      },
    });
    this.stream.on('update', (s) => {
      if (this.candidate?.version === s.version) this.adopt(this.candidate);
    });
    // Also from versions it rejects: a revocation must not wait for an unrelated fix.
    this.revocations = new RevocationFollower(this.stream, () => this.server?.recheck() ?? 0, log);
    this.stream.on('nack', (version, error) => {
      this.lastNack = { version, error };
    });
    this.certs = new IdentityManager({ requestSvid: (id, csr) => this.stream.requestSvid(id, csr), log });
    this.certs.setTrustRoots(splitPemCertificates(opts.trustBundle));
    // The CA is back: an SVID waiting out a backoff asks now.
    this.stream.on('connected', () => this.certs.retryFailed());
  }

  private get identity(): string | undefined {
    return this.config.self?.identity;
  }

  private adopt(next: EgressConfig): void {
    const { log, pod, node } = this.opts;
    this.config = next;
    this.revocations.applied(next.version, next.revoked);
    this.lastNack = undefined;
    if (next.trustRoots.length > 0 && this.certs.setTrustRoots(next.trustRoots)) {
      // A root taken out of the bundle cuts the open tunnels it anchored.
      const untrusted = this.server?.recheck() ?? 0;
      if (untrusted > 0) log.warn({ version: next.version, connectionsClosed: untrusted }, 'trust bundle changed: open tunnel connections whose peer no longer chains to it are closed');
    }
    const self = next.self;
    if (self === undefined) {
      log.warn({ pod: `${pod.namespace}/${pod.name}`, version: next.version }, 'the gateway\'s own pod is not in the registry: refusing every tunnel until it is');
    } else if (self.node !== node) {
      log.warn({ pod: `${pod.namespace}/${pod.name}`, scheduledOn: self.node, node }, 'the gateway\'s pod is scheduled on another node: the CA will not sign its SVID here');
    }
    this.certs.setWanted(self === undefined ? [] : [self.identity]);
    log.info({
      version: next.version,
      serviceEntries: next.serviceEntries.length,
      destinationRules: next.destinationRules.length,
      policies: next.policies.length,
      outboundTrafficPolicy: next.mesh.outboundTrafficPolicy.mode,
    }, 'egress configuration applied');
  }

  async start(): Promise<void> {
    const { opts } = this;
    const server = createEgressGateway({
      secureContext: () => {
        const id = this.identity;
        return (id === undefined ? undefined : this.certs.current(id)?.secureContext) ?? this.noCredential;
      },
      trustedRoots: () => this.certs.trustedRoots(),
      refusePeerCertificate: (certDer) => this.revocations.current.check(certDer),
      serviceEntries: () => this.config.serviceEntries,
      outboundTrafficPolicy: () => this.config.mesh.outboundTrafficPolicy.mode,
      policy: () => this.config.evaluator,
      gatewayTarget: () => gatewayTargetOf(this.config, opts.pod),
      originate: (host) => (Object.hasOwn(this.config.originate, host) ? this.config.originate[host] : undefined),
      resolve: dnsResolver(opts.dns),
      forbiddenUpstreams: () => this.config.forbiddenUpstreams,
      sourcePod: (principal, address) => sourcePodOf(this.config, principal, address),
      logger: opts.log,
      metrics: this.metrics,
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.listen.port, opts.listen.host, () => resolve()));
    this.server = server;
    this.listenAddress = server.address() as AddressInfo;
    const admin = await serveNodeProxyAdmin(
      { host: opts.adminHost, ...(opts.adminPorts ?? DEFAULT_ADMIN_PORTS) },
      { dump: () => this.dump(), ready: () => this.ready(), metrics: this.metrics },
    );
    this.adminServers = admin.servers;
    this.adminAddresses = admin.addresses;
    this.stream.start();
    opts.log.info({ listen: `${this.listenAddress.address}:${this.listenAddress.port}`, admin: this.adminAddresses, pod: `${opts.pod.namespace}/${opts.pod.name}`, node: opts.node, relay: relayMode() }, 'egress gateway started');
  }

  ready(): { ready: boolean; reason?: string } {
    if (this.config.version === 0) return { ready: false, reason: 'no configuration from the control plane yet' };
    const id = this.identity;
    if (id === undefined) return { ready: false, reason: `its own pod ${this.opts.pod.namespace}/${this.opts.pod.name} is not in the registry` };
    if (this.certs.current(id) === undefined) return { ready: false, reason: `no valid SVID for ${id} yet` };
    return { ready: true };
  }

  dump(): unknown {
    const c = this.config;
    return {
      node: this.opts.node,
      pod: `${this.opts.pod.namespace}/${this.opts.pod.name}`,
      version: c.version,
      connected: this.stream.connected,
      ...(this.lastNack ? { lastNack: this.lastNack } : {}),
      identity: this.identity ?? null,
      revoked: this.revocations.current.describe(),
      svids: this.certs.dump(),
      outboundTrafficPolicy: c.mesh.outboundTrafficPolicy.mode,
      serviceEntries: c.serviceEntries.map((e) => ({
        name: `${e.namespace}/${e.name}`, hosts: e.spec.hosts, ports: e.spec.ports, resolution: e.spec.resolution,
        ...(e.spec.endpoints.length > 0 ? { endpoints: e.spec.endpoints.map((x) => x.address) } : {}),
      })),
      forbiddenUpstreams: c.forbiddenUpstreams.map((r) => r.label),
      destinationRules: c.destinationRules.map((d) => ({
        name: `${d.namespace}/${d.name}`, host: d.spec.host, caCertificates: d.spec.trafficPolicy.tls.caCertificates,
        upstreamPorts: originationPorts(c.serviceEntries, d.spec.host),
      })),
      policies: c.policies.map((p) => `${p.namespace}/${p.name}`),
    };
  }

  /** Drains open tunnels (GOAWAY, then a hard close at the deadline), then closes everything. */
  async stop(deadlineMs = 4000): Promise<void> {
    this.stream.stop();
    this.certs.stop();
    await this.server?.drain(deadlineMs);
    await Promise.all(this.adminServers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
