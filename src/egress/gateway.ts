// The egress gateway: the mesh's only way out. Node proxies bring each external connection here
// as an HBONE tunnel whose `:authority` names the external `host:port`, so the source identity is
// the one proven in mTLS. For each tunnel it reads the first bytes (SNI or Host), requires the
// name to be the tunnel's host, the registry (ServiceEntry + outboundTrafficPolicy) and the
// per-source AuthorizationPolicy to allow it, resolves the name itself and dials only that,
// then passes TLS through or originates TLS for plain HTTP. Every connection is audited.
import { connect as netConnect } from 'node:net';
import type { SecureContext } from 'node:tls';
import { Registry } from 'prom-client';
import type { OutboundTrafficMode } from '../config/index.js';
import { AmbitError, showValue } from '../errors.js';
import { createHboneServer, formatAuthority, type HboneServer, type HboneServerLimits, type TunnelRequest } from '../hbone/index.js';
import { createLogger, type Logger } from '../log.js';
import type { PolicyEvaluator, PolicyTarget } from '../policy/index.js';
import { EgressRegistry, egressAuthorize, type EgressServiceEntry } from './decision.js';
import { EgressConnection, type OpenedUpstream } from './egress-connection.js';
import type { FirstBytes } from './first-bytes.js';
import { createEgressAudit, type EgressRecord } from './gateway-audit.js';
import { RequestHostGuard } from './host-guard.js';
import type { Resolver } from './resolve.js';
import { captureEgressAuthorities, parseEgressAuthority, type EgressAuthority } from './tunnel-authority.js';
import { dialTcp, originateTls, type Dialer } from './upstream.js';

export interface OriginationSetting {
  /** PEM CA certificates the external server's chain must verify against (only these). */
  caBundlePem: string;
  /** Upstream TLS port, default 443. */
  port?: number;
}

export interface EgressGatewayLimits {
  maxFirstBytes: number;
  firstBytesTimeoutMs: number;
  maxClientHelloBytes: number;
  maxHeadBytes: number;
  connectTimeoutMs: number;
}

export const DEFAULT_EGRESS_LIMITS: EgressGatewayLimits = {
  maxFirstBytes: 64 * 1024,
  firstBytesTimeoutMs: 10_000,
  maxClientHelloBytes: 16 * 1024,
  maxHeadBytes: 32 * 1024,
  connectTimeoutMs: 10_000,
};

export interface EgressGatewayOptions {
  /** The gateway's own SVID (createHboneContext) and the mesh roots, as for any HBONE server. */
  secureContext: () => SecureContext;
  trustedRoots: () => string[];
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

  /** The protocol a ServiceEntry (by `ns/name`) declares on `port`. */
  const portProtocol = (entries: readonly EgressServiceEntry[], id: string, port: number): string | undefined => {
    const entry = entries.find((e) => ('metadata' in e ? `${e.metadata.namespace ?? 'default'}/${e.metadata.name}` : `${e.namespace}/${e.name}`) === id);
    return entry?.spec.ports.find((p) => p.number === port)?.protocol;
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
    const entries = opts.serviceEntries();
    const registered = registryFor(entries).decide(opts.outboundTrafficPolicy(), authority);
    if (registered.serviceEntry !== undefined) rec.serviceEntry = registered.serviceEntry;
    if (!registered.allowed) refuse('EGRESS_NOT_REGISTERED', registered.reason, 'host', name);
    const target = typeof opts.gatewayTarget === 'function' ? opts.gatewayTarget() : opts.gatewayTarget;
    const authz = egressAuthorize(opts.policy(), target, { principal: rec.source, host: name, port: authority.port });
    if (authz.policy !== undefined) rec.policy = authz.policy;
    if (!authz.allowed) refuse('EGRESS_POLICY_DENIED', `${rec.source} may not reach ${name}:${authority.port}: ${authz.reason}`, 'principal', rec.source);

    const origination = first.kind === 'http' ? originationFor(name) : undefined;
    if (first.kind === 'http') {
      if (origination === undefined) refuse('EGRESS_ORIGINATION_UNCONFIGURED', `plain HTTP to ${showValue(name)} needs TLS origination, and none is configured`, `originate.${name}`, undefined);
      const protocol = registered.serviceEntry === undefined ? undefined : portProtocol(entries, registered.serviceEntry, authority.port);
      if (protocol !== 'HTTP') refuse('EGRESS_ORIGINATION_UNCONFIGURED', `TLS origination needs a ServiceEntry port ${authority.port} with protocol HTTP for ${showValue(name)}, found ${showValue(protocol ?? null)}`, 'serviceEntry.ports.protocol', protocol);
    }
    rec.reason = `${registered.reason}; ${authz.reason}`;

    let addresses: string[];
    try {
      addresses = await opts.resolve(name);
    } catch (err) {
      throw err instanceof AmbitError ? err : new AmbitError('EGRESS_RESOLVE_FAILED', `Cannot resolve ${showValue(name)}: ${(err as Error).message}`, { path: 'host', value: name, cause: err });
    }
    rec.resolved = [...addresses];
    if (addresses.length === 0) refuse('EGRESS_RESOLVE_FAILED', `${showValue(name)} resolves to no address`, 'host', name);
    const ip = addresses[0]!;
    const port = origination ? (origination.port ?? 443) : authority.port;
    rec.upstream = formatAuthority({ host: ip, port });
    const raw = await dialTcp(connect, ip, port, limits.connectTimeoutMs);
    if (origination === undefined) return { upstream: raw };
    const tls = await originateTls(raw, name, origination.caBundlePem, limits.connectTimeoutMs);
    return { upstream: tls, guard: new RequestHostGuard(name) };
  };

  let originalAuthority: (t: TunnelRequest['stream']) => string | undefined = () => undefined;
  const server = createHboneServer({
    secureContext: opts.secureContext,
    trustedRoots: opts.trustedRoots,
    ...(opts.hboneLimits ? { limits: opts.hboneLimits } : {}),
    logger: log,
    onTunnel: async (t) => {
      const started = performance.now();
      const rec: EgressRecord = {
        source: t.peer, authority: originalAuthority(t.stream) ?? formatAuthority(t.authority),
        ...(t.socket.remoteAddress ? { sourceAddress: t.socket.remoteAddress } : {}),
        ...(opts.sourcePod ? { sourcePod: opts.sourcePod(t.peer, t.socket.remoteAddress) } : {}),
        bytesIn: 0, bytesOut: 0, durationMs: 0, verdict: 'refused', code: 'UNDECIDED', reason: '',
      };
      let authority: EgressAuthority;
      try {
        authority = parseEgressAuthority(rec.authority);
      } catch (err) {
        audit.record({ ...rec, code: (err as AmbitError).code, reason: (err as Error).message, durationMs: performance.now() - started });
        return { status: 400, reason: (err as Error).message };
      }
      let failure: Error | undefined;
      const conn = new EgressConnection({
        maxFirstBytes: limits.maxFirstBytes,
        firstBytesTimeoutMs: limits.firstBytesTimeoutMs,
        maxClientHelloBytes: limits.maxClientHelloBytes,
        maxHeadBytes: limits.maxHeadBytes,
        open: (first) => decideAndDial(rec, authority, first),
      });
      conn.on('error', (err) => {
        failure ??= err;
      });
      conn.once('close', () => {
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
          } else if (failure !== undefined) rec.error = failure.message;
        } else {
          rec.code = (failure as AmbitError | undefined)?.code ?? 'EGRESS_TUNNEL_CLOSED';
          rec.reason = failure?.message ?? 'Cannot route egress tunnel: the tunnel closed before a decision';
        }
        audit.record(rec);
      });
      return { status: 200, upstream: conn };
    },
  });
  originalAuthority = captureEgressAuthorities(server);
  return server;
}
