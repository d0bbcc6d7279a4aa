// Dialing the external destination, always at an address the gateway resolved: plain TCP for
// TLS passthrough (the client's own TLS goes through untouched), or TLS that the gateway itself
// starts for origination, verified against the configured CA bundle AND the host name.
import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, createSecureContext, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { AmbitError, showValue } from '../errors.js';

/** Opens a TCP connection (created with `allowHalfOpen: true`), e.g. bound in the gateway's namespace. */
export type Dialer = (ip: string, port: number) => Socket;

/** Waits until `socket` is connected; fails with EGRESS_UPSTREAM_FAILED. */
export function dialTcp(connect: Dialer, ip: string, port: number, timeoutMs: number): Promise<Socket> {
  if (isIP(ip) === 0) {
    return Promise.reject(new AmbitError('EGRESS_UPSTREAM_FAILED', `Cannot dial upstream: ${showValue(ip)} is not an IP address`, { path: 'ip', value: ip }));
  }
  return new Promise((resolve, reject) => {
    const socket = connect(ip, port);
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new AmbitError('EGRESS_UPSTREAM_FAILED', `Cannot dial upstream ${ip}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { path: 'upstream', value: `${ip}:${port}`, cause: err }));
    };
    socket.once('error', fail);
    const ready = (): void => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    };
    if (socket.readyState === 'open') ready();
    else socket.once('connect', ready);
  });
}

/** One SecureContext per CA bundle, reused (a context per connection costs milliseconds, FIELD-NOTES). */
const contexts = new Map<string, SecureContext>();
function originationContext(caBundlePem: string): SecureContext {
  let ctx = contexts.get(caBundlePem);
  if (ctx === undefined) {
    if (!caBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AmbitError('EGRESS_ORIGINATION_INVALID', 'Cannot originate TLS: caBundlePem holds no PEM certificate', { path: 'originate.caBundlePem' });
    }
    // `ca` replaces Node's public roots: only the configured bundle is trusted.
    ctx = createSecureContext({ ca: caBundlePem, minVersion: 'TLSv1.2' });
    contexts.set(caBundlePem, ctx);
  }
  return ctx;
}

/** Starts TLS over `raw` with SNI `host`; resolves once the chain and the name are verified. */
export function originateTls(raw: Socket, host: string, caBundlePem: string, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let tls: TLSSocket;
    try {
      tls = tlsConnect({
        socket: raw,
        servername: host,
        secureContext: originationContext(caBundlePem),
        rejectUnauthorized: true,
        ALPNProtocols: ['http/1.1'],
        checkServerIdentity: (name: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
      });
    } catch (err) {
      raw.destroy();
      reject(err);
      return;
    }
    const timer = setTimeout(() => fail(new Error(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      tls.destroy();
      raw.destroy();
      reject(new AmbitError('EGRESS_UPSTREAM_UNTRUSTED', `Cannot originate TLS to ${showValue(host)}: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.replace('  ', ' '), { path: 'upstream.certificate', value: host, cause: err }));
    };
    tls.once('error', fail);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.off('error', fail);
      resolve(tls);
    });
  });
}
