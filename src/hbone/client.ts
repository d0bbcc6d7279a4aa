// The HBONE client: a pool of HTTP/2-over-mTLS connections, one group per (source identity,
// expected destination identity, destination address), each carrying many CONNECT tunnels.
// A full TLS handshake costs ~2 ms of CPU (FIELD-NOTES), so tunnels share connections; a
// rotated source certificate (a new SecureContext) starts new connections, old ones drain.
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';
import { AmbitError, showValue } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { formatAuthority, parseAuthority, parseHostAuthority, type TunnelAuthority } from './authority.js';
import { DEFAULT_POOL_LIMITS, type HbonePoolLimits } from './limits.js';
import { chainAnchoredIn, verifyServerIdentity } from './peer.js';
import type { PeerCertificateCheck } from './revoked.js';
import { keepAlive } from './keepalive.js';
import { reserveSendBuffer } from './send-buffer.js';

export interface OpenTunnelRequest {
  /** The source workload's SPIFFE ID (its SVID is `secureContext`). */
  sourceIdentity: string;
  /** The source's SVID and the mesh roots, from createHboneContext; a new object means a rotated certificate. */
  secureContext: SecureContext;
  trustedRoots: string[];
  /** The destination must prove exactly this SPIFFE ID, or nothing is sent. */
  expectedIdentity: string;
  /** The destination node proxy's HBONE listener (port 15008). */
  address: TunnelAuthority;
  /** The destination pod's `IP:port` (or, with `hostAuthority`, the external `dns-name:port`). */
  authority: string;
  /**
   * An egress tunnel to the egress gateway: `authority` must then be `dns-name:port` (no IP
   * literal, no wildcard), and an `IP:port` is refused. Default false: `IP:port` only.
   */
  hostAuthority?: boolean;
  /** A socket already connecting to `address` (e.g. made in the source pod's namespace with a mark). */
  connectSocket?: () => Socket;
  /**
   * Called with the CONNECT stream as soon as it is sent, before the response: the caller may
   * write on it at once (early data, docs/hbone.md) instead of waiting a round trip for the 200.
   * The identity check has passed by then; a refusal still rejects open(), and the destination
   * discards what was sent early.
   */
  onStream?: (stream: ClientHttp2Stream) => void;
}

interface PooledSession {
  readonly session: ClientHttp2Session;
  /** `source|expected|address`, for the log. */
  readonly key: string;
  readonly context: SecureContext;
  readonly ready: Promise<void>;
  streams: number;
  usable: boolean;
  idle?: NodeJS.Timeout;
  /** When the destination's certificate expires (ms): no new tunnel rides the connection after it. */
  peerNotAfter: number;
}

const STATUS_ERRORS: Record<string, [code: string, why: string]> = {
  400: ['HBONE_BAD_REQUEST', 'the destination rejected the request as malformed (400)'],
  401: ['HBONE_DENIED', 'denied by policy at the destination (401)'],
  503: ['HBONE_UNREACHABLE', 'the destination workload is unreachable (503)'],
};

export class HbonePool {
  private readonly groups = new Map<string, PooledSession[]>();
  /**
   * Every session until it closes, reusable or not: one that got GOAWAY (or drains a rotated-out
   * certificate) leaves its group but still carries its tunnels, and a revocation must reach them.
   */
  private readonly alive = new Set<PooledSession>();
  private readonly limits: HbonePoolLimits;
  private readonly log: Logger;
  private readonly refuse: PeerCertificateCheck;

  /**
   * `refusePeerCertificate`: why a destination certificate that chains to the roots is refused all
   * the same (a revoked node's: RevokedSvids.check), or undefined. Asked at every handshake, and
   * for every pooled connection by recheck(). Required, so that no pool forgets revocations.
   */
  constructor(opts: { refusePeerCertificate: PeerCertificateCheck; limits?: Partial<HbonePoolLimits>; logger?: Logger }) {
    this.limits = { ...DEFAULT_POOL_LIMITS, ...opts.limits };
    this.log = opts.logger ?? createLogger('hbone-client');
    this.refuse = opts.refusePeerCertificate;
  }

  /** Opens a tunnel; resolves with the CONNECT stream once the destination answered 200. */
  async open(req: OpenTunnelRequest): Promise<ClientHttp2Stream> {
    try {
      if (req.hostAuthority === true) parseHostAuthority(req.authority);
      else parseAuthority(req.authority);
    } catch (err) {
      throw new AmbitError('HBONE_BAD_REQUEST', `Cannot open tunnel: ${(err as Error).message}`, { path: 'authority', value: req.authority, cause: err });
    }
    const pooled = this.acquire(req);
    try {
      await pooled.ready;
    } catch (err) {
      this.release(pooled);
      throw err;
    }
    return this.request(pooled, req);
  }

  /** Connections and open (or opening) tunnels, over all groups. */
  stats(): { sessions: number; streams: number } {
    let sessions = 0;
    let streams = 0;
    for (const p of this.alive) {
      if (p.session.destroyed) continue; // its 'close' is on its way
      sessions++;
      streams += p.streams;
    }
    return { sessions, streams };
  }

  /**
   * Asks refusePeerCertificate again for every pooled connection (the revocations changed) and,
   * given `trustedRoots` (the bundle changed), whether its peer still chains to them; closes at
   * once, tunnels and all, those it refuses now, so that nothing more is sent to a revoked or no
   * longer trusted node. Returns how many it closed.
   */
  recheck(trustedRoots?: readonly string[]): number {
    let closed = 0;
    for (const p of [...this.alive]) {
      const cert = (p.session.socket as TLSSocket | undefined)?.getPeerCertificate?.(true);
      if (cert?.raw === undefined) continue;
      const revoked = this.refuse(cert.raw);
      const untrusted = revoked === undefined && trustedRoots !== undefined && !chainAnchoredIn(cert, trustedRoots);
      if (revoked === undefined && !untrusted) continue;
      const why = revoked ?? 'its certificate no longer chains to the trusted roots';
      this.log.warn({ key: p.key, detail: why }, untrusted ? 'hbone connection to a destination no longer trusted closed' : 'hbone connection to a revoked destination closed');
      this.forget(p);
      this.alive.delete(p);
      p.session.destroy(new AmbitError(untrusted ? 'HBONE_UNTRUSTED_PEER' : 'HBONE_PEER_REVOKED', `HBONE connection closed: ${why}`));
      closed++;
    }
    return closed;
  }

  /** Stops reuse and closes each connection once its tunnels end (GOAWAY, no resets). */
  async close(): Promise<void> {
    const all = [...this.alive];
    this.groups.clear();
    await Promise.all(all.map((p) => new Promise<void>((resolve) => {
      clearTimeout(p.idle);
      if (p.session.closed || p.session.destroyed) return resolve();
      p.session.close(() => resolve());
    })));
  }

  private acquire(req: OpenTunnelRequest): PooledSession {
    const key = `${req.sourceIdentity}|${req.expectedIdentity}|${formatAuthority(req.address)}`;
    const now = Date.now();
    let pooled = this.groups.get(key)?.find((p) => p.usable && p.context === req.secureContext && p.peerNotAfter > now && p.streams < this.limits.maxStreamsPerSession);
    if (!pooled) {
      // Connected first: a dial that throws at once (EMFILE, the pod's namespace gone) leaves no empty group behind.
      pooled = this.connect(req, key);
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = []));
      group.push(pooled);
    }
    pooled.streams++;
    clearTimeout(pooled.idle);
    return pooled;
  }

  private release(p: PooledSession): void {
    p.streams--;
    if (p.streams > 0) return;
    // A connection on a rotated-out certificate has no future use: close it as soon as it drained.
    const stale = (this.groupOf(p)?.some((o) => o !== p && o.usable && o.context !== p.context) ?? false) || p.peerNotAfter <= Date.now();
    if (!p.usable || stale) {
      this.forget(p);
      if (!p.session.closed) p.session.close();
      return;
    }
    p.idle = setTimeout(() => {
      this.forget(p);
      p.session.close();
    }, this.limits.idleTimeoutMs);
    p.idle.unref();
  }

  private groupOf(p: PooledSession): PooledSession[] | undefined {
    for (const group of this.groups.values()) if (group.includes(p)) return group;
    return undefined;
  }

  private forget(p: PooledSession): void {
    p.usable = false;
    clearTimeout(p.idle);
    for (const [key, group] of this.groups) {
      const i = group.indexOf(p);
      if (i < 0) continue;
      group.splice(i, 1);
      if (group.length === 0) this.groups.delete(key);
    }
  }

  private connect(req: OpenTunnelRequest, key: string): PooledSession {
    const { host, port } = req.address;
    const limits = this.limits;
    const session = h2connect(`https://${formatAuthority(req.address)}`, {
      createConnection: () => {
        const socket: TLSSocket = tlsConnect({
          ...(req.connectSocket ? { socket: req.connectSocket() } : { host, port }),
          secureContext: req.secureContext,
          ALPNProtocols: ['h2'],
          minVersion: 'TLSv1.3',
          rejectUnauthorized: true,
          checkServerIdentity: verifyServerIdentity(req.expectedIdentity, req.trustedRoots, this.refuse),
        });
        socket.once('secureConnect', () => {
          if (socket.alpnProtocol !== 'h2') {
            socket.destroy(new AmbitError('HBONE_CONNECT_FAILED', `Cannot open tunnel: ${host}:${port} negotiated ALPN ${showValue(socket.alpnProtocol)}, not "h2"`));
            return;
          }
          // Before any DATA: the server may have a whole connection window outstanding.
          reserveSendBuffer(socket, limits.initialWindowSize, this.log);
          const notAfter = Date.parse(socket.getPeerCertificate().valid_to);
          if (Number.isFinite(notAfter)) pooled.peerNotAfter = notAfter;
        });
        return socket;
      },
      settings: { initialWindowSize: limits.initialWindowSize, enablePush: false },
      maxSessionMemory: limits.maxSessionMemoryMb,
    });
    const pooled: PooledSession = { session, key, context: req.secureContext, ready: Promise.resolve(), streams: 0, usable: true, peerNotAfter: Number.POSITIVE_INFINITY };
    this.alive.add(pooled);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy(new AmbitError('HBONE_CONNECT_FAILED', `Cannot open tunnel: no HBONE connection to ${host}:${port} within ${limits.connectTimeoutMs} ms`));
      }, limits.connectTimeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        try {
          session.setLocalWindowSize(limits.initialWindowSize);
        } catch (err) {
          this.log.debug({ err: (err as Error).message }, 'cannot raise connection window');
        }
        keepAlive(session, { intervalMs: limits.keepaliveIntervalMs, timeoutMs: limits.keepaliveTimeoutMs }, (detail) => {
          this.log.warn({ key, detail }, 'hbone connection unresponsive, closing');
          this.forget(pooled);
          session.destroy(new AmbitError('HBONE_PEER_UNRESPONSIVE', `HBONE connection to ${host}:${port} closed: ${detail}`));
        });
        resolve();
      });
      session.once('close', () => {
        clearTimeout(timer);
        reject(new AmbitError('HBONE_CONNECT_FAILED', `Cannot open tunnel: the HBONE connection to ${host}:${port} closed before it was ready`));
      });
      session.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err instanceof AmbitError ? err : new AmbitError('HBONE_CONNECT_FAILED', `Cannot open tunnel: HBONE connection to ${host}:${port} failed: ${err.code ?? err.message}`, { cause: err }));
      });
    });
    ready.catch(() => undefined);
    (pooled as { ready: Promise<void> }).ready = ready;
    session.on('error', (err) => this.log.debug({ key, err: err.message }, 'hbone session error'));
    session.on('goaway', () => this.forget(pooled));
    session.once('close', () => {
      this.forget(pooled);
      this.alive.delete(pooled);
    });
    return pooled;
  }

  private request(pooled: PooledSession, req: OpenTunnelRequest): Promise<ClientHttp2Stream> {
    let stream: ClientHttp2Stream;
    try {
      stream = pooled.session.request({ ':method': 'CONNECT', ':authority': req.authority }, { endStream: false });
    } catch (err) {
      this.release(pooled);
      return Promise.reject(new AmbitError('HBONE_CONNECT_FAILED', `Cannot open tunnel to ${req.authority}: ${(err as Error).message}`, { cause: err }));
    }
    stream.once('close', () => this.release(pooled));
    const settledP = new Promise<ClientHttp2Stream>((resolve, reject) => {
      let settled = false;
      const fail = (code: string, why: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new AmbitError(code, `Cannot open tunnel to ${req.authority} (${req.expectedIdentity}): ${why}`, { value: req.authority, cause }));
      };
      const timer = setTimeout(() => {
        fail('HBONE_CONNECT_FAILED', `no CONNECT response within ${this.limits.responseTimeoutMs} ms`);
        stream.close(constants.NGHTTP2_CANCEL);
      }, this.limits.responseTimeoutMs);
      stream.once('response', (headers) => {
        const status = String(headers[':status']);
        if (status === '200') {
          settled = true;
          clearTimeout(timer);
          resolve(stream);
          return;
        }
        const [code, why] = STATUS_ERRORS[status] ?? ['HBONE_CONNECT_FAILED', `the destination answered ${status}`];
        fail(code, why);
        // Finish our half too: END_STREAM, not a reset.
        stream.resume();
        stream.end();
      });
      stream.on('error', (err) => fail('HBONE_CONNECT_FAILED', (err as NodeJS.ErrnoException).code ?? err.message, err));
      stream.once('close', () => fail('HBONE_CONNECT_FAILED', `stream closed before a response (code ${stream.rstCode})`));
    });
    req.onStream?.(stream);
    return settledP;
  }
}
