// The HBONE server: HTTP/2 CONNECT over mutual TLS 1.3 (ALPN h2), as opened by the node proxy on
// port 15008 inside a pod's namespace. It proves the destination's SVID, requires the source's,
// turns each CONNECT into one onTunnel decision, splices accepted tunnels and reports every
// refusal with a reason code. It never listens itself: the node proxy does, inside the pod.
import { constants, createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import { createLogger, type Logger } from '../log.js';
import { formatAuthority, parseAuthority, type TunnelAuthority } from './authority.js';
import { trackHandshakes } from './handshake-deadline.js';
import { keepAlive } from './keepalive.js';
import { DEFAULT_SERVER_LIMITS, headerListSize, type HboneServerLimits } from './limits.js';
import { chainAnchoredIn, peerIdentity } from './peer.js';
import type { PeerCertificateCheck } from './revoked.js';
import { spliceTunnel } from './splice.js';
import { reserveSendBuffer } from './send-buffer.js';

export type RefusalCode =
  | 'TLS_FAILURE' | 'ALPN' | 'HANDSHAKE_TIMEOUT' | 'BAD_REQUEST' | 'BAD_AUTHORITY'
  | 'DENY' | 'UNREACHABLE' | 'TOO_MANY_STREAMS' | 'HEADERS_TOO_LARGE' | 'UNRESPONSIVE' | 'REVOKED';

export type TunnelStatus = 200 | 400 | 401 | 503;

/** What the server knew of the refused party when it refused (whatever it had verified so far). */
export interface RefusalContext {
  /** The client's SPIFFE ID, once its certificate was verified (stream-level refusals). */
  peer?: string;
  /** The CONNECT authority as sent, when the refusal is about one stream. */
  authority?: string;
  /** The client's address, when the server has its socket. */
  remote?: string;
  /** Set when the refusal is onTunnel's own answer (whoever decided has recorded it already). */
  decided?: true;
}

export interface TunnelRequest {
  /** The source's SPIFFE ID, proven in the TLS handshake. */
  peer: string;
  authority: TunnelAuthority;
  stream: ServerHttp2Stream;
  socket: TLSSocket;
}

export interface TunnelDecision {
  status: TunnelStatus;
  reason?: string;
  /** Required with 200: the connection to the destination, spliced to the stream. */
  upstream?: Duplex;
}

export interface TunnelRecord {
  peer: string;
  authority: TunnelAuthority;
  status: TunnelStatus;
  reason?: string;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
}

export interface HboneServerOptions {
  /** The destination's SVID (built with createHboneContext); called per connection, so rotation takes effect for new connections. */
  secureContext: () => SecureContext;
  /** PEM roots the client's certificate must chain to. */
  trustedRoots: () => string[];
  /**
   * Why a client certificate that chains to the roots is refused all the same (its node or
   * credential was revoked: RevokedSvids.check), or undefined. Asked at every handshake, and for
   * every open connection by recheck(). Required, so that no server forgets revocations.
   */
  refusePeerCertificate: PeerCertificateCheck;
  onTunnel: (t: TunnelRequest) => Promise<TunnelDecision>;
  onClose?: (r: TunnelRecord) => void;
  onRefused?: (code: RefusalCode, detail: string, context: RefusalContext) => void;
  limits?: Partial<HboneServerLimits>;
  logger?: Logger;
}

export type HboneServer = Http2SecureServer & {
  /** GOAWAY to every connection, then destroys what is left after `deadlineMs`; stops listening. */
  drain(deadlineMs?: number): Promise<void>;
  /**
   * Asks refusePeerCertificate again for every open connection (the revocations changed), and
   * whether its peer still chains to trustedRoots (the bundle changed), and closes those refused
   * now, each reported as a REVOKED (or, untrusted, TLS_FAILURE) refusal. Returns how many it closed.
   */
  recheck(): number;
};

const REFUSAL_BY_STATUS: Record<Exclude<TunnelStatus, 200>, RefusalCode> = { 400: 'BAD_AUTHORITY', 401: 'DENY', 503: 'UNREACHABLE' };

export function createHboneServer(opts: HboneServerOptions): HboneServer {
  const limits: HboneServerLimits = { ...DEFAULT_SERVER_LIMITS, ...opts.limits };
  const log = opts.logger ?? createLogger('hbone-server');
  const refuse = (code: RefusalCode, detail: string, context: RefusalContext = {}): void => {
    log.warn({ reason: code, detail, ...context }, 'hbone refused');
    opts.onRefused?.(code, detail, context);
  };

  const server = createSecureServer({
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    allowHTTP1: false,
    minVersion: 'TLSv1.3',
    // Node's own timer is an inactivity timer (a trickling client resets it); ours is absolute.
    handshakeTimeout: limits.handshakeTimeoutMs * 4,
    unknownProtocolTimeout: 100,
    maxSessionMemory: limits.maxSessionMemoryMb,
    settings: {
      // nghttp2 refuses streams above its setting without telling us, so it gets twice the limit
      // as a hard cap and the limit itself is enforced (and reported) in the 'stream' handler.
      maxConcurrentStreams: 2 * limits.maxConcurrentStreams,
      // nghttp2 resets (silently) above this hard cap; between the two limits we answer 431 and log.
      maxHeaderListSize: Math.max(4 * limits.maxHeaderListSize, 64 * 1024),
      initialWindowSize: limits.initialWindowSize,
      enablePush: false,
    },
  }) as HboneServer;

  // Node has no public way to hand a ready SecureContext to a TLS server for connections without
  // SNI; tls.Server reads `_sharedCreds` for each new connection, so point it at the current SVID.
  server.prependListener('connection', (socket: Socket) => {
    (server as unknown as { _sharedCreds: SecureContext })._sharedCreds = opts.secureContext();
    reserveSendBuffer(socket, limits.initialWindowSize, log);
  });
  trackHandshakes(server, limits.handshakeTimeoutMs, (detail) => refuse('HANDSHAKE_TIMEOUT', detail));

  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (err.code === 'HBONE_HANDSHAKE_TIMEOUT') return; // already reported by the deadline
    const code: RefusalCode = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'HANDSHAKE_TIMEOUT'
      : /NO_APPLICATION_PROTOCOL|no application protocol/i.test(`${err.code} ${err.message}`) ? 'ALPN' : 'TLS_FAILURE';
    // Node verifies the client chain after OpenSSL's handshake and then destroys the socket
    // without an error, so the reason is on the socket, not in `err` (a bare ECONNRESET).
    const authz = (socket as TLSSocket & { authorizationError?: string }).authorizationError;
    const detail = authz ? `client certificate rejected: ${authz}` : `${err.code ?? 'ERROR'}: ${err.message.trim()}`;
    refuse(code, detail, { remote: socket.remoteAddress });
  });
  server.on('unknownProtocol', (socket: TLSSocket) => {
    refuse('ALPN', `client negotiated ${JSON.stringify(socket.alpnProtocol)}, only "h2" is served`, { remote: socket.remoteAddress });
    socket.destroy();
  });

  const sessions = new Set<ServerHttp2Session>();
  const peers = new WeakMap<ServerHttp2Session, string>();
  /** When each session's client certificate expires (ms): no new tunnel on it after that. */
  const peerNotAfter = new WeakMap<ServerHttp2Session, number>();
  // The last stream each session handed over ('stream'), and a stream the HTTP/2 layer began past
  // it at the last check. nghttp2 refuses some header blocks by itself and tells JS nothing: a
  // field over its 64 KB HPACK limit ends the session with GOAWAY(COMPRESSION_ERROR), after which
  // it stops reading the socket, so the connection would sit until the idle timeout even once the
  // client left. Such a session shows a processed stream ID past the last one handed over, and
  // keeps showing it; a header block merely split across reads catches up within a turn.
  const lastStream = new WeakMap<ServerHttp2Session, number>();
  const pendingSince = new WeakMap<ServerHttp2Session, { id: number; at: number }>();
  const checkHeaderBlocks = (): void => {
    const now = performance.now();
    for (const session of sessions) {
      if (session.destroyed) continue;
      const id = (session.state as { lastProcStreamID?: number }).lastProcStreamID ?? 0;
      if (id <= (lastStream.get(session) ?? 0)) {
        pendingSince.delete(session);
        continue;
      }
      const pending = pendingSince.get(session);
      if (pending?.id !== id) {
        pendingSince.set(session, { id, at: now });
        continue;
      }
      if (now - pending.at < limits.headerBlockTimeoutMs) continue;
      const remote = session.socket?.remoteAddress;
      refuse('BAD_REQUEST', `stream ${id} never reached the server: the HTTP/2 layer refused its header block (a field over 64 KB, or a malformed block) or it was not finished within ${limits.headerBlockTimeoutMs} ms; connection closed`, { peer: peers.get(session)!, ...(remote !== undefined ? { remote } : {}) });
      session.destroy();
    }
  };
  const headerBlockTimer = setInterval(checkHeaderBlocks, Math.max(10, limits.headerBlockTimeoutMs / 2));
  headerBlockTimer.unref();
  server.once('close', () => clearInterval(headerBlockTimer));
  const active = new WeakMap<ServerHttp2Session, number>();
  const idleTimers = new WeakMap<ServerHttp2Session, NodeJS.Timeout>();
  const armIdle = (session: ServerHttp2Session): void => {
    clearTimeout(idleTimers.get(session));
    const t = setTimeout(() => {
      log.debug({ peer: peers.get(session) }, 'hbone connection idle, closing');
      session.close();
    }, limits.idleTimeoutMs);
    t.unref();
    idleTimers.set(session, t);
  };

  server.on('session', (session: ServerHttp2Session) => {
    const socket = session.socket as TLSSocket;
    let peer: string;
    const cert = socket.getPeerCertificate(true);
    try {
      if (!chainAnchoredIn(cert, opts.trustedRoots())) throw new Error('the client certificate does not chain to the trusted roots');
      peer = peerIdentity(socket);
    } catch (err) {
      refuse('TLS_FAILURE', (err as Error).message, { remote: socket.remoteAddress });
      session.destroy();
      return;
    }
    const revoked = opts.refusePeerCertificate(cert.raw);
    if (revoked !== undefined) {
      refuse('REVOKED', `${peer}: ${revoked}`, { peer, ...(socket.remoteAddress !== undefined ? { remote: socket.remoteAddress } : {}) });
      session.destroy();
      return;
    }
    peers.set(session, peer);
    const notAfter = Date.parse(cert.valid_to);
    if (Number.isFinite(notAfter)) peerNotAfter.set(session, notAfter);
    active.set(session, 0);
    sessions.add(session);
    session.on('error', (err) => log.debug({ peer, err: err.message }, 'hbone session error'));
    session.once('close', () => {
      sessions.delete(session);
      clearTimeout(idleTimers.get(session));
    });
    try {
      session.setLocalWindowSize(limits.initialWindowSize);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'cannot raise connection window');
    }
    armIdle(session);
    keepAlive(session, { intervalMs: limits.keepaliveIntervalMs, timeoutMs: limits.keepaliveTimeoutMs }, (detail) => {
      const remote = socket.remoteAddress;
      refuse('UNRESPONSIVE', `${detail}; connection closed`, { peer, ...(remote !== undefined ? { remote } : {}) });
      session.destroy();
    });
  });

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    const session = stream.session as ServerHttp2Session;
    const peer = peers.get(session);
    if (peer === undefined) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    stream.on('error', () => undefined); // reported through 'close' and the splice result
    lastStream.set(session, Math.max(lastStream.get(session) ?? 0, stream.id ?? 0));
    if ((peerNotAfter.get(session) ?? Number.POSITIVE_INFINITY) <= Date.now()) {
      // The handshake proved the client until its certificate's end; a new tunnel needs a new one.
      const remote = session.socket?.remoteAddress;
      refuse('TLS_FAILURE', `${peer}: its certificate expired at ${new Date(peerNotAfter.get(session)!).toISOString()}; new tunnels need a new connection`, { peer, ...(remote !== undefined ? { remote } : {}) });
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      if (!session.closed) session.close();
      return;
    }
    const streamContext = (): RefusalContext => {
      const raw = headers[':authority'];
      const remote = session.socket?.remoteAddress;
      return { ...(typeof raw === 'string' ? { authority: raw } : {}), ...(remote !== undefined ? { remote } : {}) };
    };
    const reply = (status: number, code: RefusalCode, detail: string): void => {
      refuse(code, detail, { peer, ...streamContext() });
      if (!stream.destroyed) stream.respond({ ':status': status }, { endStream: true });
      stream.resume();
    };
    const size = headerListSize(rawHeaders);
    if (size > limits.maxHeaderListSize) return reply(431, 'HEADERS_TOO_LARGE', `request headers are ${size} bytes, limit ${limits.maxHeaderListSize}`);
    const open = (active.get(session) ?? 0) + 1;
    if (open > limits.maxConcurrentStreams) {
      refuse('TOO_MANY_STREAMS', `stream ${stream.id} would be number ${open} on one connection, limit ${limits.maxConcurrentStreams}`, { peer, ...streamContext() });
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    active.set(session, open);
    clearTimeout(idleTimers.get(session));
    stream.once('close', () => {
      const left = (active.get(session) ?? 1) - 1;
      active.set(session, left);
      if (left === 0 && !session.closed) armIdle(session);
    });
    if (headers[':method'] !== 'CONNECT') return reply(400, 'BAD_REQUEST', `method ${JSON.stringify(headers[':method'])} is not CONNECT`);
    if (headers[':protocol'] !== undefined) return reply(400, 'BAD_REQUEST', 'extended CONNECT (:protocol) is not HBONE');
    let authority: TunnelAuthority;
    try {
      authority = parseAuthority(headers[':authority']);
    } catch (err) {
      return reply(400, 'BAD_AUTHORITY', (err as Error).message);
    }
    void runTunnel({ peer, authority, stream, socket: session.socket as TLSSocket });
  });

  const runTunnel = async (t: TunnelRequest): Promise<void> => {
    const started = performance.now();
    let decision: TunnelDecision;
    // Whether a refusal is onTunnel's own answer; one made here for it (it threw, or accepted
    // without an upstream) is reported as the server's.
    let decided = false;
    try {
      decision = await opts.onTunnel(t);
      decided = decision.status !== 200;
      if (decision.status === 200 && !decision.upstream) decision = { status: 503, reason: 'onTunnel accepted without an upstream' };
    } catch (err) {
      decision = { status: 503, reason: `onTunnel failed: ${(err as Error).message}` };
    }
    const record = (status: TunnelStatus, reason: string | undefined, bytesIn: number, bytesOut: number): void => {
      opts.onClose?.({
        peer: t.peer, authority: t.authority, status, ...(reason !== undefined ? { reason } : {}),
        bytesIn, bytesOut, durationMs: performance.now() - started,
      });
    };
    const { stream } = t;
    if (decision.status !== 200) {
      const reason = decision.reason ?? `onTunnel answered ${decision.status}`;
      const remote = t.socket.remoteAddress;
      refuse(REFUSAL_BY_STATUS[decision.status] ?? 'UNREACHABLE', reason, { peer: t.peer, authority: formatAuthority(t.authority), ...(remote !== undefined ? { remote } : {}), ...(decided ? { decided: true as const } : {}) });
      if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': decision.status }, { endStream: true });
      stream.resume();
      record(decision.status, reason, 0, 0);
      return;
    }
    const upstream = decision.upstream!;
    if (stream.destroyed || stream.closed) {
      upstream.destroy();
      record(200, 'stream closed before the tunnel opened', 0, 0);
      return;
    }
    stream.respond({ ':status': 200 });
    const result = await spliceTunnel(stream, upstream);
    record(200, result.error ?? decision.reason, result.bytesIn, result.bytesOut);
  };

  // Every accepted socket, TLS done or not: drain's deadline must end even a connection whose
  // HTTP/2 session is wedged (a write that never completes keeps Node's socket open after the
  // session's destroy()).
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  server.drain = async (deadlineMs = 5000): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sessions) s.close();
    const timer = setTimeout(() => {
      for (const s of sessions) s.destroy();
      for (const socket of sockets) socket.destroy();
    }, deadlineMs);
    await closed;
    clearTimeout(timer);
  };

  server.recheck = (): number => {
    let closed = 0;
    for (const session of [...sessions]) {
      const socket = session.socket as TLSSocket | undefined;
      const cert = socket?.getPeerCertificate(true);
      if (cert?.raw === undefined) continue;
      const revoked = opts.refusePeerCertificate(cert.raw);
      // A root removed from the bundle cuts what it anchored, as a revocation does.
      const untrusted = revoked === undefined && !chainAnchoredIn(cert, opts.trustedRoots());
      if (revoked === undefined && !untrusted) continue;
      const peer = peers.get(session)!;
      const remote = socket?.remoteAddress;
      const why = revoked ?? 'its certificate no longer chains to the trusted roots';
      refuse(untrusted ? 'TLS_FAILURE' : 'REVOKED', `${peer}: ${why}; open connection closed`, { peer, ...(remote !== undefined ? { remote } : {}) });
      session.destroy();
      closed++;
    }
    return closed;
  };
  return server;
}

