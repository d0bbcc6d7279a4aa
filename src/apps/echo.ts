// The echo app that pods run in the lab: an HTTP/1.1 server that reports what it saw (peer and
// local addresses, request line, headers, body size, TLS SNI/ALPN) so tests can check what the mesh
// did to a connection, and a raw TCP echo for L4 tests.
import { type IncomingMessage, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { type Server, type Socket, createServer as createTcpServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { type Logger, silentLogger } from '../log.js';
import { type ListenAddress, closeGracefully, listenOn, trackConnections } from './listen.js';

export interface TlsFiles {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface EchoServerOptions {
  listen: ListenAddress;
  /** "http" (default) serves the JSON echo; "tcp" echoes raw bytes back. */
  mode?: 'http' | 'tcp';
  /** A second listener (same host) with a raw TCP echo. */
  tcpPort?: number;
  /** Terminate TLS on the main listener. */
  tls?: TlsFiles;
  /** Reported as `pod`; defaults to $POD_NAME, $HOSTNAME, then the host name. */
  name?: string;
  logger?: Logger;
}

export interface RunningApp {
  /** Bound addresses by role, e.g. { http: {...}, tcp: {...} }. */
  listeners: Record<string, ListenAddress>;
  close(): Promise<void>;
}

/** What the HTTP echo answers, as JSON. */
export interface EchoReport {
  pod: string;
  peer: { address: string; port: number };
  local: { address: string; port: number };
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  tls: { sni: string | null; alpn: string | null; protocol: string | null } | null;
}

export function podName(explicit?: string): string {
  return explicit ?? process.env.POD_NAME ?? process.env.HOSTNAME ?? hostname();
}

function tlsInfo(sock: Socket): EchoReport['tls'] {
  const t = sock as TLSSocket;
  if (!t.encrypted) return null;
  return { sni: typeof t.servername === 'string' ? t.servername : null, alpn: t.alpnProtocol || null, protocol: t.getProtocol() };
}

function echoHttp(pod: string, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => { bodyBytes += c.length; });
    req.on('end', () => {
      const s = req.socket;
      const report: EchoReport = {
        pod,
        peer: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
        local: { address: s.localAddress ?? '', port: s.localPort ?? 0 },
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        bodyBytes,
        tls: tlsInfo(s),
      };
      const body = JSON.stringify(report);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      log.debug({ peer: `${report.peer.address}:${report.peer.port}`, method: report.method, path: report.path }, 'echo request');
    });
  };
}

function echoBytes(log: Logger) {
  return (sock: Socket) => {
    sock.on('error', (err) => log.debug({ err: err.message }, 'tcp echo connection error'));
    sock.pipe(sock);
  };
}

export async function startEchoServer(opts: EchoServerOptions): Promise<RunningApp> {
  const log = opts.logger ?? silentLogger();
  const pod = podName(opts.name);
  const servers: Server[] = [];
  const listeners: Record<string, ListenAddress> = {};
  const tlsOpts = opts.tls ? { cert: opts.tls.cert, key: opts.tls.key, ALPNProtocols: ['http/1.1'] } : undefined;
  let main: Server;
  if ((opts.mode ?? 'http') === 'http') {
    main = tlsOpts ? createHttpsServer(tlsOpts, echoHttp(pod, log)) : createHttpServer(echoHttp(pod, log));
  } else {
    main = tlsOpts ? createTlsServer({ cert: tlsOpts.cert, key: tlsOpts.key }, echoBytes(log)) : createTcpServer(echoBytes(log));
  }
  const role = `${opts.mode ?? 'http'}${opts.tls ? 's' : ''}`;
  try {
    trackConnections(main);
    servers.push(main);
    listeners[role] = await listenOn(main, opts.listen);
    if (opts.tcpPort !== undefined) {
      const raw = createTcpServer(echoBytes(log));
      trackConnections(raw);
      servers.push(raw);
      listeners.tcp = await listenOn(raw, { host: opts.listen.host, port: opts.tcpPort });
    }
  } catch (err) {
    await Promise.all(servers.filter((s) => s.listening).map((s) => closeGracefully(s, 0)));
    throw err;
  }
  log.info({ pod, listeners }, 'echo listening');
  return { listeners, close: () => Promise.all(servers.map((s) => closeGracefully(s))).then(() => undefined) };
}
