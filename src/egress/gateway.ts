// The egress gateway: the mesh's only way out. Node proxies bring each external connection here
// as an HBONE tunnel whose `:authority` names the external `host:port`, so the source identity is
// the one proven in mTLS. For each tunnel it reads the first bytes (SNI or Host), requires the
// name to be the tunnel's host, the registry (ServiceEntry + outboundTrafficPolicy) and the
// per-source AuthorizationPolicy to allow it, resolves the name itself (or takes the matched
// ServiceEntry's STATIC endpoints), refuses any answer in a forbidden range (SSRF), dials only
// that, then passes TLS through or originates TLS for plain HTTP. Every connection is audited,
// including those the HBONE server refuses before a tunnel exists and those over the per-source cap.
import { connect as netConnect } from 'node:net';
import type { SecureContext } from 'node:tls';
import { Registry } from 'prom-client';
import { isIPv4, type OutboundTrafficMode } from '../config/index.js';
import { AmbitError, showValue } from '../errors.js';
import { createHboneServer, formatAuthority, type HboneServer, type HboneServerLimits, type PeerCertificateCheck, type TunnelDecision, type TunnelRequest } from '../hbone/index.js';
import { createLogger, type Logger } from '../log.js';
import type { PolicyEvaluator, PolicyTarget } from '../policy/index.js';
import { EgressRegistry, egressAuthorize, type EgressServiceEntry } from './decision.js';
import { EgressConnection, type OpenedUpstream } from './egress-connection.js';
import type { FirstBytes } from './first-bytes.js';
import { checkUpstreamAddresses, forbiddenRanges, type ForbiddenRange } from './address-policy.js';
import { createEgressAudit, type EgressRecord } from './gateway-audit.js';
import { hboneRefusalAudit } from './hbone-refusals.js';
import { RequestHostGuard } from './host-guard.js';
import type { Resolver } from './resolve.js';
import { captureEgressAuthorities, parseEgressAuthority, type EgressAuthority } from './tunnel-authority.js';
import { dialTcp, originateTls, type Dialer } from './upstream.js';
import { upstreamTarget } from './upstream-target.js';

export interface OriginationSetting {
  /** PEM CA certificates the external server's chain must verify against (only these). */
  caBundlePem: string;
  /** Upstream TLS port when the matched ServiceEntry port names no targetPort; default 443. */
  port?: number;
}

export interface EgressGatewayLimits {
  maxFirstBytes: number;
  firstBytesTimeoutMs: number;
  maxClientHelloBytes: number;
  maxHeadBytes: number;
  connectTimeoutMs: number;
  /** Concurrent tunnels per verified source principal; beyond it EGRESS_SOURCE_LIMIT. */
  maxTunnelsPerSource: number;
  /** A relaying connection with no byte either way for this long is half-closed (0: never). */
  idleTimeoutMs: number;
}

export const DEFAULT_EGRESS_LIMITS: Readonly<EgressGatewayLimits> = Object.freeze({
  maxFirstBytes: 64 * 1024,
  firstBytesTimeoutMs: 10_000,
  maxClientHelloBytes: 16 * 1024,
  maxHeadBytes: 32 * 1024,
  connectTimeoutMs: 10_000,
  maxTunnelsPerSource: 256,
  idleTimeoutMs: 10 * 60_000,
});

export interface EgressGatewayOptions {
  /** The gateway's own SVID (createHboneContext) and the mesh roots, as for any HBONE server. */
  secureContext: () => SecureContext;
  trustedRoots: () => string[];
  /** Refuses a source certificate that chains to the roots all the same (a revoked node's SVID). */
  refusePeerCertificate: PeerCertificateCheck;
  /** Current ServiceEntries and mesh outboundTrafficPolicy mode. */
  serviceEntries: () => readonly EgressServiceEntry[];
  outboundTrafficPolicy: () => OutboundTrafficMode;
  /** Current AuthorizationPolicies, and the gateway workload they are evaluated for. */
  policy: () => PolicyEvaluator;
  /** A function when the gateway's labels come from the registry; throwing refuses the tunnel. */
  gatewayTarget: PolicyTarget | (() => PolicyTarget);
  /** Names the source pod for the audit line (verified principal, tunnel source address); never decides. */
  sourcePod?: (principal: string, address: string | undefined) => string;
  resolve: Resolver;
  /**
   * Ranges no upstream address may be in (address-policy.ts); read per connection, so the mesh's
   * pod and service CIDRs follow the configuration. Default: forbiddenRanges() (loopback,
   * link-local, multicast, reserved, ...; no mesh ranges: the caller knows them).
   */
  forbiddenUpstreams?: () => readonly ForbiddenRange[];
  /** Default: net.connect with allowHalfOpen. The lab passes one bound in the gateway's namespace. */
  connect?: Dialer;
  /** TLS origination per (canonical) host: plain HTTP in, verified TLS out. */
  originate?: Readonly<Record<string, OriginationSetting>> | ((host: string) => OriginationSetting | undefined);
  limits?: Partial<EgressGatewayLimits>;
  hboneLimits?: Partial<HboneServerLimits>;
  logger?: Logger;
  metrics?: Registry;
}

const defaultDialer: Dialer = (ip, port) => netConnect({ host: ip, port, allowHalfOpen: true, noDelay: true });

function refuse(code: string, why: string, path: string, value: unknown): never {
  throw new AmbitError(code, `Cannot allow egress: ${why}`, { path, value });
}

export function createEgressGateway(opts: EgressGatewayOptions): HboneServer {
  const limits: EgressGatewayLimits = { ...DEFAULT_EGRESS_LIMITS, ...opts.limits };
  const log = opts.logger ?? createLogger('egress-gateway');
  const audit = createEgressAudit(log, opts.metrics ?? new Registry());
  const connect = opts.connect ?? defaultDialer;
  const defaultForbidden = forbiddenRanges();
  const forbidden = opts.forbiddenUpstreams ?? (() => defaultForbidden);
  const refusals = hboneRefusalAudit(audit);
  /** Open tunnels per verified source principal (EGRESS_SOURCE_LIMIT). */
  const perSource = new Map<string, number>();
  const registries = new WeakMap<readonly EgressServiceEntry[], EgressRegistry>();
  const registryFor = (entries: readonly EgressServiceEntry[]): EgressRegistry => {
    let r = registries.get(entries);
    if (r === undefined) registries.set(entries, (r = new EgressRegistry(entries)));
    return r;
  };

  // Own keys only: a host named "constructor" must not find Object.prototype's.
  const originationFor = (host: string): OriginationSetting | undefined => {
    const o = opts.originate;
    if (typeof o === 'function') return o(host);
    return o !== undefined && Object.hasOwn(o, host) ? o[host] : undefined;
  };

  /** Every address of every name, in order; an IPv4 literal (a DNS endpoint) stands for itself. */
  const resolveAll = async (names: readonly string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const n of names) {
      if (isIPv4(n)) {
        out.push(n);
        continue;
      }
      try {
        out.push(...(await opts.resolve(n)));
      } catch (err) {
        throw err instanceof AmbitError ? err : new AmbitError('EGRESS_RESOLVE_FAILED', `Cannot resolve ${showValue(n)}: ${(err as Error).message}`, { path: 'host', value: n, cause: err });
      }
    }
    return out;
  };

  const decideAndDial = async (rec: EgressRecord, authority: EgressAuthority, first: FirstBytes): Promise<OpenedUpstream> => {
    const name = first.kind === 'tls' ? first.sni : first.host;
    if (first.kind === 'tls') rec.sni = first.sni;
    else rec.host = first.host;
    rec.mode = first.kind === 'tls' ? 'passthrough' : 'originate';
    const field = first.kind === 'tls' ? 'SNI' : 'Host';
    if (name !== authority.host) refuse('EGRESS_HOST_MISMATCH', `${field} ${showValue(name)} is not the tunnel's host ${showValue(authority.host)}`, field, name);
    if (first.kind === 'http' && first.head.port !== undefined && first.head.port !== authority.port) {
      refuse('EGRESS_HOST_MISMATCH', `Host port ${first.head.port} is not the tunnel's port ${authority.port}`, 'Host', first.head.port);
    }
    const registry = registryFor(opts.serviceEntries());
    const registered = registry.decide(opts.outboundTrafficPolicy(), authority);
    const entry = registered.serviceEntry === undefined ? undefined : registry.entry(registered.serviceEntry);
    if (registered.serviceEntry !== undefined) rec.serviceEntry = registered.serviceEntry;
    if (!registered.allowed) refuse('EGRESS_NOT_REGISTERED', registered.reason, 'host', name);
    const target = typeof opts.gatewayTarget === 'function' ? opts.gatewayTarget() : opts.gatewayTarget;
    const authz = egressAuthorize(opts.policy(), target, { principal: rec.source, host: name, port: authority.port });
    if (authz.policy !== undefined) rec.policy = authz.policy;
    if (!authz.allowed) refuse('EGRESS_POLICY_DENIED', `${rec.source} may not reach ${name}:${authority.port}: ${authz.reason}`, 'principal', rec.source);

    const origination = first.kind === 'http' ? originationFor(name) : undefined;
    if (first.kind === 'http') {
      if (origination === undefined) refuse('EGRESS_ORIGINATION_UNCONFIGURED', `plain HTTP to ${showValue(name)} needs TLS origination, and none is configured`, `originate.${name}`, undefined);
      const protocol = entry?.spec.ports.find((p) => p.number === authority.port)?.protocol;
      if (protocol !== 'HTTP') refuse('EGRESS_ORIGINATION_UNCONFIGURED', `TLS origination needs a ServiceEntry port ${authority.port} with protocol HTTP for ${showValue(name)}, found ${showValue(protocol ?? null)}`, 'serviceEntry.ports.protocol', protocol);
    }
    rec.reason = `${registered.reason}; ${authz.reason}`;

    const to = upstreamTarget({ host: name, port: authority.port, entry, ...(origination ? { originationPort: origination.port ?? 443 } : {}) });
    const addresses = to.addresses ?? (await resolveAll(to.names ?? []));
    rec.resolved = [...addresses];
    if (addresses.length === 0) refuse('EGRESS_RESOLVE_FAILED', `${showValue(name)} resolves to no address`, 'host', name);
    // Every answer, not only the one dialled: a name mixing a public and a forbidden address is refused.
    checkUpstreamAddresses(name, addresses, forbidden());
    const ip = addresses[0]!;
    rec.upstream = formatAuthority({ host: ip, port: to.port });
    const raw = await dialTcp(connect, ip, to.port, limits.connectTimeoutMs);
    if (origination === undefined) return { upstream: raw };
    const tls = await originateTls(raw, name, origination.caBundlePem, limits.connectTimeoutMs);
    return { upstream: tls, guard: new RequestHostGuard(name, authority.port) };
  };

  let originalAuthority: (t: TunnelRequest['stream']) => string | undefined = () => undefined;
  const server = createHboneServer({
    secureContext: opts.secureContext,
    trustedRoots: opts.trustedRoots,
    refusePeerCertificate: opts.refusePeerCertificate,
    ...(opts.hboneLimits ? { limits: opts.hboneLimits } : {}),
    logger: log,
    onRefused: (code, detail, context) => refusals.onRefused(code, detail, context),
    onTunnel: async (t) => {
      const started = performance.now();
      const rec: EgressRecord = {
        source: t.peer, authority: originalAuthority(t.stream) ?? formatAuthority(t.authority),
        ...(t.socket.remoteAddress ? { sourceAddress: t.socket.remoteAddress } : {}),
        bytesIn: 0, bytesOut: 0, durationMs: 0, verdict: 'refused', code: 'UNDECIDED', reason: '',
      };
      try {
        if (opts.sourcePod) {
          const pod = opts.sourcePod(t.peer, t.socket.remoteAddress);
          if (pod !== undefined) rec.sourcePod = pod;
        }
        return accept(t, rec, started);
      } catch (err) {
        // Whatever failed, the refusal is audited here, where the verified source and the
        // authority as sent are known (the HBONE server then answers 503 and skips its own audit).
        const reason = `Cannot accept egress tunnel: ${(err as Error).message}`;
        audit.record({ ...rec, code: 'EGRESS_INTERNAL', reason, durationMs: performance.now() - started });
        refusals.alreadyAudited(reason);
        return { status: 503, reason };
      }
    },
  });

  /** The tunnel's decision, once its record exists (synchronous: a throw is a refusal above). */
  const accept = (t: TunnelRequest, rec: EgressRecord, started: number): TunnelDecision => {
    let authority: EgressAuthority;
    try {
      authority = parseEgressAuthority(rec.authority);
    } catch (err) {
      audit.record({ ...rec, code: (err as AmbitError).code, reason: (err as Error).message, durationMs: performance.now() - started });
      refusals.alreadyAudited((err as Error).message);
      return { status: 400, reason: (err as Error).message };
    }
    const open = perSource.get(t.peer) ?? 0;
    if (open >= limits.maxTunnelsPerSource) {
      const reason = `Cannot accept egress tunnel: ${t.peer} already has ${open} open tunnels, limit ${limits.maxTunnelsPerSource} per source`;
      audit.record({ ...rec, code: 'EGRESS_SOURCE_LIMIT', reason, durationMs: performance.now() - started });
      refusals.alreadyAudited(reason);
      return { status: 503, reason };
    }
    perSource.set(t.peer, open + 1);
    let failure: Error | undefined;
    const conn = new EgressConnection({
      maxFirstBytes: limits.maxFirstBytes,
      firstBytesTimeoutMs: limits.firstBytesTimeoutMs,
      maxClientHelloBytes: limits.maxClientHelloBytes,
      maxHeadBytes: limits.maxHeadBytes,
      idleTimeoutMs: limits.idleTimeoutMs,
      open: (first) => decideAndDial(rec, authority, first),
    });
    conn.on('error', (err) => {
      failure ??= err;
    });
    conn.once('close', () => {
      const left = (perSource.get(t.peer) ?? 1) - 1;
      if (left > 0) perSource.set(t.peer, left);
      else perSource.delete(t.peer);
      rec.bytesIn = conn.bytesIn;
      rec.bytesOut = conn.bytesOut;
      rec.durationMs = performance.now() - started;
      if (conn.relaying) {
        rec.verdict = 'allowed';
        rec.code = 'ALLOWED';
        // A Host change on an originated connection is a refusal even after the first request.
        const code = (failure as AmbitError | undefined)?.code;
        if (code === 'EGRESS_PIPELINED_HOST' || code === 'EGRESS_HOST_MISMATCH' || code === 'EGRESS_HTTP_UPGRADE' || code?.startsWith('HTTP_')) {
          rec.verdict = 'refused';
          rec.code = code;
          rec.reason = failure!.message;
        } else if (conn.idleClosed !== undefined) rec.error = conn.idleClosed;
        else if (failure !== undefined) rec.error = failure.message;
      } else {
        rec.code = (failure as AmbitError | undefined)?.code ?? 'EGRESS_TUNNEL_CLOSED';
        rec.reason = failure?.message ?? 'Cannot route egress tunnel: the tunnel closed before a decision';
      }
      audit.record(rec);
    });
    return { status: 200, upstream: conn };
  };
  originalAuthority = captureEgressAuthorities(server);
  // After the authority swap is installed, so the audit sees the authority the client sent.
  refusals.attach(server);
  return server;
}
