// The egress tunnel's `:authority` names the EXTERNAL destination as `host:port` (a DNS name, so
// the gateway resolves it itself), while src/hbone accepts only `IP:port` (right for pod-to-pod
// tunnels). This module reads the egress form and adapts the HBONE server: before the server's
// own 'stream' handler runs, a host-name authority is swapped for a placeholder `0.0.0.0:<port>`
// and the name is kept here, keyed by the stream, for the gateway's onTunnel.
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import { canonicalHost } from '../config/index.js';
import { AmbitError, showValue } from '../errors.js';

export interface EgressAuthority {
  /** Canonical DNS name (lower case, no trailing dot). */
  host: string;
  port: number;
}

const PORT = /^[1-9][0-9]{0,4}$/;

/** Parses `dns-name:port`; refuses IP literals (the client must not choose the address). */
export function parseEgressAuthority(value: unknown): EgressAuthority {
  const bad = (why: string): never => {
    throw new AmbitError('EGRESS_BAD_AUTHORITY', `Cannot accept egress tunnel: :authority ${showValue(value)} ${why}`, { path: ':authority', value });
  };
  if (typeof value !== 'string' || value.length === 0) return bad('must be "host:port"');
  const colon = value.lastIndexOf(':');
  if (colon < 0) return bad('has no port');
  const rawHost = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (!PORT.test(portText) || Number(portText) > 65535) return bad(`has port ${showValue(portText)}, must be a number from 1 to 65535`);
  if (rawHost.startsWith('[') || isIP(rawHost) !== 0) return bad('names an IP address; egress tunnels must name a host');
  const host = canonicalHost(rawHost);
  if (host === null || host.startsWith('*')) return bad(`has host ${showValue(rawHost)}, which is not a valid DNS host name`);
  return { host, port: Number(portText) };
}

/** The placeholder host the HBONE server sees instead of a host name. */
export const PLACEHOLDER_HOST = '0.0.0.0';

/**
 * Installs the swap on `server` and returns a lookup for the original `:authority` of a stream.
 * Authorities that are not `something:port` are left alone, so the HBONE server refuses them (400).
 */
export function captureEgressAuthorities(server: Http2SecureServer): (stream: ServerHttp2Stream) => string | undefined {
  const originals = new WeakMap<ServerHttp2Stream, string>();
  server.prependListener('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const raw = headers[':authority'];
    if (headers[':method'] !== 'CONNECT' || typeof raw !== 'string') return;
    const m = /:([1-9][0-9]{0,4})$/.exec(raw);
    if (m === null || Number(m[1]) > 65535) return;
    originals.set(stream, raw);
    headers[':authority'] = `${PLACEHOLDER_HOST}:${m[1]}`;
  });
  return (stream) => originals.get(stream);
}
