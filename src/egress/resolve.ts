// The gateway resolves the external name itself and dials only what it resolves to (DESIGN
// invariant 7: an allowed SNI sent to another IP must not get there). Resolution is a plain
// function so the lab can point it at its DNS server and tests can inject a test double.
// Answers are kept for their DNS TTL (capped), so a burst of new connections to one host costs
// one query, and a name that moves is followed within its TTL; failures are never cached.
import { isIPv4 } from 'node:net';
import { queryDns, RCODE, RR_TYPE, type DnsEndpoint } from '../dns/index.js';
import { AmbitError, showValue } from '../errors.js';

/** Resolves a DNS name to IPv4/IPv6 addresses; an empty list or a throw means unreachable. */
export type Resolver = (host: string) => Promise<string[]>;

export interface DnsResolverOptions {
  /** Per query, default 2000. */
  timeoutMs?: number;
  /** Longest an answer is kept, whatever its TTL says (default 30 s; 0 turns the cache off). */
  maxTtlSeconds?: number;
  /** Most names kept at once (default 10,000): a source naming endless hosts cannot grow it forever. */
  maxEntries?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

interface Cached {
  addresses: string[];
  expiresAt: number;
}

/** A Resolver asking `server` for A records (over UDP, one query per name per TTL). */
export function dnsResolver(server: DnsEndpoint, opts: DnsResolverOptions = {}): Resolver {
  const maxTtl = opts.maxTtlSeconds ?? 30;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Cached>();
  // Concurrent first connections to one name share one query.
  const inFlight = new Map<string, Promise<string[]>>();

  const maxEntries = opts.maxEntries ?? 10_000;
  /** Bounded: expired entries go first, then the oldest (Map order is insertion order). */
  const remember = (host: string, entry: Cached): void => {
    cache.delete(host);
    if (cache.size >= maxEntries) {
      const t = now();
      for (const [k, v] of cache) if (v.expiresAt <= t) cache.delete(k);
      while (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    }
    cache.set(host, entry);
  };

  const query = async (host: string): Promise<string[]> => {
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
    const records = reply.answers.flatMap((r) => (r.type === 'A' && isIPv4(r.address) ? [r] : []));
    const addresses = records.map((r) => r.address);
    const ttl = Math.min(maxTtl, ...reply.answers.map((r) => r.ttl));
    if (addresses.length > 0 && ttl > 0) remember(host, { addresses, expiresAt: now() + ttl * 1000 });
    return addresses;
  };

  return (host) => {
    const hit = cache.get(host);
    if (hit !== undefined) {
      if (hit.expiresAt > now()) return Promise.resolve([...hit.addresses]);
      cache.delete(host);
    }
    let pending = inFlight.get(host);
    if (pending === undefined) {
      pending = query(host).finally(() => inFlight.delete(host));
      inFlight.set(host, pending);
    }
    return pending.then((a) => [...a]);
  };
}
