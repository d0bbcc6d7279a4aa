// Pod IP address management for the lab: IPv4 math plus a per-node allocator. Pure and
// serialisable, so the lab agent can persist it and a restarted agent resumes where it was.
// By default a freed address is not handed out again until the range wraps (like a real
// cluster's IPAM, which makes stale-IP bugs rare); `reuseFreed` hands the most recently freed
// address out next, so tests can reproduce IP-reuse attacks on purpose.
import { AmbitError, showValue } from '../errors.js';

export function parseIPv4(text: string, path = 'address'): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const octets = m ? m.slice(1).map(Number) : [];
  if (!m || octets.some((o, i) => o > 255 || String(o) !== m[i + 1])) {
    throw new AmbitError('LAB_BAD_ADDRESS', `Cannot parse ${path}: ${showValue(text)} is not a dotted IPv4 address`, { path, value: text });
  }
  return ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  /** Network address (host bits zero). */
  base: number;
  prefix: number;
}

export function parseCidr(text: string, path = 'cidr'): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || prefix > 32) {
    throw new AmbitError('LAB_BAD_CIDR', `Cannot parse ${path}: ${showValue(text)} is not an IPv4 CIDR like 10.244.1.0/24`, { path, value: text });
  }
  const addr = parseIPv4(m[1]!, path);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((addr & mask) >>> 0 !== addr) {
    throw new AmbitError('LAB_BAD_CIDR', `Cannot parse ${path}: ${showValue(text)} has host bits set`, { path, value: text });
  }
  return { base: addr, prefix };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + cidrSize(c);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.base) || cidrContains(b, a.base);
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

/** The serialisable state of one node's allocator. */
export interface IpamSnapshot {
  cidr: string;
  reuseFreed: boolean;
  /** Next address to try (as dotted text), for "never reuse until wrap". */
  cursor: string;
  /** address -> owner (pod key) */
  allocated: Record<string, string>;
  /** Most recently freed last. */
  freed: string[];
}

export class PodIpam {
  private readonly cidr: Cidr;
  private cursor: number;
  private readonly allocated = new Map<number, string>();
  private freed: number[] = [];

  constructor(cidr: string, readonly reuseFreed = false) {
    this.cidr = parseCidr(cidr, 'podCIDR');
    if (this.cidr.prefix > 30) {
      throw new AmbitError('LAB_BAD_CIDR', `Cannot use podCIDR ${showValue(cidr)}: it must hold at least 2 addresses (prefix /30 or shorter)`, { path: 'podCIDR', value: cidr });
    }
    this.cursor = this.first;
  }

  /** First usable host (network address excluded). */
  private get first(): number {
    return this.cidr.base + 1;
  }

  /** Last usable host (broadcast excluded). */
  private get last(): number {
    return this.cidr.base + cidrSize(this.cidr) - 2;
  }

  get cidrText(): string {
    return formatCidr(this.cidr);
  }

  /** Allocates an address for `owner`; `requested` asks for an exact one. */
  allocate(owner: string, requested?: string): string {
    if (requested !== undefined) return this.allocateExact(owner, requested);
    if (this.reuseFreed) {
      while (this.freed.length > 0) {
        const ip = this.freed.pop()!;
        if (!this.allocated.has(ip)) return this.take(ip, owner);
      }
    }
    const span = this.last - this.first + 1;
    for (let i = 0; i < span; i++) {
      const ip = this.first + ((this.cursor - this.first + i) % span);
      if (!this.allocated.has(ip)) {
        this.cursor = ip + 1 > this.last ? this.first : ip + 1;
        return this.take(ip, owner);
      }
    }
    throw new AmbitError('LAB_IPAM_EXHAUSTED', `Cannot allocate a pod IP for ${owner}: every address of ${this.cidrText} is in use`, { path: 'podCIDR', value: this.cidrText });
  }

  private allocateExact(owner: string, requested: string): string {
    const path = 'metadata.annotations["ambit.dev/pod-ip"]';
    const ip = parseIPv4(requested, path);
    if (ip < this.first || ip > this.last) {
      throw new AmbitError('LAB_IPAM_OUT_OF_RANGE', `Cannot allocate ${path}: ${showValue(requested)} is not a usable address of the node's pod CIDR ${this.cidrText}`, { path, value: requested });
    }
    const holder = this.allocated.get(ip);
    if (holder !== undefined && holder !== owner) {
      throw new AmbitError('LAB_IPAM_IN_USE', `Cannot allocate ${path}: ${showValue(requested)} is in use by pod ${holder}`, { path, value: requested });
    }
    return this.take(ip, owner);
  }

  private take(ip: number, owner: string): string {
    this.allocated.set(ip, owner);
    this.freed = this.freed.filter((f) => f !== ip);
    return formatIPv4(ip);
  }

  release(address: string): void {
    const ip = parseIPv4(address);
    if (!this.allocated.delete(ip)) return;
    this.freed.push(ip);
  }

  ownerOf(address: string): string | undefined {
    return this.allocated.get(parseIPv4(address));
  }

  snapshot(): IpamSnapshot {
    const allocated: Record<string, string> = {};
    for (const [ip, owner] of [...this.allocated].sort((a, b) => a[0] - b[0])) allocated[formatIPv4(ip)] = owner;
    return { cidr: this.cidrText, reuseFreed: this.reuseFreed, cursor: formatIPv4(this.cursor), allocated, freed: this.freed.map(formatIPv4) };
  }

  static restore(s: IpamSnapshot): PodIpam {
    const ipam = new PodIpam(s.cidr, s.reuseFreed);
    ipam.cursor = parseIPv4(s.cursor);
    for (const [ip, owner] of Object.entries(s.allocated)) ipam.allocated.set(parseIPv4(ip), owner);
    ipam.freed = s.freed.map((f) => parseIPv4(f));
    return ipam;
  }
}
