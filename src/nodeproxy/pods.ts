// The pods this node proxy captures: for each, capture rules and four listeners inside the pod's
// own network namespace (15001 outbound, 15006 inbound plaintext, 15008 HBONE, 15053 DNS), all
// torn down when the pod goes. The listeners hand connections to outbound.ts / inbound.ts.
import net from 'node:net';
import tls from 'node:tls';
import type dgram from 'node:dgram';
import type http2 from 'node:http2';
import type { Logger } from '../log.js';
import { AmbitError } from '../errors.js';
import { listenInNetns, udpSocketInNetns, originalDst } from '../sys/index.js';
import { createHboneServer, HbonePool, type HboneServer, type RevokedSvids } from '../hbone/index.js';
import { DnsServer, type DnsEndpoint } from '../dns/index.js';
import { installCapture, tunePodNetwork } from './redirect/install.js';
import { PORTS } from './redirect/rules.js';
import { podKey, type EnrolledPod, type EnrollHandler } from './enroll.js';
import { handleOutbound, type OutboundContext } from './outbound.js';
import { acceptTunnel, handlePlaintext, inboundSource, recheckInbound, type InboundContext } from './inbound.js';
import { principalOfUri as principalOf } from '../identity/index.js';
import type { RefusalCode } from '../hbone/index.js';
import type { ResponseFlag } from './telemetry.js';
import type { CertProvider } from './identity.js';
import { MeshZone } from './dns.js';
import { EgressZone } from './egress-zone.js';
import type { EgressVips } from './egress-vips.js';
import type { MeshState } from './state.js';

/** A context with no certificate: TLS handshakes against it fail, so a pod without an SVID accepts nothing. */
let noCert: tls.SecureContext | undefined;
const NO_CERTIFICATE = (): tls.SecureContext => (noCert ??= tls.createSecureContext({ minVersion: 'TLSv1.3' }));

/**
 * What a pod's HBONE listener presents: the SVID of its identity, or, while it has none (the pod
 * not known yet, its SVID not issued), no certificate, so that every handshake fails closed. Never
 * throws: it runs in the server's connection handler, where a throw would end the whole process.
 */
export function podServerContext(identity: string | undefined, current: (identity: string) => { secureContext: tls.SecureContext } | undefined): tls.SecureContext {
  const cred = identity ? current(identity) : undefined;
  return cred ? cred.secureContext : NO_CERTIFICATE();
}

interface Captured {
  pod: EnrolledPod;
  /** Tunnels from this pod: their sockets live in its namespace, so the pool is the pod's own. */
  pool: HbonePool;
  hbone?: HboneServer;
  servers: (net.Server | http2.Http2SecureServer)[];
  /** Connections accepted from the pod's apps (15001, 15006, DNS over TCP): destroyed with the pod. */
  sockets: Set<net.Socket>;
  udp: dgram.Socket[];
  dns: DnsServer;
}

export interface PodManagerOptions extends Omit<OutboundContext, 'pool' | 'egressNames'> {
  certs: CertProvider;
  /** The revoked SVIDs this proxy enforces at both ends of every tunnel (also from rejected versions). */
  revoked: () => RevokedSvids;
  /** The node proxy's one egress VIP table: every pod's DNS proxy allocates from it, outbound reads it. */
  egressVips: EgressVips;
  dnsUpstream?: DnsEndpoint;
  /** Called whenever the set of captured pods changes (the proxy recomputes wanted identities). */
  onPodsChanged: () => void;
  hboneLimits?: { handshakeTimeoutMs?: number };
}

export class PodManager implements EnrollHandler {
  private readonly pods = new Map<string, Captured>();
  /** Every pod whose listeners are (or may be) open, including while it is being added or released. */
  private readonly live = new Set<Captured>();
  private readonly log: Logger;
  /** What inbound.ts needs, with the registry of every open inbound connection of this node's pods. */
  private readonly inbound: InboundContext;

  constructor(private readonly opts: PodManagerOptions) {
    this.inbound = { state: opts.state, workloadOf: opts.workloadOf, telemetry: opts.telemetry, log: opts.log, open: new Set() };
    this.log = opts.log;
  }

  list(): EnrolledPod[] {
    return [...this.pods.values()].map((c) => c.pod);
  }

  async snapshot(pods: EnrolledPod[]): Promise<void> {
    const want = new Map(pods.map((p) => [podKey(p), p]));
    for (const [k, c] of this.pods) {
      const w = want.get(k);
      if (!w || w.ip !== c.pod.ip || w.netns !== c.pod.netns) await this.remove(c.pod);
    }
    // Every pod is tried: one that cannot be taken (a process squatting a proxy port while the
    // proxy was down) must not leave the pods after it without listeners.
    const failed: string[] = [];
    for (const p of pods) {
      if (this.pods.has(podKey(p))) continue;
      try {
        await this.add(p);
      } catch (err) {
        failed.push(`${podKey(p)}: ${(err as Error).message}`);
        this.log.error({ pod: podKey(p), err: (err as Error).message }, 'cannot capture pod; its rules (if any) stay and its traffic fails closed');
      }
    }
    if (failed.length > 0) throw new AmbitError('POD_CAPTURE_FAILED', `Cannot capture ${failed.length} of ${pods.length} pods: ${failed.join('; ')}`, { value: failed });
  }

  async add(pod: EnrolledPod): Promise<void> {
    const key = podKey(pod);
    const prev = this.pods.get(key);
    if (prev && prev.pod.ip === pod.ip && prev.pod.netns === pod.netns) return;
    if (prev) await this.remove(prev.pod);
    const egressZone = new EgressZone({ state: this.opts.state, vips: this.opts.egressVips, pod: key, log: this.log });
    const dns = new DnsServer({ zones: [new MeshZone(this.opts.state), egressZone], logger: this.log, ...(this.opts.dnsUpstream ? { upstream: this.opts.dnsUpstream } : {}) });
    const c: Captured = { pod, pool: new HbonePool({ logger: this.log, refusePeerCertificate: (certDer) => this.opts.revoked().check(certDer) }), servers: [], sockets: new Set(), udp: [], dns };
    // Open from the first listen to the last close: a revocation must reach its tunnels all along.
    this.live.add(c);
    try {
      // Listeners first, then rules: a captured connection must always find its listener.
      const ctx = { ...this.opts, pool: c.pool, egressNames: this.opts.egressVips };
      const outbound = net.createServer({ allowHalfOpen: true }, (s) => void handleOutbound(ctx, pod, s).catch((e: Error) => {
        s.destroy();
        this.log.error({ err: e.message }, 'outbound handler failed');
      }));
      c.servers.push(await listenInNetns(pod.netns, { host: '127.0.0.1', port: PORTS.outbound }, outbound));
      const plaintext = net.createServer({ allowHalfOpen: true }, (s) => {
        let port: number;
        try {
          port = originalDst(s).port;
        } catch (err) {
          this.log.warn({ pod: key, from: `${s.remoteAddress}:${s.remotePort}`, err: (err as Error).message }, 'inbound plaintext: no original destination; closing');
          return void s.destroy();
        }
        void handlePlaintext(this.inbound, pod, s, port).catch((e: Error) => {
          s.destroy();
          this.log.error({ err: e.message }, 'inbound plaintext handler failed');
        });
      });
      for (const srv of [outbound, plaintext]) {
        srv.on('connection', (sock: net.Socket) => {
          c.sockets.add(sock);
          sock.once('close', () => c.sockets.delete(sock));
        });
      }
      c.servers.push(await listenInNetns(pod.netns, { host: '0.0.0.0', port: PORTS.inboundPlaintext }, plaintext));
      c.hbone = await listenInNetns(pod.netns, { host: '0.0.0.0', port: PORTS.hbone }, this.hboneServer(pod));
      c.hbone.on('connection', (s: net.Socket) => s.setNoDelay(true));
      // Half-open kept: a client may send its query and FIN at once, and still wait for the answer.
      const tcpDns = net.createServer({ allowHalfOpen: true });
      c.servers.push(await listenInNetns(pod.netns, { host: '127.0.0.1', port: PORTS.dns }, tcpDns));
      c.dns.serveTcp(tcpDns);
      const udp = await udpSocketInNetns(pod.netns, { host: '127.0.0.1', port: PORTS.dns });
      c.udp.push(udp);
      c.dns.serveUdp(udp);
      await installCapture(pod.netns);
      // A tuning step, not a security one: without it the pod works, until its ports run out.
      await tunePodNetwork(pod.netns).catch((err: Error) => this.log.warn({ pod: key, err: err.message }, 'cannot tune the pod network (TIME_WAIT reuse); busy apps may run out of ports'));
    } catch (err) {
      await this.closeAll(c);
      this.live.delete(c);
      throw err;
    }
    this.pods.set(key, c);
    this.log.info({ pod: key, ip: pod.ip, netns: pod.netns }, 'pod captured: rules and listeners in place');
    this.opts.onPodsChanged();
  }

  async remove(p: { namespace: string; name: string }): Promise<void> {
    const key = podKey(p);
    const c = this.pods.get(key);
    if (!c) return;
    this.pods.delete(key);
    // The capture rules stay: with no listener behind them, whatever the pod's processes still
    // send is refused or dropped (fail closed) until the namespace goes, and the table with it, or
    // a node proxy takes the pod again (its install replaces the table in one transaction).
    // Deleting them opened the pod: a process that outlived its pod, or every pod while a node
    // proxy restarted gracefully, talked plaintext to anyone, and kept those flows afterwards.
    await this.closeAll(c);
    this.live.delete(c);
    this.log.info({ pod: key }, 'pod released: listeners closed, capture rules left in place (fail closed)');
    this.opts.onPodsChanged();
  }

  /**
   * The revocations or the trust bundle changed: closes every open tunnel connection, inbound or
   * outbound, whose peer proved a certificate that is revoked now or no longer chains to the
   * bundle. Returns how many it closed.
   */
  recheckRevoked(): number {
    let closed = 0;
    const roots = this.opts.certs.trustedRoots();
    for (const c of this.live) closed += (c.hbone?.recheck() ?? 0) + c.pool.recheck(roots);
    return closed;
  }

  /**
   * A new configuration was applied: every open inbound connection (tunnel or PERMISSIVE
   * plaintext) is decided again, and those now denied are closed. Returns how many it closed.
   */
  recheckPolicy(state: MeshState): number {
    return recheckInbound(this.inbound.open, state);
  }

  /** How many inbound connections are open (and so rechecked at each configuration change). */
  get openInbound(): number {
    return this.inbound.open.size;
  }

  async close(): Promise<void> {
    for (const c of [...this.pods.values()]) await this.remove(c.pod);
  }

  private hboneServer(pod: EnrolledPod): HboneServer {
    const identity = (): string | undefined => this.opts.state().workloadByName(pod.namespace, pod.name)?.identity;
    return createHboneServer({
      secureContext: () => podServerContext(identity(), (id) => this.opts.certs.current(id)),
      trustedRoots: () => this.opts.certs.trustedRoots(),
      refusePeerCertificate: (certDer) => this.opts.revoked().check(certDer),
      logger: this.log,
      ...(this.opts.hboneLimits ? { limits: this.opts.hboneLimits } : {}),
      // What the server refuses before any tunnel decision (a failed handshake, a bad request) is
      // counted and access-logged like the decisions acceptTunnel records itself.
      onRefused: (code, detail, context) => {
        if (context.decided) return;
        const id = identity();
        this.opts.telemetry.refuse({
          direction: 'inbound',
          ...inboundSource(this.opts.state(), context.peer),
          destinationWorkload: pod.name,
          destinationNamespace: pod.namespace,
          destinationPrincipal: id ? principalOf(id) : 'unknown',
          destinationAddress: context.authority ?? `${pod.ip}:${PORTS.hbone}`,
          ...(context.remote !== undefined ? { sourceAddress: context.remote } : {}),
          flag: HBONE_REFUSAL_FLAG[code],
          reason: `${code}: ${detail}`,
        });
      },
      onTunnel: async (t) => {
        const v = await acceptTunnel(this.inbound, pod, t.peer, t.authority);
        if (v.status !== 200) return { status: v.status, reason: v.reason };
        const up = v.upstream as net.Socket;
        up.once('close', () => v.close(up.bytesWritten, up.bytesRead));
        return { status: 200, upstream: up };
      },
    });
  }

  private async closeAll(c: Captured): Promise<void> {
    // Every socket in the pod's namespace must go, or the namespace (and its veth) outlives the pod.
    // Graceful first; a tunnel that does not end within the deadline must not hold up the release.
    for (const sock of c.sockets) sock.destroy();
    const drained = Promise.all([c.hbone?.drain(500), c.pool.close()]);
    await Promise.race([drained, new Promise((r) => setTimeout(r, 1500).unref())]);
    for (const s of c.servers) {
      (s as net.Server).close();
    }
    for (const u of c.udp) {
      try {
        u.close();
      } catch {
        /* already closed */
      }
    }
    await c.dns.close().catch(() => {});
  }
}

/** The response flag of a refusal the HBONE server made itself: the handshake's, or the request's. */
const HBONE_REFUSAL_FLAG: Record<RefusalCode, ResponseFlag> = {
  TLS_FAILURE: 'TLS_FAILURE', ALPN: 'TLS_FAILURE', HANDSHAKE_TIMEOUT: 'TLS_FAILURE',
  BAD_REQUEST: 'BAD_REQUEST', BAD_AUTHORITY: 'BAD_REQUEST', HEADERS_TOO_LARGE: 'BAD_REQUEST', TOO_MANY_STREAMS: 'BAD_REQUEST',
  DENY: 'DENY', UNREACHABLE: 'UNREACHABLE', UNRESPONSIVE: 'UNRESPONSIVE', REVOKED: 'REVOKED',
};

export type { MeshState };
