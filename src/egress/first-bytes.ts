// What the first bytes of an egress tunnel say: a TLS ClientHello (passthrough; the name is the
// SNI) or an HTTP/1 request head (plain HTTP for TLS origination; the name is Host). Pure: call
// again with more bytes until it stops answering "incomplete". Refusals throw AmbitError with
// the parser's code, or EGRESS_SNI_MISSING / EGRESS_HOST_MISSING when no name was sent.
import { AmbitError } from '../errors.js';
import { parseClientHello, DEFAULT_MAX_CLIENT_HELLO_BYTES } from './client-hello.js';
import { parseRequestHead, DEFAULT_MAX_HEAD_BYTES, type RequestHead } from './http-head.js';

const TLS_HANDSHAKE = 22;
/** The first byte of a TLS handshake record: what tells a ClientHello from an HTTP head. */
export const TLS_FIRST_BYTE = TLS_HANDSHAKE;

export type FirstBytes =
  | { kind: 'tls'; sni: string; alpn: string[] }
  | { kind: 'http'; host: string; head: RequestHead };

export interface FirstBytesLimits {
  maxClientHelloBytes?: number;
  maxHeadBytes?: number;
}

/**
 * What the first bytes of a tunnel are (a ClientHello with its SNI, or an HTTP head with its
 * Host), or how many more bytes it needs at least before it can say more (a TLS record or
 * handshake length says; 1 for an HTTP head, which ends at an LF in bytes yet to come).
 */
export function readFirstBytesOrNeed(buf: Buffer, limits: FirstBytesLimits = {}): FirstBytes | { need: number } {
  if (buf.length === 0) return { need: 1 };
  if (buf[0] === TLS_HANDSHAKE) {
    const hello = parseClientHello(buf, { maxBytes: limits.maxClientHelloBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES });
    if (hello.kind === 'incomplete') return { need: Math.max(1, hello.need) };
    if (hello.sni === undefined) {
      throw new AmbitError('EGRESS_SNI_MISSING', 'Cannot route egress TLS: the ClientHello has no server_name (SNI)', { path: 'clientHello.server_name' });
    }
    return { kind: 'tls', sni: hello.sni, alpn: hello.alpn };
  }
  const head = parseRequestHead(buf, { maxBytes: limits.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES });
  if (head.kind === 'incomplete') return { need: 1 };
  if (head.host === undefined) {
    throw new AmbitError('EGRESS_HOST_MISSING', `Cannot route egress HTTP: the ${head.version} request names no Host`, { path: 'headers.host' });
  }
  return { kind: 'http', host: head.host, head };
}

/** Why bytes that ended early cannot be classified (the client closed mid-message). */
export function truncatedError(buf: Buffer): AmbitError {
  const what = buf.length === 0 ? 'no bytes' : buf[0] === TLS_HANDSHAKE ? `a truncated ClientHello (${buf.length} bytes)` : `a truncated HTTP request head (${buf.length} bytes)`;
  return new AmbitError('EGRESS_FIRST_BYTES_TRUNCATED', `Cannot route egress tunnel: the client closed after ${what}`, { path: 'stream', value: buf.length });
}
