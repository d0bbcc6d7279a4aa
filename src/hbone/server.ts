// The HBONE server: HTTP/2 CONNECT over mutual TLS 1.3 (ALPN h2), as opened by the node proxy on
// port 15008 inside a pod's namespace. It proves the destination's SVID, requires the source's,
// turns each CONNECT into one onTunnel decision, splices accepted tunnels and reports every
// refusal with a reason code. It never listens itself: the node proxy does, inside the pod.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type SecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { createLogger, type Logger } from '../log.js';
import { formatAuthority, parseAuthority, type TunnelAuthority } from './authority.js';
import { ErrorCode, H2Session, type H2Stream, type IncomingStream } from './h2/index.js';
import { trackHandshakes } from './handshake-deadline.js';
import { keepAlive } from './keepalive.js';
import { DEFAULT_SERVER_LIMITS, type HboneServerLimits } from './limits.js';
import { chainAnchoredIn, peerIdentity } from './peer.js';
import { spliceTunnel } from './splice.js';
import { reserveSendBuffer } from './send-buffer.js';

export type RefusalCode =
  | 'TLS_FAILURE' | 'ALPN' | 'HANDSHAKE_TIMEOUT' | 'BAD_REQUEST' | 'BAD_AUTHORITY'
  | 'DENY' | 'UNREACHABLE' | 'TOO_MANY_STREAMS' | 'HEADERS_TOO_LARGE' | 'UNRESPONSIVE';

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
  stream: H2Stream;
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
  onTunnel: (t: TunnelRequest) => Promise<TunnelDecision>;
  onClose?: (r: TunnelRecord) => void;
  onRefused?: (code: RefusalCode, detail: string, context: RefusalContext) => void;
  limits?: Partial<HboneServerLimits>;
  logger?: Logger;
}

/**
 * A TLS server speaking HBONE. Besides tls.Server's own events it emits, for observers such as the
 * egress audit: 'session' (H2Session) once a client's certificate is verified, 'stream'
 * (H2Stream, headers) for each request before the server acts on it (a listener put first may
 * rewrite `headers`), and 'unknownProtocol' (TLSSocket) for a handshake without ALPN h2.
 */
export type HboneServer = TlsServer & {
  /** GOAWAY to every connection, then destroys what is left after `deadlineMs`; stops listening. */
  drain(deadlineMs?: number): Promise<void>;
};

const REFUSAL_BY_STATUS: Record<Exclude<TunnelStatus, 200>, RefusalCode> = { 400: 'BAD_AUTHORITY', 401: 'DENY', 503: 'UNREACHABLE' };

export function createHboneServer(opts: HboneServerOptions): HboneServer {
  const limits: HboneServerLimits = { ...DEFAULT_SERVER_LIMITS, ...opts.limits };
  const log = opts.logger ?? createLogger('hbone-server');
  const refuse = (code: RefusalCode, detail: string, context: RefusalContext = {}): void => {
    log.warn({ reason: code, detail, ...context }, 'hbone refused');
    opts.onRefused?.(code, detail, context);
  };

  const server = createTlsServer({
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.3',
    // Node's own timer is an inactivity timer (a trickling client resets it); ours is absolute.
    handshakeTimeout: limits.handshakeTimeoutMs * 4,
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

  const sessions = new Set<H2Session>();
  const idleTimers = new WeakMap<H2Session, NodeJS.Timeout>();
  const armIdle = (session: H2Session, peer: string): void => {
    clearTimeout(idleTimers.get(session));
    const t = setTimeout(() => {
      log.debug({ peer }, 'hbone connection idle, closing');
      session.close();
    }, limits.idleTimeoutMs);
    t.unref();
    idleTimers.set(session, t);
  };

  server.on('secureConnection', (socket: TLSSocket) => {
    socket.on('error', (err) => log.debug({ err: err.message }, 'hbone connection error'));
    if (socket.alpnProtocol !== 'h2') {
      // A client that offered no ALPN at all gets through the handshake; one offering only others does not (tlsClientError).
      server.emit('unknownProtocol', socket);
      refuse('ALPN', `client negotiated ${JSON.stringify(socket.alpnProtocol)}, only "h2" is served`, { remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    let peer: string;
    try {
      if (!chainAnchoredIn(socket.getPeerCertificate(true), opts.trustedRoots())) throw new Error('the client certificate does not chain to the trusted roots');
      peer = peerIdentity(socket);
    } catch (err) {
      refuse('TLS_FAILURE', (err as Error).message, { remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    const remote = socket.remoteAddress;
    const where = { peer, ...(remote !== undefined ? { remote } : {}) };
    const session = new H2Session(socket, 'server', {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      initialWindowSize: limits.initialWindowSize,
      maxHeaderListSize: limits.maxHeaderListSize,
      headerBlockTimeoutMs: limits.headerBlockTimeoutMs,
      maxBufferedBytes: limits.maxSessionMemoryMb * 1024 * 1024,
    });
    sessions.add(session);
    server.emit('session', session);
    session.on('protocolError', (_code: number, message: string) => refuse('BAD_REQUEST', `${message}; connection closed`, where));
    session.on('streamError', (id: number, _code: number, message: string) => log.debug({ peer, stream: id, err: message }, 'hbone stream error'));
    session.on('streamRefused', (id: number, why: string) => refuse('TOO_MANY_STREAMS', `stream ${id} refused: ${why} on one connection`, where));
    session.once('close', () => {
      sessions.delete(session);
      clearTimeout(idleTimers.get(session));
    });
    session.on('streamClosed', () => {
      if (session.streamCount === 0 && !session.closed) armIdle(session, peer);
    });
    armIdle(session, peer);
    keepAlive(session, { intervalMs: limits.keepaliveIntervalMs, timeoutMs: limits.keepaliveTimeoutMs }, (detail) => {
      refuse('UNRESPONSIVE', `${detail}; connection closed`, where);
      session.destroy(ErrorCode.NO_ERROR, 'keepalive PING unanswered');
    });
    session.on('stream', (incoming: IncomingStream) => {
      server.emit('stream', incoming.stream, incoming.headers);
      onStream(session, peer, incoming);
    });
  });

  const onStream = (session: H2Session, peer: string, { stream, headers, listSize, oversized }: IncomingStream): void => {
    stream.on('error', () => undefined); // reported through 'close' and the splice result
    clearTimeout(idleTimers.get(session));
    const streamContext = (): RefusalContext => {
      const raw = headers[':authority'];
      const remote = session.socket.remoteAddress;
      return { ...(typeof raw === 'string' ? { authority: raw } : {}), ...(remote !== undefined ? { remote } : {}) };
    };
    const reply = (status: number, code: RefusalCode, detail: string): void => {
      refuse(code, detail, { peer, ...streamContext() });
      if (!stream.destroyed) stream.respond(status, {}, { endStream: true });
      stream.resume();
    };
    if (oversized) return reply(431, 'HEADERS_TOO_LARGE', `request headers are ${listSize} bytes, limit ${limits.maxHeaderListSize}`);
    if (headers[':method'] !== 'CONNECT') return reply(400, 'BAD_REQUEST', `method ${JSON.stringify(headers[':method'])} is not CONNECT`);
    if (headers[':protocol'] !== undefined) return reply(400, 'BAD_REQUEST', 'extended CONNECT (:protocol) is not HBONE');
    let authority: TunnelAuthority;
    try {
      authority = parseAuthority(headers[':authority']);
    } catch (err) {
      return reply(400, 'BAD_AUTHORITY', (err as Error).message);
    }
    void runTunnel({ peer, authority, stream, socket: session.socket as TLSSocket });
  };

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
      if (!stream.destroyed && stream.awaitingResponse) stream.respond(decision.status, {}, { endStream: true });
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
    stream.respond(200);
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
  return server;
}

