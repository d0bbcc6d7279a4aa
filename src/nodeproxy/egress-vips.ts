// Egress VIPs: the addresses the in-pod DNS proxy hands out for external names, so that a later
// connection to one says which NAME the application meant (the gateway resolves that name itself;
// the application never learns a real external address). One table per node proxy, in memory:
// stable per name while the proxy runs, forgotten on restart (an old VIP is then refused, and the
// application resolves again). Addresses are never reused for another name: a reused VIP could
// carry a connection that an application opened for one host to another host.
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
  /** Next offset to hand out: the network address (0) and the broadcast address are skipped. */
  private next = 1;

  constructor(cidr: string = EGRESS_VIP_CIDR) {
    this.range = parseCIDR(cidr);
    if (this.range.size < 4) {
      throw new AmbitError('EGRESS_VIP_RANGE_INVALID', `Cannot use egress VIP range ${showValue(cidr)}: it must hold at least 4 addresses (a /30 or larger)`, { value: cidr });
    }
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
    if (this.next > this.capacity) {
      throw new AmbitError(
        'EGRESS_VIP_EXHAUSTED',
        `Cannot allocate an egress address for ${showValue(name)}: all ${this.capacity} addresses of ${formatCIDR(this.range)} are in use by other names; this node proxy never reuses one while it runs (restart it to start over)`,
        { value: name },
      );
    }
    const vip = cidrAddress(this.range, this.next++);
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
