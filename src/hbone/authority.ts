// The HBONE `:authority`: the destination pod's `IPv4:port` or `[IPv6]:port`, nothing else. Strict,
// because the node proxy dials what this returns: a hostname here would be a DNS lookup (and an
// egress hole) inside the data path.
import { isIPv4, isIPv6 } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import { canonicalHost } from '../config/hosts.js';

export interface TunnelAuthority {
  host: string;
  port: number;
}

const PORT = /^[1-9][0-9]{0,4}$/;

function bad(value: unknown, why: string): never {
  throw new AmbitError('HBONE_BAD_AUTHORITY', `Cannot parse :authority ${showValue(value)}: ${why}`, { path: ':authority', value });
}

export function parseAuthority(value: unknown): TunnelAuthority {
  if (typeof value !== 'string' || value.length === 0) bad(value, 'must be "IPv4:port" or "[IPv6]:port"');
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') bad(value, 'an IPv6 address must be written "[address]:port"');
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (!isIPv6(host) || host.includes('%')) bad(value, `${showValue(host)} is not an IPv6 address`);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) bad(value, 'the port is missing');
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (!isIPv4(host)) bad(value, `${showValue(host)} is not an IPv4 address (host names are not allowed)`);
  }
  if (!PORT.test(portText) || Number(portText) > 65535) bad(value, `port ${showValue(portText)} must be a number from 1 to 65535`);
  return { host, port: Number(portText) };
}

/**
 * The one other form, for egress tunnels only (a node proxy to the egress gateway, which resolves
 * the name itself): `dns-name:port` with a canonical DNS name (lower case, no trailing dot). No IP
 * literal (the client must not choose the address) and no wildcard. Never used by the server side
 * of pod tunnels, which keep parseAuthority.
 */
export function parseHostAuthority(value: unknown): TunnelAuthority {
  if (typeof value !== 'string' || value.length === 0) bad(value, 'must be "dns-name:port"');
  const colon = value.lastIndexOf(':');
  if (colon < 0) bad(value, 'the port is missing');
  const host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (host.startsWith('[') || isIPv4(host) || isIPv6(host)) bad(value, `${showValue(host)} is an IP address; an egress tunnel must name a host`);
  if (host.includes('*')) bad(value, `${showValue(host)} is a wildcard; an egress tunnel must name one host`);
  const canonical = canonicalHost(host);
  if (canonical === null) bad(value, `${showValue(host)} is not a valid DNS host name`);
  if (canonical !== host) bad(value, `${showValue(host)} is not in canonical form (write ${showValue(canonical)})`);
  if (!PORT.test(portText) || Number(portText) > 65535) bad(value, `port ${showValue(portText)} must be a number from 1 to 65535`);
  return { host, port: Number(portText) };
}

export function formatAuthority(a: TunnelAuthority): string {
  return isIPv6(a.host) ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
