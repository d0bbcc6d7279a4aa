// Real ClientHellos for the tables: a plain TCP server on loopback records the first bytes that
// Node's TLS client (OpenSSL inside Node) or the `openssl s_client` binary sends, then drops the
// connection. The bytes are exactly what a real client puts on the wire.
import net from 'node:net';
import tls from 'node:tls';
import { spawn } from 'node:child_process';

async function captureFirstFlight(start: (port: number) => () => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let stop: (() => void) | undefined;
  const server = net.createServer();
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.on('connection', (sock) => {
        sock.on('data', (d: Buffer) => {
          chunks.push(d);
          const all = Buffer.concat(chunks);
          // A whole first record: 5-byte header + its length. Clients send the ClientHello in one.
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            sock.destroy();
            resolve(all);
          }
        });
        sock.on('error', () => {});
      });
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        stop = start((server.address() as net.AddressInfo).port);
      });
      setTimeout(() => reject(new Error('no ClientHello captured within 5 s')), 5000).unref();
    });
  } finally {
    stop?.();
    server.close();
  }
}

export interface NodeHelloOptions {
  servername?: string;
  ALPNProtocols?: string[];
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
}

/** The ClientHello that Node's `tls.connect` sends with these options. */
export function nodeClientHello(opts: NodeHelloOptions): Promise<Buffer> {
  return captureFirstFlight((port) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    sock.on('error', () => {});
    return () => sock.destroy();
  });
}

/** The ClientHello that `openssl s_client` sends; `args` adds flags like `-servername x`. */
export function opensslClientHello(args: string[]): Promise<Buffer> {
  return captureFirstFlight((port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    return () => child.kill('SIGKILL');
  });
}
