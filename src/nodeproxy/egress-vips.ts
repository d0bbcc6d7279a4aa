// Egress VIPs: the addresses the in-pod DNS proxy hands out for external names, so that a later
// connection to one says which NAME the application meant (the gateway resolves that name itself;
// the application never learns a real external address). One table per node proxy, in memory:
// stable per name while the proxy runs, forgotten on restart. Each table starts handing out at a
// random place in the range, so after a restart a VIP an application still has cached most likely
// names nothing (refused NO_ROUTE: it resolves again) rather than another name (which the gateway
// would refuse as a Host/SNI mismatch, audited as if it were fronting). Addresses are never reused for another name: a reused VIP could
// carry a connection that an application opened for one host to another host.
import { randomInt } from 'node:crypto';
import { AmbitError, showValue } from '../errors.js';
import { EGRESS_VIP_CIDR } from '../config/egress-gateway.js';
import { cidrAddress, cidrContains, formatCIDR, isIPv4, parseCIDR, type Cidr } from '../config/net.js';

/** What outbound routing needs from the table: VIP -> name. */
export interface EgressNames {
  /** True when `ip` lies in the egress VIP range (handed out or not). */
  isEgressAddress(ip: string): boolean;
  /** The name `ip` was handed out for, or undefined when this proxy never handed it out. */
  nameOf(ip: string): string | undefined;
}

export class EgressVips implements EgressNames {
  readonly range: Cidr;
  private readonly byName = new Map<string, string>();
  private readonly byVip = new Map<string, string>();
  /** Where this table starts handing out (1..capacity; the network and broadcast addresses are skipped). */
  readonly firstOffset: number;

  /** `opts.firstOffset`: where to start (1..capacity), for tests; default a random place. */
  constructor(cidr: string = EGRESS_VIP_CIDR, opts: { firstOffset?: number } = {}) {
    this.range = parseCIDR(cidr);
    if (this.range.size < 4) {
      throw new AmbitError('EGRESS_VIP_RANGE_INVALID', `Cannot use egress VIP range ${showValue(cidr)}: it must hold at least 4 addresses (a /30 or larger)`, { value: cidr });
    }
    const first = opts.firstOffset ?? 1 + randomInt(this.capacity);
    if (!Number.isSafeInteger(first) || first < 1 || first > this.capacity) {
      throw new AmbitError('EGRESS_VIP_RANGE_INVALID', `Cannot use egress VIP range ${showValue(cidr)}: firstOffset must be a whole number from 1 to ${this.capacity}, got ${showValue(first)}`, { path: 'firstOffset', value: first });
    }
    this.firstOffset = first;
  }

  /** Addresses that can be handed out (the block minus its network and broadcast addresses). */
  get capacity(): number {
    return this.range.size - 2;
  }

  get allocated(): number {
    return this.byVip.size;
  }

  /** The VIP for `name` (canonical host), allocating one on first use. Throws EGRESS_VIP_EXHAUSTED. */
  allocate(name: string): string {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    if (this.byVip.size >= this.capacity) {
      throw new AmbitError(
        'EGRESS_VIP_EXHAUSTED',
        `Cannot allocate an egress address for ${showValue(name)}: all ${this.capacity} addresses of ${formatCIDR(this.range)} are in use by other names; this node proxy never reuses one while it runs (restart it to start over)`,
        { value: name },
      );
    }
    // In order from firstOffset, wrapping round to 1 after the last; never one handed out before.
    const vip = cidrAddress(this.range, ((this.firstOffset - 1 + this.byVip.size) % this.capacity) + 1);
    this.byName.set(name, vip);
    this.byVip.set(vip, name);
    return vip;
  }

  isEgressAddress(ip: string): boolean {
    return isIPv4(ip) && cidrContains(this.range, ip);
  }

  nameOf(ip: string): string | undefined {
    return this.byVip.get(ip);
  }

  /** VIP -> name, for the config dump. */
  entries(): { vip: string; name: string }[] {
    return [...this.byVip].map(([vip, name]) => ({ vip, name }));
  }
}
