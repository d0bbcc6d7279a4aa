// Host names as ServiceEntries and egress policies use them: the one home of "what is a valid
// host" and "does this pattern cover that host". The egress gateway's allow/deny decision rests
// on these few lines, so they are strict and deliberately small.
//
// Wildcards: `*` may only be the whole first label, followed by at least one more label.
// `*.example.com` covers `a.example.com` and `a.b.example.com` (any depth, as in Istio) but NOT
// `example.com` itself: list the apex separately if it is wanted. `*.com` is accepted, as Istio
// accepts it; it is broad, but it is what the operator wrote.
import { AmbitError, showValue } from '../errors.js';
import { ipv4Problem } from './net.js';

export const MAX_HOST_LENGTH = 253;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface HostRules {
  /** Allow a `*.` first label (default true). Endpoint addresses and concrete hosts say false. */
  wildcard?: boolean;
}

/** Why `host` is not a valid host name (or pattern), or null when it is valid. */
export function validateHost(host: string, rules: HostRules = {}): string | null {
  const wildcardAllowed = rules.wildcard ?? true;
  if (typeof host !== 'string') return 'must be a string';
  if (host === '') return 'must not be empty';
  if (host === '*') {
    return wildcardAllowed
      ? 'must not be "*" alone: that matches every host; name a domain, as in "*.example.com"'
      : 'must be a DNS name, not a wildcard';
  }
  if (host.length > MAX_HOST_LENGTH) return `must be at most ${MAX_HOST_LENGTH} characters (has ${host.length})`;
  if (/[A-Z]/.test(host)) return `host names must be lower case (write ${JSON.stringify(host.toLowerCase())})`;
  if (host.endsWith('.') && host.length > 1 && !host.endsWith('..')) {
    return `must not end with "." (write ${JSON.stringify(host.slice(0, -1))})`;
  }
  if (ipv4Problem(host) === null) return "must be a DNS name, not an IP address (put addresses in a ServiceEntry's spec.endpoints)";
  const labels = host.split('.');
  if (host.includes('*')) {
    if (!wildcardAllowed) return 'must be a DNS name, not a wildcard';
    const wellFormed = labels[0] === '*' && labels.length >= 2 && !host.slice(1).includes('*');
    if (!wellFormed) return 'may hold "*" only as the whole first label, as in "*.example.com"';
  }
  if (labels.some((l) => l === '')) return 'must not contain empty labels (a leading ".", a trailing "." or "..")';
  for (const label of wildcardAllowed && labels[0] === '*' ? labels.slice(1) : labels) {
    if (!LABEL.test(label)) {
      return `label ${JSON.stringify(label)} must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit`;
    }
  }
  return null;
}

export function isWildcardHost(pattern: string): boolean {
  return pattern.startsWith('*.');
}

/**
 * A concrete host as seen on the wire (SNI, Host header) in canonical form: lower case, one
 * trailing dot dropped (DNS names are case-insensitive and `a.com.` is `a.com`). Null when it is
 * not a valid concrete host name, so that nothing malformed can ever match a pattern.
 */
export function canonicalHost(host: string): string | null {
  if (typeof host !== 'string') return null;
  let h = host.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  return validateHost(h, { wildcard: false }) === null ? h : null;
}

/** True when `pattern` (exact or `*.suffix`) covers the concrete `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  const h = canonicalHost(host);
  if (h === null) return false;
  if (isWildcardHost(pattern)) {
    const suffix = pattern.slice(1); // ".example.com"
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return pattern === h;
}

/**
 * A set of host patterns answering "which pattern governs this host?": an exact entry beats
 * any wildcard, and a longer wildcard beats a shorter one (`*.api.example.com` over `*.example.com`).
 */
export class HostSet implements Iterable<string> {
  readonly #exact = new Set<string>();
  readonly #wildcards = new Set<string>();

  constructor(patterns: Iterable<string> = []) {
    for (const p of patterns) this.add(p);
  }

  /** Adds a pattern; throws INVALID_HOST naming it when it is not a valid host or wildcard. */
  add(pattern: string): this {
    const problem = validateHost(pattern);
    if (problem !== null) {
      throw new AmbitError('INVALID_HOST', `Cannot add host pattern: ${problem}, got ${showValue(pattern)}`, {
        value: pattern,
      });
    }
    (isWildcardHost(pattern) ? this.#wildcards : this.#exact).add(pattern);
    return this;
  }

  get size(): number {
    return this.#exact.size + this.#wildcards.size;
  }

  has(pattern: string): boolean {
    return this.#exact.has(pattern) || this.#wildcards.has(pattern);
  }

  /** The most specific pattern covering `host`, or undefined when none does. */
  match(host: string): string | undefined {
    const h = canonicalHost(host);
    if (h === null) return undefined;
    if (this.#exact.has(h)) return h;
    // Walk suffixes from longest to shortest: "*.b.example.com", "*.example.com", "*.com".
    let dot = h.indexOf('.');
    while (dot >= 0) {
      const candidate = `*${h.slice(dot)}`;
      if (this.#wildcards.has(candidate)) return candidate;
      dot = h.indexOf('.', dot + 1);
    }
    return undefined;
  }

  [Symbol.iterator](): Iterator<string> {
    return [...this.#exact, ...this.#wildcards][Symbol.iterator]();
  }
}
