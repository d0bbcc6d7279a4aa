// Outbound: a connection captured in a pod (15001) -> its original destination -> a mesh pod, a
// service VIP (one of its endpoints), or something outside the mesh -> an HBONE tunnel presenting
// the source pod's SVID to the destination's 15008, which must present the identity the registry
// expects for that destination (DESIGN.md invariant 3). Anything unexpected fails closed.
import type net from 'node:net';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HbonePool } from '../hbone/index.js';
import { connectFromNetns, originalDst } from '../sys/index.js';
import type { CertProvider } from './identity.js';
import type { MeshState, Workload } from './state.js';
import type { EnrolledPod } from './enroll.js';
import { PROXY_MARK, PORTS } from './redirect/rules.js';
import type { ResponseFlag, Telemetry } from './telemetry.js';
import { join, relay, type Relay } from './pipe.js';
import { principalOfUri as principalOf } from '../identity/index.js';

export interface OutboundContext {
  state: () => MeshState;
  /** Resolves to the pod's workload once the config has it (fails after a short wait). */
  workloadOf: (pod: EnrolledPod) => Promise<Workload>;
  certs: CertProvider;
  pool: HbonePool;
  telemetry: Telemetry;
  log: Logger;
}

/** Where a captured connection goes. */
export type Route =
  | { kind: 'mesh'; workload: Workload; ip: string; port: number; via: string }
  | { kind: 'passthrough'; ip: string; port: number }
  | { kind: 'refused'; flag: ResponseFlag; reason: string };

/** The routing decision, pure over the mesh state. */
export function route(state: MeshState, dst: { address: string; port: number }, pick: (n: number) => number = (n) => Math.floor(Math.random() * n)): Route {
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
  if (state.mesh.outboundTrafficPolicy.mode === 'REGISTRY_ONLY') {
    return { kind: 'refused', flag: 'NO_ROUTE', reason: `${dst.address}:${dst.port} is not in the mesh registry and outboundTrafficPolicy is REGISTRY_ONLY` };
  }
  return { kind: 'passthrough', ip: dst.address, port: dst.port };
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
  const r = route(ctx.state(), dst);
  const base = {
    direction: 'outbound' as const,
    sourceWorkload: src.name,
    sourceNamespace: src.namespace,
    sourcePrincipal: principalOf(src.identity),
    sourceAddress: `${client.remoteAddress}:${client.remotePort}`,
    destinationAddress: `${dst.address}:${dst.port}`,
  };
  if (r.kind === 'refused') {
    ctx.telemetry.refuse({ ...base, destinationWorkload: 'unknown', destinationNamespace: 'unknown', destinationPrincipal: 'unknown', flag: r.flag, reason: r.reason });
    return void client.destroy();
  }
  if (r.kind === 'passthrough') {
    const up = connectFromNetns(pod.netns, { host: r.ip, port: r.port, mark: PROXY_MARK, allowHalfOpen: true });
    const close = ctx.telemetry.open({ ...base, destinationWorkload: 'unknown', destinationNamespace: 'unknown', destinationPrincipal: 'unknown', reason: 'passthrough (ALLOW_ANY)' });
    const res = await join(client, up);
    return close({ bytesSent: res.aToB, bytesReceived: res.bToA, ...(res.error ? { flag: 'UPSTREAM_RESET' as const } : {}) });
  }
  const dstInfo = { destinationWorkload: r.workload.name, destinationNamespace: r.workload.namespace, destinationPrincipal: principalOf(r.workload.identity) };
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
      expectedIdentity: r.workload.identity,
      address: { host: r.ip, port: PORTS.hbone },
      authority: `${r.ip}:${r.port}`,
      connectSocket: () => connectFromNetns(pod.netns, { host: r.ip, port: PORTS.hbone, mark: PROXY_MARK }).setNoDelay(true),
      onStream: (s) => (early = relay(client, s)),
    });
  } catch (err) {
    early?.abort();
    const e = err as AmbitError;
    const flag: ResponseFlag =
      e.code === 'HBONE_DENIED' ? 'DENY' : e.code === 'HBONE_IDENTITY_MISMATCH' ? 'IDENTITY_MISMATCH' : e.code === 'HBONE_UNREACHABLE' ? 'UNREACHABLE' : e.code === 'HBONE_BAD_REQUEST' ? 'BAD_REQUEST' : 'TLS_FAILURE';
    ctx.telemetry.refuse({ ...base, ...dstInfo, flag, reason: e.message });
    return void client.destroy();
  }
  const close = ctx.telemetry.open({ ...base, ...dstInfo, reason: r.via });
  const res = await (early ?? relay(client, tunnel)).join();
  close({ bytesSent: res.aToB, bytesReceived: res.bToA, ...(res.error ? { flag: 'UPSTREAM_RESET' as const } : {}) });
}
