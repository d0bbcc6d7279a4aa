// Outbound: a connection captured in a pod (15001) -> its original destination -> a mesh pod, a
// service VIP (one of its endpoints), or something outside the mesh -> an HBONE tunnel presenting
// the source pod's SVID to the destination's 15008, which must present the identity the registry
// expects for that destination (DESIGN.md invariant 3). Anything unexpected fails closed.
// External traffic (DESIGN invariant 7): when the mesh has an egress gateway, a connection to an
// egress VIP (handed out by the in-pod DNS proxy) goes over HBONE to the gateway, still with the
// source pod's SVID, with the NAME as `:authority`; any other outside address is refused.
import type net from 'node:net';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HbonePool } from '../hbone/index.js';
import { connectFromNetns, originalDst } from '../sys/index.js';
import type { CertProvider } from './identity.js';
import type { EgressGatewayEndpoint, MeshState, Workload } from './state.js';
import { EgressVips, type EgressNames } from './egress-vips.js';
import type { EnrolledPod } from './enroll.js';
import { PROXY_MARK, PORTS } from './redirect/rules.js';
import type { ResponseFlag, Telemetry } from './telemetry.js';
import { join, relay, type Relay } from './pipe.js';
import { principalOfUri as principalOf } from '../identity/index.js';
import { EGRESS_GATEWAY } from '../config/egress-gateway.js';

export interface OutboundContext {
  state: () => MeshState;
  /** Resolves to the pod's workload once the config has it (fails after a short wait). */
  workloadOf: (pod: EnrolledPod) => Promise<Workload>;
  certs: CertProvider;
  pool: HbonePool;
  /** The node proxy's egress VIP table (shared with the DNS proxies). */
  egressNames: EgressNames;
  telemetry: Telemetry;
  log: Logger;
}

/** Where a captured connection goes. */
export type Route =
  | { kind: 'mesh'; workload: Workload; ip: string; port: number; via: string }
  | { kind: 'egress'; name: string; port: number; vip: string; gateway: EgressGatewayEndpoint; identity: string; authority: string }
  | { kind: 'passthrough'; ip: string; port: number }
  /** `destination`: what to log as the destination when it is not the address dialled (an egress name). */
  | { kind: 'refused'; flag: ResponseFlag; reason: string; destination?: string };

export interface RouteOptions {
  /** Picks one of n endpoints (default: uniformly at random). */
  pick?: (n: number) => number;
  /** VIP -> name (default: a table that handed out nothing). */
  egress?: EgressNames;
}

const NO_EGRESS_NAMES: EgressNames = new EgressVips();

/** The routing decision, pure over the mesh state and the egress VIP table. */
export function route(state: MeshState, dst: { address: string; port: number }, opts: RouteOptions = {}): Route {
  const pick = opts.pick ?? ((n: number) => Math.floor(Math.random() * n));
  const egress = opts.egress ?? NO_EGRESS_NAMES;
  const w = state.workloadByIp(dst.address);
  if (w) return { kind: 'mesh', workload: w, ip: dst.address, port: dst.port, via: 'pod' };
  const svc = state.serviceByVip(dst.address);
  if (svc) {
    const sp = svc.ports.find((p) => p.port === dst.port && p.protocol === 'TCP');
    if (!sp) return { kind: 'refused', flag: 'NO_ROUTE', reason: `service ${svc.namespace}/${svc.name} has no TCP port ${dst.port}` };
    const eps = svc.endpoints.map((e) => ({ e, w: state.workloadByUid(e.workloadUid) })).filter((x) => x.w);
    if (eps.length === 0) return { kind: 'refused', flag: 'UNREACHABLE', reason: `service ${svc.namespace}/${svc.name} has no ready endpoints` };
    const chosen = eps[pick(eps.length)]!;
    return { kind: 'mesh', workload: chosen.w!, ip: chosen.e.ip, port: sp.targetPort, via: `service ${svc.namespace}/${svc.name}` };
  }
  if (state.inMeshRange(dst.address)) {
    // A mesh address this proxy does not know yet (its config is behind): never send it plaintext.
    return { kind: 'refused', flag: 'NO_ROUTE', reason: `${dst.address}:${dst.port} is in the mesh's address ranges but not in this proxy's configuration (yet)` };
  }
  if (egress.isEgressAddress(dst.address)) return routeEgress(state, dst, egress, pick);
  if (state.egressGateway) {
    // Never a raw external IP with a gateway, whatever the mode: the gateway must resolve the
    // name itself (a client that dials another IP for an allowed SNI reaches nothing).
    return {
      kind: 'refused', flag: 'NO_ROUTE',
      reason: `${dst.address}:${dst.port} is outside the mesh and external traffic leaves only through the egress gateway, which needs a host name: dial external hosts by name (resolved by the mesh's DNS), not by IP address`,
    };
  }
  if (state.mesh.outboundTrafficPolicy.mode === 'REGISTRY_ONLY') {
    return { kind: 'refused', flag: 'NO_ROUTE', reason: `${dst.address}:${dst.port} is not in the mesh registry and outboundTrafficPolicy is REGISTRY_ONLY` };
  }
  return { kind: 'passthrough', ip: dst.address, port: dst.port };
}

/** A connection to an egress VIP: back to its name, then to one gateway endpoint. */
function routeEgress(state: MeshState, dst: { address: string; port: number }, egress: EgressNames, pick: (n: number) => number): Route {
  const at = `${dst.address}:${dst.port}`;
  const gw = state.egressGateway;
  if (!gw) return { kind: 'refused', flag: 'NO_ROUTE', reason: `${at} is an egress address, but the mesh has no egress gateway (no Service ${EGRESS_GATEWAY.namespace}/${EGRESS_GATEWAY.service})` };
  const name = egress.nameOf(dst.address);
  if (name === undefined) {
    return { kind: 'refused', flag: 'NO_ROUTE', reason: `${at} is an egress address this node proxy did not hand out (it may have restarted since the name was resolved): resolve the host name again` };
  }
  // An early refusal only; the gateway decides (and audits) everything else, ports included.
  if (state.mesh.outboundTrafficPolicy.mode === 'REGISTRY_ONLY' && state.serviceEntryHosts.match(name) === undefined) {
    return { kind: 'refused', flag: 'NO_ROUTE', reason: `${name}:${dst.port} (egress address ${dst.address}) is no longer named by any ServiceEntry and outboundTrafficPolicy is REGISTRY_ONLY`, destination: `${name}:${dst.port}` };
  }
  if (gw.endpoints.length === 0) return { kind: 'refused', flag: 'UNREACHABLE', reason: `egress gateway ${gw.service} has no ready endpoint running as ${gw.identity}`, destination: `${name}:${dst.port}` };
  const gateway = gw.endpoints[pick(gw.endpoints.length)]!;
  return { kind: 'egress', name, port: dst.port, vip: dst.address, gateway, identity: gw.identity, authority: `${name}:${dst.port}` };
}

/** The HBONE hop of a tunnelled route: whom to dial, whom to expect, what to ask for. */
interface TunnelPlan {
  ip: string;
  workload: Workload;
  expectedIdentity: string;
  authority: string;
  reason: string;
}

function tunnelPlan(r: Extract<Route, { kind: 'mesh' | 'egress' }>): TunnelPlan {
  if (r.kind === 'mesh') return { ip: r.ip, workload: r.workload, expectedIdentity: r.workload.identity, authority: `${r.ip}:${r.port}`, reason: r.via };
  // The registry said this endpoint runs as the gateway; the handshake must prove it again.
  return { ip: r.gateway.ip, workload: r.gateway.workload, expectedIdentity: r.identity, authority: r.authority, reason: `egress via ${r.vip} to the egress gateway` };
}

export async function handleOutbound(ctx: OutboundContext, pod: EnrolledPod, client: net.Socket): Promise<void> {
  client.on('error', () => {});
  let dst: { address: string; port: number };
  try {
    dst = originalDst(client);
  } catch (err) {
    ctx.log.warn({ pod: `${pod.namespace}/${pod.name}`, err: (err as Error).message }, 'outbound connection without an original destination; closing it');
    return void client.destroy();
  }
  let src: Workload;
  try {
    src = await ctx.workloadOf(pod);
  } catch (err) {
    ctx.log.warn({ pod: `${pod.namespace}/${pod.name}`, err: (err as Error).message }, 'outbound connection from a pod the config does not know yet; closing it');
    return void client.destroy();
  }
  // Only captured connections belong here: one aimed at the listener itself (an app dialling
  // 127.0.0.1:15001) would otherwise be "passed through" back into the proxy, forever.
  if (dst.address.startsWith('127.') || dst.address === pod.ip || dst.address === '::1') {
    ctx.log.warn({ pod: `${pod.namespace}/${pod.name}`, dst }, 'refusing a connection aimed at the capture listener itself');
    return void client.destroy();
  }
  const r = route(ctx.state(), dst, { egress: ctx.egressNames });
  const base = {
    direction: 'outbound' as const,
    sourceWorkload: src.name,
    sourceNamespace: src.namespace,
    sourcePrincipal: principalOf(src.identity),
    sourceAddress: `${client.remoteAddress}:${client.remotePort}`,
    destinationAddress: `${dst.address}:${dst.port}`,
  };
  if (r.kind === 'refused') {
    if (r.destination !== undefined) base.destinationAddress = r.destination;
    ctx.telemetry.refuse({ ...base, destinationWorkload: 'unknown', destinationNamespace: 'unknown', destinationPrincipal: 'unknown', flag: r.flag, reason: r.reason });
    return void client.destroy();
  }
  if (r.kind === 'passthrough') {
    let up;
    try {
      up = connectFromNetns(pod.netns, { host: r.ip, port: r.port, mark: PROXY_MARK, allowHalfOpen: true });
    } catch (err) {
      // A dial that fails at once (EMFILE, the pod's namespace gone) is still an access line.
      ctx.telemetry.refuse({ ...base, destinationWorkload: 'unknown', destinationNamespace: 'unknown', destinationPrincipal: 'unknown', flag: 'UNREACHABLE', reason: `passthrough dial failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return void client.destroy();
    }
    const close = ctx.telemetry.open({ ...base, destinationWorkload: 'unknown', destinationNamespace: 'unknown', destinationPrincipal: 'unknown', reason: 'passthrough (ALLOW_ANY)' });
    const res = await join(client, up);
    return close({ bytesSent: res.aToB, bytesReceived: res.bToA, ...(res.error ? { flag: 'UPSTREAM_RESET' as const } : {}) });
  }
  const hop = tunnelPlan(r);
  const dstInfo = { destinationWorkload: hop.workload.name, destinationNamespace: hop.workload.namespace, destinationPrincipal: principalOf(hop.workload.identity) };
  // Egress: the access log names what the app asked for (`name:port`), not the VIP it dialled.
  if (r.kind === 'egress') base.destinationAddress = r.authority;
  let cred;
  try {
    cred = ctx.certs.current(src.identity) ?? (await ctx.certs.waitFor(src.identity, 5_000));
  } catch (err) {
    ctx.telemetry.refuse({ ...base, ...dstInfo, flag: 'NO_SVID', reason: (err as Error).message });
    return void client.destroy();
  }
  let tunnel;
  let early: Relay | undefined;
  try {
    tunnel = await ctx.pool.open({
      sourceIdentity: src.identity,
      secureContext: cred.secureContext,
      trustedRoots: ctx.certs.trustedRoots(),
      expectedIdentity: hop.expectedIdentity,
      address: { host: hop.ip, port: PORTS.hbone },
      authority: hop.authority,
      ...(r.kind === 'egress' ? { hostAuthority: true } : {}),
      connectSocket: () => connectFromNetns(pod.netns, { host: hop.ip, port: PORTS.hbone, mark: PROXY_MARK }).setNoDelay(true),
      onStream: (s) => (early = relay(client, s)),
    });
  } catch (err) {
    early?.abort();
    const e = err as AmbitError;
    const flag: ResponseFlag =
      e.code === 'HBONE_DENIED' ? 'DENY' : e.code === 'HBONE_IDENTITY_MISMATCH' ? 'IDENTITY_MISMATCH' : e.code === 'HBONE_UNREACHABLE' ? 'UNREACHABLE' : e.code === 'HBONE_BAD_REQUEST' ? 'BAD_REQUEST' : e.code === 'HBONE_PEER_REVOKED' ? 'REVOKED' : 'TLS_FAILURE';
    ctx.telemetry.refuse({ ...base, ...dstInfo, flag, reason: e.message });
    return void client.destroy();
  }
  const close = ctx.telemetry.open({ ...base, ...dstInfo, reason: hop.reason });
  const res = await (early ?? relay(client, tunnel)).join();
  close({ bytesSent: res.aToB, bytesReceived: res.bToA, ...(res.error ? { flag: 'UPSTREAM_RESET' as const } : {}) });
}
