// A stand-in for a public HTTPS site in the lab's "internet": it answers with what it saw (SNI,
// Host, path, peer address) under a server name, so egress tests can tell which host a client
// really reached and through which name.
import { type IncomingMessage, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type Logger, silentLogger } from '../log.js';
import type { RunningApp, TlsFiles } from './echo.js';
import { podName } from './echo.js';
import { type ListenAddress, closeGracefully, listenOn, trackConnections } from './listen.js';

export interface HttpsServerOptions {
  listen: ListenAddress;
  tls: TlsFiles;
  /** Reported as `server`; defaults like the echo's pod name. */
  name?: string;
  /** A plain-HTTP listener on the same host, e.g. 80. */
  httpPort?: number;
  logger?: Logger;
}

export interface SiteReport {
  server: string;
  tls: boolean;
  sni: string | null;
  alpn: string | null;
  host: string | null;
  method: string;
  path: string;
  peer: { address: string; port: number };
}

function report(name: string, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const s = req.socket as TLSSocket;
      const body: SiteReport = {
        server: name,
        tls: s.encrypted === true,
        sni: s.encrypted && typeof s.servername === 'string' ? s.servername : null,
        alpn: s.encrypted ? s.alpnProtocol || null : null,
        host: req.headers.host ?? null,
        method: req.method ?? '',
        path: req.url ?? '',
        peer: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
      };
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      log.info({ sni: body.sni, host: body.host, path: body.path, peer: body.peer.address }, 'request');
    });
  };
}

export async function startHttpsServer(opts: HttpsServerOptions): Promise<RunningApp> {
  const log = opts.logger ?? silentLogger();
  const name = podName(opts.name);
  const servers: Server[] = [];
  const listeners: Record<string, ListenAddress> = {};
  try {
    const tls = createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, ALPNProtocols: ['http/1.1'] }, report(name, log));
    trackConnections(tls);
    servers.push(tls);
    listeners.https = await listenOn(tls, opts.listen);
    if (opts.httpPort !== undefined) {
      const plain = createHttpServer(report(name, log));
      trackConnections(plain);
      servers.push(plain);
      listeners.http = await listenOn(plain, { host: opts.listen.host, port: opts.httpPort });
    }
  } catch (err) {
    await Promise.all(servers.filter((s) => s.listening).map((s) => closeGracefully(s, 0)));
    throw err;
  }
  log.info({ server: name, listeners }, 'https server listening');
  return { listeners, close: () => Promise.all(servers.map((s) => closeGracefully(s))).then(() => undefined) };
}
