// Inbound: an HBONE tunnel arrives on 15008 inside the destination pod's namespace. The peer's
// identity is the one proven by its client certificate (never an IP); the CONNECT authority must
// name this pod; AuthorizationPolicy decides on that identity; then the bytes go to the app.
// Plaintext on 15006 is accepted only when PeerAuthentication says PERMISSIVE.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { connectFromNetns } from '../sys/index.js';
import type { MeshState, Workload } from './state.js';
import type { EnrolledPod } from './enroll.js';
import { PORTS, PROXY_MARK } from './redirect/rules.js';

/** Tunnels never lead into the proxy's own in-pod listeners. */
const PROXY_PORTS = new Set<number>(Object.values(PORTS));
import type { Telemetry } from './telemetry.js';
import { join } from './pipe.js';
import { principalOfUri as principalOf } from '../identity/index.js';

export interface InboundContext {
  state: () => MeshState;
  workloadOf: (pod: EnrolledPod) => Promise<Workload>;
  telemetry: Telemetry;
  log: Logger;
  /** Every open inbound connection, asked again by recheckInbound when the configuration changes. */
  open: Set<OpenInbound>;
}

/** An inbound connection that is open: it can be decided again under a new configuration. */
export interface OpenInbound {
  /** Decides the connection again under `state`; closes it and returns the reason when it is denied now. */
  recheck(state: MeshState): string | undefined;
}

/**
 * Asks every open inbound connection again (a new configuration was applied): one that policy or
 * the mTLS mode would refuse now is closed, as ztunnel does, and access-logged with flag DENY and
 * the reason. Returns how many were closed.
 */
export function recheckInbound(open: Set<OpenInbound>, state: MeshState): number {
  let closed = 0;
  for (const c of [...open]) if (c.recheck(state) !== undefined) closed++;
  return closed;
}

/**
 * Registers an open connection whose verdict `decide` gives again under a new state (undefined:
 * still allowed); when it is refused the connection is cut with `cut`, and `cutReason` says why.
 */
function track(open: Set<OpenInbound>, decide: (state: MeshState) => string | undefined, cut: () => void): { cutReason: () => string | undefined; done: () => void; recheck: (state: MeshState) => void } {
  let reason: string | undefined;
  const entry: OpenInbound = {
    recheck(state) {
      if (reason !== undefined) return undefined;
      reason = decide(state);
      if (reason === undefined) return undefined;
      open.delete(entry);
      cut();
      return reason;
    },
  };
  open.add(entry);
  return { cutReason: () => reason, done: () => void open.delete(entry), recheck: (state) => void entry.recheck(state) };
}

/** The workload a pod is under `state` (its labels may have changed), or the one it was. */
const workloadNow = (state: MeshState, me: Workload): Workload => state.workloadByName(me.namespace, me.name) ?? me;

export type InboundVerdict = { status: 200; upstream: Duplex; close: (bytesIn: number, bytesOut: number) => void } | { status: 400 | 401 | 503; reason: string };

/** `spiffe://<td>/ns/<ns>/sa/<sa>` exactly (the only form the mesh CA issues to workloads). */
const WORKLOAD_ID = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/;

/** The namespace of a verified workload identity; undefined for any other SPIFFE ID. */
export const workloadNamespaceOf = (peer: string): string | undefined => WORKLOAD_ID.exec(peer)?.[1];

/** How telemetry names the source of an inbound connection: its verified identity (if any yet) and that identity's workload. */
export function inboundSource(state: MeshState, peer: string | undefined): { sourceWorkload: string; sourceNamespace: string; sourcePrincipal: string } {
  if (peer === undefined) return { sourceWorkload: 'unknown', sourceNamespace: 'unknown', sourcePrincipal: 'unknown' };
  return {
    sourceWorkload: state.workloadWithIdentity(peer)?.name ?? 'unknown',
    sourceNamespace: workloadNamespaceOf(peer) ?? 'unknown',
    sourcePrincipal: principalOf(peer),
  };
}

/** Decides one tunnel: authority, identity-based policy, then the app's socket. */
export async function acceptTunnel(ctx: InboundContext, pod: EnrolledPod, peer: string, authority: { host: string; port: number }): Promise<InboundVerdict> {
  const principal = principalOf(peer);
  const state = ctx.state();
  const base = {
    direction: 'inbound' as const,
    ...inboundSource(state, peer),
    destinationAddress: `${authority.host}:${authority.port}`,
  };
  let me: Workload;
  try {
    me = await ctx.workloadOf(pod);
  } catch (err) {
    ctx.telemetry.refuse({ ...base, destinationWorkload: pod.name, destinationNamespace: pod.namespace, destinationPrincipal: 'unknown', flag: 'UNREACHABLE', reason: (err as Error).message });
    return { status: 503, reason: 'destination workload not known yet' };
  }
  const dst = { destinationWorkload: me.name, destinationNamespace: me.namespace, destinationPrincipal: principalOf(me.identity) };
  // Policy reads the source namespace from the identity: one that is not a workload's has none,
  // and must not be decided as if it were in a namespace called "unknown".
  if (workloadNamespaceOf(peer) === undefined) {
    const reason = `peer identity ${peer} is not a workload identity (/ns/<namespace>/sa/<service-account>)`;
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'DENY', reason });
    return { status: 401, reason };
  }
  if (authority.host !== pod.ip) {
    const reason = `CONNECT authority ${authority.host}:${authority.port} does not name this pod (${pod.ip})`;
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'BAD_REQUEST', reason });
    return { status: 400, reason };
  }
  if (PROXY_PORTS.has(authority.port)) {
    const reason = `CONNECT authority ${authority.host}:${authority.port} names a port of the node proxy itself`;
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'BAD_REQUEST', reason });
    return { status: 400, reason };
  }
  const authorize = (s: MeshState) => {
    const w = workloadNow(s, me);
    return s.authz.authorize({ namespace: w.namespace, labels: w.labels }, { principal, namespace: base.sourceNamespace, port: authority.port }, { layer: 'L4' });
  };
  const d = authorize(state);
  if (!d.allowed) {
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'DENY', reason: d.reason, ...(d.policy ? { policy: d.policy } : {}) });
    return { status: 401, reason: d.reason };
  }
  const upstream = await dialApp(pod, authority.port);
  if ('error' in upstream) {
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'UNREACHABLE', reason: upstream.error });
    return { status: 503, reason: upstream.error };
  }
  const close = ctx.telemetry.open({ ...base, ...dst, ...(d.policy ? { policy: d.policy } : {}), reason: d.reason });
  // Decided again whenever the configuration changes: a policy that denies it now closes it.
  const live = track(ctx.open, (next) => {
    const again = authorize(next);
    return again.allowed ? undefined : `open connection closed: the configuration changed and it is ${again.reason}`;
  }, () => upstream.sock.destroy());
  // A version applied while the app was being dialled was not put to this connection yet.
  if (ctx.state() !== state) live.recheck(ctx.state());
  return {
    status: 200,
    upstream: upstream.sock,
    close: (bytesIn, bytesOut) => {
      live.done();
      const cut = live.cutReason();
      close({ bytesSent: bytesIn, bytesReceived: bytesOut, ...(cut !== undefined ? { flag: 'DENY' as const, reason: cut } : {}) });
    },
  };
}

/** Plaintext captured on 15006: allowed only under PERMISSIVE, and then without any identity. */
export async function handlePlaintext(ctx: InboundContext, pod: EnrolledPod, client: net.Socket, originalPort: number): Promise<void> {
  client.on('error', () => {});
  const base = { direction: 'inbound' as const, sourceWorkload: 'unknown', sourceNamespace: 'unknown', sourcePrincipal: 'none (plaintext)', sourceAddress: `${client.remoteAddress}:${client.remotePort}`, destinationAddress: `${pod.ip}:${originalPort}` };
  let me: Workload;
  try {
    me = await ctx.workloadOf(pod);
  } catch {
    return void client.destroy();
  }
  const state = ctx.state();
  const dst = { destinationWorkload: me.name, destinationNamespace: me.namespace, destinationPrincipal: principalOf(me.identity) };
  if (PROXY_PORTS.has(originalPort)) {
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'BAD_REQUEST', reason: `plaintext to port ${originalPort} of the node proxy itself` });
    return void client.destroy();
  }
  const authorize = (s: MeshState) => {
    const w = workloadNow(s, me);
    return s.authz.authorize({ namespace: w.namespace, labels: w.labels }, { port: originalPort }, { layer: 'L4' });
  };
  if (state.mtlsMode(me) !== 'PERMISSIVE') {
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'DENY', reason: 'plaintext refused: mTLS mode is STRICT' });
    return void client.destroy();
  }
  const d = authorize(state);
  if (!d.allowed) {
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'DENY', reason: d.reason });
    return void client.destroy();
  }
  const up = await dialApp(pod, originalPort);
  if ('error' in up) {
    ctx.telemetry.refuse({ ...base, ...dst, flag: 'UNREACHABLE', reason: up.error });
    return void client.destroy();
  }
  const close = ctx.telemetry.open({ ...base, ...dst, reason: 'plaintext (PERMISSIVE)' });
  // Decided again whenever the configuration changes: STRICT now, or a policy that denies it, closes it.
  const live = track(ctx.open, (next) => {
    if (next.mtlsMode(workloadNow(next, me)) !== 'PERMISSIVE') return 'open plaintext connection closed: the mTLS mode is STRICT now';
    const again = authorize(next);
    return again.allowed ? undefined : `open plaintext connection closed: the configuration changed and it is ${again.reason}`;
  }, () => {
    client.destroy();
    up.sock.destroy();
  });
  if (ctx.state() !== state) live.recheck(ctx.state());
  const res = await join(client, up.sock);
  live.done();
  const cut = live.cutReason();
  close({ bytesSent: res.aToB, bytesReceived: res.bToA, ...(cut !== undefined ? { flag: 'DENY' as const, reason: cut } : {}) });
}

/** Connects to the app inside its pod, marked so that the capture rules let it through. */
function dialApp(pod: EnrolledPod, port: number): Promise<{ sock: net.Socket } | { error: string }> {
  return new Promise((resolve) => {
    let sock: net.Socket;
    try {
      sock = connectFromNetns(pod.netns, { host: pod.ip, port, mark: PROXY_MARK, allowHalfOpen: true }).setNoDelay(true);
    } catch (err) {
      return resolve({ error: `cannot reach the app on ${pod.ip}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
    sock.once('connect', () => resolve({ sock }));
    sock.once('error', (err) => resolve({ error: `cannot reach the app on ${pod.ip}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
  });
}
