// The gateway resolves the external name itself and dials only what it resolves to (DESIGN
// invariant 7: an allowed SNI sent to another IP must not get there). Resolution is a plain
// function so the lab can point it at its DNS server and tests can inject a test double.
import { isIPv4 } from 'node:net';
import { queryDns, RCODE, RR_TYPE, type DnsEndpoint } from '../dns/index.js';
import { AmbitError, showValue } from '../errors.js';

/** Resolves a DNS name to IPv4/IPv6 addresses; an empty list or a throw means unreachable. */
export type Resolver = (host: string) => Promise<string[]>;

/** A Resolver asking `server` for A records (over UDP, one query, `timeoutMs` default 2000). */
export function dnsResolver(server: DnsEndpoint, opts: { timeoutMs?: number } = {}): Resolver {
  return async (host) => {
    let reply;
    try {
      reply = await queryDns(server, host, RR_TYPE.A, { timeoutMs: opts.timeoutMs ?? 2000 });
    } catch (err) {
      throw new AmbitError('EGRESS_RESOLVE_FAILED', `Cannot resolve ${showValue(host)}: ${(err as Error).message}`, { path: 'host', value: host, cause: err });
    }
    if (reply.rcode !== RCODE.NOERROR) {
      throw new AmbitError('EGRESS_RESOLVE_FAILED', `Cannot resolve ${showValue(host)}: the DNS server answered rcode ${reply.rcode}`, { path: 'host', value: host });
    }
    // CNAME chains arrive as answers too: keep only the addresses.
    return reply.answers.flatMap((r) => (r.type === 'A' && isIPv4(r.address) ? [r.address] : []));
  };
}
