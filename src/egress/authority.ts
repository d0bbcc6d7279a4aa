// `host[:port]` as it appears in a Host header, an absolute-form target or a CONNECT target,
// read into a canonical host name and an optional port. The host must be a DNS name (no IP
// literal, no userinfo, no IPv6 brackets): the egress gateway only lets names out, and resolves
// them itself.
import { canonicalHost, validateHost } from '../config/index.js';

export interface Authority {
  /** Canonical host: lower case, no trailing dot. */
  host: string;
  /** Undefined when the authority named no port. */
  port: number | undefined;
}

const PORT = /^[1-9][0-9]{0,4}$/;

/** Reads `host[:port]`; returns why it is invalid as a string, or the Authority. */
export function readAuthority(text: string): Authority | string {
  if (text === '') return 'must not be empty';
  if (text.includes('@')) return 'must not contain userinfo ("@")';
  if (text.startsWith('[')) return 'must be a DNS name, not an IP address';
  const colon = text.lastIndexOf(':');
  let name = text;
  let port: number | undefined;
  if (colon >= 0) {
    name = text.slice(0, colon);
    const digits = text.slice(colon + 1);
    if (!PORT.test(digits) || Number(digits) > 65535) return `port ${JSON.stringify(digits)} must be a number from 1 to 65535`;
    port = Number(digits);
  }
  const host = canonicalHost(name);
  if (host === null) {
    return hostProblem(name);
  }
  return { host, port };
}

/** Why canonicalHost refuses `text`, read the way it reads it (lower-cased, one trailing dot dropped). */
export function hostProblem(text: string): string {
  const lowered = text.toLowerCase();
  const candidate = lowered.endsWith('.') && !lowered.endsWith('..') ? lowered.slice(0, -1) : lowered;
  return validateHost(candidate, { wildcard: false }) ?? 'must be a DNS host name';
}
