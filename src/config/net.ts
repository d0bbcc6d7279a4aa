// IPv4 addresses and CIDR blocks as plain numbers: validation of `clusterIP`, `podCIDR`,
// `serviceCIDR` and pod-IP annotations, and the arithmetic that the lab's IPAM needs. Only IPv4:
// the lab is IPv4-only, and a half-supported IPv6 would be a silent hole.
import { AmbitError, showValue } from '../errors.js';

/** An IPv4 CIDR block; `base` is the network address as an unsigned 32-bit number. */
export interface Cidr {
  base: number;
  prefix: number;
  /** Number of addresses in the block (2^(32-prefix)). */
  size: number;
}

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** Why `text` is not a dotted-quad IPv4 address, or null when it is one. No leading zeros (octal ambiguity). */
export function ipv4Problem(text: string): string | null {
  const parts = text.split('.');
  if (parts.length !== 4) return 'must be an IPv4 address of four decimal octets, like "10.0.0.1"';
  for (const part of parts) {
    if (!OCTET.test(part) || Number(part) > 255) {
      return 'must be an IPv4 address of four decimal octets from 0 to 255 without leading zeros';
    }
  }
  return null;
}

export function isIPv4(text: unknown): text is string {
  return typeof text === 'string' && ipv4Problem(text) === null;
}

/** Parses a dotted quad into an unsigned 32-bit number. Throws INVALID_IPV4 naming the value. */
export function parseIPv4(text: string): number {
  const problem = typeof text === 'string' ? ipv4Problem(text) : 'must be a string';
  if (problem !== null) {
    throw new AmbitError('INVALID_IPV4', `Cannot parse IPv4 address: ${problem}, got ${showValue(text)}`, {
      value: text,
    });
  }
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function formatIPv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new AmbitError('INVALID_IPV4', `Cannot format IPv4 address: must be an integer from 0 to 4294967295, got ${showValue(n)}`, {
      value: n,
    });
  }
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Why `text` is not an IPv4 CIDR with its host bits clear, or null. */
export function cidrProblem(text: string): string | null {
  const slash = text.indexOf('/');
  if (slash < 0) return 'must be an IPv4 CIDR like "10.96.0.0/16"';
  const addr = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (ipv4Problem(addr) !== null) return 'must be an IPv4 CIDR like "10.96.0.0/16"';
  if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(bits)) return 'must be an IPv4 CIDR with a prefix length from 0 to 32';
  const prefix = Number(bits);
  const base = ipToNumber(addr);
  const masked = maskOf(prefix) & base;
  if (masked >>> 0 !== base) {
    return `must have no host bits set (did you mean "${formatIPv4(masked >>> 0)}/${prefix}"?)`;
  }
  return null;
}

/** Parses `a.b.c.d/n`. Throws INVALID_CIDR naming the value; host bits must be zero. */
export function parseCIDR(text: string): Cidr {
  const problem = typeof text === 'string' ? cidrProblem(text) : 'must be a string';
  if (problem !== null) {
    throw new AmbitError('INVALID_CIDR', `Cannot parse CIDR: ${problem}, got ${showValue(text)}`, { value: text });
  }
  const [addr, bits] = text.split('/') as [string, string];
  const prefix = Number(bits);
  return { base: ipToNumber(addr), prefix, size: 2 ** (32 - prefix) };
}

export function formatCIDR(cidr: Cidr): string {
  return `${formatIPv4(cidr.base)}/${cidr.prefix}`;
}

/** True when `ip` (dotted quad or number) lies inside the block. */
export function cidrContains(cidr: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : parseIPv4(ip);
  return n >= cidr.base && n < cidr.base + cidr.size;
}

/** The `index`-th address of the block (0 is the network address). Throws CIDR_OUT_OF_RANGE. */
export function cidrAddress(cidr: Cidr, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= cidr.size) {
    throw new AmbitError(
      'CIDR_OUT_OF_RANGE',
      `Cannot pick address ${showValue(index)} of ${formatCIDR(cidr)}: must be an integer from 0 to ${cidr.size - 1}`,
      { value: index },
    );
  }
  return formatIPv4(cidr.base + index);
}

/** The offset of `ip` inside the block, the inverse of cidrAddress. Throws CIDR_OUT_OF_RANGE. */
export function cidrIndexOf(cidr: Cidr, ip: string): number {
  const n = parseIPv4(ip);
  if (!cidrContains(cidr, n)) {
    throw new AmbitError('CIDR_OUT_OF_RANGE', `Cannot locate ${showValue(ip)} in ${formatCIDR(cidr)}: outside the block`, {
      value: ip,
    });
  }
  return n - cidr.base;
}

function ipToNumber(addr: string): number {
  return addr.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
