// Test helper: one datagram to a DNS server and its first reply (or none), for raw bytes that a
// well-behaved client would never send.
import { createSocket } from 'node:dgram';
import type { DnsEndpoint } from '../../../src/dns/index.js';

/** Sends raw bytes in one datagram and returns the first reply, or null after `ms`. */
export function rawUdp(server: DnsEndpoint, bytes: Buffer, ms = 300): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); resolve(null); }, ms);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.send(bytes, server.port, server.host);
  });
}
