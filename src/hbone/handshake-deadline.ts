// An absolute deadline for the TLS handshake of each accepted connection. Node's own
// `handshakeTimeout` is an inactivity timer, so a slow-loris client trickling one byte of its
// ClientHello at a time would keep a socket for minutes; this one counts from the TCP accept.
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { AmbitError } from '../errors.js';

const keyOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string => `${s.remoteAddress}|${s.remotePort}`;

export function trackHandshakes(server: TlsServer, deadlineMs: number, onTimeout: (detail: string) => void): void {
  // The raw socket and the TLSSocket Node wraps around it are two objects; the peer's address
  // and port name one live connection on one listener, so they join the two.
  const pending = new Map<string, NodeJS.Timeout>();
  server.prependListener('connection', (raw: Socket) => {
    const key = keyOf(raw);
    const timer = setTimeout(() => {
      pending.delete(key);
      onTimeout(`TLS handshake from ${raw.remoteAddress}:${raw.remotePort} not finished within ${deadlineMs} ms`);
      raw.destroy(new AmbitError('HBONE_HANDSHAKE_TIMEOUT', `Cannot accept HBONE connection: TLS handshake not finished within ${deadlineMs} ms`));
    }, deadlineMs);
    pending.set(key, timer);
    raw.once('close', () => {
      clearTimeout(timer);
      if (pending.get(key) === timer) pending.delete(key);
    });
  });
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const key = keyOf(socket);
    clearTimeout(pending.get(key));
    pending.delete(key);
  });
}
