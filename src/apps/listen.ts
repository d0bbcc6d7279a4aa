// Where an app listens and how it stops listening: `--listen IP:PORT` or `--port N` (all
// addresses), and a close that lets in-flight requests finish before dropping idle keep-alives.
import type { Server as HttpServer } from 'node:http';
import { type AddressInfo, type Server, type Socket, isIP } from 'node:net';
import { AmbitError, showValue } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** A port number from the command line; `path` names the flag in errors. */
export function parsePort(text: string | number, path: string): number {
  const n = typeof text === 'number' ? text : /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot parse ${path}: ${showValue(text)} is not a port number (0-65535)`, { path, value: text });
  }
  return n;
}

/** `--listen IP:PORT` wins over `--port N`; one of them is required. */
export function listenAddress(opts: { listen?: string; port?: string | number }, flag = '--port'): ListenAddress {
  if (opts.listen !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(opts.listen);
    const host = m ? (m[1] ?? m[2])! : '';
    if (!m || isIP(host) === 0) {
      throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot parse --listen: ${showValue(opts.listen)} is not IP:PORT`, { path: '--listen', value: opts.listen });
    }
    return { host, port: parsePort(m[3]!, '--listen') };
  }
  if (opts.port === undefined) {
    throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot start: one of --listen IP:PORT or ${flag} N is required`, { path: flag });
  }
  return { host: '0.0.0.0', port: parsePort(opts.port, flag) };
}

export function listenOn(server: Server, at: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({ host: a.address, port: a.port });
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to `graceMs`, then drops what is left. */
export function closeGracefully(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const http = server as Partial<HttpServer>;
    const timer = setTimeout(() => {
      http.closeAllConnections?.();
      for (const s of trackedSockets(server)) s.destroy();
    }, graceMs);
    timer.unref();
    server.close(() => { clearTimeout(timer); resolve(); });
    http.closeIdleConnections?.();
  });
}

const sockets = new WeakMap<Server, Set<Socket>>();

/** Remembers a raw server's connections so closeGracefully can end them at the deadline. */
export function trackConnections(server: Server): void {
  const set = new Set<Socket>();
  sockets.set(server, set);
  server.on('connection', (s) => { set.add(s); s.on('close', () => set.delete(s)); });
  server.on('secureConnection', (s) => { set.add(s); s.on('close', () => set.delete(s)); });
}

function trackedSockets(server: Server): Socket[] {
  return [...(sockets.get(server) ?? [])];
}
