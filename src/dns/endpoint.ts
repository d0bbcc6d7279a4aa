// `IP:PORT` endpoints as written in DNS configuration and on the command line, parsed in one place.
import { isIP } from 'node:net';
import { AmbitError, showValue } from '../errors.js';

export interface DnsEndpoint {
  host: string;
  port: number;
}

/** Parses `1.2.3.4:53` or `[::1]:53`; `path` names the field in errors. */
export function parseEndpoint(text: string, path: string): DnsEndpoint {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m ? (m[1] ?? m[2])! : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || isIP(host) === 0 || port < 1 || port > 65535) {
    throw new AmbitError('DNS_CONFIG_INVALID', `Cannot parse ${path}: ${showValue(text)} is not IP:PORT (e.g. 127.0.0.1:53 or [::1]:53)`, { path, value: text });
  }
  return { host, port };
}

export function formatEndpoint(e: DnsEndpoint): string {
  return isIP(e.host) === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
